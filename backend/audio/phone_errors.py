"""How a phone recogniser errs, measured against a reference timeline, and the same errors applied on purpose.

Training uses the synthetic corpus's exact phones in place of pocketsphinx's output (pocketsphinx hears espeak
badly), so the exact phones are corrupted with the error profile measured on real speech: train and use then see
the same kind of input. `measure_error_profile` and `corrupt_phones` speak the same vocabulary, so corrupting a
timeline with a profile and measuring the result gives roughly that profile back (test_phonetic_errors.py).

Phones are grouped into classes by what the face does with them; the partition is ordered so a phone in two of
`backend.core.phones`' sets lands in the first: AO is an open vowel (the jaw opens) before it is rounded, UW/UH
are rounded (the lips protrude) before they are close. AH EH EY form the mid vowels, which none of those sets holds.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.core.errors import AdaMeshError
from backend.core.phones import (
    BILABIALS,
    CLOSE_VOWELS,
    CONSONANTS,
    LABIODENTALS,
    OPEN_VOWELS,
    ROUNDED,
    SILENCE,
    VOWELS,
    Phone,
)

_CLASS_ORDER: tuple[tuple[str, frozenset[str]], ...] = (
    ("SIL", frozenset({SILENCE})),
    ("bilabial", BILABIALS),
    ("labiodental", LABIODENTALS),
    ("open_vowel", OPEN_VOWELS),
    ("rounded", ROUNDED),
    ("close_vowel", CLOSE_VOWELS),
    ("mid_vowel", VOWELS),
    ("other_consonant", CONSONANTS),
)
CLASSES: tuple[str, ...] = tuple(name for name, _ in _CLASS_ORDER)
# reversed: a phone in two sets is written last, so kept, by the earlier class
PHONE_CLASS: dict[str, str] = {phone: name for name, members in reversed(_CLASS_ORDER) for phone in members}
CLASS_PHONES: dict[str, tuple[str, ...]] = {
    name: tuple(sorted(p for p, c in PHONE_CLASS.items() if c == name)) for name in CLASSES
}

# Two timelines' cut points (the time after i reference / j recognised phones) further apart than this are never
# aligned: it bounds the alignment to a band, so long timelines align in linear time.
_ALIGNMENT_BAND_S = 1.0
# A recognised bilabial "finds" a reference one when it overlaps it widened by this (issue 3: +-40 ms).
_EVENT_TOLERANCE_S = 0.040
# Shortest phone the corruption leaves: one pocketsphinx frame.
_MIN_PHONE_S = 0.010


class ProfileError(AdaMeshError):
    """A phone error profile file is missing or malformed."""

    code = "bad_phone_profile"


@dataclass(frozen=True)
class AlignedPair:
    """One step of the reference-to-recognised alignment: a pair, a deletion (hyp None) or an insertion (ref None)."""

    ref: int | None
    hyp: int | None


def merge_silences(phones: Iterable[Phone]) -> list[Phone]:
    """Join runs of SIL into one phone (recognisers emit SIL SIL at long pauses; it is one pause)."""
    merged: list[Phone] = []
    for phone in phones:
        if merged and phone.phone == SILENCE and merged[-1].phone == SILENCE:
            merged[-1] = Phone(SILENCE, merged[-1].start, phone.end)
        else:
            merged.append(phone)
    return merged


def phones_at(phones: list[Phone], times: np.ndarray) -> list[str]:
    """The phone sounding at each instant (SIL outside the timeline); phones must be sorted and not overlap."""
    starts = np.array([p.start for p in phones])
    index = np.searchsorted(starts, times, side="right") - 1
    labels = []
    for t, i in zip(times, index):
        labels.append(phones[i].phone if i >= 0 and t < phones[i].end else SILENCE)
    return labels


def align_timelines(reference: list[Phone], hypothesis: list[Phone]) -> list[AlignedPair]:
    """Minimum edit alignment of two phone timelines; a pair must overlap in time (else it is a del + ins).

    Ties go to the pairing that overlaps more, so a recogniser's phone pairs with the one it sits on.
    """
    n, m = len(reference), len(hypothesis)
    ref_cuts = np.array([0.0] + [p.end for p in reference])
    hyp_cuts = np.array([0.0] + [p.end for p in hypothesis])
    lo = np.searchsorted(hyp_cuts, ref_cuts - _ALIGNMENT_BAND_S, side="left")
    hi = np.searchsorted(hyp_cuts, ref_cuts + _ALIGNMENT_BAND_S, side="right") - 1
    lo[0], hi[n] = 0, m  # both timelines start at 0 and end together, whatever their last phones say
    hi = np.maximum.accumulate(np.maximum(hi, lo))
    cost: list[dict[int, float]] = []
    back: list[dict[int, str]] = []
    for i in range(n + 1):
        row_cost: dict[int, float] = {}
        row_back: dict[int, str] = {}
        for j in range(int(lo[i]), int(hi[i]) + 1):
            if i == 0 and j == 0:
                row_cost[j], row_back[j] = 0.0, ""
                continue
            best, move = math.inf, ""
            if i > 0 and j in cost[i - 1]:
                best, move = cost[i - 1][j] + 1.0, "del"
            if j > 0 and j - 1 in row_cost and row_cost[j - 1] + 1.0 < best:
                best, move = row_cost[j - 1] + 1.0, "ins"
            if i > 0 and j > 0 and j - 1 in cost[i - 1]:
                r, h = reference[i - 1], hypothesis[j - 1]
                overlap = min(r.end, h.end) - max(r.start, h.start)
                if overlap > 0:
                    union = max(r.end, h.end) - min(r.start, h.start)
                    pair = cost[i - 1][j - 1] + (r.phone != h.phone) + 1e-3 * (1.0 - overlap / union)
                    if pair < best:
                        best, move = pair, "pair"
            if move:
                row_cost[j], row_back[j] = best, move
        cost.append(row_cost)
        back.append(row_back)
    if m not in cost[n]:
        raise ValueError("the two timelines do not cover the same span; cannot align them")
    steps: list[AlignedPair] = []
    i, j = n, m
    while i > 0 or j > 0:
        move = back[i][j]
        if move == "pair":
            steps.append(AlignedPair(i - 1, j - 1))
            i, j = i - 1, j - 1
        elif move == "del":
            steps.append(AlignedPair(i - 1, None))
            i -= 1
        else:
            steps.append(AlignedPair(None, j - 1))
            j -= 1
    return steps[::-1]


def _detection_rate(
    reference: list[Phone], hypothesis: list[Phone], wanted: frozenset[str], found_by: frozenset[str]
) -> float | None:
    """Share of `wanted` reference phones overlapped, within the tolerance, by a recognised `found_by` phone."""
    targets = [p for p in reference if p.phone in wanted]
    finders = [p for p in hypothesis if p.phone in found_by]
    if not targets:
        return None
    found = sum(
        any(f.start < t.end + _EVENT_TOLERANCE_S and f.end > t.start - _EVENT_TOLERANCE_S for f in finders)
        for t in targets
    )
    return found / len(targets)


def event_scores(reference: list[Phone], hypothesis: list[Phone]) -> dict[str, float | None]:
    """Share of reference events a recogniser finds within +-40 ms, and the share of its bilabials that are false.

    A bilabial is found by any recognised bilabial (the lips close for P, B and M alike); M alone is reported
    because loudness cannot find it (no silent closure).
    """
    false_bilabials = _detection_rate(hypothesis, reference, BILABIALS, BILABIALS)
    return {
        "bilabial_detection": _detection_rate(reference, hypothesis, BILABIALS, BILABIALS),
        "m_detection": _detection_rate(reference, hypothesis, frozenset({"M"}), BILABIALS),
        "open_vowel_detection": _detection_rate(reference, hypothesis, OPEN_VOWELS, OPEN_VOWELS),
        "bilabial_false_share": None if false_bilabials is None else 1.0 - false_bilabials,
    }


def frame_accuracy(reference: list[Phone], hypothesis: list[Phone], fps: float) -> dict[str, float]:
    """Share of frame instants i/fps where both timelines sound the same phone (all frames; speech frames; class)."""
    duration = max(reference[-1].end, hypothesis[-1].end)
    times = np.arange(int(math.ceil(duration * fps))) / fps
    ref, hyp = phones_at(reference, times), phones_at(hypothesis, times)
    same = np.array([r == h for r, h in zip(ref, hyp)])
    speech = np.array([r != SILENCE for r in ref])
    same_class = np.array([PHONE_CLASS[r] == PHONE_CLASS[h] for r, h in zip(ref, hyp)])
    return {
        "frame_accuracy": float(same.mean()),
        "frame_accuracy_speech": float(same[speech].mean()),
        "frame_class_accuracy": float(same_class.mean()),
    }


def measure_error_profile(pairs: Iterable[tuple[list[Phone], list[Phone]]]) -> dict:
    """The error profile of recognised timelines against their references (SIL runs merged first).

    Returns deletion and insertion rates (per reference phone), the class substitution matrix (rows: reference
    class, probabilities over recognised class, among aligned pairs), the share of same-class pairs that keep the
    very phone, the class distribution of inserted phones, and the errors (ms, recognised minus reference) of the
    boundaries between two consecutive aligned pairs, with their mean and std.
    """
    n_ref = n_del = n_ins = 0
    confusion = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
    same_class = np.zeros(len(CLASSES), dtype=np.int64)
    same_phone = np.zeros(len(CLASSES), dtype=np.int64)
    inserted = np.zeros(len(CLASSES), dtype=np.int64)
    jitter_ms: list[float] = []
    for reference, hypothesis in pairs:
        reference, hypothesis = merge_silences(reference), merge_silences(hypothesis)
        steps = align_timelines(reference, hypothesis)
        n_ref += len(reference)
        for step, after in zip(steps, steps[1:] + [AlignedPair(None, None)]):
            if step.hyp is None:
                n_del += 1
                continue
            if step.ref is None:
                n_ins += 1
                inserted[CLASSES.index(PHONE_CLASS[hypothesis[step.hyp].phone])] += 1
                continue
            ref, hyp = reference[step.ref], hypothesis[step.hyp]
            r, h = CLASSES.index(PHONE_CLASS[ref.phone]), CLASSES.index(PHONE_CLASS[hyp.phone])
            confusion[r, h] += 1
            if r == h:
                same_class[r] += 1
                same_phone[r] += ref.phone == hyp.phone
            if after.ref is not None and after.hyp is not None:
                jitter_ms.append(1000.0 * (hyp.end - ref.end))
    if n_ref == 0:
        raise ValueError("no reference phones to measure against")
    rows = confusion.sum(axis=1, keepdims=True)
    jitter = np.array(jitter_ms) if jitter_ms else np.zeros(1)
    return {
        "classes": list(CLASSES),
        "n_reference_phones": n_ref,
        "deletion_rate": n_del / n_ref,
        "insertion_rate": n_ins / n_ref,
        "substitution_counts": confusion.tolist(),
        # a class never seen in the reference keeps its phones' class (identity row)
        "substitution_matrix": np.where(rows > 0, confusion / np.maximum(rows, 1), np.eye(len(CLASSES))).tolist(),
        "same_phone_within_class": [float(s / c) if c else 1.0 for s, c in zip(same_phone, same_class)],
        "insertion_class_distribution": (inserted / max(inserted.sum(), 1)).tolist(),
        "boundary_jitter_ms": {
            "mean": float(jitter.mean()),
            "std": float(jitter.std()),
            "median_abs": float(np.median(np.abs(jitter))),
            "n": len(jitter_ms),
        },
        # the errors themselves: corruption draws from them, since they are far from Gaussian (pocketsphinx's
        # boundaries mostly agree to the 10 ms frame, with a long tail)
        "boundary_errors_ms": sorted(round(e, 1) for e in jitter_ms),
    }


def _shifted_boundaries(phones: list[Phone], profile: dict, rng: np.random.Generator) -> list[Phone]:
    errors = np.asarray(profile["boundary_errors_ms"], dtype=float) / 1000.0
    shifts = rng.choice(errors, size=len(phones) - 1) if errors.size else np.zeros(len(phones) - 1)
    bounds = [phones[0].start] + [p.end for p in phones]
    moved = list(bounds)
    for k, shift in enumerate(shifts, start=1):
        # each phone keeps at least one pocketsphinx frame, so no phone vanishes by jitter alone
        moved[k] = float(np.clip(bounds[k] + shift, moved[k - 1] + _MIN_PHONE_S, bounds[k + 1] - _MIN_PHONE_S))
    return [Phone(p.phone, a, b) for p, a, b in zip(phones, moved, moved[1:])]


def _substituted(phone: str, profile: dict, rng: np.random.Generator) -> str:
    row = CLASSES.index(PHONE_CLASS[phone])
    target = CLASSES[rng.choice(len(CLASSES), p=np.asarray(profile["substitution_matrix"][row]))]
    choices = CLASS_PHONES[target]
    if target == PHONE_CLASS[phone]:
        if len(choices) == 1 or rng.random() < profile["same_phone_within_class"][row]:
            return phone
        choices = tuple(c for c in choices if c != phone)
    return str(rng.choice(choices))


def corrupt_phones(phones: list[Phone], profile: dict, rng: np.random.Generator) -> list[Phone]:
    """Make an exact phone timeline look like a recogniser's output on real speech, as `profile` measured.

    In order: each boundary moves by one of the measured boundary errors, drawn at random; each phone is deleted
    with the deletion rate (its neighbours share its span, cut at a random point); each survivor changes class by
    the substitution matrix (a new phone is drawn uniformly within the class); then, for each original phone with
    the insertion rate, a survivor gains an extra phone (class by the insertion distribution) that takes a random
    part of it. The span of the timeline is kept; the result has SIL runs merged.
    """
    if not phones:
        return []
    timeline = _shifted_boundaries(merge_silences(phones), profile, rng)
    kept = rng.random(len(timeline)) >= profile["deletion_rate"]
    if not kept.any():
        kept[rng.integers(len(timeline))] = True
    survivors: list[Phone] = []
    pending_start: float | None = None  # start of a deleted run waiting for the next survivor
    for phone, keep in zip(timeline, kept):
        if not keep:
            if survivors:
                cut = float(rng.uniform(phone.start, phone.end))
                survivors[-1] = Phone(survivors[-1].phone, survivors[-1].start, cut)
                pending_start = cut
            elif pending_start is None:
                pending_start = phone.start
            continue
        start = phone.start if pending_start is None else pending_start
        survivors.append(Phone(_substituted(phone.phone, profile, rng), start, phone.end))
        pending_start = None
    if pending_start is not None:  # deletions at the end: the last survivor runs on to the end
        survivors[-1] = Phone(survivors[-1].phone, survivors[-1].start, timeline[-1].end)
    n_insertions = rng.binomial(1, min(profile["insertion_rate"], 1.0), size=len(timeline)).sum()
    # one insertion per host at most
    hosts = set(rng.choice(len(survivors), size=min(int(n_insertions), len(survivors)), replace=False).tolist())
    result: list[Phone] = []
    insertion_p = np.asarray(profile["insertion_class_distribution"])
    for index, phone in enumerate(survivors):
        if index not in hosts or phone.duration < 2 * _MIN_PHONE_S:
            result.append(phone)
            continue
        extra = str(rng.choice(CLASS_PHONES[CLASSES[rng.choice(len(CLASSES), p=insertion_p)]]))
        cut = float(rng.uniform(phone.start + _MIN_PHONE_S, phone.end - _MIN_PHONE_S))
        if rng.random() < 0.5:
            result += [Phone(phone.phone, phone.start, cut), Phone(extra, cut, phone.end)]
        else:
            result += [Phone(extra, phone.start, cut), Phone(phone.phone, cut, phone.end)]
    return merge_silences(result)


def save_profile(profile: dict, path: str | Path) -> None:
    """Write a profile as JSON atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(profile, f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


PROFILE_PATH = Path(__file__).with_name("phone_error_profile.json")
_PROFILE_KEYS = (
    "deletion_rate",
    "insertion_rate",
    "substitution_matrix",
    "same_phone_within_class",
    "insertion_class_distribution",
    "boundary_errors_ms",
)


def load_error_profile(mode: str | None = None, path: str | Path = PROFILE_PATH) -> dict:
    """One recogniser mode's error profile from the measured file (its default mode unless `mode` is given).

    Modes: "words" and "allphone" (recognition without a transcript), "aligned" (forced alignment).
    """
    path = Path(path)
    try:
        measured = json.loads(path.read_text())
        mode = mode or measured["default_mode"]
        profile = measured["modes"][mode]["profile"]
    except FileNotFoundError:
        raise ProfileError(
            f"{path}: no phone error profile; measure one with `python -m backend.evaluation.phonetic_benchmark`"
        ) from None
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ProfileError(
            f"{path}: not a phone error profile with mode {mode!r} ({error!r}); measure it again"
        ) from None
    missing = [k for k in _PROFILE_KEYS if k not in profile]
    matrix = np.asarray(profile.get("substitution_matrix", []), dtype=float)
    if missing or matrix.shape != (len(CLASSES), len(CLASSES)) or not np.allclose(matrix.sum(axis=1), 1.0):
        raise ProfileError(
            f"{path}: mode {mode!r} lacks {missing} or its substitution matrix is not "
            f"{len(CLASSES)}x{len(CLASSES)} with rows summing to 1; measure it again"
        )
    return profile
