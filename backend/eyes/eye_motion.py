"""Blinks and eye saccades added at generation: audio does not predict them, so they are drawn with a seed.

Blinks follow the synthetic corpus's blink model (backend/eyes/blinks.py: a Poisson process with a refractory
period, 4x as likely around the start of a pause, fast close and slower opening) at the rate and duration of the
style. A style learnt from a reference with eyelid channels (ARKit eyeBlinkLeft/Right, or a clip's `eyelids`)
takes them from its blinks; otherwise a natural default (17 per minute, 0.2 s). The blinks go into the eyeBlink
channels when the clip has them, else into the clip's `eyelids`.

Saccades: the gaze holds still for a while (fixations of ~0.3-2 s while talking to someone), then jumps within a
frame or two to a new point near the straight-ahead direction; both eyes turn together. They go into the clip's
`eyes` (left then right eye, axis-angle, FLAME's eye joints: x pitches the gaze up and down, y turns it sideways).
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass

import numpy as np

from backend.clips import MotionClip
from backend.core.channels import CHANNEL_INDEX, CHANNELS
from backend.core.phones import SILENCE, Phone
from backend.core.timebase import PAUSE_MIN_S
from backend.eyes.blinks import DEFAULT_BLINK_DURATION, DEFAULT_BLINK_RATE, add_blinks

BLINK_CHANNELS = ("eyeBlinkLeft", "eyeBlinkRight")
_CLOSED = 0.5  # lid closure that counts as a blink when reading a reference
# Share of a blink's duration with the lid more than _CLOSED shut, in backend/eyes/blinks.py's lid profile
# (closing 30 %, shut 10 %, opening 60 % as (1 - r)^1.5): closing half-way at 0.15, opening half-way at
# 0.4 + 0.6 * (1 - 0.5^(2/3)) = 0.62. The test reading blinks back from add_blinks checks it.
_SHUT_SHARE = 0.47
_MIN_BLINKS = 2  # fewer blinks than this in a reference say little about their rate: keep the default
_FIXATION_S = (0.3, 2.0)  # fixation length range (log-uniform)
_SACCADE_S = 0.04  # a small saccade takes 20-50 ms: about one frame at 25 fps
_PITCH_SHARE = 0.5  # gaze wanders less up and down than sideways
_PAUSE_QUIET_DB = 30.0  # frames this far below the speech level (95th percentile loudness) are a pause


@dataclass(frozen=True)
class EyeStyle:
    blink_rate: float = DEFAULT_BLINK_RATE  # blinks per minute
    blink_duration: float = DEFAULT_BLINK_DURATION  # s, from closing to open again
    gaze_spread_deg: float = 2.0  # standard deviation of the gaze's sideways turn between fixations
    source: str = "default"  # where the numbers come from: "default" or "reference"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> EyeStyle:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


def eye_style_from_clip(clip: MotionClip) -> EyeStyle:
    """The blink rate and duration (and gaze spread) of a reference clip, where it has eyelids and eyes."""
    lids = _lids(clip)
    style = EyeStyle()
    if lids is not None:
        shut = lids.mean(axis=1) > _CLOSED
        starts = np.flatnonzero(shut[1:] & ~shut[:-1]) + 1
        if shut[0]:
            starts = np.concatenate([[0], starts])
        if len(starts) >= _MIN_BLINKS:
            minutes = clip.n_frames / clip.fps / 60.0
            shut_frames = shut.sum() / len(starts)
            duration = float(np.clip(shut_frames / clip.fps / _SHUT_SHARE, 0.08, 0.6))
            style = dataclasses.replace(
                style, blink_rate=float(min(len(starts) / minutes, 60.0)), blink_duration=duration, source="reference"
            )
    if clip.eyes is not None:
        turn = np.degrees(clip.eyes[:, 1] - np.median(clip.eyes[:, 1]))
        style = dataclasses.replace(
            style, gaze_spread_deg=float(np.clip(np.sqrt(np.mean(turn**2)), 0.5, 10.0)), source="reference"
        )
    return style


def add_eye_motion(clip: MotionClip, style: EyeStyle, seed: int, pauses: list[Phone]) -> MotionClip:
    """The clip with blinks (more of them around `pauses`) and saccades, drawn from `seed`."""
    rng = np.random.default_rng([seed, 0xE7E])
    # the corpus's blink model writes the corpus's channels: draw into a scratch array of them
    scratch = add_blinks(np.zeros((clip.n_frames, len(CHANNELS)), np.float32), clip.fps, style, rng, pauses)
    lids = scratch[:, [CHANNEL_INDEX[name] for name in BLINK_CHANNELS]]
    changes = {"eyes": saccades(clip.n_frames, clip.fps, style.gaze_spread_deg, rng)}
    if all(name in clip.expression_names for name in BLINK_CHANNELS):
        expression = clip.expression.copy()
        for k, name in enumerate(BLINK_CHANNELS):
            column = clip.expression_names.index(name)
            expression[:, column] = np.maximum(expression[:, column], lids[:, k])
        changes["expression"] = expression
    else:
        changes["eyelids"] = lids if clip.eyelids is None else np.maximum(clip.eyelids, lids)
    return dataclasses.replace(clip, **changes)


def saccades(n_frames: int, fps: float, spread_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Eye rotations [T, 6] (left eye, then right eye, axis-angle): fixations joined by quick saccades."""
    times = np.arange(n_frames) / fps
    gaze = np.zeros((n_frames, 2))  # pitch, yaw in radians
    spread = np.radians(spread_deg) * np.array([_PITCH_SHARE, 1.0])
    previous = None
    start = 0.0
    while start < n_frames / fps:
        target = rng.normal(0.0, spread)
        previous = target if previous is None else previous  # the first fixation starts where it looks
        end = start + float(np.exp(rng.uniform(*np.log(_FIXATION_S))))
        within = (times >= start) & (times < end)
        progress = np.clip((times[within] - start) / _SACCADE_S, 0.0, 1.0)[:, None]
        gaze[within] = previous + (target - previous) * progress
        previous, start = target, end
    # small angles: the axis-angle of a turn by (pitch, yaw) is (pitch, yaw, 0) to second order
    one_eye = np.column_stack([gaze, np.zeros(n_frames)])
    return np.concatenate([one_eye, one_eye], axis=1).astype(np.float32)


def pause_timeline(wave: np.ndarray, sample_rate: int, n_frames: int, fps: float) -> list[Phone]:
    """Pauses (SIL phones of at least PAUSE_MIN_S) where the sound is far quieter than the speech."""
    from backend.audio.prosody import frame_loudness_db

    loudness = frame_loudness_db(wave, sample_rate, fps, n_frames)
    quiet = loudness < np.percentile(loudness, 95) - _PAUSE_QUIET_DB
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(int), [0]])))
    pauses = [Phone(SILENCE, a / fps, b / fps) for a, b in zip(edges[::2], edges[1::2])]
    return [p for p in pauses if p.duration >= PAUSE_MIN_S]


def _lids(clip: MotionClip) -> np.ndarray | None:
    """Eyelid closure [T, 2] from the eyeBlink channels or the clip's eyelids, if it has either."""
    if all(name in clip.expression_names for name in BLINK_CHANNELS):
        return clip.expression[:, [clip.expression_names.index(name) for name in BLINK_CHANNELS]]
    return clip.eyelids
