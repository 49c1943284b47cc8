"""The voice pool of the synthetic corpus, split so that test speech comes from voices training never heard.

An espeak voice is an English accent (a language file) plus a variant (a formant, pitch and voicing preset from
espeak-ng-data/voices/!v), spoken at some rate, pitch and pitch range. Festival brings three voices built from
real recordings. The split:

- espeak: two accents (New York, Scottish) and eight variants are held out. Training voices combine a training
  accent with a training variant; a test voice has a held-out accent, a held-out variant, or both. So every
  test voice differs from every training voice in accent or variant, and some in both.
- Festival: kal (diphone) and slt (HTS) train, ked (diphone, another speaker) is for test only.
- Rate, pitch and range are drawn from the same ranges in both splits (they are continuous; the held-out factors
  are the discrete ones). The HTS voice keeps its own pitch (Festival cannot shift it).

Only variants without an `echo` setting are used: espeak.py finds stop closures as runs of exact digital silence,
which an echo would fill (tests/backend/test_speech_voices.py checks every variant here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from backend.core.errors import SynthError
from backend.synth.espeak import ACCENT_PHONEME_TABLES
from backend.synth.espeak import synthesize as espeak_synthesize
from backend.synth.festival import VOICES as FESTIVAL_VOICES
from backend.synth.festival import festival_unavailable_reason, shifts_pitch, synthesize_batch
from backend.synth.speech import Speech

ENGINES = ("espeak", "festival")
SPLITS = ("train", "test")

TEST_ACCENTS = ("en-us-nyc", "en-gb-scotland")
TRAIN_ACCENTS = tuple(accent for accent in ACCENT_PHONEME_TABLES if accent not in TEST_ACCENTS)
# Echo-free variants that sound like people (not the robots, whisperers, croakers or the one with a space).
TRAIN_VARIANTS = (
    "m1 m3 m4 m5 m6 m8 Alex Denis Gene Henrique Jacky Lee Mario Mike Storm antonio david ed edward gustave iven3 "
    "klatt klatt2 klatt4 marcelo michel paul pedro quincy rob travis victor "  # male
    "f1 Andrea Annie anika aunty grandma linda shelby steph2 steph3"  # female
).split()
TEST_VARIANTS = "m7 Andy Hugo klatt3 robert grandpa belinda steph".split()

TRAIN_FESTIVAL_VOICES = ("kal_diphone", "cmu_us_slt_arctic_hts")
TEST_FESTIVAL_VOICES = ("ked_diphone",)

FESTIVAL_SHARE = 0.35  # of speakers, when both engines are available
RATE_RANGE = (0.8, 1.3)  # speed factor; espeak: 140..228 words/min
PITCH_RANGE = (-4.0, 4.0)  # semitones
PITCH_RANGE_FACTORS = (0.6, 1.6)  # espeak's intonation range, 1 = normal


@dataclass(frozen=True)
class VoiceSpec:
    """One synthetic speaker's voice."""

    engine: str  # "espeak" or "festival"
    name: str  # espeak accent ("en-us", a key of espeak.ACCENT_PHONEME_TABLES) or Festival voice ("kal_diphone")
    variant: str | None = None  # espeak variant ("m3"); None for Festival
    rate: float = 1.0  # speed factor, 1 = the voice's normal
    pitch: float = 0.0  # semitones above the voice's normal
    pitch_range: float = 1.0  # intonation range factor (espeak only)

    def __post_init__(self) -> None:
        if self.engine == "espeak":
            if self.name not in ACCENT_PHONEME_TABLES:
                raise SynthError(f"unknown espeak accent {self.name!r}; choose from {sorted(ACCENT_PHONEME_TABLES)}")
        elif self.engine == "festival":
            if self.name not in FESTIVAL_VOICES:
                raise SynthError(f"unknown Festival voice {self.name!r}; choose from {sorted(FESTIVAL_VOICES)}")
            if self.variant is not None or self.pitch_range != 1.0:
                raise SynthError("Festival voices take no variant and no pitch range")
            if self.pitch and not shifts_pitch(self.name):
                raise SynthError(f"Festival voice {self.name} keeps its own pitch; give pitch 0")
        else:
            raise SynthError(f"unknown speech engine {self.engine!r}; choose from {ENGINES}")

    def to_dict(self) -> dict:
        return asdict(self)


def espeak_voices(split: str) -> list[tuple[str, str]]:
    """The (accent, variant) pairs of a split: train pairs use no held-out factor, test pairs at least one."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    pairs = [(accent, variant) for accent in ACCENT_PHONEME_TABLES for variant in TRAIN_VARIANTS + TEST_VARIANTS]
    held_out = [accent in TEST_ACCENTS or variant in TEST_VARIANTS for accent, variant in pairs]
    return [pair for pair, test in zip(pairs, held_out) if test == (split == "test")]


def sample_voice(rng: np.random.Generator, split: str, engines: tuple[str, ...] = ENGINES) -> VoiceSpec:
    """A random voice of `split` from the usable `engines`, Festival voices only when installed (deterministic
    for the generator's state on a given machine)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not engines or set(engines) - set(ENGINES):
        raise SynthError(f"engines must be a non-empty subset of {ENGINES}, got {engines}")
    split_festival_voices = TEST_FESTIVAL_VOICES if split == "test" else TRAIN_FESTIVAL_VOICES
    festival_names = [
        name for name in split_festival_voices if "festival" in engines and festival_unavailable_reason(name) is None
    ]
    if "espeak" not in engines and not festival_names:
        raise SynthError(
            f"none of the {split} split's Festival voices {split_festival_voices} is installed; "
            "use espeak or install them (see backend/synth/festival.py VOICES)"
        )
    if festival_names and ("espeak" not in engines or rng.random() < FESTIVAL_SHARE):
        name = festival_names[int(rng.integers(len(festival_names)))]
        rate, pitch = round(float(rng.uniform(*RATE_RANGE)), 3), round(float(rng.uniform(*PITCH_RANGE)), 2)
        return VoiceSpec("festival", name, rate=rate, pitch=pitch if shifts_pitch(name) else 0.0)
    pairs = espeak_voices(split)
    accent, variant = pairs[int(rng.integers(len(pairs)))]
    return VoiceSpec(
        "espeak",
        accent,
        variant,
        rate=round(float(rng.uniform(*RATE_RANGE)), 3),
        pitch=round(float(rng.uniform(*PITCH_RANGE)), 2),
        pitch_range=round(float(rng.uniform(*PITCH_RANGE_FACTORS)), 2),
    )


def synthesize(voice: VoiceSpec, texts: Sequence[str]) -> list[Speech]:
    """Speaks each text with `voice`; Festival renders the whole list in one process (its start-up is slow)."""
    if voice.engine == "espeak":
        return [
            espeak_synthesize(text, voice.name, voice.variant, voice.rate, voice.pitch, voice.pitch_range)
            for text in texts
        ]
    if voice.engine == "festival":
        return synthesize_batch(texts, voice.name, voice.rate, voice.pitch)
    raise SynthError(f"unknown speech engine {voice.engine!r}; choose espeak or festival")
