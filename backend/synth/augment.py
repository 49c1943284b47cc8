"""Audio augmentation for the synthetic corpus.

Synthetic voices share a timbre that no real microphone has; a model that learns it fails on real speech. Each
utterance therefore gets a random chain of tempo, pitch, equalisation, reverberation and noise. Only the tempo
change moves time, and it rescales the phone timeline with the audio, so the motion built from the timeline stays
in sync with the sound.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import signal

from backend.core.phones import Phone


@dataclass(frozen=True)
class Augmentation:
    """One utterance's draw; stored in the corpus index so every file can be reproduced and explained."""

    tempo: float  # playback-rate factor of the phase vocoder; 1.1 = 10 % faster speech
    pitch_semitones: float
    eq_gains_db: tuple[float, ...]  # one gain per EQ_BANDS_HZ band
    reverb_rt60: float  # seconds; 0 = dry
    reverb_wet: float  # share of the reverberant tail in the mix
    noise_snr_db: float  # inf = no noise
    noise_colour: float  # spectral slope exponent: 0 white, 1 pink, 2 brown
    gain_db: float

    def to_dict(self) -> dict:
        return {key: (list(value) if isinstance(value, tuple) else value) for key, value in asdict(self).items()}


EQ_BANDS_HZ = (150.0, 400.0, 1000.0, 2500.0, 5000.0)

# The phase vocoder's window: librosa's default (2048 samples, 128 ms at 16 kHz) smears a plosive's onset ~40 ms
# earlier (measured), more than a frame at 25 fps; 32 ms keeps onsets within a few ms.
SPEECH_STFT = {"n_fft": 512, "hop_length": 128}

CLEAN = Augmentation(
    tempo=1.0,
    pitch_semitones=0.0,
    eq_gains_db=(0.0,) * len(EQ_BANDS_HZ),
    reverb_rt60=0.0,
    reverb_wet=0.0,
    noise_snr_db=float("inf"),
    noise_colour=0.0,
    gain_db=0.0,
)


def sample_augmentation(rng: np.random.Generator) -> Augmentation:
    """Draw a chain; about one utterance in six stays clean so the model also sees the voices as they are."""
    if rng.random() < 1 / 6:
        return CLEAN
    return Augmentation(
        tempo=float(rng.uniform(0.85, 1.15)) if rng.random() < 0.5 else 1.0,
        pitch_semitones=float(rng.uniform(-3.0, 3.0)) if rng.random() < 0.4 else 0.0,
        eq_gains_db=tuple(float(g) for g in rng.normal(0.0, 4.0, len(EQ_BANDS_HZ)).clip(-10, 10)),
        reverb_rt60=float(rng.uniform(0.15, 0.8)) if rng.random() < 0.5 else 0.0,
        reverb_wet=float(rng.uniform(0.1, 0.5)),
        noise_snr_db=float(rng.uniform(10.0, 40.0)) if rng.random() < 0.7 else float("inf"),
        noise_colour=float(rng.uniform(0.0, 2.0)),
        gain_db=float(rng.uniform(-12.0, 3.0)),
    )


def perturb_speech(
    audio: np.ndarray, sample_rate: int, phones: list[Phone], chain: Augmentation
) -> tuple[np.ndarray, list[Phone]]:
    """The speaker's side of the chain (tempo, pitch): returns new audio and the timeline rescaled by the tempo.

    Kept apart from `apply_channel` so the ground-truth motion can follow the perturbed speech's own loudness and
    pitch, before a noisy room blurs them.
    """
    audio = audio.astype(np.float32)
    if chain.tempo != 1.0:
        audio, phones = change_tempo(audio, chain.tempo, phones)
    if chain.pitch_semitones != 0.0:
        audio = shift_pitch(audio, sample_rate, chain.pitch_semitones)
    return audio, phones


def apply_channel(audio: np.ndarray, sample_rate: int, chain: Augmentation, rng: np.random.Generator) -> np.ndarray:
    """The recording's side of the chain (equalisation, room, noise, level); never moves anything in time."""
    audio = audio.astype(np.float32)
    if any(chain.eq_gains_db):
        audio = equalise(audio, sample_rate, chain.eq_gains_db)
    if chain.reverb_rt60 > 0.0:
        audio = reverberate(audio, sample_rate, chain.reverb_rt60, chain.reverb_wet, rng)
    if np.isfinite(chain.noise_snr_db):
        audio = add_noise(audio, chain.noise_snr_db, chain.noise_colour, rng)
    audio = audio * np.float32(10 ** (chain.gain_db / 20))
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0.99:  # never clip: loudness belongs to the speaker, not to wrap-around
        audio = audio * np.float32(0.99 / peak)
    return audio.astype(np.float32)


def change_tempo(audio: np.ndarray, tempo: float, phones: list[Phone]) -> tuple[np.ndarray, list[Phone]]:
    """Time-stretch without changing pitch; phone times scale by exactly the same factor as the samples."""
    import librosa

    n_out = int(round(len(audio) / tempo))
    stretched = librosa.effects.time_stretch(audio, rate=tempo, **SPEECH_STFT)
    stretched = librosa.util.fix_length(stretched, size=n_out)
    scale = n_out / len(audio)
    return stretched, [Phone(p.phone, p.start * scale, p.end * scale) for p in phones]


def shift_pitch(audio: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    import librosa

    return librosa.effects.pitch_shift(audio, sr=sample_rate, n_steps=semitones, **SPEECH_STFT).astype(np.float32)


def equalise(audio: np.ndarray, sample_rate: int, gains_db: tuple[float, ...]) -> np.ndarray:
    """A smooth random response: gains at EQ_BANDS_HZ, interpolated on a log-frequency axis, as a linear-phase FIR
    (zero delay after `filtfilt`-style centring, so it cannot shift the audio against the timeline)."""
    n_taps = 513
    freqs = np.linspace(0.0, sample_rate / 2, 257)
    log_bands = np.log(np.asarray(EQ_BANDS_HZ))
    gain_db = np.interp(np.log(np.maximum(freqs, 20.0)), log_bands, gains_db)
    taps = signal.firwin2(n_taps, freqs, 10 ** (gain_db / 20), fs=sample_rate)
    return signal.fftconvolve(audio, taps, mode="same").astype(np.float32)


def reverberate(audio: np.ndarray, sample_rate: int, rt60: float, wet: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room: exponentially decaying noise (60 dB down after rt60) behind the dry direct path.

    The direct path stays at time zero, so reverberation smears the sound forward without delaying its onsets.
    """
    n = int(rt60 * sample_rate)
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    tail[: int(0.003 * sample_rate)] = 0.0  # early reflections arrive after the direct sound
    tail /= np.sqrt(np.sum(tail**2)) + 1e-9
    wet_signal = signal.fftconvolve(audio, tail)[: len(audio)]
    dry_rms = np.sqrt(np.mean(audio**2)) + 1e-9
    wet_rms = np.sqrt(np.mean(wet_signal**2)) + 1e-9
    return ((1 - wet) * audio + wet * wet_signal * (dry_rms / wet_rms)).astype(np.float32)


def add_noise(audio: np.ndarray, snr_db: float, colour: float, rng: np.random.Generator) -> np.ndarray:
    """Coloured noise (slope 1/f^colour) at the given signal-to-noise ratio over the speech's mean power."""
    spectrum = np.fft.rfft(rng.standard_normal(len(audio)))
    freqs = np.arange(len(spectrum), dtype=np.float64)
    freqs[0] = 1.0
    noise = np.fft.irfft(spectrum / freqs ** (colour / 2), n=len(audio))
    speech_power = np.mean(audio.astype(np.float64) ** 2)
    noise_power = np.mean(noise**2) + 1e-12
    noise *= np.sqrt(speech_power / noise_power / 10 ** (snr_db / 10))
    return (audio + noise).astype(np.float32)
