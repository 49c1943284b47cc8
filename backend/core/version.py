"""The product's version, read from blender_manifest.toml: the one place it lives.

The manifest sits beside the `backend` package both in the source tree and in the extension zip (build.py puts
`backend/` at the zip's root next to the manifest), so the same relative path works in both.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

from backend.core.errors import AdaMeshError

MANIFEST = Path(__file__).resolve().parents[2] / "blender_manifest.toml"


@functools.cache
def backend_version() -> str:
    """The `version` field of the manifest beside the backend package."""
    try:
        with MANIFEST.open("rb") as manifest:
            return str(tomllib.load(manifest)["version"])
    except (OSError, tomllib.TOMLDecodeError, KeyError) as error:
        raise AdaMeshError(
            f"cannot read the version from {MANIFEST} ({error}); the installation is incomplete: "
            "reinstall the AdaMesh extension (or restore blender_manifest.toml in a source checkout)"
        ) from error
