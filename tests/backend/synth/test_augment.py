"""Augmentation must change how speech sounds, never when it happens (except tempo, which moves the timeline)."""

import numpy as np
import pytest

from backend.core.phones import Phone
from backend.synth.augment import (
    CLEAN,
    add_noise,
    apply_channel,
    change_tempo,
    equalise,
    perturb_speech,
    reverberate,
    sample_augmentation,
)

RATE = 16000


def bursts(onsets_s: list[float], duration_s: float = 3.0) -> np.ndarray:
    """Silence with 80 ms tone bursts (a vowel-like 220 Hz + 1.2 kHz mix) starting at the given times."""
    audio = np.zeros(int(duration_s * RATE), np.float32)
    t = np.arange(int(0.08 * RATE)) / RATE
    tone = 0.5 * np.sin(2 * np.pi * 220 * t) + 0.3 * np.sin(2 * np.pi * 1200 * t)
    for onset in onsets_s:
        start = int(onset * RATE)
        audio[start : start + len(t)] += tone.astype(np.float32)
    return audio


def onset_times(audio: np.ndarray, threshold_ratio: float = 0.25) -> list[float]:
    """Times where a 5 ms envelope first rises above a share of its peak after at least 100 ms below it."""
    hop = RATE // 200
    envelope = np.sqrt(np.convolve(audio.astype(np.float64) ** 2, np.ones(hop) / hop, mode="same"))
    above = envelope > threshold_ratio * envelope.max()
    onsets, quiet_since = [], -RATE
    for i in np.flatnonzero(above):
        if i - quiet_since > 0.1 * RATE:
            onsets.append(i / RATE)
        quiet_since = i
    return onsets


def test_tempo_moves_audio_and_timeline_together():
    onsets = [0.5, 1.3, 2.1]
    phones = [Phone("SIL", 0.0, 0.5), Phone("AA", 0.5, 0.58), Phone("SIL", 0.58, 3.0)]
    for tempo in (0.85, 1.15):
        stretched, new_phones = change_tempo(bursts(onsets), tempo, phones)
        assert len(stretched) == round(3.0 * RATE / tempo)
        found = onset_times(stretched)
        assert len(found) == 3
        # the phase vocoder smears an onset by up to half its 32 ms window: still within half a 25 fps frame
        np.testing.assert_allclose(found, np.array(onsets) / tempo, atol=0.016)
        assert new_phones[1].start == pytest.approx(0.5 / tempo, abs=1e-3)
        assert new_phones[-1].end == pytest.approx(len(stretched) / RATE, abs=1e-3)


@pytest.mark.parametrize(
    "transform",
    [
        lambda a, rng: equalise(a, RATE, (6.0, -6.0, 3.0, 8.0, -8.0)),
        lambda a, rng: reverberate(a, RATE, rt60=0.6, wet=0.4, rng=rng),
        lambda a, rng: add_noise(a, snr_db=30.0, colour=1.0, rng=rng),
    ],
    ids=["eq", "reverb", "noise"],
)
def test_colouring_transforms_keep_onsets(transform):
    onsets = [0.4, 1.45, 2.2]
    changed = transform(bursts(onsets), np.random.default_rng(1))
    assert changed.dtype == np.float32 and len(changed) == 3 * RATE
    np.testing.assert_allclose(onset_times(changed)[:3], onsets, atol=0.006)


def test_noise_reaches_the_requested_snr():
    clean = bursts([0.2, 1.0, 1.8, 2.5])
    for snr in (10.0, 25.0):
        noisy = add_noise(clean, snr, colour=1.0, rng=np.random.default_rng(3))
        measured = 10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2))
        assert measured == pytest.approx(snr, abs=0.3)


def test_chain_is_deterministic_never_clips_and_clean_is_identity():
    audio = bursts([0.3, 1.0])
    phones = [Phone("SIL", 0.0, 3.0)]
    assert perturb_speech(audio, RATE, phones, CLEAN) == (pytest.approx(audio), phones)
    assert apply_channel(audio, RATE, CLEAN, np.random.default_rng(0)) == pytest.approx(audio)
    chains = [sample_augmentation(np.random.default_rng(seed)) for seed in range(40)]
    assert len(set(chains)) > 30
    for chain in chains[:8]:
        speech, _ = perturb_speech(audio, RATE, phones, chain)
        first = apply_channel(speech, RATE, chain, np.random.default_rng(7))
        second = apply_channel(perturb_speech(audio, RATE, phones, chain)[0], RATE, chain, np.random.default_rng(7))
        np.testing.assert_array_equal(first, second)
        assert np.max(np.abs(first)) <= 0.99 + 1e-6
