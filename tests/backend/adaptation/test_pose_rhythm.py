"""Head-motion style measures (amplitude per axis, dominant rhythm) and the pose calibration, on signals whose answer
is known."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from backend.adaptation.calibrate_pose import measure_calibration
from backend.adaptation.pose_rhythm import compare_pose, dominant_axis, dominant_rhythm, pose_amplitude, pose_offset
from backend.inference.pose_calibration import RESPONSE_BINS, SPREAD_BOUND, PoseCalibration, rhythm_filter

FPS = 25.0


def nodding(
    seconds: float,
    degrees: float,
    hz: float,
    rng: np.random.Generator,
    noise_deg: float = 0.3,
    held_tilt_deg: float = 0.0,
) -> np.ndarray:
    """A head [T, 3] nodding at `hz` over smooth noise on every axis, radians."""
    from scipy.ndimage import gaussian_filter1d

    t = np.arange(int(seconds * FPS)) / FPS
    noise = gaussian_filter1d(rng.standard_normal((len(t), 3)), 0.3 * FPS, axis=0)
    head = noise / noise.std(axis=0) * noise_deg
    head[:, 0] += degrees * np.sin(2 * np.pi * hz * t + rng.uniform(0, 2 * np.pi))
    head[:, 2] += held_tilt_deg
    return np.radians(head)


def test_a_sinusoid_gives_its_amplitude_and_frequency():
    t = np.arange(int(10 * FPS)) / FPS
    for hz in (0.3, 0.6, 1.7):
        frequency, peak = dominant_rhythm(np.sin(2 * np.pi * hz * t) * 3.0, FPS)
        assert abs(frequency - hz) < 0.02 and 2.6 < peak < 3.3
    head = np.radians(np.stack([5.0 * np.sin(2 * np.pi * 0.6 * t), np.zeros_like(t), np.full_like(t, 4.0)], 1))
    np.testing.assert_allclose(pose_amplitude(head), [5.0 / np.sqrt(2), 0.0, 0.0], atol=0.05)
    np.testing.assert_allclose(pose_offset(head), [0.0, 0.0, 4.0], atol=0.05)
    assert dominant_axis(head, FPS) == 0


def test_compare_pose_reports_ratio_per_axis_and_rhythm_error():
    rng = np.random.default_rng(0)
    reference = nodding(10, 5.0, 0.6, rng)
    generated = nodding(20, 2.5, 0.9, rng, noise_deg=0.6, held_tilt_deg=3.0)
    comparison = compare_pose(generated, reference, FPS)
    assert comparison.axis == 0 and abs(comparison.reference_hz - 0.6) < 0.03
    assert abs(comparison.rhythm_error_hz - 0.3) < 0.05
    assert 0.4 < comparison.amplitude_ratio[0] < 0.6 and 1.5 < comparison.amplitude_ratio[1] < 2.5
    assert abs(comparison.offset_error_deg[2] - 3.0) < 0.5


def test_the_calibration_brings_rhythm_amplitude_and_offset_to_the_reference_on_new_motion():
    rng = np.random.default_rng(1)
    reference = nodding(10, 5.0, 0.6, rng, held_tilt_deg=6.0)
    # the learnt part: nods too small and too fast, an upright head
    on_reference_speech = [nodding(10, 1.5, 0.9, rng, noise_deg=0.8) for _ in range(3)]
    calibration = measure_calibration(on_reference_speech, reference, FPS)
    new_speech = nodding(30, 1.5, 0.9, rng, noise_deg=0.8)
    before = compare_pose(new_speech, reference, FPS)
    after = compare_pose(calibration.apply(new_speech, FPS), reference, FPS)
    assert abs(before.rhythm_error_hz) > 0.25 and before.amplitude_ratio[0] < 0.5
    assert abs(after.rhythm_error_hz) < 0.1
    assert all(0.75 < r < 1.3 for r in after.amplitude_ratio), after
    assert abs(after.offset_error_deg[2]) < 0.5
    without_rhythm = compare_pose(
        measure_calibration(on_reference_speech, reference, FPS, rhythm=False).apply(new_speech, FPS), reference, FPS
    )
    assert abs(without_rhythm.rhythm_error_hz) > 0.25 and 0.75 < without_rhythm.amplitude_ratio[0] < 1.3


def test_strength_zero_is_no_calibration_and_one_is_the_measured_one():
    rng = np.random.default_rng(2)
    calibration = PoseCalibration(
        torch.tensor([2.0, 0.5, 1.0]),
        torch.tensor([0.0, 0.1, -0.1]),
        torch.rand(3, RESPONSE_BINS, generator=torch.Generator().manual_seed(0)) + 0.5,
        torch.tensor([0.05, 0.02, 0.01]),
    )
    head = nodding(8, 2.0, 0.7, rng).astype(np.float32)
    np.testing.assert_allclose(calibration.at_strength(0.0).apply(head, FPS), head, atol=1e-6)
    np.testing.assert_allclose(calibration.at_strength(1.0).apply(head, FPS), calibration.apply(head, FPS), atol=1e-6)
    np.testing.assert_allclose(PoseCalibration.identity().apply(head, FPS), head, atol=1e-6)


def test_one_take_carries_the_reference_spread_whatever_its_draw():
    """PoseGPT samples: one take on new speech moves 20-25 % more or less than another. The calibration measured on
    the reference's speech is right on average; the clip factor brings each take's spread per axis to the
    reference's, keeps the held tilt and the rhythm, and stays bounded and weaker on short clips."""
    rng = np.random.default_rng(4)
    reference = nodding(10, 5.0, 0.6, rng, held_tilt_deg=6.0)
    draws = [nodding(10, 1.5 * size, 0.6, rng, noise_deg=0.4 * size) for size in (0.8, 1.0, 1.25, 1.0)]
    calibration = measure_calibration(draws, reference, FPS)
    without = dataclasses.replace(calibration, spread=None)  # as a format-2 style generates
    for size in (0.7, 1.4):  # a narrow and a wide take of the same style on new speech
        take = nodding(40, 1.5 * size, 0.6, rng, noise_deg=0.4 * size)
        before = compare_pose(without.apply(take, FPS), reference, FPS)
        after = compare_pose(calibration.apply(take, FPS), reference, FPS)
        assert not all(0.8 < r < 1.25 for r in before.amplitude_ratio), (size, before)
        np.testing.assert_allclose(after.amplitude_ratio, 1.0, atol=0.03, err_msg=str(size))
        assert abs(after.offset_error_deg[2]) < 0.5 and abs(after.rhythm_error_hz) < 0.05, (size, after)
        assert abs(after.offset_error_deg[2] - before.offset_error_deg[2]) < 1e-3  # the rescale keeps the mean
    wild = nodding(40, 6.0, 0.6, rng, noise_deg=1.6)  # 4x too wide: not a draw of the style, bounded
    np.testing.assert_allclose(calibration.clip_factor(without.apply(wild, FPS), FPS), 1 / SPREAD_BOUND, rtol=1e-6)
    short = without.apply(nodding(2, 1.5 * 1.4, 0.6, rng, noise_deg=0.56), FPS)  # 2 s: a fifth of the correction
    long = without.apply(nodding(40, 1.5 * 1.4, 0.6, rng, noise_deg=0.56), FPS)
    assert np.all(
        np.abs(np.log(calibration.clip_factor(short, FPS)))
        < 0.3 * np.abs(np.log(calibration.clip_factor(long, FPS))) + 0.05
    )


def test_the_rhythm_filter_passes_the_mean_and_keeps_the_length():
    head = np.radians(np.full((137, 3), 4.0))
    response = np.ones((3, RESPONSE_BINS))
    response[:, 3:] = 3.0  # the rhythm band, from 0.15 Hz
    np.testing.assert_allclose(rhythm_filter(head, FPS, response), head, atol=1e-9)
    with pytest.raises(ValueError, match="at least 4 frames"):
        dominant_rhythm(np.zeros(3), FPS)


def test_a_held_tilt_comes_back_as_the_offset_and_the_motion_about_it_keeps_its_size():
    """The learnt part renders a held tilt as a slow wander between held and upright whose size differs from draw
    to draw; the calibration replaces that drift by the offset, so the tilt's spread is the motion about the hold."""
    from scipy.ndimage import gaussian_filter1d

    rng = np.random.default_rng(3)
    reference = nodding(10, 5.0, 0.6, rng, held_tilt_deg=6.0)  # tilt: 0.3 deg of motion about a 6 deg hold

    def learnt(seconds: float, wander_deg: float) -> np.ndarray:
        head = nodding(seconds, 2.0, 0.6, rng, noise_deg=0.3)
        hold = gaussian_filter1d(rng.standard_normal(int(seconds * FPS)), 3.0 * FPS)  # held, upright, held...
        head[:, 2] += np.radians(wander_deg) * (1.0 + hold / hold.std()) / 2
        return head

    calibration = measure_calibration([learnt(10, 4.0) for _ in range(4)], reference, FPS)
    assert calibration.response[2, 0] == 0.0 and calibration.response[:2, 0].eq(1.0).all()  # only the held axis
    for wander_deg in (1.0, 3.0, 6.0):  # new speech wanders less or more than the reference's speech did
        after = compare_pose(calibration.apply(learnt(40, wander_deg), FPS), reference, FPS)
        assert 0.7 < after.amplitude_ratio[2] < 1.3, (wander_deg, after)
        assert abs(after.offset_error_deg[2]) < 0.5, (wander_deg, after)
    upright = nodding(10, 5.0, 0.6, rng)  # no axis held: nothing below the rhythm band is touched
    assert measure_calibration([learnt(10, 0.0)], upright, FPS).response[:, 0].eq(1.0).all()
