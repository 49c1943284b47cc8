"""Synthetic speech with its exact phone timeline: what every speech engine here returns.

`synthesize(voice, texts)` in backend/synth/voices.py hands texts to a voice's engine (backend/synth/espeak.py or
backend/synth/festival.py). Engines describe their output as a list of segments, each
one or more ARPAbet phones with the sample where it starts; `timeline_from_segments` turns that into the
contiguous `Phone` timeline every consumer relies on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from backend.core.errors import SynthError
from backend.core.phones import PHONES, SILENCE, Phone


@dataclass(frozen=True)
class Speech:
    """Mono speech and its phones: a contiguous timeline from 0 to the end of the audio, silences as `SIL`."""

    audio: np.ndarray  # float32 [samples], full scale 1.0
    sample_rate: int
    phones: list[Phone]

    def __post_init__(self) -> None:
        if self.audio.dtype != np.float32 or self.audio.ndim != 1:
            raise ValueError(f"speech audio must be 1-D float32, got {self.audio.dtype} {self.audio.shape}")
        check_timeline(self.phones, self.duration)

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


def timeline_from_segments(
    segments: Sequence[tuple[tuple[str, ...], int]], n_samples: int, sample_rate: int
) -> list[Phone]:
    """The contiguous timeline of `segments`, each (phones, first sample), lasting until the next one starts.

    Silence before the first segment becomes SIL; a segment of several phones (an r-coloured vowel, a syllabic
    consonant) is split evenly, since the engine gives no boundary inside it; empty segments vanish and
    neighbouring silences merge, so every phone lasts at least one sample.
    """
    bounds: list[tuple[str, int]] = [(SILENCE, 0)]
    starts = [start for _, start in segments] + [n_samples]
    for (phones, start), end in zip(segments, starts[1:]):
        if not 0 <= start <= end <= n_samples:
            raise SynthError(
                f"speech engine gave phone times out of order or past the audio: {start}..{end} of {n_samples} samples"
            )
        for k, phone in enumerate(phones):
            bounds.append((phone, start + (end - start) * k // len(phones)))
    bounds.append(("", n_samples))

    timeline: list[Phone] = []
    for (phone, start), (_, end) in zip(bounds, bounds[1:]):
        if end <= start:
            continue
        if timeline and timeline[-1].phone == phone == SILENCE:
            timeline[-1] = Phone(SILENCE, timeline[-1].start, end / sample_rate)
        else:
            timeline.append(Phone(phone, start / sample_rate, end / sample_rate))
    return timeline


def check_timeline(phones: Sequence[Phone], duration: float) -> None:
    """Raises ValueError unless `phones` are known ARPAbet phones covering 0..duration without gaps or overlaps."""
    if not phones:
        if duration > 0:
            raise ValueError(f"no phones for {duration:.3f} s of audio")
        return
    if phones[0].start != 0.0 or phones[-1].end != duration:
        raise ValueError(f"timeline spans {phones[0].start}..{phones[-1].end} s, audio 0..{duration} s")
    for previous, phone in zip(phones, phones[1:]):
        if phone.start != previous.end:
            raise ValueError(f"gap or overlap between {previous} and {phone}")
    for phone in phones:
        if phone.phone not in PHONES or not phone.end > phone.start:
            raise ValueError(f"bad phone {phone}")
