"""Read a motion clip `.npz` ("adamesh-motion/1", docs/architecture.md section 3) with numpy only.

The backend validates a clip fully when it writes one; this reader checks just what the keyframe writer relies
on (format, frame rate, shapes, finite values), so a clip from elsewhere fails with a clear message instead of
half-written keys. Never unpickles: `np.load(allow_pickle=False)`.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ClipReadError

CLIP_FORMAT = "adamesh-motion/1"

# key -> columns per frame (None: one per expression channel); eyelids, global_rotation, translation are
# allowed in a clip but not used by the add-on, so they are not read.
_ROTATION_COLUMNS = {"jaw": 3, "head": 3}
_OPTIONAL_COLUMNS = {"eyes": 6}


@dataclass(frozen=True)
class MotionClip:
    """Per-frame facial motion; rotations are axis-angle vectors in FLAME's joint axes."""

    path: Path
    fps: float
    expression: np.ndarray  # float32 [T, E]
    expression_names: tuple[str, ...]  # [E]
    jaw: np.ndarray  # float32 [T, 3], FLAME jaw joint
    head: np.ndarray  # float32 [T, 3], FLAME neck joint, relative to rest
    eyes: np.ndarray | None  # float32 [T, 6], left eye then right eye

    @property
    def n_frames(self) -> int:
        return int(self.expression.shape[0])


def read_clip(path: str | Path) -> MotionClip:
    """Load `path` and check it; every problem is a ClipReadError naming the file and what to do."""
    path = Path(path)
    if not path.is_file():
        raise ClipReadError(f"motion clip {path} does not exist; generate the animation again")
    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ClipReadError(f"{path} is not a motion clip (.npz of plain arrays): {error}") from error
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ClipReadError(f"{path} holds a single array, not a motion clip (.npz)")
    with npz:
        try:
            return _clip_from_npz(path, npz)
        except ValueError as error:  # numpy refuses an object (pickled) array member
            raise ClipReadError(f"{path}: {error}") from error


def _clip_from_npz(path: Path, npz: np.lib.npyio.NpzFile) -> MotionClip:
    keys = set(npz.files)
    missing = [k for k in ("format", "fps", "expression", "expression_names", *_ROTATION_COLUMNS) if k not in keys]
    if missing:
        raise ClipReadError(f"{path} lacks {', '.join(missing)}; it is not an {CLIP_FORMAT} motion clip")
    found_format = str(npz["format"])
    if found_format != CLIP_FORMAT:
        raise ClipReadError(f"{path} has format '{found_format}', this add-on reads '{CLIP_FORMAT}'; update AdaMesh")

    fps = npz["fps"]
    if fps.shape != () or fps.dtype.kind not in "fiu" or not np.isfinite(fps) or float(fps) <= 0:
        raise ClipReadError(f"{path}: fps must be one positive number, got {fps!r}")

    expression = _float_rows(path, "expression", npz["expression"], None)
    n_frames, n_channels = expression.shape
    if n_frames == 0:
        raise ClipReadError(f"{path} has no frames")
    names = npz["expression_names"]
    if names.ndim != 1 or names.dtype.kind != "U" or names.shape[0] != n_channels:
        raise ClipReadError(
            f"{path}: expression_names must be {n_channels} strings (one per expression column), "
            f"got shape {names.shape} dtype {names.dtype}"
        )
    arrays = {key: _float_rows(path, key, npz[key], cols) for key, cols in _ROTATION_COLUMNS.items()}
    for key, columns in _OPTIONAL_COLUMNS.items():
        if key in keys:
            arrays[key] = _float_rows(path, key, npz[key], columns)
    short = [f"{key} {a.shape[0]}" for key, a in arrays.items() if a.shape[0] != n_frames]
    if short:
        raise ClipReadError(f"{path}: expression has {n_frames} frames but {', '.join(short)}")
    return MotionClip(
        path=path,
        fps=float(fps),
        expression=expression,
        expression_names=tuple(str(n) for n in names),
        jaw=arrays["jaw"],
        head=arrays["head"],
        eyes=arrays.get("eyes"),
    )


def _float_rows(path: Path, key: str, array: np.ndarray, columns: int | None) -> np.ndarray:
    if array.ndim != 2 or array.dtype.kind not in "fiu" or (columns is not None and array.shape[1] != columns):
        expected = f"[T, {columns if columns is not None else 'E'}] numbers"
        raise ClipReadError(f"{path}: {key} must be {expected}, got shape {array.shape} dtype {array.dtype}")
    if not np.isfinite(array).all():
        raise ClipReadError(f"{path}: {key} holds NaN or infinity")
    return array.astype(np.float32, copy=False)
