"""The motion clip: the one data type that crosses from the backend to Blender (docs/architecture.md section 3).

On disk it is an `.npz` of plain arrays (strings as unicode arrays), read with `allow_pickle=False`, so opening
a clip can never run code.
"""

import dataclasses
import os
import zipfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np

from backend.core.errors import ClipError
from backend.core.files import write_atomically

SUPPORTED_FORMATS = ("adamesh-motion/1",)

# key -> columns per frame; None = any width (the rig's expression channels)
_REQUIRED_ARRAYS = {"expression": None, "jaw": 3, "head": 3}
_OPTIONAL_ARRAYS = {"eyes": 6, "eyelids": 2, "global_rotation": 3, "translation": 3}
_ARRAY_COLUMNS = {**_REQUIRED_ARRAYS, **_OPTIONAL_ARRAYS}
_REQUIRED_KEYS = ("format", "fps", "expression_names", *_REQUIRED_ARRAYS)
_KNOWN_KEYS = (*_REQUIRED_KEYS, *_OPTIONAL_ARRAYS)


@dataclasses.dataclass
class MotionClip:
    """Per-frame facial motion. Rotations are axis-angle (FLAME convention), one row per frame.

    expression [T, E] coefficients or shape-key values named by expression_names; jaw [T, 3] (FLAME jaw joint);
    head [T, 3] relative to rest (FLAME neck joint). Optional: eyes [T, 6] (left then right eye), eyelids [T, 2]
    (left, right), global_rotation [T, 3] and translation [T, 3] of the whole head.
    """

    FORMAT: ClassVar[str] = SUPPORTED_FORMATS[-1]

    fps: float
    expression: np.ndarray
    expression_names: tuple[str, ...]
    jaw: np.ndarray
    head: np.ndarray
    eyes: np.ndarray | None = None
    eyelids: np.ndarray | None = None
    global_rotation: np.ndarray | None = None
    translation: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        return int(self.expression.shape[0])

    @property
    def duration(self) -> float:
        """Seconds from the first to one frame past the last row."""
        return self.n_frames / float(self.fps)

    def arrays(self) -> dict[str, np.ndarray]:
        """The per-frame arrays that are present, by key."""
        return {key: getattr(self, key) for key in _ARRAY_COLUMNS if getattr(self, key) is not None}

    def validate(self) -> None:
        """Raise ClipError naming the first problem found; return None for a usable clip."""
        check_fps(self.fps)
        arrays = self.arrays()
        for key, array in arrays.items():
            _check_array_shape(key, array, _ARRAY_COLUMNS[key])
        lengths = {key: array.shape[0] for key, array in arrays.items()}
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{key} {n}" for key, n in lengths.items())
            raise ClipError(f"arrays differ in frame count ({listed}); every array needs one row per frame")
        if self.n_frames == 0:
            raise ClipError("clip has zero frames")
        for key, array in arrays.items():
            bad_rows = ~np.isfinite(array).all(axis=1)
            if bad_rows.any():
                raise ClipError(
                    f"{key} holds NaN or infinity, first at frame {int(np.argmax(bad_rows))}: fill or "
                    "drop those frames (a tracker writes NaN where it lost the face)"
                )
        _check_names(self.expression_names, self.expression.shape[1])


def check_fps(fps: object) -> None:
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)):
        raise ClipError(f"fps must be a number, got {type(fps).__name__}")
    if not np.isfinite(fps) or fps <= 0:
        raise ClipError(f"fps must be a finite number above 0, got {fps}")


def _check_array_shape(key: str, array: object, columns: int | None) -> None:
    expected = f"(T, {'E' if columns is None else columns})"
    if not isinstance(array, np.ndarray):
        raise ClipError(f"{key} must be a numpy array of shape {expected}, got {type(array).__name__}")
    if array.dtype.kind != "f":
        raise ClipError(f"{key} must hold floats, got {array.dtype}")
    if array.ndim != 2 or (columns is not None and array.shape[1] != columns):
        raise ClipError(f"{key} has shape {array.shape}, expected {expected}")


def _check_names(names: object, n_channels: int) -> None:
    if not isinstance(names, tuple) or not all(isinstance(name, str) for name in names):
        raise ClipError("expression_names must be a tuple of strings")
    if len(names) != n_channels:
        raise ClipError(f"expression_names has {len(names)} names but expression has {n_channels} channels")
    empty = [i for i, name in enumerate(names) if not name.strip()]
    if empty:
        raise ClipError(f"expression_names has empty names at positions {empty}")
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise ClipError(f"expression_names repeats {duplicates}; each channel needs its own name")


def save_clip(clip: MotionClip, path: str | os.PathLike) -> None:
    """Validate, then write atomically: a temp file in the destination folder replaces `path` only when complete."""
    clip.validate()
    path = Path(path)
    if not path.parent.is_dir():
        raise ClipError(f"cannot write {path}: folder {path.parent} does not exist")
    payload = {
        "format": np.array(MotionClip.FORMAT),
        "fps": np.array(float(clip.fps)),
        "expression_names": np.array(clip.expression_names, dtype=str),
        **{key: np.asarray(array, dtype=np.float32) for key, array in clip.arrays().items()},
    }
    write_atomically(path, lambda f: np.savez(f, **payload))


def load_clip(path: str | os.PathLike) -> MotionClip:
    """Read and validate a clip; any problem is a ClipError that names the file."""
    path = Path(path)
    with open_npz(path, what="motion clip") as npz:
        try:
            return clip_from_arrays(npz)
        except ClipError as error:
            raise ClipError(f"{path}: {error}") from error


def open_npz(path: Path, what: str) -> np.lib.npyio.NpzFile:
    """np.load(allow_pickle=False) of an .npz, turning every way it can fail into a ClipError."""
    if not path.is_file():
        raise ClipError(f"{what} {path} does not exist" if not path.exists() else f"{what} {path} is not a file")
    with open(path, "rb") as file:
        signature = file.read(6)
    if signature == b"\x93NUMPY":
        raise ClipError(f"{path} holds a single .npy array, not an .npz {what}")
    if signature[:1] == b"\x80":
        raise ClipError(
            f"{path} is a pickle, not an .npz {what}; pickled data is refused because loading it can "
            "run code. Save the arrays with numpy.savez"
        )
    if not signature.startswith(b"PK"):
        raise ClipError(f"{path} is not an .npz archive (a {what} is a numpy .npz file)")
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [name for name in archive.namelist() if name.endswith(".pkl")]
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ClipError(f"{path} is a damaged .npz archive ({error})") from error
    if pickles:  # torch.save writes a zip around a pickle (archive/data.pkl): opening it could run code
        npz.close()
        raise ClipError(
            f"{path} is a PyTorch file (a pickle, {pickles[0]}, inside a zip), not an .npz {what}; "
            "pickled data is refused because loading it can run code. Save the arrays with numpy.savez"
        )
    return npz


def read_array(arrays: Mapping[str, np.ndarray], key: str) -> np.ndarray:
    """One array from an open .npz (or a dict); an object (pickled) array is refused, never unpickled."""
    try:
        return arrays[key]
    except ValueError as error:
        raise ClipError(f"'{key}' is a pickled object array; pickled data is refused") from error
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise ClipError(f"'{key}' cannot be read ({error}); the file is damaged") from error


def clip_from_arrays(arrays: Mapping[str, np.ndarray]) -> MotionClip:
    """Build and validate a clip from the arrays of a clip file (an open .npz or a dict)."""
    keys = list(arrays.keys())
    if "format" not in keys:
        raise ClipError(f"missing key 'format'; this is not an AdaMesh motion clip (keys: {', '.join(keys)})")
    _check_format(read_array(arrays, "format"))
    missing = [key for key in _REQUIRED_KEYS if key not in keys]
    if missing:
        raise ClipError(f"missing key {', '.join(repr(k) for k in missing)} (keys present: {', '.join(keys)})")
    unknown = [key for key in keys if key not in _KNOWN_KEYS]
    if unknown:
        raise ClipError(f"unknown key {', '.join(repr(k) for k in unknown)} (known keys: {', '.join(_KNOWN_KEYS)})")
    values = {key: read_array(arrays, key) for key in keys}

    fps = values.pop("fps")
    if fps.shape != () or fps.dtype.kind not in "fiu":
        raise ClipError(f"fps must be a single number, got an array of shape {fps.shape} and dtype {fps.dtype}")
    names = values.pop("expression_names")
    if names.ndim != 1 or names.dtype.kind != "U":
        raise ClipError(f"expression_names must be a 1-D string array, got shape {names.shape} dtype {names.dtype}")
    values.pop("format")
    clip = MotionClip(fps=fps.item(), expression_names=tuple(str(n) for n in names), **values)
    clip.validate()
    for key, array in clip.arrays().items():
        setattr(clip, key, array.astype(np.float32, copy=False))
    return clip


def _check_format(format_array: np.ndarray) -> None:
    supported = ", ".join(SUPPORTED_FORMATS)
    if format_array.shape != () or format_array.dtype.kind != "U":
        raise ClipError(f"'format' must be a string such as '{MotionClip.FORMAT}'")
    found = str(format_array)
    if found in SUPPORTED_FORMATS:
        return
    family, _, version = found.partition("/")
    if family != MotionClip.FORMAT.split("/")[0]:
        raise ClipError(f"format '{found}' is not an AdaMesh motion clip (supported: {supported})")
    newest = max(int(f.split("/")[1]) for f in SUPPORTED_FORMATS)
    newer = version.isdigit() and int(version) > newest
    hint = ": update the AdaMesh add-on (the clip was made by a newer AdaMesh)" if newer else ""
    raise ClipError(f"clip format '{found}' is not one this AdaMesh reads (supported: {supported}){hint}")
