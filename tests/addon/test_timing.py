"""Clip rows onto integer scene frames: which frames get keys and what each one shows, to the frame."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from adamesh_blender.anim.timing import SceneTiming, sample_frames, sample_linear, sample_rotations
from adamesh_blender.errors import ClipReadError

CLIP_FPS = 25.0
TWO_SECONDS = 51  # rows 0..50 at 25 fps: the last row plays at exactly 2 s


@pytest.mark.parametrize(
    "fps, fps_base, start, first, last",
    [
        (24, 1.0, 37, 37, 85),  # 2 s = 48 frames
        (24, 1.001, 37, 37, 84),  # 23.976: 2 s = 47.95 frames
        (30, 1.001, 37, 37, 96),  # 29.97: 2 s = 59.94 frames
        (60, 1.0, 37, 37, 157),
        (120, 1.0, 37, 37, 277),
        (24, 1.0, 37.5, 38, 85),  # a strip between frames: keys from the next whole frame
    ],
)
def test_keyed_frames(fps, fps_base, start, first, last):
    sampling = sample_frames(TWO_SECONDS, CLIP_FPS, SceneTiming(start, fps, fps_base))
    np.testing.assert_array_equal(sampling.scene_frames, np.arange(first, last + 1))


@pytest.mark.parametrize("fps, fps_base", [(24, 1.0), (24, 1.001), (30, 1.001), (60, 1.0), (120, 1.0), (25, 1.0)])
@pytest.mark.parametrize("start", [37.0, 1.0, 37.5])
def test_each_frame_shows_the_clip_at_its_own_time(fps, fps_base, start):
    sampling = sample_frames(TWO_SECONDS, CLIP_FPS, SceneTiming(start, fps, fps_base))
    rate = fps / fps_base
    times = sample_linear(np.arange(TWO_SECONDS)[:, None] / CLIP_FPS, sampling)[:, 0]  # a clip of its own clock
    np.testing.assert_allclose(times, (sampling.scene_frames - start) / rate, atol=1e-12)


def test_row_at_a_2997_frame_by_hand():
    sampling = sample_frames(TWO_SECONDS, CLIP_FPS, SceneTiming(37, 30, 1.001))
    # frame 96 is 59 frames after the start: 59 * 1.001 / 30 s = 1.96863 s = row 49.2158
    assert sampling.clip_rows[-1] == pytest.approx(59 * 1.001 / 30 * 25)


def test_equal_rates_key_every_row_exactly():
    values = np.random.default_rng(0).normal(size=(10, 4))
    sampling = sample_frames(10, 24.0, SceneTiming(5, 24))
    np.testing.assert_array_equal(sampling.scene_frames, np.arange(5, 15))
    np.testing.assert_allclose(sample_linear(values, sampling), values, atol=1e-12)


def test_rotations_are_slerped():
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(20, 3)) * 0.5
    sampling = sample_frames(20, CLIP_FPS, SceneTiming(37, 30, 1.001))
    ours = Rotation.from_quat(np.roll(sample_rotations(vectors, sampling), -1, axis=1))
    expected = Slerp(np.arange(20), Rotation.from_rotvec(vectors))(sampling.clip_rows)
    assert np.all((ours * expected.inv()).magnitude() < 1e-9)


def test_sampled_quaternions_never_switch_sign():
    angles = np.linspace(0, 4 * np.pi, 40)  # two full turns: q and -q alternate if nothing prevents it
    quaternions = sample_rotations(np.outer(angles, [0, 0, 1.0]), sample_frames(40, CLIP_FPS, SceneTiming(1, 60)))
    assert np.all(np.sum(quaternions[1:] * quaternions[:-1], axis=1) > 0)


def test_single_row_clip_and_too_short_clip():
    one = sample_frames(1, CLIP_FPS, SceneTiming(37, 24))
    np.testing.assert_array_equal(one.scene_frames, [37])
    np.testing.assert_allclose(sample_linear(np.array([[0.7]]), one), [[0.7]])
    with pytest.raises(ClipReadError, match="shorter than one scene frame"):
        sample_frames(1, CLIP_FPS, SceneTiming(37.5, 24))
