"""Audio time <-> motion frames: the convention lip sync rests on.

Motion frame i is the instant ``t_i = i / fps`` seconds after the start of the audio, as Blender shows frame i of a
sound strip at ``strip start + i``. Frame i stands for the interval ``[t_i - 0.5/fps, t_i + 0.5/fps)``: an event
at time t belongs to frame ``floor(t * fps + 0.5)``. Audio features live on the 100 Hz grid of mel.py (grid frame
j centred on j / 100 s) and are sampled from it at the instants below, never re-centred elsewhere.
"""

from __future__ import annotations

import math

import numpy as np

from backend.audio.mel import GRID_RATE

# Rates written as 29.97, 23.976, 59.94 (or Blender's fps / fps_base = 30 / 1.001) are the NTSC rates
# n * 1000 / 1001. 29.97 and 30000/1001 differ by 1e-6 relative: 3.6 ms (0.1 frame) per hour, a whole frame
# after ten hours, and frame counts at exact boundaries can differ by one. Snapping makes every spelling the
# same exact rate. No other common rate lies within the tolerance (the nearest, 24 / 30 / 60, are 0.024+ away).
_NTSC_BASES = (24, 30, 48, 60, 72, 96, 120, 240)
_NTSC_TOLERANCE = 0.005
# A frame instant within this many frames of the end of the audio counts as at the end (excluded): absorbs
# float rounding in duration * fps while staying far below one audio sample (1.6e-3 frames at 25 fps, 16 kHz).
_COUNT_TOLERANCE = 1e-6

SAMPLES_PER_MOTION_FRAME = 4  # mel samples per motion frame: at 25 fps they are exactly 4 consecutive mel frames


def canonical_fps(fps: float) -> float:
    """`fps` as the rate it stands for: NTSC spellings (29.97, 23.976, 59.94, 30/1.001) -> n*1000/1001."""
    fps = float(fps)
    if not math.isfinite(fps) or fps <= 0:
        raise ValueError(f"frame rate must be a positive number, got {fps}")
    for base in _NTSC_BASES:
        ntsc = base * 1000 / 1001
        if abs(fps - ntsc) < _NTSC_TOLERANCE:
            return ntsc
    return fps


def motion_frame_count(duration_seconds: float, fps: float) -> int:
    """Number of motion frames whose instant i / fps lies in [0, duration)."""
    if not duration_seconds > 0:
        return 0
    return math.ceil(duration_seconds * canonical_fps(fps) - _COUNT_TOLERANCE)


def motion_frame_times(num_frames: int, fps: float) -> np.ndarray:
    """Instant t_i = i / fps (seconds, float64 [T]) of each motion frame."""
    return np.arange(num_frames) / canonical_fps(fps)


def motion_frame_intervals(num_frames: int, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (seconds, float64 [T] each) of each frame's interval [t_i - 0.5/fps, t_i + 0.5/fps)."""
    fps = canonical_fps(fps)
    index = np.arange(num_frames)
    return (index - 0.5) / fps, (index + 0.5) / fps


def feature_sample_times(num_frames: int, fps: float, samples_per_frame: int = SAMPLES_PER_MOTION_FRAME) -> np.ndarray:
    """Instants (seconds, float64 [T, K]) at which features are sampled for each motion frame.

    K evenly spaced instants starting at the start of the frame's interval: (i - 0.5 + k / K) / fps. Starting
    at the interval's start (not at sub-interval centres) puts them on the 10 ms mel grid at 25 fps with K=4
    (mel frames 4i-2 .. 4i+1) and at 50 fps with K=2. Together with each mel frame's 25 ms window they cover
    the whole interval; their mean lies 0.5 / (K * fps) before t_i (5 ms at 25 fps).
    """
    return _grid_positions(num_frames, fps, samples_per_frame) / GRID_RATE


def features_per_motion_frame(
    grid_features: np.ndarray, num_frames: int, fps: float, samples_per_frame: int = SAMPLES_PER_MOTION_FRAME
) -> np.ndarray:
    """Sample features on the 100 Hz grid (``[N, D]``, e.g. log_mel) for each motion frame: ``[T, K, D]`` float32.

    Values at feature_sample_times are linear interpolations between neighbouring grid frames; instants before
    the first or after the last grid frame take that frame's value (edge clamp), so T may exceed the audio.
    """
    grid_features = np.asarray(grid_features)
    if grid_features.ndim != 2 or len(grid_features) == 0:
        raise ValueError(f"grid features must be [N, D] with N >= 1, got shape {grid_features.shape}")
    positions = np.clip(_grid_positions(num_frames, fps, samples_per_frame), 0, len(grid_features) - 1)
    lower = np.floor(positions).astype(np.int64)
    upper = np.minimum(lower + 1, len(grid_features) - 1)
    weight = (positions - lower)[..., None].astype(np.float32)
    below = grid_features[lower].astype(np.float32, copy=False)
    sampled = grid_features[upper].astype(np.float32, copy=False)
    sampled -= below  # in place: on hour-long audio the result alone is ~140 MB
    sampled *= weight
    sampled += below
    return sampled


def _grid_positions(num_frames: int, fps: float, samples_per_frame: int) -> np.ndarray:
    """Feature sample instants in grid-frame units, ``[T, K]``; exact integers at 25 fps (K=4) and 50 fps (K=2)."""
    if samples_per_frame < 1:
        raise ValueError(f"samples_per_frame must be >= 1, got {samples_per_frame}")
    k = samples_per_frame
    # (i - 0.5 + k/K) * GRID_RATE / fps as an integer numerator times one float factor, so that positions on
    # the grid come out as exact integers (25 fps, K=4: factor 0.5, even numerators) and samples equal mel rows.
    numerator = 2 * k * np.arange(num_frames)[:, None] + 2 * np.arange(k)[None, :] - k
    return numerator * (GRID_RATE / (2 * k * canonical_fps(fps)))
