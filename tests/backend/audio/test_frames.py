"""Audio time <-> motion frames, to the frame, at the frame rates artists use.

The convention under test (frames.py): motion frame i is the instant i / fps and stands for the interval
[(i - 1/2) / fps, (i + 1/2) / fps); its K feature samples are at (i - 1/2 + k / K) / fps. The tests write that
convention out themselves with exact fractions, so they do not trust the code they test.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from backend.audio.frames import (
    canonical_fps,
    feature_sample_times,
    features_per_motion_frame,
    motion_frame_count,
    motion_frame_intervals,
    motion_frame_times,
)
from backend.audio.mel import N_MELS, SAMPLE_RATE, log_mel

SR = SAMPLE_RATE
FRAME_RATES = [24, 25, 29.97, 30, 50, 60]
# The onset detector below finds an onset to within 4.2 ms (measured on 240 random onsets at these rates; it is
# biased ~2.5 ms late off 25 fps because features are interpolated between mel frames in the log domain).
# Onsets at least MARGIN from an interval edge must therefore land in exactly the expected frame.
ONSET_TOLERANCE = 0.005
MARGIN = 0.006


def exact_rate(fps: float) -> Fraction:
    return Fraction(30000, 1001) if fps == 29.97 else Fraction(fps)


def expected_frame(onset: Fraction, rate: Fraction) -> int:
    """The first (only) frame whose interval [(i - 1/2)/fps, (i + 1/2)/fps) contains `onset`."""
    frame = math.floor(onset * rate + Fraction(1, 2))
    assert (frame - Fraction(1, 2)) / rate <= onset < (frame + Fraction(1, 2)) / rate
    return frame


def edge_distance(onset: Fraction, rate: Fraction) -> float:
    """Seconds from `onset` to the nearest interval edge (i + 1/2) / fps."""
    position = onset * rate - Fraction(1, 2)
    return float(min(position - math.floor(position), math.ceil(position) - position) / rate)


def tone_bursts(onset_samples: list[int], num_samples: int, seconds: float = 0.2) -> np.ndarray:
    """1 kHz bursts starting sharply (cosine, full amplitude at the first sample) at each onset sample."""
    wave = np.zeros(num_samples, dtype=np.float32)
    burst = (0.5 * np.cos(2 * np.pi * 1000.0 * np.arange(int(seconds * SR)) / SR)).astype(np.float32)
    for onset in onset_samples:
        wave[onset : onset + len(burst)] = burst[: num_samples - onset]
    return wave


def detected_onsets(wave: np.ndarray, fps: float) -> np.ndarray:
    """Onset instants (s) seen in the per-frame features: where their power rises through half the burst power.

    For a window symmetric about its centre, the power of a tone switched on at t0 reaches half its steady
    value when the window is centred on t0; the crossing is interpolated between consecutive feature samples,
    placed at the documented instants (i - 1/2 + k/K) / fps.
    """
    rate = exact_rate(fps)
    num_frames = motion_frame_count(len(wave) / SR, fps)
    features = features_per_motion_frame(log_mel(wave), num_frames, fps)
    assert features.shape == (num_frames, 4, N_MELS)
    power = np.exp(features.astype(np.float64)).sum(axis=2).ravel()
    times = np.array([float((i - Fraction(1, 2) + Fraction(k, 4)) / rate) for i in range(num_frames) for k in range(4)])
    half = 0.5 * power.max()
    after = np.flatnonzero((power[:-1] < half) & (power[1:] >= half)) + 1
    before = after - 1
    return times[before] + (half - power[before]) / (power[after] - power[before]) * (times[after] - times[before])


def planned_onsets(fps: float) -> tuple[list[int], list[str]]:
    """Onset samples of four kinds, ~0.45 s apart, each exactly representable in samples.

    on_instant: exactly on a frame instant i / fps; near_start / near_end: MARGIN inside the interval's edges
    (as far from the instant as the detector allows); on_edge: exactly on an edge (i + 1/2) / fps.
    Frames are multiples of 15, and edges 7.5 frames later: both are whole numbers of samples at every rate here.
    """
    rate = exact_rate(fps)
    onsets, kinds = [], []
    cursor = Fraction(3, 10)
    for kind in ["on_instant", "near_start", "near_end", "on_edge"] * 5:
        frame = 15 * math.ceil(cursor * rate / 15)
        instant = frame / rate
        offset = {
            "on_instant": Fraction(0),
            "near_start": -(Fraction(1, 2) / rate - Fraction(MARGIN)),
            "near_end": Fraction(1, 2) / rate - Fraction(MARGIN),
            "on_edge": Fraction(15, 2) / rate,  # frame + 7.5: an edge
        }[kind]
        sample = (instant + offset) * SR
        if kind in ("on_instant", "on_edge"):
            assert sample.denominator == 1
        onsets.append(round(sample))
        kinds.append(kind)
        cursor = instant + Fraction(45, 100)
    return onsets, kinds


@pytest.mark.parametrize("fps", FRAME_RATES)
def test_onsets_land_in_the_frame_whose_interval_contains_them(fps):
    rate = exact_rate(fps)
    onset_samples, kinds = planned_onsets(fps)
    rng = np.random.default_rng(int(fps * 100))
    last = onset_samples[-1]
    random_samples = [int(last + SR * (0.45 * (n + 1) + rng.uniform(0, 0.1))) for n in range(12)]
    onset_samples += random_samples
    kinds += ["random"] * len(random_samples)
    wave = tone_bursts(onset_samples, onset_samples[-1] + SR)

    detected = detected_onsets(wave, fps)

    assert len(detected) == len(onset_samples)
    checked = 0
    for sample, kind, found in zip(onset_samples, kinds, detected):
        onset = Fraction(sample, SR)
        assert abs(found - float(onset)) <= ONSET_TOLERANCE, (kind, float(onset), found)
        frame = math.floor(found * float(rate) + 0.5)
        if edge_distance(onset, rate) >= MARGIN - 1 / SR:
            assert frame == expected_frame(onset, rate), (kind, float(onset), found)
            checked += 1
        else:  # near an edge, within the detector's error, either neighbouring frame is a correct reading
            either_side = {expected_frame(onset + shift, rate) for shift in (-Fraction(MARGIN), Fraction(MARGIN))}
            assert frame in either_side, (kind, float(onset), found)
    assert checked >= 15


def test_ten_minutes_at_29_97_fps_do_not_drift():
    fps, rate = 29.97, Fraction(30000, 1001)
    rng = np.random.default_rng(7)
    onset_samples = [int(SR * (5.0 * n + 2.0 + rng.uniform(0.0, 1.0))) for n in range(119)]
    last_frame = 17940  # 598.598 s, exactly on a frame instant (a multiple of 15 frames: a whole sample)
    onset_samples.append(int(last_frame / rate * SR))
    wave = tone_bursts(onset_samples, 600 * SR)

    assert motion_frame_count(600.0, fps) == 17983  # frame 17982 is at 599.9994 s
    detected = detected_onsets(wave, fps)

    assert len(detected) == len(onset_samples)
    for sample, found in zip(onset_samples, detected):
        onset = Fraction(sample, SR)
        assert abs(found - float(onset)) <= ONSET_TOLERANCE
        if edge_distance(onset, rate) >= MARGIN:
            assert math.floor(found * float(rate) + 0.5) == expected_frame(onset, rate)
    assert math.floor(detected[-1] * float(rate) + 0.5) == last_frame


def test_at_25_fps_the_four_samples_are_exactly_four_mel_frames():
    mel = np.random.default_rng(0).normal(size=(103, N_MELS)).astype(np.float32)
    features = features_per_motion_frame(mel, 26, 25)
    for i in range(26):
        rows = np.clip([4 * i - 2, 4 * i - 1, 4 * i, 4 * i + 1], 0, len(mel) - 1)
        np.testing.assert_array_equal(features[i], mel[rows])
    at_50 = features_per_motion_frame(mel, 52, 50, samples_per_frame=2)
    for i in range(52):
        np.testing.assert_array_equal(at_50[i], mel[np.clip([2 * i - 1, 2 * i], 0, len(mel) - 1)])


@pytest.mark.parametrize("fps", FRAME_RATES + [12, 120])
@pytest.mark.parametrize("samples_per_frame", [1, 3, 4])
def test_features_are_sampled_at_the_documented_instants(fps, samples_per_frame):
    # A feature whose value is its own grid index: the sampled value is the sample instant in grid units.
    rate, grid, k = exact_rate(fps), 200, samples_per_frame
    num_frames = motion_frame_count((grid + 30) / 100, fps)  # runs past the end of the grid: edge clamp
    instants = np.array(
        [[float((i - Fraction(1, 2) + Fraction(j, k)) / rate) for j in range(k)] for i in range(num_frames)]
    )

    np.testing.assert_allclose(feature_sample_times(num_frames, fps, k), instants, rtol=0, atol=1e-12)
    ramp = np.arange(grid, dtype=np.float64)[:, None]
    sampled = features_per_motion_frame(ramp, num_frames, fps, k)[..., 0]
    np.testing.assert_allclose(sampled, np.clip(instants * 100, 0, grid - 1), rtol=0, atol=1e-4)  # float32 out


@pytest.mark.parametrize("fps", FRAME_RATES)
def test_frame_count_counts_instants_before_the_end(fps):
    rate = exact_rate(fps)
    rng = np.random.default_rng(1)
    for num_samples in list(rng.integers(1, 40 * SR, size=200)) + [int(Fraction(15, 1) / rate * SR)]:
        duration = Fraction(int(num_samples), SR)
        exact = math.ceil(duration * rate)  # instants i / fps < duration
        assert motion_frame_count(float(duration), fps) == exact
    assert motion_frame_count(0.0, fps) == 0
    assert motion_frame_count(1 / SR, fps) == 1


def test_frame_count_at_exact_boundaries():
    assert motion_frame_count(0.08, 25) == 2  # instants 0 and 0.04; 0.08 is the end, excluded
    assert motion_frame_count(0.08 + 1 / SR, 25) == 3
    assert motion_frame_count(1001 / 30000 * 3, 29.97) == 3


def test_ntsc_spellings_are_one_rate():
    ntsc = 30000 / 1001
    assert canonical_fps(29.97) == canonical_fps(30 / 1.001) == canonical_fps(ntsc) == ntsc
    assert canonical_fps(23.976) == canonical_fps(23.98) == 24000 / 1001
    assert canonical_fps(59.94) == 60000 / 1001
    assert [canonical_fps(f) for f in (24, 25, 30, 50, 60, 12.5)] == [24, 25, 30, 50, 60, 12.5]
    # 600 s: 29.97 taken literally would give 17982 frames and lose the last one.
    assert motion_frame_count(600.0, 29.97) == motion_frame_count(600.0, 30 / 1.001) == 17983
    np.testing.assert_allclose(motion_frame_times(5, 29.97), np.arange(5) * 1001 / 30000, rtol=1e-15)
    starts, ends = motion_frame_intervals(3, 25)
    np.testing.assert_allclose(starts, [-0.02, 0.02, 0.06])
    np.testing.assert_allclose(ends, [0.02, 0.06, 0.10])


@pytest.mark.parametrize("bad", [0, -25, float("nan"), float("inf")])
def test_impossible_frame_rates_are_refused(bad):
    with pytest.raises(ValueError, match="frame rate"):
        canonical_fps(bad)
