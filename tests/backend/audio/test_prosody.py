"""Loudness and pitch per motion frame, on the frame convention of frames.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backend.audio.frames import motion_frame_count
from backend.audio.mel import SAMPLE_RATE
from backend.audio.prosody import LOUDNESS_FLOOR_DB, frame_loudness_db, frame_pitch_hz

SR = SAMPLE_RATE
NTSC = 30000 / 1001


def voice(f0_hz: np.ndarray | float, seconds: float, amplitude: float = 0.3) -> np.ndarray:
    """A harmonic complex (8 harmonics, 1/h amplitudes) following the fundamental `f0_hz` (scalar or per sample)."""
    count = round(seconds * SR)
    phase = 2 * np.pi * np.cumsum(np.broadcast_to(f0_hz, (count,))) / SR
    wave = sum(np.sin(h * phase) / h for h in range(1, 9))
    return (amplitude * wave / np.abs(wave).max()).astype(np.float32)


def tone_level_db(amplitude: float) -> float:
    return 20 * math.log10(amplitude / math.sqrt(2))


@pytest.mark.parametrize("fps", [25, 29.97, 60])
def test_loudness_is_the_rms_level_of_the_frame_interval(fps):
    t = np.arange(2 * SR) / SR
    wave = (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    num_frames = motion_frame_count(2.0, fps) + 5  # past the end: the first still hears the last samples
    loudness = frame_loudness_db(wave, SR, fps, num_frames)

    assert loudness.dtype == np.float32 and loudness.shape == (num_frames,)
    np.testing.assert_allclose(loudness[: num_frames - 5], tone_level_db(0.5), atol=0.05)  # frame 0: half interval
    np.testing.assert_array_equal(loudness[-4:], LOUDNESS_FLOOR_DB)


@pytest.mark.parametrize("fps", [25, NTSC, 60])
def test_loudness_steps_exactly_at_interval_edges(fps):
    # Frame 38's interval starts at 37.5 / fps and frame 90 is the instant 90 / fps: both whole samples at these
    # rates (75 and 90 are multiples of 15 frames).
    edge_sample, instant_sample = round(37.5 / fps * SR), round(90 / fps * SR)
    assert math.isclose(edge_sample, 37.5 / fps * SR) and math.isclose(instant_sample, 90 / fps * SR)
    wave = np.zeros(instant_sample + SR, dtype=np.float32)
    wave[edge_sample : edge_sample + SR // 2] = 0.5  # constant level: RMS is exact
    wave[instant_sample:] = 0.5

    loudness = frame_loudness_db(wave, SR, fps, motion_frame_count(len(wave) / SR, fps))
    full = 20 * math.log10(0.5)

    assert loudness[37] == LOUDNESS_FLOOR_DB
    assert loudness[38] == pytest.approx(full, abs=1e-4)
    assert loudness[89] == LOUDNESS_FLOOR_DB
    assert loudness[90] == pytest.approx(full + 10 * math.log10(0.5), abs=0.05)  # half of the interval sounds
    assert loudness[91] == pytest.approx(full, abs=1e-4)


@pytest.mark.parametrize("f0", [95.0, 150.0, 240.0])
def test_steady_voice_pitch_is_measured_within_one_percent(f0):
    pitch = frame_pitch_hz(voice(f0, 2.0), SR, 25, motion_frame_count(2.0, 25))
    assert pitch.dtype == np.float32 and pitch.shape == (50,)
    np.testing.assert_allclose(pitch[2:-2], f0, rtol=0.01)


@pytest.mark.parametrize("fps", [24, NTSC, 60, 120])
def test_pitch_follows_a_glide_on_the_frame_instants(fps):
    seconds = 3.0
    f0 = 100.0 * 3.0 ** (np.arange(round(seconds * SR)) / (seconds * SR))  # 100 -> 300 Hz
    num_frames = motion_frame_count(seconds, fps)
    pitch = frame_pitch_hz(voice(f0, seconds), SR, fps, num_frames)

    truth = 100.0 * 3.0 ** (np.arange(num_frames) / fps / seconds)
    inner = slice(int(0.05 * fps), num_frames - int(0.05 * fps))
    assert np.all(pitch[inner] > 0)
    error = np.abs(pitch[inner] / truth[inner] - 1)
    assert np.percentile(error, 95) < 0.02


def test_noise_and_silence_are_unvoiced_with_zero_pitch():
    rng = np.random.default_rng(3)
    noise = rng.normal(0.0, 0.1, size=2 * SR).astype(np.float32)
    wave = np.concatenate([noise, np.zeros(SR, dtype=np.float32)])
    pitch = frame_pitch_hz(wave, SR, 30, motion_frame_count(3.0, 30))
    loudness = frame_loudness_db(wave, SR, 30, motion_frame_count(3.0, 30))

    assert np.mean(pitch[:55] > 0) < 0.05
    assert np.all(pitch[65:] == 0.0)
    assert np.isfinite(pitch).all() and np.isfinite(loudness).all()


def test_quiet_hum_is_not_a_voice():
    hum = voice(120.0, 2.0, amplitude=10 ** (-60 / 20))  # periodic, but at -60 dBFS: a pause, not speech
    assert np.all(frame_pitch_hz(hum, SR, 25, 50) == 0.0)


@pytest.mark.parametrize("fps", [25, 30])
def test_voicing_starts_in_the_frame_where_the_voice_starts(fps):
    frame = 30  # the voice starts at the start of this frame's interval: 29.5 / fps, a whole sample
    onset = round(29.5 / fps * SR)
    wave = np.concatenate([np.zeros(onset, dtype=np.float32), voice(150.0, 1.5)])
    pitch = frame_pitch_hz(wave, SR, fps, motion_frame_count(len(wave) / SR, fps))
    assert int(np.argmax(pitch > 0)) == frame
    assert pitch[frame] == pytest.approx(150.0, rel=0.01)


def test_wrong_rate_is_a_programming_error():
    with pytest.raises(ValueError, match="16000 Hz"):
        frame_pitch_hz(np.zeros(100, dtype=np.float32), 48000, 25, 1)
    with pytest.raises(ValueError, match="16000 Hz"):
        frame_loudness_db(np.zeros(100, dtype=np.float32), 48000, 25, 1)
