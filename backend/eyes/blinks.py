"""Eye blinks on eyeBlinkLeft/Right: when (the style's rate, more often at pauses) and how (fast close, slower open).

Timing is a Poisson process with a refractory period: speakers blink at 8-30 per minute while talking, rarely twice
within half a second, and preferably at pauses and phrase boundaries, where the hazard here is 4x higher. The lid
closes in 30 % of the blink, stays shut for 10 % and opens over the remaining 60 %, slowing down as it opens.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from scipy.optimize import brentq

from backend.core.channels import CHANNEL_INDEX
from backend.core.phones import SILENCE, Phone
from backend.core.timebase import PAUSE_MIN_S, check_timeline, check_timing, frame_times, smoothstep

DEFAULT_BLINK_RATE = 17.0  # blinks per minute (people range ~8-30 while talking)
DEFAULT_BLINK_DURATION = 0.2  # seconds from the lid starting to close to fully open again
REFRACTORY_S = 0.5
PAUSE_HAZARD = 4.0  # blink hazard around a pause's start relative to elsewhere
_PAUSE_WINDOW_S = (-0.1, 0.6)  # around a pause's start: the blink that ends a phrase or opens the next
_CLOSING, _HOLD = 0.3, 0.1  # shares of the blink's duration; the opening takes the rest
_GRID_S = 0.01


class BlinkHabit(Protocol):
    """What the blink model reads of a style: a synthetic speaker's, or one learnt from a reference."""

    blink_rate: float  # per minute
    blink_duration: float  # seconds


def add_blinks(
    expression: np.ndarray,
    fps: float,
    style: BlinkHabit,
    rng: np.random.Generator,
    phones: list[Phone] | None = None,
) -> np.ndarray:
    """A copy of `expression` [T, C] with blinks (max with what the eyeBlink channels already hold).

    The blinks start at blink_onsets(T / fps, style, rng, phones), the first draws from `rng` (so a generator
    seeded alike gives their times for plots). The right eye lags the left by a few milliseconds and one eye closes
    a few per cent less (drawn per call, i.e. per utterance).
    """
    n_frames = int(np.shape(expression)[0])
    check_timing(fps, n_frames)
    onsets = blink_onsets(n_frames / fps, style, rng, phones)
    right_lag = rng.normal(0.0, 0.006)
    weaker_eye_share = 1.0 - abs(rng.normal(0.0, 0.04))
    weaker_is_left = rng.random() < 0.5
    t = frame_times(n_frames, fps)
    left, right = np.zeros(n_frames), np.zeros(n_frames)
    for onset in onsets:
        duration = style.blink_duration * np.exp(rng.normal(0.0, 0.1))
        depth = rng.uniform(0.9, 1.0)
        for lid, delay, share in (
            (left, 0.0, weaker_eye_share if weaker_is_left else 1.0),
            (right, right_lag, 1.0 if weaker_is_left else weaker_eye_share),
        ):
            start = onset + delay
            span = slice(int(np.searchsorted(t, start - 0.5 / fps)), int(np.searchsorted(t, start + duration)))
            lid[span] = np.maximum(lid[span], depth * share * _lid_closure(t[span] - start, duration, fps))
    out = np.array(expression, dtype=np.float32, copy=True)
    for name, lid in (("eyeBlinkLeft", left), ("eyeBlinkRight", right)):
        column = CHANNEL_INDEX[name]
        out[:, column] = np.maximum(out[:, column], lid)
    return out


def blink_onsets(
    duration: float, style: BlinkHabit, rng: np.random.Generator, phones: list[Phone] | None = None
) -> np.ndarray:
    """Blink start times in seconds within [0, duration): style.blink_rate per minute on average."""
    grid = np.arange(0.0, duration, _GRID_S)
    if grid.size == 0:
        return np.zeros(0)
    preference = _pause_preference(grid, check_timeline(phones or []))
    preference /= preference.mean()
    hazard = _base_rate(preference, style.blink_rate / 60.0) * preference
    candidates = grid[rng.random(grid.size) < hazard * _GRID_S]
    onsets: list[float] = []
    for time in candidates:
        if not onsets or time - onsets[-1] >= REFRACTORY_S:
            onsets.append(float(time))
    return np.array(onsets)


def _base_rate(preference: np.ndarray, target: float) -> float:
    """The Poisson rate (per s) to modulate by `preference` so that blinks come at `target` per s on average.

    A refractory period d turns a Poisson rate q into q / (1 + q d); averaged over the clip, that must be the target.
    """
    if target <= 0.0:
        return 0.0

    def shortfall(base: float) -> float:
        local = base * preference
        return float(np.mean(local / (1.0 + local * REFRACTORY_S))) - target

    # at 1000 per s the outcome is ~1 / d = 2 per s, above the styles' maximum of 1 per s: the root lies between
    return brentq(shortfall, 0.0, 1e3)


def _pause_preference(grid: np.ndarray, phones: list[Phone]) -> np.ndarray:
    """Relative blink hazard: PAUSE_HAZARD around the start of each pause, 1 elsewhere."""
    hazard = np.ones(grid.size)
    for phone in phones:
        if phone.phone == SILENCE and phone.duration >= PAUSE_MIN_S:
            window_end = min(phone.end, phone.start + _PAUSE_WINDOW_S[1])
            near = (grid >= phone.start + _PAUSE_WINDOW_S[0]) & (grid < window_end)
            hazard[near] = PAUSE_HAZARD
    return hazard


def _lid_closure(since_onset: np.ndarray, duration: float, fps: float) -> np.ndarray:
    """One blink sampled at frame instants; the frame nearest the closed moment shows full closure.

    A 200 ms blink spans only 5 frames at 25 fps and its closed moment (~20 ms) would usually fall between two of
    them; snapping the nearest frame to the peak keeps every blink readable at any fps.
    """
    closing, hold = _CLOSING * duration, _HOLD * duration
    opening = duration - closing - hold
    s = since_onset
    closure = np.where(s < closing, smoothstep(np.clip(s / closing, 0.0, 1.0)), 1.0)
    reopened = np.clip((s - closing - hold) / opening, 0.0, 1.0)
    closure = np.where(s < closing + hold, closure, (1.0 - reopened) ** 1.5)  # the lid slows as it opens
    closure = np.where(s < 0.0, 0.0, closure)
    if s.size:
        closed_frame = int(np.argmin(np.abs(s - closing - 0.5 * hold)))
        if abs(s[closed_frame] - closing - 0.5 * hold) <= 0.5 / fps:
            closure[closed_frame] = 1.0
    return closure
