"""Speech articulation: a phone timeline -> expression channels and jaw rotation, the corpus's lip-sync ground truth.

Coarticulation follows Cohen & Massaro (1993). Each phone has a target for eight articulatory parameters and a
dominance over three groups of them (jaw; lip contacts; lip shape). Dominance falls off as a negative exponential
away from the phone, at its own rate before the phone (anticipation) and after it (carry-over); a parameter at time
t is the dominance-weighted mean of all phones' targets. So a vowel owns the jaw, a bilabial owns lip closure, and
rounding spreads forward through the consonants before a rounded vowel. Two departures, for speech that must read
clearly on a face:

- dominance is flat over the phone's central half (all of a pause), so long vowels and pauses hold their targets;
- bilabial closure aims past contact (target > 1, as real lips do: the excess is lip compression, Lofqvist &
  Gracco 1997) and is peak-sampled per frame, so even a 30 ms "p" closes the lips on the frame nearest its centre.

Parameters are evaluated on a sub-frame grid (~2 ms) and each frame takes the mean over its own interval (or, for
closure, the peak when the lips touch within it), so the result is consistent at any fps. The speaker's style then
maps the parameters to ARKit channels.

The lips follow the lip-gap contract (backend/core/lip_gap.py), which the demo head's shape keys reproduce.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from backend.core.channels import CHANNEL_INDEX, CHANNELS
from backend.core.lip_gap import JAW_GAP_MM_PER_RAD, LIP_GAP_MM, lip_separation
from backend.core.phones import ROUNDED, SILENCE, Phone
from backend.core.timebase import PAUSE_MIN_S, check_timeline, check_timing
from backend.synth.speaker_styles import ExpressionStyle

_CLOSE_MM = -LIP_GAP_MM["mouthClose"]  # the opening mouthClose cancels at weight 1

# ---- Visemes ----------------------------------------------------------------------------------------------------
PARAMETERS = ("jaw", "close", "pucker", "funnel", "spread", "lower_down", "upper_up", "roll_lower")
_JAW, _LIPS, _SHAPE = 0, 1, 2  # dominance groups
_GROUP = np.array([_JAW, _LIPS, _SHAPE, _SHAPE, _SHAPE, _LIPS, _LIPS, _LIPS])
# Opening gestures vary from one utterance of a phone to the next and scale with the style's amplitude; contacts
# (closure, lower lip on the teeth) do neither: a small-mouthed speaker still closes for "p".
_OPENING = np.array([p not in ("close", "roll_lower") for p in PARAMETERS])

# Dominance decay rates (1/s) before the phone's core and after it. Lip contacts are quick; rounding anticipates
# far (lips round through "str" before "oo": Benguerel & Cowan 1974).
_ANTICIPATION = np.array([20.0, 55.0, 22.0])
_CARRY_OVER = np.array([24.0, 65.0, 25.0])
_ROUNDING_ANTICIPATION, _ROUNDING_CARRY_OVER = 7.0, 14.0
# Inside a pause the face lets go: any phone's influence decays at least this fast there, so a pause stays still
# apart from the last ~150 ms before speech, when the lips get ready (rounding for "w", closing for "m").
_PAUSE_RATE = 25.0
_WINDOW_DECAYS = 7.0  # a phone's dominance is ignored beyond e^-7 of its peak


@dataclass(frozen=True)
class Viseme:
    """Targets at amplitude 1 (jaw in radians, the rest 0..1; close > 1 = compression) and dominances."""

    jaw: float = 0.0
    close: float = 0.0
    pucker: float = 0.0
    funnel: float = 0.0
    spread: float = 0.0
    lower_down: float = 0.0
    upper_up: float = 0.0
    roll_lower: float = 0.0
    jaw_dominance: float = 0.3
    lip_dominance: float = 0.2
    shape_dominance: float = 0.2

    def targets(self) -> list[float]:
        return [getattr(self, name) for name in PARAMETERS]


def _vowel(**targets: float) -> Viseme:
    return Viseme(**targets, jaw_dominance=1.0, lip_dominance=0.5, shape_dominance=0.6)


_BILABIAL = dict(jaw=0.02, jaw_dominance=0.7, lip_dominance=1.3, shape_dominance=0.15)
_LABIODENTAL = dict(jaw=0.03, upper_up=0.45, jaw_dominance=1.2, lip_dominance=0.8, shape_dominance=0.2)
_POSTALVEOLAR = dict(
    jaw=0.06,
    funnel=0.45,
    pucker=0.25,
    upper_up=0.2,
    lower_down=0.15,
    jaw_dominance=0.6,
    lip_dominance=0.5,
    shape_dominance=0.7,
)
_SIBILANT = dict(jaw=0.04, spread=0.2, lower_down=0.05, jaw_dominance=0.7, lip_dominance=0.3, shape_dominance=0.3)
_ALVEOLAR = dict(jaw=0.08, jaw_dominance=0.35, lip_dominance=0.15, shape_dominance=0.1)
_VELAR = dict(jaw=0.09, jaw_dominance=0.3, lip_dominance=0.1, shape_dominance=0.1)
_DENTAL = dict(jaw=0.07, lower_down=0.15, jaw_dominance=0.4, lip_dominance=0.3, shape_dominance=0.15)

VISEMES: dict[str, Viseme] = {
    SILENCE: Viseme(jaw_dominance=0.7, lip_dominance=0.7, shape_dominance=0.7),  # rest: every target 0
    "AA": _vowel(jaw=0.24, lower_down=0.35, upper_up=0.1, spread=0.05),
    "AE": _vowel(jaw=0.21, spread=0.35, lower_down=0.35, upper_up=0.15),
    "AH": _vowel(jaw=0.16, lower_down=0.2),
    "AO": _vowel(jaw=0.21, pucker=0.3, funnel=0.5, lower_down=0.2),
    "EH": _vowel(jaw=0.15, spread=0.3, lower_down=0.25),
    "ER": _vowel(jaw=0.08, pucker=0.35, funnel=0.35),
    "IH": _vowel(jaw=0.07, spread=0.35, lower_down=0.05),
    "IY": _vowel(jaw=0.05, spread=0.5),
    "UH": _vowel(jaw=0.08, pucker=0.55, funnel=0.35),
    "UW": _vowel(jaw=0.05, pucker=0.85, funnel=0.3),
    "O": _vowel(jaw=0.14, pucker=0.45, funnel=0.55),  # the onset of OW; not an ARPAbet phone
    "P": Viseme(close=1.6, **_BILABIAL),
    "B": Viseme(close=1.5, **_BILABIAL),
    "M": Viseme(close=1.45, **_BILABIAL),
    "F": Viseme(roll_lower=0.85, **_LABIODENTAL),
    "V": Viseme(roll_lower=0.8, **_LABIODENTAL),
    "TH": Viseme(**_DENTAL),
    "DH": Viseme(**_DENTAL),
    "S": Viseme(**_SIBILANT),
    "Z": Viseme(**_SIBILANT),
    "SH": Viseme(**_POSTALVEOLAR),
    "ZH": Viseme(**_POSTALVEOLAR),
    "CH": Viseme(**_POSTALVEOLAR),
    "JH": Viseme(**_POSTALVEOLAR),
    "T": Viseme(**_ALVEOLAR),
    "D": Viseme(**_ALVEOLAR),
    "N": Viseme(**_ALVEOLAR),
    "L": Viseme(**_ALVEOLAR),
    "K": Viseme(**_VELAR),
    "G": Viseme(**_VELAR),
    "NG": Viseme(**_VELAR),
    "HH": Viseme(jaw=0.1, jaw_dominance=0.05, lip_dominance=0.05, shape_dominance=0.05),  # takes the vowel's shape
    "R": Viseme(jaw=0.07, pucker=0.35, funnel=0.25, jaw_dominance=0.35, lip_dominance=0.2, shape_dominance=0.5),
    "W": Viseme(jaw=0.04, pucker=0.9, funnel=0.2, jaw_dominance=0.4, lip_dominance=0.3, shape_dominance=0.9),
    "Y": Viseme(jaw=0.05, spread=0.35, jaw_dominance=0.4, lip_dominance=0.2, shape_dominance=0.5),
}
# Diphthongs glide: the first 55 % aims at the first viseme, the rest at the second.
DIPHTHONGS = {"AW": ("AA", "UH"), "AY": ("AA", "IH"), "EY": ("EH", "IY"), "OW": ("O", "UH"), "OY": ("AO", "IH")}
_DIPHTHONG_SPLIT = 0.55
_ROUNDED_VISEMES = ROUNDED | {"O"}

_SEAM_S = 0.005  # a gap between phones shorter than this is a rounding seam, not a silence
_TARGET_JITTER = 0.1  # log-normal spread of opening targets from one phone to the next
_MAX_GRID_STEP_S = 0.002


@dataclass(frozen=True)
class _Segment:
    viseme: str
    start: float
    end: float


def articulate(
    phones: list[Phone], fps: float, n_frames: int, style: ExpressionStyle, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Mouth motion for a phone timeline: (expression [n_frames, len(CHANNELS)], jaw [n_frames, 3]), float32.

    Frame i shows the instant i / fps. Times outside the timeline (and gaps in it) are silence. Brows and blinks
    are separate layers (brows.py, blinks.py); eyeBlink and brow channels stay 0 here.
    """
    check_timing(fps, n_frames)
    segments = _segments(check_timeline(phones), n_frames / fps)
    params = _coarticulate(segments, fps, n_frames, rng)
    return _apply_style(params, style)


def _segments(phones: list[Phone], duration: float) -> list[_Segment]:
    """Phones as viseme segments covering [-1 s, duration + 1 s]: gaps become silence, diphthongs two halves."""
    segments: list[_Segment] = []
    cursor = -1.0
    for phone in phones:
        if phone.start - cursor > _SEAM_S:
            segments.append(_Segment(SILENCE, cursor, phone.start))
        # a seam or an overlap (rounding, a sloppy aligner) is closed: the phone starts where the previous one ended
        start = cursor if phone.start - cursor <= _SEAM_S else phone.start
        if phone.end <= start:
            continue
        if phone.phone in DIPHTHONGS:
            first, second = DIPHTHONGS[phone.phone]
            glide = start + _DIPHTHONG_SPLIT * (phone.end - start)
            segments += [_Segment(first, start, glide), _Segment(second, glide, phone.end)]
        else:
            segments.append(_Segment(phone.phone, start, phone.end))
        cursor = phone.end
    segments.append(_Segment(SILENCE, cursor, max(cursor, duration) + 1.0))
    return segments


def _coarticulate(segments: list[_Segment], fps: float, n_frames: int, rng: np.random.Generator) -> dict:
    """Parameter name -> [n_frames] values: dominance-weighted targets, pooled over each frame's interval."""
    per_frame = max(4, math.ceil(1.0 / (fps * _MAX_GRID_STEP_S)))
    step = 1.0 / (fps * per_frame)
    grid = -0.5 / fps + (np.arange(n_frames * per_frame) + 0.5) * step  # frame i owns [i - 1/2, i + 1/2) / fps
    weighted = np.zeros((grid.size, len(PARAMETERS)))
    total = np.full((grid.size, len(PARAMETERS)), 1e-9)  # a vanishing pull to rest where no phone reaches

    for segment, (pause_before, pause_after) in zip(segments, _pause_edges(segments)):
        viseme = VISEMES[segment.viseme]
        targets = np.array(viseme.targets())
        targets[_OPENING] *= np.exp(rng.normal(0.0, _TARGET_JITTER, int(_OPENING.sum())))
        dominance = np.array([viseme.jaw_dominance, viseme.lip_dominance, viseme.shape_dominance])
        anticipation, carry_over = _ANTICIPATION.copy(), _CARRY_OVER.copy()
        if segment.viseme in _ROUNDED_VISEMES:
            anticipation[_SHAPE], carry_over[_SHAPE] = _ROUNDING_ANTICIPATION, _ROUNDING_CARRY_OVER
        core_start, core_end = _core(segment)
        first = int(np.searchsorted(grid, core_start - _WINDOW_DECAYS / anticipation.min()))
        last = int(np.searchsorted(grid, core_end + _WINDOW_DECAYS / carry_over.min()))
        if first >= last:
            continue
        t = grid[first:last, None]
        in_pause_before = np.maximum(pause_before - t, 0.0)
        in_pause_after = np.maximum(t - pause_after, 0.0)
        before = np.maximum(core_start - t, 0.0) - in_pause_before
        after = np.maximum(t - core_end, 0.0) - in_pause_after
        decay = (
            anticipation * before
            + np.maximum(anticipation, _PAUSE_RATE) * in_pause_before
            + carry_over * after
            + np.maximum(carry_over, _PAUSE_RATE) * in_pause_after
        )
        group_dominance = dominance * np.exp(-decay)  # [n, 3]
        d = group_dominance[:, _GROUP]  # [n, P]
        weighted[first:last] += d * targets
        total[first:last] += d

    values = (weighted / total).reshape(n_frames, per_frame, len(PARAMETERS))
    pooled = values.mean(axis=1)
    close = PARAMETERS.index("close")
    peak_close = values[:, :, close].max(axis=1)
    contact = peak_close >= 1.0  # a closure shorter than a frame still shows on the frame whose interval holds it
    pooled[contact, close] = peak_close[contact]
    return {name: pooled[:, k] for k, name in enumerate(PARAMETERS)}


def _pause_edges(segments: list[_Segment]) -> list[tuple[float, float]]:
    """Per segment: the end of the last pause before it and the start of the first pause after it (+-inf: none)."""
    pauses = [s for s in segments if s.viseme == SILENCE and s.end - s.start >= PAUSE_MIN_S]
    edges = []
    for segment in segments:
        if segment.viseme == SILENCE:
            edges.append((-np.inf, np.inf))  # a pause is not held back by itself or other pauses
            continue
        ends = [p.end for p in pauses if p.end <= segment.start]
        starts = [p.start for p in pauses if p.start >= segment.end]
        edges.append((max(ends, default=-np.inf), min(starts, default=np.inf)))
    return edges


def _core(segment: _Segment) -> tuple[float, float]:
    """Where the phone's dominance is flat: its central half, or all of a pause."""
    if segment.viseme == SILENCE:
        return segment.start, segment.end
    quarter = 0.25 * (segment.end - segment.start)
    return segment.start + quarter, segment.end - quarter


def _apply_style(params: dict, style: ExpressionStyle) -> tuple[np.ndarray, np.ndarray]:
    """Articulatory parameters -> channels, with the speaker's amplitude, smile, crookedness and tension."""
    n_frames = params["jaw"].shape[0]
    expression = np.zeros((n_frames, len(CHANNELS)))

    def put(name: str, values: np.ndarray) -> None:
        expression[:, CHANNEL_INDEX[name]] = np.clip(values, 0.0, 1.0)

    a, tension, k = style.amplitude, style.tension, style.crooked
    jaw_x = np.clip(a * params["jaw"], 0.0, 0.45)
    pucker = a * params["pucker"] * (1.0 - 0.3 * tension)  # tense lips protrude less
    funnel = a * params["funnel"] * (1.0 - 0.3 * tension)
    spread = a * params["spread"]
    close = np.clip(params["close"], 0.0, 1.0)
    compression = np.maximum(params["close"] - 1.0, 0.0)
    # Articulatory effort independent of the style: where a crooked mouth shows its asymmetry most.
    effort = np.clip((params["jaw"] / 0.2 + params["spread"] + params["lower_down"]) / 1.5, 0.0, 1.0)
    smile = style.smile * (1.0 - 0.7 * np.clip(params["pucker"], 0.0, 1.0)) + 0.12 * spread  # no smiling into "oo"
    left, right = 1.0 + k, 1.0 - k  # mean-preserving, so the midline gap is unchanged by crookedness

    put("mouthPucker", pucker)
    put("mouthFunnel", funnel)
    put("mouthRollLower", params["roll_lower"])
    for side, weight in (("Left", left), ("Right", right)):
        put(f"mouthStretch{side}", 0.6 * spread * weight)
        put(f"mouthSmile{side}", smile * weight)
        put(f"mouthLowerDown{side}", a * params["lower_down"] * weight)
        put(f"mouthUpperUp{side}", a * params["upper_up"] * weight)
        put(f"mouthPress{side}", 0.25 * tension + 1.2 * (1.0 + tension) * compression)
        put(f"cheekSquint{side}", 0.5 * smile * weight)  # a felt smile narrows the eyes (Duchenne)
        put(f"eyeSquint{side}", 0.3 * smile * weight)
    put("mouthLeft", max(k, 0.0) * (0.15 + 0.45 * effort))
    put("mouthRight", max(-k, 0.0) * (0.15 + 0.45 * effort))

    jaw = np.zeros((n_frames, 3))
    jaw[:, 0] = jaw_x
    # mouthClose closes `close` of whatever the rest holds open; where that exceeds what mouthClose can cancel,
    # the jaw rises (lips alone cannot bridge a wide jaw).
    separation = lip_separation(expression, jaw)
    excess = np.maximum(close * separation - _CLOSE_MM, 0.0) / np.maximum(close, 1e-6)
    jaw[:, 0] = np.arcsin(np.sin(jaw[:, 0]) - excess / JAW_GAP_MM_PER_RAD)
    separation -= excess
    put("mouthClose", close * np.maximum(separation, 0.0) / _CLOSE_MM)
    return expression.astype(np.float32), jaw.astype(np.float32)
