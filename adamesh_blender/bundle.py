"""What the extension ships beside the add-on's code: the manifest (the version), the backend, its requirements,
the ICT face asset.

Installed, the extension's folder holds them all (build.py puts them at the zip's root); in a source checkout they
sit one level up, beside adamesh_blender/. Both layouts are searched in that order. No bpy here.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

from .errors import AddonError

ADDON_DIR = Path(__file__).resolve().parent
MANIFEST_NAME = "blender_manifest.toml"


def _bundle_root_with(relative: str) -> Path:
    for root in (ADDON_DIR, ADDON_DIR.parent):
        if (root / relative).exists():
            return root
    raise AddonError(
        f"the AdaMesh installation is incomplete: {relative} is neither in {ADDON_DIR} nor beside it; "
        "reinstall the extension"
    )


@functools.cache
def addon_version() -> str:
    """The `version` of blender_manifest.toml, the one place it is written."""
    manifest = _bundle_root_with(MANIFEST_NAME) / MANIFEST_NAME
    with manifest.open("rb") as file:
        return str(tomllib.load(file)["version"])


def backend_root() -> Path:
    """The folder that holds the `backend` package: the worker's PYTHONPATH and working directory."""
    return _bundle_root_with("backend/cli/main.py")


def backend_requirements() -> Path:
    """The backend's pinned requirements, what "Install backend" installs."""
    return _bundle_root_with("requirements/backend.txt") / "requirements" / "backend.txt"


def tracker_requirements() -> Path:
    """The video face tracker's pins, what "Install Video Tracker" installs (with --no-deps) into the backend's
    environment: an optional extra, needed only for Adapt Style from a video (docs/tracking.md)."""
    return _bundle_root_with("requirements/tracking.txt") / "requirements" / "tracking.txt"


ICT_FACE_ASSET = "assets/ict-face/ict_face.npz"


def ict_face_asset() -> Path:
    """The ICT face asset (assets/ict-face/ict_face.npz, MIT: its LICENSE and CREDITS.md beside it)."""
    return _bundle_root_with(ICT_FACE_ASSET) / ICT_FACE_ASSET
