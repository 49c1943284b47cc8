"""Speaker styles of the synthetic corpus: how one person's face moves while speaking (docs/architecture.md section 6).

A style is a handful of meaningful numbers. Named presets are the corpus's style *kinds* (AdaMesh's demo styles:
happy, crooked mouth, large or small articulation, ...); `sample_speaker_style` jitters a preset so that every
synthetic speaker is distinct but still recognisably of its kind.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from backend.core.errors import SynthError
from backend.eyes.blinks import DEFAULT_BLINK_DURATION, DEFAULT_BLINK_RATE


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise SynthError(f"style parameter {name}={value!r} is outside [{low}, {high}]")


def _known_fields(cls: type, data: dict) -> dict:
    names = set(cls.__dataclass_fields__)
    unknown = set(data) - names
    if unknown:
        raise SynthError(f"{cls.__name__} has no parameter(s) {sorted(unknown)}; known: {sorted(names)}")
    return {key: float(value) for key, value in data.items()}


@dataclass(frozen=True)
class ExpressionStyle:
    """How a speaker's face articulates (backend/synth/articulation.py, brows.py, blinks.py read it)."""

    smile: float = 0.05  # 0..1: mouthSmile held throughout (happy ~0.5); it also narrows the eyes a little
    crooked: float = 0.0  # -0.9..0.9: + pulls the mouth to its left (mouthLeft, left corner works harder), - right
    amplitude: float = 1.0  # scale of jaw opening and lip shaping (small ~0.6, large ~1.4); never of lip contacts
    tension: float = 0.2  # 0..1: lips pressed at rest, harder compression in p b m, less protrusion
    brow_activity: float = 0.2  # 0..1: how often and how high the brows rise on accented (loud, high) syllables
    blink_rate: float = DEFAULT_BLINK_RATE  # blinks per minute
    blink_duration: float = DEFAULT_BLINK_DURATION  # seconds

    def __post_init__(self) -> None:
        _check_range("smile", self.smile, 0.0, 1.0)
        _check_range("crooked", self.crooked, -0.9, 0.9)
        _check_range("amplitude", self.amplitude, 0.2, 2.0)
        _check_range("tension", self.tension, 0.0, 1.0)
        _check_range("brow_activity", self.brow_activity, 0.0, 1.0)
        _check_range("blink_rate", self.blink_rate, 0.0, 60.0)
        _check_range("blink_duration", self.blink_duration, 0.08, 0.6)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ExpressionStyle:
        return cls(**_known_fields(cls, data))


@dataclass(frozen=True)
class PoseStyle:
    """How a speaker's head moves (backend/synth/head_pose.py). Angles in degrees, frequencies in Hz.

    nod = pitch (FLAME x), sway = side-to-side turn (yaw, FLAME y), tilt = roll towards a shoulder (FLAME z).
    Real speakers range from barely moving to nodding 10 degrees, at rhythms from 0.2 to 2 Hz; the ranges below
    leave room around that.
    """

    nod_deg: float = 1.0  # amplitude of the quasi-periodic nodding rhythm while speaking
    nod_hz: float = 0.8
    tilt_deg: float = 0.8
    tilt_hz: float = 0.35
    sway_deg: float = 1.0
    sway_hz: float = 0.25
    loudness_coupling: float = 0.4  # 0..1: size of the downward "beat" nod on accented loud onsets
    pitch_coupling: float = 0.3  # 0..1: how far the chin rises with pitch above the speaker's median
    idle_drift_deg: float = 0.5  # slow wander, the only motion left in long silences
    tilt_hold_deg: float = 0.0  # a habit: the head held tilted to one side (+ towards the left shoulder)
    pause_coupling: float = 0.3  # 0..1: the rhythms settle in pauses and a phrase ends on a small nod

    def __post_init__(self) -> None:
        for name in ("nod_deg", "tilt_deg", "sway_deg"):
            _check_range(name, getattr(self, name), 0.0, 12.0)
        for name in ("nod_hz", "tilt_hz", "sway_hz"):
            _check_range(name, getattr(self, name), 0.05, 3.0)
        _check_range("loudness_coupling", self.loudness_coupling, 0.0, 1.0)
        _check_range("pitch_coupling", self.pitch_coupling, 0.0, 1.0)
        _check_range("idle_drift_deg", self.idle_drift_deg, 0.0, 3.0)
        _check_range("tilt_hold_deg", self.tilt_hold_deg, -12.0, 12.0)
        _check_range("pause_coupling", self.pause_coupling, 0.0, 1.0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PoseStyle:
        return cls(**_known_fields(cls, data))


EXPRESSION_PRESETS: dict[str, ExpressionStyle] = {
    "neutral": ExpressionStyle(),
    "happy": ExpressionStyle(smile=0.55, amplitude=1.05, brow_activity=0.35, tension=0.1),
    "crooked": ExpressionStyle(crooked=0.6, smile=0.1),
    "large": ExpressionStyle(amplitude=1.4, brow_activity=0.3, tension=0.1),
    "small": ExpressionStyle(amplitude=0.6, tension=0.35, brow_activity=0.1),
    "brow_active": ExpressionStyle(brow_activity=0.9, amplitude=1.05),
    "tense": ExpressionStyle(tension=0.85, amplitude=0.85, smile=0.0),
}

POSE_PRESETS: dict[str, PoseStyle] = {
    "still": PoseStyle(
        nod_deg=0.4, tilt_deg=0.3, sway_deg=0.4, loudness_coupling=0.1, pitch_coupling=0.1, idle_drift_deg=0.3
    ),
    "nodder": PoseStyle(
        nod_deg=1.5,
        nod_hz=1.1,
        tilt_deg=0.6,
        sway_deg=0.8,
        loudness_coupling=0.9,
        pitch_coupling=0.4,
        idle_drift_deg=0.6,
    ),
    "tilter": PoseStyle(
        nod_deg=0.8,
        tilt_deg=3.0,
        tilt_hz=0.35,
        sway_deg=0.8,
        loudness_coupling=0.3,
        pitch_coupling=0.3,
        idle_drift_deg=0.6,
    ),
    "swayer": PoseStyle(
        nod_deg=0.8,
        tilt_deg=0.8,
        sway_deg=4.0,
        sway_hz=0.25,
        loudness_coupling=0.3,
        pitch_coupling=0.2,
        idle_drift_deg=0.8,
    ),
    "energetic": PoseStyle(
        nod_deg=3.0,
        nod_hz=1.4,
        tilt_deg=2.0,
        tilt_hz=0.5,
        sway_deg=3.0,
        sway_hz=0.35,
        loudness_coupling=1.0,
        pitch_coupling=0.7,
        idle_drift_deg=1.0,
    ),
    "leaner": PoseStyle(
        nod_deg=1.0,
        tilt_deg=1.0,
        sway_deg=1.0,
        loudness_coupling=0.4,
        pitch_coupling=0.3,
        idle_drift_deg=0.5,
        tilt_hold_deg=6.0,
    ),
}
# The main rhythm of each kind is drawn over the range people show (log-uniform amplitude in degrees and frequency
# in Hz), not jittered about the preset: training styles then cover 0.5-10 degree nods, tilts and sways at 0.2-2 Hz,
# and an unseen speaker lies within the bank's range rather than beyond it.
_MAIN_RHYTHMS: dict[str, tuple[tuple[str, float, float, float, float], ...]] = {
    # kind: (axis, lowest deg, highest deg, lowest Hz, highest Hz)
    "nodder": (("nod", 1.5, 10.0, 0.3, 2.0),),
    "tilter": (("tilt", 2.5, 10.0, 0.2, 1.0),),
    "swayer": (("sway", 2.5, 10.0, 0.2, 1.0),),
    "energetic": (("nod", 1.5, 6.0, 0.5, 2.0), ("tilt", 1.5, 5.0, 0.3, 1.2), ("sway", 1.5, 6.0, 0.2, 1.0)),
    "leaner": (("nod", 0.5, 2.5, 0.3, 1.5),),
}
_HOLD_DEG = (3.0, 10.0)  # a leaner's held tilt, either side
EXPRESSION_KINDS = tuple(EXPRESSION_PRESETS)
POSE_KINDS = tuple(POSE_PRESETS)


def sample_speaker_style(
    rng: np.random.Generator, expression_kind: str, pose_kind: str
) -> tuple[ExpressionStyle, PoseStyle]:
    """One synthetic speaker: the two presets, each parameter jittered (~10-20 %), kinds kept recognisable.

    A crooked speaker's side is drawn at random (left or right both read as crooked); other speakers get a
    slight natural asymmetry.
    """
    if expression_kind not in EXPRESSION_PRESETS:
        raise SynthError(f"unknown expression style {expression_kind!r}; choose from {', '.join(EXPRESSION_KINDS)}")
    if pose_kind not in POSE_PRESETS:
        raise SynthError(f"unknown pose style {pose_kind!r}; choose from {', '.join(POSE_KINDS)}")
    e = EXPRESSION_PRESETS[expression_kind]
    crooked_side = float(rng.choice([-1.0, 1.0]))
    expression = replace(
        e,
        smile=_clip(e.smile + rng.normal(0.0, 0.05), 0.0, 1.0),
        crooked=_clip(crooked_side * abs(e.crooked) * _factor(rng, 0.12) + rng.normal(0.0, 0.04), -0.9, 0.9),
        amplitude=_clip(e.amplitude * _factor(rng, 0.07), 0.2, 2.0),
        tension=_clip(e.tension + rng.normal(0.0, 0.05), 0.0, 1.0),
        brow_activity=_clip(e.brow_activity * _factor(rng, 0.15), 0.0, 1.0),
        blink_rate=_clip(e.blink_rate * _factor(rng, 0.2), 0.0, 60.0),
        blink_duration=_clip(e.blink_duration * _factor(rng, 0.08), 0.08, 0.6),
    )
    pose = _sample_pose(rng, pose_kind)
    return expression, pose


def _sample_pose(rng: np.random.Generator, kind: str) -> PoseStyle:
    """A speaker of a pose kind: the preset jittered, its main rhythms drawn over their range (_MAIN_RHYTHMS).

    The jitters are the 9 draws from `rng` the corpus always made; everything drawn beyond them comes from a
    generator seeded by those jitters, so a corpus keeps its voices, sentences and expression styles for a seed."""
    p = POSE_PRESETS[kind]
    pose = replace(
        p,
        nod_deg=_clip(p.nod_deg * _factor(rng, 0.15), 0.0, 12.0),
        nod_hz=_clip(p.nod_hz * _factor(rng, 0.1), 0.05, 3.0),
        tilt_deg=_clip(p.tilt_deg * _factor(rng, 0.15), 0.0, 12.0),
        tilt_hz=_clip(p.tilt_hz * _factor(rng, 0.1), 0.05, 3.0),
        sway_deg=_clip(p.sway_deg * _factor(rng, 0.15), 0.0, 12.0),
        sway_hz=_clip(p.sway_hz * _factor(rng, 0.1), 0.05, 3.0),
        loudness_coupling=_clip(p.loudness_coupling * _factor(rng, 0.15), 0.0, 1.0),
        pitch_coupling=_clip(p.pitch_coupling * _factor(rng, 0.15), 0.0, 1.0),
        idle_drift_deg=_clip(p.idle_drift_deg * _factor(rng, 0.15), 0.0, 3.0),
    )
    jittered = [
        getattr(pose, name)
        for name in (
            "nod_deg",
            "nod_hz",
            "tilt_deg",
            "tilt_hz",
            "sway_deg",
            "sway_hz",
            "loudness_coupling",
            "pitch_coupling",
            "idle_drift_deg",
        )
    ]
    extra = np.random.default_rng(np.frombuffer(np.array(jittered, np.float64).tobytes(), np.uint32))
    pose = replace(pose, pause_coupling=float(extra.uniform(0.0, 1.0)))
    for axis, low_deg, high_deg, low_hz, high_hz in _MAIN_RHYTHMS.get(kind, ()):
        pose = replace(
            pose,
            **{
                f"{axis}_deg": _log_uniform(extra, low_deg, high_deg),
                f"{axis}_hz": _log_uniform(extra, low_hz, high_hz),
            },
        )
    if p.tilt_hold_deg:
        pose = replace(pose, tilt_hold_deg=float(extra.choice([-1.0, 1.0])) * _log_uniform(extra, *_HOLD_DEG))
    return pose


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _factor(rng: np.random.Generator, spread: float) -> float:
    """A multiplicative jitter, log-normal so that up and down are equally likely."""
    return math.exp(rng.normal(0.0, spread))


def _clip(value: float, low: float, high: float) -> float:
    return float(min(max(value, low), high))
