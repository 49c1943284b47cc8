"""Change a clip's frame rate: values interpolate linearly, rotations along the sphere (slerp)."""

import dataclasses

import numpy as np

from backend.clips.motion_clip import MotionClip, check_fps
from backend.clips.rotations import axis_angle_to_quaternion, quaternion_to_axis_angle, slerp
from backend.core.errors import ClipError

_LINEAR_KEYS = ("expression", "eyelids", "translation")
_ROTATION_KEYS = ("jaw", "head", "global_rotation")


def resample_clip(clip: MotionClip, fps: float) -> MotionClip:
    """The clip sampled at `fps`: frame k is at k / fps seconds, up to the source's last frame time.

    Output frames cover [0, (T-1)/clip.fps]. Expression, eyelids and translation interpolate linearly; jaw, head,
    global rotation and each eye interpolate on SO(3), since axis-angle components blended one by one describe
    a different (and, past small angles, wrong) rotation. Equal rates return a copy unchanged.
    """
    clip.validate()
    try:
        check_fps(fps)
    except ClipError as error:
        raise ClipError(f"target {error}") from error
    if fps == clip.fps:
        return dataclasses.replace(clip, **{key: array.copy() for key, array in clip.arrays().items()})

    last_source_frame = clip.n_frames - 1
    # the tolerance keeps a frame that lands on the last source time despite rounding (e.g. 30 -> 24 fps)
    n_out = int(np.floor(last_source_frame / clip.fps * fps + 1e-9)) + 1
    source_position = np.minimum(np.arange(n_out) / fps * clip.fps, last_source_frame)
    lower = np.minimum(np.floor(source_position).astype(int), max(last_source_frame - 1, 0))
    upper = np.minimum(lower + 1, last_source_frame)
    fraction = source_position - lower

    def linear(array: np.ndarray) -> np.ndarray:
        mixed = array[lower] * (1.0 - fraction[:, None]) + array[upper] * fraction[:, None]
        return mixed.astype(np.float32)

    def rotation(axis_angle: np.ndarray) -> np.ndarray:
        q = axis_angle_to_quaternion(axis_angle)
        return quaternion_to_axis_angle(slerp(q[lower], q[upper], fraction)).astype(np.float32)

    resampled = {key: linear(getattr(clip, key)) for key in _LINEAR_KEYS if getattr(clip, key) is not None}
    resampled |= {key: rotation(getattr(clip, key)) for key in _ROTATION_KEYS if getattr(clip, key) is not None}
    if clip.eyes is not None:
        resampled["eyes"] = np.concatenate([rotation(clip.eyes[:, :3]), rotation(clip.eyes[:, 3:])], axis=1)
    return dataclasses.replace(clip, fps=float(fps), **resampled)
