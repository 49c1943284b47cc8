"""Brow raises on accented syllables (loud onsets, high pitch), as often and as high as the style's brow activity."""

from __future__ import annotations

import numpy as np

from backend.core.channels import CHANNEL_INDEX
from backend.core.timebase import check_timing, frame_series, frame_times, smoothstep
from backend.synth.prosodic_cues import prosodic_cues
from backend.synth.speaker_styles import ExpressionStyle

_RISE_S, _FALL_S = 0.15, 0.35


def add_brow_raises(
    expression: np.ndarray,
    fps: float,
    loudness_db: np.ndarray,
    pitch_hz: np.ndarray,
    style: ExpressionStyle,
    rng: np.random.Generator,
) -> np.ndarray:
    """A copy of `expression` [T, C] with brow raises on browInnerUp and browOuterUpLeft/Right (max with any there).

    Each accent (prosodic_cues: steeper, louder and higher-pitched is stronger) raises the brows with probability
    brow_activity * (0.5 + strength / 2), by up to (0.3 + 0.7 brow_activity) * strength; a raise rises in 0.15 s,
    holds 0.1-0.35 s and falls in 0.35 s. The outer brows differ by a few per cent.
    """
    n_frames = int(np.shape(expression)[0])
    check_timing(fps, n_frames)
    cues = prosodic_cues(frame_series("loudness_db", loudness_db, n_frames), pitch_hz, fps)
    t = frame_times(n_frames, fps)
    raise_level = np.zeros(n_frames)
    for time, strength in zip(cues.beat_times, cues.beat_strengths):
        if rng.random() >= style.brow_activity * (0.5 + 0.5 * strength):
            continue
        height = (0.3 + 0.7 * style.brow_activity) * strength * rng.uniform(0.7, 1.0)
        hold = rng.uniform(0.1, 0.35)
        span = slice(int(np.searchsorted(t, time)), int(np.searchsorted(t, time + _RISE_S + hold + _FALL_S)))
        raise_level[span] = np.maximum(raise_level[span], height * _raise_shape(t[span] - time, hold))

    left_share = 1.0 + rng.normal(0.0, 0.05)
    out = np.array(expression, dtype=np.float32, copy=True)
    for name, level in (
        ("browInnerUp", 0.7 * raise_level),
        ("browOuterUpLeft", left_share * raise_level),
        ("browOuterUpRight", (2.0 - left_share) * raise_level),
    ):
        column = CHANNEL_INDEX[name]
        out[:, column] = np.maximum(out[:, column], np.clip(level, 0.0, 1.0))
    return out


def _raise_shape(since_onset: np.ndarray, hold: float) -> np.ndarray:
    """Smoothstep up over _RISE_S, flat for `hold`, smoothstep down over _FALL_S."""
    up = np.clip(since_onset / _RISE_S, 0.0, 1.0)
    down = np.clip((since_onset - _RISE_S - hold) / _FALL_S, 0.0, 1.0)
    return smoothstep(up) * (1.0 - smoothstep(down))
