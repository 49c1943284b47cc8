"""Map a clip's rows onto the scene's integer frames (pure numpy, no bpy).

Clip row i plays i / clip_fps seconds after the sound strip's `frame_start`; the scene runs at fps / fps_base
frames per second (29.97 is fps=30, fps_base=1.001). Every integer scene frame inside the clip gets one key,
sampled from the clip: linearly for shape-key values, by slerp for rotations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ClipReadError
from .rotations import axis_angle_to_quaternion, continuous_quaternions, slerp

# Float slack (in frames) so that a clip ending exactly on a scene frame keeps that frame despite rounding.
_FRAME_SLACK = 1e-6


@dataclass(frozen=True)
class SceneTiming:
    """Where clip time 0 sits on the scene's timeline, and the scene's frame rate."""

    frame_start: float  # the sound strip's frame_start
    fps: int  # scene.render.fps
    fps_base: float = 1.0  # scene.render.fps_base

    @property
    def frame_rate(self) -> float:
        return self.fps / self.fps_base

    @classmethod
    def of_strip(cls, scene, strip) -> SceneTiming:
        """Read the timing from a Blender scene and the sound strip the clip was generated from."""
        return cls(float(strip.frame_start), int(scene.render.fps), stored_fps_base(scene.render.fps_base))


def stored_fps_base(value: float) -> float:
    """The fps_base the artist set: Blender keeps it as a 32-bit float (1.001 reads back as 1.00100004673), so take
    the shortest decimal that rounds to that float. Otherwise 29.97 fps runs 5e-8 slow against a clip made at
    30000/1001 fps, and a clip's last row lands a hair past its frame and loses its key."""
    return float(np.format_float_positional(np.float32(value)))


@dataclass(frozen=True)
class FrameSampling:
    """One entry per keyed scene frame: the frame, and the fractional clip row that plays on it."""

    scene_frames: np.ndarray  # int64 [N], consecutive
    clip_rows: np.ndarray  # float64 [N], in [0, T - 1]

    def __len__(self) -> int:
        return len(self.scene_frames)


def sample_frames(n_clip_frames: int, clip_fps: float, timing: SceneTiming) -> FrameSampling:
    """The integer scene frames covered by a clip of `n_clip_frames` rows, and the clip row at each."""
    rows_per_frame = clip_fps / timing.frame_rate
    last_row = n_clip_frames - 1
    first = math.ceil(timing.frame_start - _FRAME_SLACK)
    last = math.floor(timing.frame_start + last_row / rows_per_frame + _FRAME_SLACK)
    if last < first:
        raise ClipReadError(
            f"the clip ({n_clip_frames} rows at {clip_fps:g} fps) is shorter than one scene frame "
            f"at {timing.frame_rate:g} fps starting at frame {timing.frame_start:g}"
        )
    frames = np.arange(first, last + 1, dtype=np.int64)
    rows = np.clip((frames - timing.frame_start) * rows_per_frame, 0.0, last_row)
    return FrameSampling(frames, rows)


def _neighbours(n_rows: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each fractional row: the row before, the row after and the fraction between them."""
    before = np.minimum(np.floor(rows).astype(np.int64), max(n_rows - 2, 0))
    after = np.minimum(before + 1, n_rows - 1)
    return before, after, rows - before


def sample_linear(values: np.ndarray, sampling: FrameSampling) -> np.ndarray:
    """[T, K] per-row values -> [N, K] at the sampled scene frames, linearly interpolated."""
    values = np.asarray(values, dtype=np.float64)
    before, after, fraction = _neighbours(len(values), sampling.clip_rows)
    fraction = fraction[:, None]
    return values[before] * (1 - fraction) + values[after] * fraction


def sample_rotations(rotation_vectors: np.ndarray, sampling: FrameSampling) -> np.ndarray:
    """[T, 3] axis-angle rows -> [N, 4] unit quaternions at the sampled scene frames, slerped, sign-continuous."""
    quaternions = axis_angle_to_quaternion(rotation_vectors)
    before, after, fraction = _neighbours(len(quaternions), sampling.clip_rows)
    return continuous_quaternions(slerp(quaternions[before], quaternions[after], fraction))
