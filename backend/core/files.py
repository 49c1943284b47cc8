"""File writing that never leaves a half-written file behind (a crash, a full disk, a cancelled job)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

# mkstemp creates files readable by their owner only; a finished file should get the usual umask-based mode.
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call write(binary_file) on a temp file beside `path`, then os.replace it onto `path`."""
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as temp_file:
            write(temp_file)
        os.chmod(temp_name, _FILE_MODE)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def write_json_atomically(path: Path, data: object) -> None:
    write_atomically(Path(path), lambda f: f.write(json.dumps(data, indent=1).encode()))
