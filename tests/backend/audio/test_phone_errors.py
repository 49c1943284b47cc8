"""The recogniser's error profile: measuring it, replaying it on exact phones, and the committed profile file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backend.audio.phone_errors import (
    CLASSES,
    PROFILE_PATH,
    ProfileError,
    corrupt_phones,
    event_scores,
    load_error_profile,
    measure_error_profile,
    save_profile,
)
from backend.audio.phonetic import DEFAULT_MODE
from backend.core.phones import PHONES, SILENCE, Phone


def exact_timeline(seed: int, n: int = 3000) -> list[Phone]:
    """A long corpus-like timeline: random phones of 40-150 ms, no two SIL in a row."""
    rng = np.random.default_rng(seed)
    names = sorted(PHONES)
    phones: list[Phone] = []
    t = 0.0
    while len(phones) < n:
        name = str(rng.choice(names))
        if phones and name == SILENCE == phones[-1].phone:
            continue
        duration = float(rng.uniform(0.04, 0.15))
        phones.append(Phone(name, t, t + duration))
        t += duration
    return phones


def test_a_known_pair_gives_known_counts():
    reference = [Phone(SILENCE, 0.0, 0.1), Phone("M", 0.1, 0.2), Phone("AA", 0.2, 0.4), Phone(SILENCE, 0.4, 0.5)]
    recognised = [
        Phone(SILENCE, 0.0, 0.12),
        Phone("B", 0.12, 0.2),
        Phone("AA", 0.2, 0.3),
        Phone("N", 0.3, 0.42),
        Phone(SILENCE, 0.42, 0.5),
    ]
    profile = measure_error_profile([(reference, recognised)])
    assert profile["deletion_rate"] == 0.0
    assert profile["insertion_rate"] == 0.25
    counts = np.array(profile["substitution_counts"])
    sil, bilabial, open_vowel = CLASSES.index("SIL"), CLASSES.index("bilabial"), CLASSES.index("open_vowel")
    assert counts[sil, sil] == 2 and counts[bilabial, bilabial] == 1 and counts[open_vowel, open_vowel] == 1
    assert counts.sum() == 4
    assert profile["same_phone_within_class"][bilabial] == 0.0  # M heard as B
    assert profile["insertion_class_distribution"][CLASSES.index("other_consonant")] == 1.0
    # boundaries between two aligned pairs: SIL|M (+20 ms) and M|AA (0); AA|N borders an insertion
    assert profile["boundary_errors_ms"] == [0.0, 20.0]
    assert profile["boundary_jitter_ms"]["mean"] == pytest.approx(10.0)
    assert event_scores(reference, recognised) == {
        "bilabial_detection": 1.0,
        "m_detection": 1.0,
        "open_vowel_detection": 1.0,
        "bilabial_false_share": 0.0,
    }


def test_a_swallowed_bilabial_is_a_deletion_and_a_miss():
    reference = [Phone(SILENCE, 0.0, 0.1), Phone("P", 0.1, 0.18), Phone("AA", 0.18, 0.4), Phone(SILENCE, 0.4, 0.5)]
    recognised = [Phone(SILENCE, 0.0, 0.16), Phone("AA", 0.16, 0.4), Phone(SILENCE, 0.4, 0.5)]
    profile = measure_error_profile([(reference, recognised)])
    assert profile["deletion_rate"] == 0.25 and profile["insertion_rate"] == 0.0
    scores = event_scores(reference, recognised)
    assert scores["bilabial_detection"] == 0.0 and scores["m_detection"] is None


def test_identical_timelines_have_no_errors():
    phones = exact_timeline(0, 300)
    profile = measure_error_profile([(phones, phones)])
    assert profile["deletion_rate"] == profile["insertion_rate"] == 0.0
    np.testing.assert_allclose(profile["substitution_matrix"], np.eye(len(CLASSES)))
    assert set(profile["boundary_errors_ms"]) == {0.0}


def heavy_profile() -> dict:
    """More of every error than pocketsphinx makes, so the round trip is tested where errors are common."""
    profile = load_error_profile("words")
    matrix = 0.75 * np.eye(len(CLASSES))
    matrix[:, CLASSES.index("other_consonant")] += 0.25
    return {
        **profile,
        "deletion_rate": 0.12,
        "insertion_rate": 0.08,
        "substitution_matrix": matrix.tolist(),
        "same_phone_within_class": [0.6] * len(CLASSES),
        "boundary_errors_ms": [-40.0, -10.0, 0.0, 0.0, 10.0, 20.0, 30.0],
    }


@pytest.mark.parametrize("which", ["words", "allphone", "heavy"])
def test_corruption_reproduces_the_profile_it_is_given(which):
    profile = heavy_profile() if which == "heavy" else load_error_profile(which)
    exact = exact_timeline(1)
    corrupted = corrupt_phones(exact, profile, np.random.default_rng(7))
    measured = measure_error_profile([(exact, corrupted)])
    # a deletion next to an insertion measures as one substitution, and a phone turned SIL beside a SIL merges
    # with it, so the rates come out a little low
    assert measured["deletion_rate"] == pytest.approx(profile["deletion_rate"], abs=0.03)
    assert measured["insertion_rate"] == pytest.approx(profile["insertion_rate"], abs=0.03)
    errors = np.array(profile["boundary_errors_ms"])
    assert measured["boundary_jitter_ms"]["mean"] == pytest.approx(errors.mean(), abs=3.0)
    # long shifts are cut short where a phone would vanish, so the spread shrinks a little
    assert measured["boundary_jitter_ms"]["std"] == pytest.approx(errors.std(), rel=0.25)
    counts = np.array(measured["substitution_counts"])
    supported = counts.sum(axis=1) >= 150
    assert supported.sum() >= 5
    np.testing.assert_allclose(
        np.array(measured["substitution_matrix"])[supported],
        np.array(profile["substitution_matrix"])[supported],
        atol=0.1,
    )


def test_corruption_keeps_a_valid_timeline_and_repeats_for_a_seed():
    exact = exact_timeline(2, 500)
    profile = heavy_profile()
    first = corrupt_phones(exact, profile, np.random.default_rng(3))
    assert first == corrupt_phones(exact, profile, np.random.default_rng(3))
    assert first != corrupt_phones(exact, profile, np.random.default_rng(4))
    assert first[0].start == exact[0].start and first[-1].end == pytest.approx(exact[-1].end)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(first, first[1:]))
    assert all(p.end > p.start and p.phone in PHONES for p in first)
    assert not any(a.phone == b.phone == SILENCE for a, b in zip(first, first[1:]))


def test_the_committed_profile_loads_for_every_mode():
    measured = json.loads(PROFILE_PATH.read_text())
    assert measured["default_mode"] == DEFAULT_MODE
    assert load_error_profile() == measured["modes"][DEFAULT_MODE]["profile"]
    for mode in ("words", "allphone", "aligned"):
        assert 0.0 <= load_error_profile(mode)["deletion_rate"] < 0.5


def test_a_bad_profile_file_is_refused_with_its_path(tmp_path):
    with pytest.raises(ProfileError, match="no phone error profile"):
        load_error_profile(path=tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ProfileError, match="broken.json"):
        load_error_profile(path=broken)
    measured = json.loads(PROFILE_PATH.read_text())
    measured["modes"]["words"]["profile"]["substitution_matrix"] = [[1.0]]
    wrong = tmp_path / "wrong.json"
    save_profile(measured, wrong)
    with pytest.raises(ProfileError, match="substitution matrix"):
        load_error_profile("words", path=wrong)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.json", "wrong.json"]  # no temp file left
