"""Training batches: random windows of the corpus, with the inputs each stage needs.

A batch is a pure function of a numpy Generator, so a step's batch depends only on (seed, stage, step, rank):
training resumes exactly, and each DDP process draws its own windows. All windows of a batch share one length,
drawn per batch, so no padding or masks are needed and the Conformer sees many lengths.

The phonetic input stands in for the pocketsphinx front end: the exact phones corrupted the way pocketsphinx errs
on real speech (backend/audio/phone_errors.py, a profile drawn per window), as per-frame phone features
(backend/audio/phonetic.py); a share of windows gets none (all zeros: the mel-only path). A recorded corpus
(`prepare`) holds pocketsphinx's own phones: they are used as they are.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from backend.audio.phone_errors import corrupt_phones
from backend.audio.phonetic import FEATURE_PHONES, phone_features
from backend.core.phones import Phone
from backend.core.timebase import MODEL_FPS
from backend.training.corpus_data import CorpusFeatures

_CORRUPTION_MARGIN_S = 0.5  # phones this far outside a window are corrupted with it: boundaries move into it


@dataclass(frozen=True)
class Windows:
    utterance: np.ndarray  # [B] utterance index
    start: np.ndarray  # [B] first frame within the utterance
    length: int  # frames, the same for every window


@dataclass(frozen=True)
class PhoneticCorruption:
    """How the exact phones are turned into a recogniser-like phonetic input."""

    profiles: dict[str, dict]  # recogniser mode -> error profile (load_error_profile)
    odds: dict[str, float]  # recogniser mode -> chance of being drawn for a window
    dropout: float  # chance of a window with no phonetic input at all

    def draw_profile(self, rng: np.random.Generator) -> dict | None:
        """A profile for one window, or None for a mel-only window; an empty profile (no odds: the corpus's phones
        are a recogniser's output already, `prepare`) leaves the phones as they are."""
        if rng.random() < self.dropout:
            return None
        if not self.odds:
            return {}
        modes = sorted(self.odds)
        weights = np.array([self.odds[m] for m in modes])
        return self.profiles[modes[rng.choice(len(modes), p=weights / weights.sum())]]


def draw_windows(
    rng: np.random.Generator,
    n_frames: np.ndarray,
    batch: int,
    seconds: tuple[float, float],
    multiple: int = 1,
    candidates: np.ndarray | None = None,
) -> Windows:
    """`batch` windows of one random length in `seconds` (a multiple of `multiple` frames), uniform over all
    windows of that length in the corpus (or in the `candidates` utterances). The length shrinks to the longest
    utterance when none is long enough."""
    pool = np.arange(len(n_frames)) if candidates is None else np.asarray(candidates)
    low = max(1, math.ceil(seconds[0] * MODEL_FPS / multiple))  # in units of `multiple` frames
    high = max(low, math.floor(seconds[1] * MODEL_FPS / multiple))
    longest = int(n_frames[pool].max()) // multiple
    if longest < 1:
        raise ValueError(f"every utterance is shorter than {multiple} frames")
    length = min(int(rng.integers(low, high + 1)), longest) * multiple
    spare = n_frames[pool] - length + 1  # window starts per utterance
    weights = np.clip(spare, 0, None).astype(np.float64)
    chosen = pool[rng.choice(len(pool), size=batch, p=weights / weights.sum())]
    starts = (rng.random(batch) * (n_frames[chosen] - length + 1)).astype(np.int64)
    return Windows(chosen, starts, length)


def window_phones(phones: list[Phone], start_s: float, end_s: float) -> list[Phone]:
    """The phones overlapping [start_s, end_s], cut to it, with times from `start_s`."""
    return [
        Phone(p.phone, max(p.start, start_s) - start_s, min(p.end, end_s) - start_s)
        for p in phones
        if p.end > start_s and p.start < end_s
    ]


def phonetic_input(
    features: CorpusFeatures, windows: Windows, corruption: PhoneticCorruption, rng: np.random.Generator
) -> Tensor:
    """Per-frame phone features [B, L, 40] of each window, corrupted (or zero) as `corruption` draws."""
    out = np.zeros((len(windows.utterance), windows.length, len(FEATURE_PHONES)), dtype=np.float32)
    for b, (u, start) in enumerate(zip(windows.utterance, windows.start)):
        profile = corruption.draw_profile(rng)
        if profile is None:
            continue
        t0 = start / MODEL_FPS
        # a margin around the window, so corrupted boundaries can move in from outside it
        nearby = window_phones(
            features.phones(int(u)), t0 - _CORRUPTION_MARGIN_S, t0 + windows.length / MODEL_FPS + _CORRUPTION_MARGIN_S
        )
        corrupted = corrupt_phones(nearby, profile, rng) if profile else nearby  # times from t0 - margin
        shifted = [Phone(p.phone, p.start - _CORRUPTION_MARGIN_S, p.end - _CORRUPTION_MARGIN_S) for p in corrupted]
        out[b] = phone_features(shifted, windows.length, MODEL_FPS)
    return torch.from_numpy(out)


def gather(rows: Tensor, features: CorpusFeatures, windows: Windows) -> Tensor:
    """Stack the window rows of a per-frame corpus tensor: [N, ...] -> [B, L, ...]."""
    return torch.stack(
        [rows[features.rows(int(u), int(s), windows.length)] for u, s in zip(windows.utterance, windows.start)]
    )


@dataclass(frozen=True)
class ExpressionBatch:
    mel: Tensor  # [B, L, 4, 80]
    phonetic: Tensor  # [B, L, 40], rows of zeros where the window is mel-only
    reference: Tensor  # [B, Lr, C + 3] ground-truth expression and jaw of another utterance of the same speaker
    keep_style: Tensor  # [B] 1.0, or 0.0 where the window trains the no-reference (average style) path
    expression: Tensor  # [B, L, C] targets
    jaw: Tensor  # [B, L, 3]
    bilabial: Tensor  # [B, L] 1.0 on frames within a P/B/M phone

    def to(self, device: torch.device) -> ExpressionBatch:
        return ExpressionBatch(**{f.name: getattr(self, f.name).to(device) for f in dataclasses.fields(self)})


def expression_batch(
    features: CorpusFeatures,
    bilabial: Tensor,
    rng: np.random.Generator,
    batch: int,
    seconds: tuple[float, float],
    reference_seconds: float,
    style_dropout: float,
    corruption: PhoneticCorruption,
) -> ExpressionBatch:
    windows = draw_windows(rng, features.n_frames, batch, seconds)
    references = reference_windows(features, windows.utterance, reference_seconds, rng)
    motion = torch.cat((features.expression, features.jaw), dim=1)
    return ExpressionBatch(
        mel=gather(features.mel, features, windows),
        phonetic=phonetic_input(features, windows, corruption, rng),
        reference=gather(motion, features, references),
        keep_style=torch.from_numpy((rng.random(batch) >= style_dropout).astype(np.float32)),
        expression=gather(features.expression, features, windows),
        jaw=gather(features.jaw, features, windows),
        bilabial=gather(bilabial.float(), features, windows),
    )


def reference_windows(
    features: CorpusFeatures, utterances: np.ndarray, seconds: float, rng: np.random.Generator
) -> Windows:
    """For each utterance, a window of another utterance of its speaker (the same one if the speaker has one)."""
    chosen = []
    for u in utterances:
        others = features.utterances_of(int(features.speaker[u]))
        others = others[others != u] if len(others) > 1 else others
        chosen.append(int(others[rng.integers(len(others))]))
    chosen = np.asarray(chosen)
    length = int(min(round(seconds * MODEL_FPS), features.n_frames[chosen].min()))
    starts = (rng.random(len(chosen)) * (features.n_frames[chosen] - length + 1)).astype(np.int64)
    return Windows(chosen, starts, length)


def pose_batch(
    features: CorpusFeatures, rng: np.random.Generator, batch: int, seconds: tuple[float, float], downsample: int
) -> Tensor:
    """Head-pose windows [B, L, 3], L a multiple of the VQ-VAE's downsampling."""
    return gather(features.head, features, draw_windows(rng, features.n_frames, batch, seconds, multiple=downsample))
