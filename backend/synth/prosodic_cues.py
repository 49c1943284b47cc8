"""What head nods and brow raises follow in speech: voice activity, loudness onsets, pitch and accented beats.

Inputs are the per-frame loudness (dB relative to full scale) and pitch (Hz, 0 when unvoiced) of
backend/audio/prosody.py. Speech is judged relative to the clip's own loud level, so gain and microphone matter
little; only below SILENCE_DB is a frame silent whatever the clip's level (so an all-silent clip stays silent).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.core.timebase import check_timing, frame_series, smooth

SPEECH_FLOOR_DB = -30.0  # below the clip's loud level by more than this is silence
SILENCE_DB = -60.0  # dBFS: digital silence and room noise; speech at any sane recording level is far above it
_BEAT_MIN_SPACING_S = 0.4  # stressed syllables are rarely closer (English feet last ~0.4-0.6 s)
_BEAT_MIN_STRENGTH = 0.6
_ACCENT_RANGE_DB = 12.0  # a syllable this far below the clip's loud level counts as unstressed


@dataclass(frozen=True)
class ProsodicCues:
    speaking: np.ndarray  # [T] 0..1, voice activity smoothed over ~0.15 s
    onset: np.ndarray  # [T] dB/s, rise of the smoothed loudness (0 while it falls)
    pitch_semitones: np.ndarray  # [T] above the clip's median voiced pitch; held through consonants, 0 in pauses
    beat_times: np.ndarray  # [B] seconds: onsets of accented syllables
    beat_strengths: np.ndarray  # [B] 0..1


def prosodic_cues(loudness_db: np.ndarray, pitch_hz: np.ndarray, fps: float) -> ProsodicCues:
    """Cues for a clip whose length is that of `loudness_db`; `pitch_hz` must match it."""
    n_frames = int(np.size(loudness_db))
    check_timing(fps, n_frames)
    loudness = frame_series("loudness_db", loudness_db, n_frames)
    pitch = frame_series("pitch_hz", pitch_hz, n_frames)

    finite = loudness[np.isfinite(loudness)]
    # The loud level is never taken below SILENCE_DB - SPEECH_FLOOR_DB, so nothing under SILENCE_DB counts as speech.
    loud_level = max(np.percentile(finite, 95) if finite.size else SILENCE_DB, SILENCE_DB - SPEECH_FLOOR_DB)
    relative = np.clip(np.nan_to_num(loudness - loud_level, neginf=-60.0, posinf=0.0), -60.0, 0.0)
    speaking = np.clip(smooth((relative > SPEECH_FLOOR_DB).astype(float), fps, 0.15), 0.0, 1.0)
    onset = np.maximum(np.gradient(smooth(relative, fps, 0.025)) * fps, 0.0) if n_frames > 1 else np.zeros(1)

    # Intonation is a contour: carry it through unvoiced consonants, let it fall back to 0 in pauses.
    voiced = np.flatnonzero(pitch > 0)
    semitones = np.zeros(n_frames)
    if voiced.size:
        voiced_semitones = 12.0 * np.log2(pitch[voiced] / np.median(pitch[voiced]))
        semitones = np.interp(np.arange(n_frames), voiced, np.clip(voiced_semitones, -12.0, 12.0)) * speaking
    pitch_semitones = smooth(semitones, fps, 0.08)

    beat_times, beat_strengths = _beats(onset, relative, pitch_semitones, fps)
    return ProsodicCues(speaking, onset, pitch_semitones, beat_times, beat_strengths)


def _beats(onset: np.ndarray, relative: np.ndarray, semitones: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Accented syllable onsets: steep loudness rises into loud, high-pitched syllables, at most one per 0.4 s."""
    n = onset.size
    if n < 3:
        return np.zeros(0), np.zeros(0)
    peaks = np.flatnonzero((onset[1:-1] > 0) & (onset[1:-1] >= onset[:-2]) & (onset[1:-1] > onset[2:])) + 1
    if peaks.size == 0:
        return np.zeros(0), np.zeros(0)
    ahead = max(1, round(0.15 * fps))  # the syllable that the rise leads into
    syllable_loudness = np.array([relative[p : p + ahead].max() for p in peaks])
    syllable_pitch = np.array([semitones[p : p + ahead].max() for p in peaks])
    steepness = np.clip(onset[peaks] / max(np.percentile(onset[peaks], 90), 1e-6), 0.0, 1.0)
    loudness = np.clip(1.0 + syllable_loudness / _ACCENT_RANGE_DB, 0.0, 1.0)
    height = np.clip(syllable_pitch / 4.0, 0.0, 1.0)  # a pitch accent rises a few semitones
    strength = 0.3 * steepness + 0.45 * loudness + 0.25 * height  # steep but weak onsets (after a pause) lose
    strength[syllable_loudness <= SPEECH_FLOOR_DB] = 0.0  # a rise within silence (noise) is no syllable

    chosen: list[int] = []
    spacing = _BEAT_MIN_SPACING_S * fps
    for i in np.argsort(-strength, kind="stable"):
        if strength[i] < _BEAT_MIN_STRENGTH:
            break
        if all(abs(peaks[i] - peaks[j]) >= spacing for j in chosen):
            chosen.append(int(i))
    chosen.sort(key=lambda i: peaks[i])
    return peaks[chosen] / fps, strength[chosen]
