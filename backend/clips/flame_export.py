"""`python -m backend export-flame`: a motion clip in FLAME's parameter layout, for use outside Blender.

The file is an .npz with VHAP's keys (ShenhanQian/VHAP `tracked_flame_params*.npz`, the layout read by
backend/clips/trackers.py `read_vhap`), so FLAME tools that read VHAP's tracking read it too:

    expr [T, N]         expression coefficients Exp1..ExpN (N = 100 for a style adapted on a FLAME reference)
    jaw_pose [T, 3]     jaw joint, axis-angle
    neck_pose [T, 3]    neck joint (the clip's head rotation)
    rotation [T, 3]     global rotation (zeros when the clip has none: the body does not move)
    translation [T, 3]  (zeros when the clip has none)
    eyes_pose [T, 6]    left then right eye (zeros when the clip has no eyes)
    fps                 frame rate of the rows (VHAP itself stores none)

Only a clip in FLAME channels (Exp1..ExpN) can be exported: other channels (ARKit names) have no FLAME
coefficients. Such clips come from generating with a style adapted on a FLAME-channel reference.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from backend.clips import MotionClip, resample_clip
from backend.core.errors import ClipError
from backend.core.files import write_atomically

_FLAME_NAME = re.compile(r"Exp([1-9][0-9]*)")


def flame_parameters(clip: MotionClip) -> dict[str, np.ndarray]:
    """The clip's arrays under VHAP's keys; ClipError when its channels are not FLAME's Exp1..ExpN."""
    clip.validate()
    numbers = [_FLAME_NAME.fullmatch(name) for name in clip.expression_names]
    if not all(numbers):
        other = [name for name, match in zip(clip.expression_names, numbers) if not match]
        raise ClipError(
            f"the clip's channels are not FLAME expression coefficients (e.g. {', '.join(other[:3])}); "
            "generate with a style adapted on a FLAME reference (Exp1..Exp100) to export FLAME parameters"
        )
    columns = [int(match.group(1)) - 1 for match in numbers]
    expression = np.zeros((clip.n_frames, max(columns) + 1), np.float32)  # a channel the clip lacks stays at 0
    expression[:, columns] = clip.expression
    zeros = np.zeros((clip.n_frames, 3), np.float32)
    return {
        "expr": expression,
        "jaw_pose": clip.jaw.astype(np.float32),
        "neck_pose": clip.head.astype(np.float32),
        "rotation": zeros if clip.global_rotation is None else clip.global_rotation.astype(np.float32),
        "translation": zeros if clip.translation is None else clip.translation.astype(np.float32),
        "eyes_pose": np.zeros((clip.n_frames, 6), np.float32) if clip.eyes is None else clip.eyes.astype(np.float32),
        "fps": np.array(float(clip.fps)),
    }


def export_flame(clip: MotionClip, path: str | Path, fps: float | None = None) -> dict[str, np.ndarray]:
    """Write the clip (resampled to `fps` when given) as FLAME parameters to `path`, atomically."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ClipError(f"cannot write {path}: folder {path.parent} does not exist")
    if fps is not None and fps != clip.fps:
        clip = resample_clip(clip, fps)
    arrays = flame_parameters(clip)
    write_atomically(path, lambda f: np.savez(f, **arrays))
    return arrays
