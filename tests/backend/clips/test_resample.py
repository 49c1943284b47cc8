"""Resampling: linear values, rotations on SO(3), frame counts and edge cases."""

import dataclasses

import numpy as np
import pytest

from backend.clips import MotionClip, resample_clip
from backend.clips.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from backend.core.errors import ClipError

DEGREES_PER_SECOND = 1000.0  # 40 degrees per frame at 25 fps
# each rotation key spins about its own tilted axis, starting from its own non-trivial offset, so a per-key mix-up
# or a per-component blend both show
SPINS = {
    "jaw": ([0.2, 1.0, 0.3], [0.4, 0.0, 0.1]),
    "head": ([1.0, 0.5, -0.7], [0.0, 0.9, -0.3]),
    "global_rotation": ([-0.3, 0.2, 1.0], [1.2, -0.4, 0.2]),
    "left_eye": ([0.6, -1.0, 0.2], [-0.5, 0.3, 0.8]),
    "right_eye": ([0.1, 0.3, -1.0], [0.2, 1.1, 0.0]),
}


def _spin(axis, offset, times: np.ndarray) -> np.ndarray:
    """R(t) = Rot(axis, w t) @ R0: constant angular velocity about a tilted axis, as matrices [T, 3, 3]."""
    axis = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    angles = np.radians(DEGREES_PER_SECOND) * times
    return axis_angle_to_matrix(angles[:, None] * axis) @ axis_angle_to_matrix(np.asarray(offset, dtype=np.float64))


def _spinning_clip(fps: float, n_frames: int) -> MotionClip:
    times = np.arange(n_frames) / fps
    aa = {key: matrix_to_axis_angle(_spin(*spin, times)).astype(np.float32) for key, spin in SPINS.items()}
    ramp = np.stack([times * 2.0 - 1.0, 0.5 - times], axis=1)  # linear in time, so linear resampling is exact
    return MotionClip(
        fps=fps,
        expression=ramp.astype(np.float32),
        expression_names=("smile", "frown"),
        jaw=aa["jaw"],
        head=aa["head"],
        global_rotation=aa["global_rotation"],
        eyes=np.concatenate([aa["left_eye"], aa["right_eye"]], axis=1),
        eyelids=(ramp * 0.5 + 0.5).astype(np.float32),
        translation=np.stack([times, -times, 2.0 * times], axis=1).astype(np.float32),
    )


def _rotations(clip: MotionClip) -> dict[str, np.ndarray]:
    return {
        "jaw": clip.jaw,
        "head": clip.head,
        "global_rotation": clip.global_rotation,
        "left_eye": clip.eyes[:, :3],
        "right_eye": clip.eyes[:, 3:],
    }


def _angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Geodesic angle (radians) between rotation matrices [T, 3, 3]."""
    cos = (np.trace(np.swapaxes(a, -1, -2) @ b, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.arccos(np.clip(cos, -1.0, 1.0))


@pytest.mark.parametrize(
    ("source_fps", "target_fps", "n_frames", "expected_frames"), [(25, 60, 26, 61), (30, 24, 31, 25)]
)
def test_rotations_follow_the_analytic_spin(source_fps, target_fps, n_frames, expected_frames):
    clip = _spinning_clip(source_fps, n_frames)
    out = resample_clip(clip, target_fps)
    assert out.n_frames == expected_frames and out.fps == target_fps
    times = np.arange(out.n_frames) / target_fps
    for key, aa in _rotations(out).items():
        error = _angle_between(axis_angle_to_matrix(aa.astype(np.float64)), _spin(*SPINS[key], times))
        assert error.max() < 1e-5, key  # float32 storage is the only error left


@pytest.mark.parametrize(("source_fps", "target_fps", "n_frames"), [(25, 60, 26), (30, 24, 31)])
def test_per_component_axis_angle_blending_would_not_match(source_fps, target_fps, n_frames):
    """The same check fails for the naive method, so the test above does tell SO(3) interpolation apart.

    Blending components is wrong twice: where the stored axis-angle wraps past pi it swings through unrelated
    rotations, and even between frames with nearby vectors it misses by ~0.3-1 degree at 40 degrees per frame.
    """
    clip = _spinning_clip(source_fps, n_frames)
    source_times = np.arange(n_frames) / source_fps
    times = np.arange(resample_clip(clip, target_fps).n_frames) / target_fps
    lower = np.minimum(np.floor(times * source_fps).astype(int), n_frames - 2)
    for key, aa in _rotations(clip).items():
        blended = np.stack([np.interp(times, source_times, aa[:, c]) for c in range(3)], axis=1)
        error = _angle_between(axis_angle_to_matrix(blended), _spin(*SPINS[key], times))
        no_wrap = np.linalg.norm(aa[lower + 1] - aa[lower], axis=1) < 1.0
        assert error.max() > 1.0, key
        assert error[no_wrap].max() > 2e-3, key


def test_values_interpolate_linearly():
    clip = _spinning_clip(25, 26)
    out = resample_clip(clip, 60)
    times = np.arange(out.n_frames) / 60
    np.testing.assert_allclose(out.expression, np.stack([times * 2 - 1, 0.5 - times], axis=1), atol=1e-6)
    np.testing.assert_allclose(out.eyelids, np.stack([times, 0.75 - times / 2], axis=1), atol=1e-6)
    np.testing.assert_allclose(out.translation, np.stack([times, -times, 2 * times], axis=1), atol=1e-6)
    assert out.expression_names == clip.expression_names
    for array in out.arrays().values():
        assert array.dtype == np.float32
    out.validate()


def test_output_stops_at_the_last_source_frame_time():
    clip = _spinning_clip(25, 10)  # source frames span 0.36 s
    out = resample_clip(clip, 60)
    assert out.n_frames == 22  # 21 / 60 = 0.35 s is the last time inside the span
    np.testing.assert_array_equal(out.jaw[0], clip.jaw[0])


def test_equal_rate_returns_an_unchanged_copy():
    clip = _spinning_clip(30, 12)
    out = resample_clip(clip, 30.0)
    for key, array in clip.arrays().items():
        np.testing.assert_array_equal(getattr(out, key), array)
        assert getattr(out, key) is not array
    out.jaw[0] = 99.0
    assert clip.jaw[0, 0] != 99.0


def test_single_frame_clip_resamples_to_one_frame():
    clip = _spinning_clip(25, 1)
    out = resample_clip(clip, 60)
    assert out.n_frames == 1
    np.testing.assert_allclose(out.head, clip.head, atol=1e-6)
    np.testing.assert_allclose(out.expression, clip.expression)


def test_optional_arrays_stay_absent():
    clip = _spinning_clip(25, 5)
    bare = dataclasses.replace(clip, eyes=None, eyelids=None, global_rotation=None, translation=None)
    out = resample_clip(bare, 50)
    assert out.eyes is None and out.eyelids is None and out.global_rotation is None and out.translation is None
    assert out.n_frames == 9


@pytest.mark.parametrize("fps", [0, -24, float("nan"), float("inf")])
def test_bad_target_rate_is_a_clip_error(fps):
    with pytest.raises(ClipError, match="target fps"):
        resample_clip(_spinning_clip(25, 5), fps)
