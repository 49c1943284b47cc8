"""Readers that turn face-tracker outputs into motion clips.

Expression channels are named Exp1..ExpN (no zero padding), as the FLAME Blender add-on names its shape keys.
None of these trackers stores a frame rate, so every reader takes the video's `fps`.
Layouts below were checked against each project's source (see each reader's docstring).
"""

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from backend.clips.motion_clip import MotionClip, check_fps, open_npz, read_array, save_clip
from backend.core.errors import ClipError

TRACKER_TITLES = {"vhap": "VHAP", "deca": "DECA / EMOCA / SPECTRE", "smirk": "SMIRK"}
# keys only that layout writes: a file handed to the wrong reader is recognised by them
_SIGNATURE_KEYS = {
    "vhap": {"expr", "neck_pose"},
    "deca": {"exp", "pose"},
    "smirk": {"expression_params", "pose_params"},
}
_CLIP_SIGNATURE_KEYS = {"format", "expression"}


def flame_expression_names(n_channels: int) -> tuple[str, ...]:
    return tuple(f"Exp{i}" for i in range(1, n_channels + 1))


def read_vhap(path: str | os.PathLike, fps: float) -> MotionClip:
    """VHAP `tracked_flame_params*.npz` -> clip with eyes, global rotation and translation.

    VHAP (ShenhanQian/VHAP, vhap/model/tracker.py `save_result`) np.savez-es rotation, translation, neck_pose,
    jaw_pose [T, 3], eyes_pose [T, 6], expr [T, n_expr] (n_expr defaults to 100), shape, timestep_id and, by
    configuration, focal_length, tex, lights, static_offset, dynamic_offset, image_size; those are ignored.
    Its FLAME takes `rotation` as the global joint and `neck_pose` as the neck joint, so head = neck_pose.
    """
    _require_fps(fps)
    path = Path(path)
    arrays = _read_tracker_npz(
        "vhap", path, {"expr": None, "jaw_pose": 3, "neck_pose": 3, "rotation": 3, "translation": 3, "eyes_pose": 6}
    )
    return _validated(
        path,
        fps,
        expression=arrays["expr"],
        jaw=arrays["jaw_pose"],
        head=arrays["neck_pose"],
        eyes=arrays["eyes_pose"],
        global_rotation=arrays["rotation"],
        translation=arrays["translation"],
    )


def read_deca(path: str | os.PathLike, fps: float) -> MotionClip:
    """DECA / EMOCA / SPECTRE codes -> clip. `path` is an .npz of `exp` [T, E] and `pose` [T, 6], or a folder.

    All three share DECA's code dictionary (yfeng95/DECA decalib/deca.py): exp [B, 50] and pose [B, 6] = global
    rotation 3 + jaw 3, axis-angle (a euler jaw is converted in `encode`). DECA's and SPECTRE's demos write meshes
    and videos, not codes, so their codes arrive as an .npz of those arrays stacked over frames. EMOCA's
    `--save_codes` (radekd91/emoca, gdl_apps/EMOCA/utils/io.py `save_codes`) writes one folder per frame image
    holding exp.npy, pose.npy, shape.npy, tex.npy, detail.npy: give that parent folder; frames follow the folder
    names in natural order (frame2 before frame10). One face per frame is assumed.

    These trackers have no neck joint: all head motion is in their global rotation, which becomes `head` here.
    """
    _require_fps(fps)
    path = Path(path)
    spec = {"exp": None, "pose": 6}
    if path.is_dir():
        arrays = _checked_arrays("deca", path, _read_frame_folders(path), spec)
    else:
        arrays = _read_tracker_npz("deca", path, spec)
    return _validated(path, fps, expression=arrays["exp"], jaw=arrays["pose"][:, 3:], head=arrays["pose"][:, :3])


def read_smirk(path: str | os.PathLike, fps: float) -> MotionClip:
    """SMIRK encoder outputs stacked over frames (.npz) -> clip, with eyelids when present.

    SmirkEncoder (georgeretsi/smirk, src/smirk_encoder.py) returns expression_params [B, 50], jaw_params [B, 3],
    pose_params [B, 3], eyelid_params [B, 2], shape_params and cam; its FLAME puts pose_params on the global
    joint (neck stays zero) and applies eyelid_params[:, 0] to the left eyelid, [:, 1] to the right. Its video
    demo saves no parameters, so a SMIRK file is an .npz of those outputs. No neck joint: head = pose_params.
    """
    _require_fps(fps)
    path = Path(path)
    spec = {"expression_params": None, "jaw_params": 3, "pose_params": 3}
    arrays = _read_tracker_npz("smirk", path, spec, optional={"eyelid_params": 2})
    return _validated(
        path,
        fps,
        expression=arrays["expression_params"],
        jaw=arrays["jaw_params"],
        head=arrays["pose_params"],
        eyelids=arrays.get("eyelid_params"),
    )


READERS: dict[str, Callable[[str | os.PathLike, float], MotionClip]] = {
    "vhap": read_vhap,
    "deca": read_deca,
    "smirk": read_smirk,
}


def convert_tracker_file(kind: str, src: str | os.PathLike, dst: str | os.PathLike, fps: float) -> MotionClip:
    """Read a tracker output of `kind` (a READERS key), validate it and save it atomically as a clip at `dst`."""
    if kind not in READERS:
        raise ClipError(f"unknown tracker '{kind}'; choose one of: {', '.join(READERS)}")
    clip = READERS[kind](src, fps)
    save_clip(clip, dst)
    return clip


def _read_tracker_npz(
    kind: str, path: Path, spec: dict[str, int | None], optional: dict[str, int] | None = None
) -> dict[str, np.ndarray]:
    with open_npz(path, what=f"{TRACKER_TITLES[kind]} file") as npz:
        wanted = [key for key in (*spec, *(optional or {})) if key in npz.files]
        try:
            arrays = {key: read_array(npz, key) for key in wanted}
        except ClipError as error:
            raise ClipError(f"{path}: {error}") from error
        return _checked_arrays(kind, path, arrays, spec, optional, found_keys=npz.files)


def _checked_arrays(
    kind: str,
    path: Path,
    arrays: Mapping[str, np.ndarray],
    spec: dict[str, int | None],
    optional: dict[str, int] | None = None,
    found_keys: list[str] | None = None,
) -> dict[str, np.ndarray]:
    """The arrays of `spec` (and `optional` ones present) as float32 [T, width], or a ClipError saying why not."""
    title = TRACKER_TITLES[kind]
    found = list(arrays) if found_keys is None else found_keys
    missing = [key for key in spec if key not in arrays]
    if missing:
        message = f"{path} is not a {title} file: it lacks {', '.join(repr(k) for k in missing)} (keys found: "
        message += f"{', '.join(found) or 'none'})"
        for other, signature in _SIGNATURE_KEYS.items():
            if other != kind and signature <= set(found):
                message += (
                    f"; this looks like a {TRACKER_TITLES[other]} file: choose {TRACKER_TITLES[other]} as the "
                    f"tracker ('{other}' on the command line)"
                )
        if _CLIP_SIGNATURE_KEYS <= set(found):
            message += "; this is already an AdaMesh motion clip: no conversion needed"
        raise ClipError(message)
    checked = {}
    for key, width in {**spec, **(optional or {})}.items():
        if key not in arrays:
            continue
        array = arrays[key]
        expected = f"(T, {'E' if width is None else width})"
        if array.dtype.kind not in "fiu":
            raise ClipError(f"{path}: {title} '{key}' must hold numbers, got dtype {array.dtype}")
        if array.ndim != 2 or (width is not None and array.shape[1] != width):
            raise ClipError(f"{path}: {title} '{key}' has shape {array.shape}, expected {expected}")
        checked[key] = array.astype(np.float32)
    return checked


def _read_frame_folders(folder: Path) -> dict[str, np.ndarray]:
    """EMOCA's per-frame code folders, stacked: {'exp': [T, E], 'pose': [T, 6]}."""
    frames = sorted((d for d in folder.iterdir() if d.is_dir() and (d / "exp.npy").is_file()), key=_natural_key)
    if not frames:
        found = ", ".join(sorted(p.name for p in folder.iterdir())[:10]) or "nothing"
        raise ClipError(
            f"{folder} holds no per-frame folders with exp.npy and pose.npy (EMOCA --save_codes layout); found: {found}"
        )
    stacked = {}
    for key in ("exp", "pose"):
        rows = [_load_frame_code(frame / f"{key}.npy") for frame in frames]
        for frame, row in zip(frames, rows):
            if row.shape != rows[0].shape:
                raise ClipError(f"{frame / f'{key}.npy'} has {row.size} values, the first frame has {rows[0].size}")
        stacked[key] = np.stack(rows)
    return stacked


def _load_frame_code(path: Path) -> np.ndarray:
    """One frame's code from a .npy, flattened: EMOCA saves [E] per frame, a batch of one gives [1, E]."""
    if not path.is_file():
        raise ClipError(f"{path} is missing; every frame folder needs exp.npy and pose.npy")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ClipError(f"{path} is not a plain .npy array ({error}); pickled data is refused") from error
    if not isinstance(array, np.ndarray):
        raise ClipError(f"{path} is an .npz archive, expected a single .npy array")
    return array.reshape(-1)


def _natural_key(path: Path) -> list:
    # re.split with a capture group alternates text and digit runs, so positions always compare like with like
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _require_fps(fps: float) -> None:
    try:
        check_fps(fps)
    except ClipError as error:
        raise ClipError(f"{error}: trackers do not store a frame rate, pass the video's (e.g. --fps 25)") from error


def _validated(path: Path, fps: float, **arrays: np.ndarray | None) -> MotionClip:
    clip = MotionClip(fps=float(fps), expression_names=flame_expression_names(arrays["expression"].shape[1]), **arrays)
    try:
        clip.validate()
    except ClipError as error:
        raise ClipError(f"{path}: {error}") from error
    return clip
