"""Head motion while speaking: the corpus's pose ground truth (docs/architecture.md section 6).

Four layers, all in degrees until the end, then radians as FLAME axis-angle relative to rest (x = nod, +x chin down;
y = turn; z = tilt):

- rhythms: a quasi-periodic nod, sway and tilt per speaker, whose frequency and amplitude wander slowly, strongest
  while speaking;
- beats: a quick downward nod at each accented loud onset (speakers nod on stressed syllables), sized by the
  style's loudness coupling, with a little tilt;
- pitch: the chin rises with pitch above the speaker's median;
- pauses: with the style's pause coupling the rhythms settle further in pauses, and a phrase ends on a small
  downward nod as the voice stops;
- idle drift: a slow small wander that never stops, the only motion left in long silences;
- habit: a tilt held to one side (the style's tilt_hold_deg), breathing a little with the speech.

Every layer is built smooth, and a final 50 ms Gaussian low-pass keeps energy above ~8 Hz negligible at any fps.
"""

from __future__ import annotations

import numpy as np

from backend.core.timebase import check_timing, frame_series, frame_times, smooth, smooth_noise
from backend.synth.prosodic_cues import prosodic_cues
from backend.synth.speaker_styles import PoseStyle

_BEAT_RISE_S = 0.16  # time from onset to the bottom of a beat nod
_BEAT_SPAN_S = 12 * _BEAT_RISE_S  # by then a beat nod has returned to within 1e-3 of its size
_BEAT_DEG_PER_COUPLING = 3.5  # beat nod of a full-strength accent at loudness_coupling 1 (plus the rhythm's size)
_PITCH_DEG_PER_SEMITONE = 0.6
_QUIET_SHARE = 0.3  # rhythms keep this share of their amplitude while not speaking (at pause coupling 0)
_PHRASE_END_DEG = 2.0  # the phrase-final nod at pause coupling 1 (plus a third of the nod rhythm's size)
_PAUSE_MIN_S = 0.25  # a drop in voice activity this long ends a phrase
_FINAL_SMOOTHING_S = 0.05


def head_motion(
    n_frames: int,
    fps: float,
    loudness_db: np.ndarray,
    pitch_hz: np.ndarray,
    style: PoseStyle,
    rng: np.random.Generator,
) -> np.ndarray:
    """Head rotation [n_frames, 3] float32, axis-angle in radians relative to rest (frame i = instant i / fps)."""
    check_timing(fps, n_frames)
    cues = prosodic_cues(frame_series("loudness_db", loudness_db, n_frames), pitch_hz, fps)
    t = frame_times(n_frames, fps)
    quiet = _QUIET_SHARE * (1.0 - style.pause_coupling)
    gate = quiet + (1.0 - quiet) * cues.speaking

    nod = style.nod_deg * gate * _rhythm(rng, n_frames, fps, style.nod_hz)
    sway = style.sway_deg * gate * _rhythm(rng, n_frames, fps, style.sway_hz)
    tilt = style.tilt_deg * gate * _rhythm(rng, n_frames, fps, style.tilt_hz)

    beat_deg = style.loudness_coupling * (_BEAT_DEG_PER_COUPLING + 0.5 * style.nod_deg)
    for time, strength in zip(cues.beat_times, cues.beat_strengths):
        span = slice(int(np.searchsorted(t, time)), int(np.searchsorted(t, time + _BEAT_SPAN_S)))
        pulse = _beat_pulse(t[span] - time)
        nod[span] += beat_deg * strength * pulse
        tilt[span] += 0.25 * beat_deg * strength * rng.choice([-1.0, 1.0]) * pulse

    end_deg = style.pause_coupling * (_PHRASE_END_DEG + style.nod_deg / 3.0)
    for time in _phrase_ends(cues.speaking, fps):
        span = slice(int(np.searchsorted(t, time)), int(np.searchsorted(t, time + _BEAT_SPAN_S)))
        nod[span] += end_deg * _beat_pulse(t[span] - time)

    nod -= style.pitch_coupling * _PITCH_DEG_PER_SEMITONE * np.clip(cues.pitch_semitones, -6.0, 6.0)

    drift = style.idle_drift_deg
    nod += drift * smooth_noise(rng, n_frames, fps, 1.2)
    sway += drift * smooth_noise(rng, n_frames, fps, 1.5)
    tilt += 0.6 * drift * smooth_noise(rng, n_frames, fps, 1.5)
    if style.tilt_hold_deg:  # drawn only for a held tilt: other speakers' later draws (the audio channel) stay
        tilt += style.tilt_hold_deg * np.clip(1.0 + 0.15 * smooth_noise(rng, n_frames, fps, 2.0), 0.5, 1.5)

    degrees = smooth(np.stack([nod, sway, tilt], axis=1), fps, _FINAL_SMOOTHING_S)
    return np.radians(degrees).astype(np.float32)


def _rhythm(rng: np.random.Generator, n_frames: int, fps: float, hz: float) -> np.ndarray:
    """A sinusoid of unit size whose frequency (+-20 %) and amplitude (+-35 %) drift over a few seconds."""
    frequency = hz * np.clip(1.0 + 0.2 * smooth_noise(rng, n_frames, fps, 1.5), 0.5, 1.5)
    phase = rng.uniform(0.0, 2.0 * np.pi) + 2.0 * np.pi * np.cumsum(frequency) / fps
    envelope = np.clip(1.0 + 0.35 * smooth_noise(rng, n_frames, fps, 2.0), 0.3, 1.7)
    return envelope * np.sin(phase)


def _phrase_ends(speaking: np.ndarray, fps: float) -> np.ndarray:
    """Times (s) where the voice stops for at least _PAUSE_MIN_S after speech."""
    talking = speaking > 0.5
    stops = np.flatnonzero(talking[:-1] & ~talking[1:]) + 1
    span = max(1, int(round(_PAUSE_MIN_S * fps)))
    return np.array([k / fps for k in stops if not talking[k : k + span].any() and k + span <= len(talking)])


def _beat_pulse(since_onset: np.ndarray) -> np.ndarray:
    """0 before the onset, 1 at the bottom of the nod _BEAT_RISE_S later, then a slower return."""
    u = np.maximum(since_onset, 0.0) / _BEAT_RISE_S
    return u * np.exp(1.0 - u)
