"""Log-mel features: the 100 Hz grid convention (frame j centred on j * 10 ms) and the blockwise computation."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from backend.audio.mel import GRID_RATE, HOP_LENGTH, LOG_FLOOR, N_MELS, SAMPLE_RATE, grid_frame_count, log_mel


@pytest.mark.parametrize("num_samples", [0, 1, 159, 160, 16001])
def test_one_frame_per_10_ms_from_time_zero(num_samples):
    mel = log_mel(np.zeros(num_samples, dtype=np.float32))
    assert mel.shape == (1 + num_samples // HOP_LENGTH, N_MELS) == (grid_frame_count(num_samples), N_MELS)
    assert mel.dtype == np.float32
    assert np.all(mel == np.float32(np.log(LOG_FLOOR)))  # digital silence sits exactly on the floor


def test_blockwise_features_equal_librosa_on_the_whole_wave():
    # 61.5 s crosses the 60 s block boundary: a seam off by a sample would show here.
    wave = np.random.default_rng(0).normal(0.0, 0.1, size=int(61.5 * SAMPLE_RATE)).astype(np.float32)
    reference = librosa.feature.melspectrogram(
        y=wave,
        sr=SAMPLE_RATE,
        n_fft=512,
        hop_length=160,
        win_length=400,
        window="hann",
        center=True,
        pad_mode="constant",
        power=2.0,
        n_mels=80,
        fmin=20.0,
        fmax=8000.0,
    )
    np.testing.assert_allclose(log_mel(wave), np.log(reference.T + 1e-6), atol=2e-5)


@pytest.mark.parametrize("click_frame", [0, 7, 250])
def test_frame_j_is_centred_on_j_times_10_ms(click_frame):
    wave = np.zeros(3 * SAMPLE_RATE, dtype=np.float32)
    wave[click_frame * HOP_LENGTH] = 1.0
    energy = np.exp(log_mel(wave)).sum(axis=1)
    assert int(np.argmax(energy)) == click_frame
    if click_frame > 0:  # a symmetric window around the click: the neighbours see the same energy
        assert energy[click_frame - 1] == pytest.approx(energy[click_frame + 1], rel=1e-4)
    assert GRID_RATE * HOP_LENGTH == SAMPLE_RATE


def test_a_tone_lands_in_the_band_around_its_frequency():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    mel = log_mel((0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32))
    centres = librosa.mel_frequencies(n_mels=N_MELS + 2, fmin=20.0, fmax=8000.0)[1:-1]
    assert int(np.argmax(mel[50])) == int(np.argmin(np.abs(centres - 1000.0)))


def test_wrong_rate_or_shape_is_a_programming_error():
    with pytest.raises(ValueError, match="16000 Hz"):
        log_mel(np.zeros(100, dtype=np.float32), sample_rate=44100)
    with pytest.raises(ValueError, match="mono"):
        log_mel(np.zeros((2, 100), dtype=np.float32))
    with pytest.raises(ValueError, match="NaN"):
        log_mel(np.array([0.0, np.nan], dtype=np.float32))
