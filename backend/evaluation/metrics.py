"""Evaluation measures (docs/architecture.md section 7) on motion at a known frame rate, from phone timelines and audio.

Lip events are read from the lip gap of the lip-gap contract (backend/synth/articulation.py), in mm:

- bilabial closure: a P, B or M phone is closed when the gap falls below CLOSED_MM at some frame whose instant lies
  within the phone widened by EVENT_TOLERANCE_S on each side (alignment error of real phone timelines);
- open-vowel opening: an open vowel (AA AE AO AW AY) opens when the gap exceeds half the usual opening, in the same
  widened window; the usual opening is the 95th percentile of the ground-truth gap over speech frames;
- open/close contrast: the mean peak gap within open vowels over that within close vowels (IY UW IH UH), peaks
  taken inside the phone itself (no widening: neighbours would leak into short close vowels).

CLOSED_MM = 1 mm: the contract's gap is exactly 0 for pressed lips and a sliver of 1 mm reads as closed on a head
~150 mm wide, while the ground truth's open speech frames are mostly far above it.
Beat alignment is Bailando's score (Li et al. 2022): the mean over audio beats (speech onsets) of
exp(-d^2 / (2 sigma^2)), d the distance to the nearest motion beat (a local minimum of head angular speed), with
sigma = BEAT_SIGMA_S = 0.1 s (Bailando's 3 frames at 30 fps).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from backend.core.phones import BILABIALS, OPEN_VOWELS, SILENCE, Phone

CLOSED_MM = 1.0
EVENT_TOLERANCE_S = 0.040
USUAL_OPENING_PERCENTILE = 95.0
BEAT_SIGMA_S = 0.1


def _frames_within(phone: Phone, n_frames: int, fps: float, tolerance: float) -> np.ndarray:
    """Frames whose instant i / fps lies in [start - tolerance, end + tolerance]; the nearest frame if none does."""
    first = max(int(np.ceil((phone.start - tolerance) * fps - 1e-9)), 0)
    last = min(int(np.floor((phone.end + tolerance) * fps + 1e-9)), n_frames - 1)
    if last < first:
        nearest = min(max(int(round(0.5 * (phone.start + phone.end) * fps)), 0), n_frames - 1)
        return np.array([nearest])
    return np.arange(first, last + 1)


def _events(phones: Iterable[Phone], names: frozenset[str], n_frames: int, fps: float) -> list[Phone]:
    """The phones of `names` that start inside the motion."""
    return [p for p in phones if p.phone in names and p.start * fps < n_frames]


def closure_rate(
    phones: Sequence[Phone], gap: np.ndarray, fps: float, names: frozenset[str] = BILABIALS
) -> tuple[float | None, int]:
    """Share of `names` phones whose lips close (gap < CLOSED_MM) near them, and how many there were."""
    events = _events(phones, names, len(gap), fps)
    closed = [gap[_frames_within(p, len(gap), fps, EVENT_TOLERANCE_S)].min() < CLOSED_MM for p in events]
    return (float(np.mean(closed)) if closed else None), len(closed)


def opening_rate(
    phones: Sequence[Phone], gap: np.ndarray, fps: float, usual_opening_mm: float, names: frozenset[str] = OPEN_VOWELS
) -> tuple[float | None, int]:
    """Share of open vowels whose gap exceeds half the usual opening near them, and how many there were."""
    events = _events(phones, names, len(gap), fps)
    opened = [gap[_frames_within(p, len(gap), fps, EVENT_TOLERANCE_S)].max() > usual_opening_mm / 2 for p in events]
    return (float(np.mean(opened)) if opened else None), len(opened)


def peak_openings(phones: Sequence[Phone], gap: np.ndarray, fps: float, names: frozenset[str]) -> list[float]:
    """The peak gap inside each phone of `names`."""
    return [float(gap[_frames_within(p, len(gap), fps, 0.0)].max()) for p in _events(phones, names, len(gap), fps)]


def open_close_ratio(open_peaks: Sequence[float], close_peaks: Sequence[float]) -> float | None:
    """Mean peak opening of open vowels over that of close vowels (None without both)."""
    if not open_peaks or not close_peaks:
        return None
    return float(np.mean(open_peaks) / max(np.mean(close_peaks), 1e-6))


def speech_frames(phones: Sequence[Phone], n_frames: int, fps: float) -> np.ndarray:
    """[T] True for frames whose instant falls inside a phone other than silence."""
    times = np.arange(n_frames) / fps
    mask = np.zeros(n_frames, dtype=bool)
    for p in phones:
        if p.phone != SILENCE:
            mask |= (times >= p.start) & (times < p.end)
    return mask


def usual_opening(gaps: Sequence[np.ndarray], timelines: Sequence[Sequence[Phone]], fps: float) -> float:
    """The usual lip opening (mm): USUAL_OPENING_PERCENTILE of the gap over the speech frames of the clips."""
    speech = np.concatenate([g[speech_frames(t, len(g), fps)] for g, t in zip(gaps, timelines)])
    return float(np.percentile(speech, USUAL_OPENING_PERCENTILE))


def pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def pose_diversity_deg(head: np.ndarray) -> float:
    """Standard deviation of the head rotation over time, in degrees, averaged over the three axes."""
    return float(np.degrees(np.asarray(head, np.float64).std(axis=0)).mean())


def motion_beats(head: np.ndarray, fps: float) -> np.ndarray:
    """Times (s) of kinematic beats: local minima of the head's angular speed where it had been moving."""
    speed = np.linalg.norm(np.diff(np.asarray(head, np.float64), axis=0), axis=1) * fps  # rad/s, between frames
    if len(speed) < 3:
        return np.zeros(0)
    inner = np.flatnonzero((speed[1:-1] < speed[:-2]) & (speed[1:-1] <= speed[2:])) + 1
    # a beat is a stop after motion: ignore the jitter of a still head (below 5 % of the clip's peak speed)
    inner = inner[speed[inner - 1] > 0.05 * speed.max()]
    return (inner + 1.0) / fps  # speed[i] lies between frames i and i + 1: its minimum marks frame i + 1


def audio_beats(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Times (s) of speech onsets (librosa's onset detector on the spectral flux)."""
    import librosa

    return librosa.onset.onset_detect(y=np.asarray(wave, np.float32), sr=sample_rate, units="time")


def beat_alignment(audio: np.ndarray, motion: np.ndarray, sigma: float = BEAT_SIGMA_S) -> tuple[float | None, int]:
    """Bailando's beat-align score and the number of audio beats it averages over."""
    if len(audio) == 0:
        return None, 0
    if len(motion) == 0:
        return 0.0, len(audio)
    distance = np.abs(np.asarray(audio)[:, None] - np.asarray(motion)[None, :]).min(axis=1)
    return float(np.exp(-(distance**2) / (2 * sigma**2)).mean()), len(audio)
