"""Training data: the feature cache, random windows, reference windows, the corrupted phonetic input; presets."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from backend.audio.phone_errors import load_error_profile
from backend.audio.phonetic import FEATURE_PHONES, phone_features
from backend.core.timebase import MODEL_FPS
from backend.training.batches import PhoneticCorruption, draw_windows, expression_batch, phonetic_input
from backend.training.corpus_data import FEATURES_FILE, CorpusError, load_corpus_features
from backend.training.settings import PresetError, load_preset, preset_from_table


def test_features_are_cached_once_and_rebuilt_when_the_corpus_changes(tiny_corpus, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(tiny_corpus, corpus)
    (corpus / FEATURES_FILE).unlink(missing_ok=True)
    features = load_corpus_features(corpus)
    cache = corpus / FEATURES_FILE
    written = cache.stat().st_mtime_ns
    again = load_corpus_features(corpus)
    assert cache.stat().st_mtime_ns == written  # read, not rebuilt
    assert again.utterance_ids == features.utterance_ids and again.phone_names == features.phone_names
    assert (again.mel == features.mel).all() and (again.head == features.head).all()
    index = json.loads((corpus / "index.json").read_text())
    assert features.mel.shape == (sum(u["n_frames"] for u in index["utterances"]), 4, 80)
    index["utterances"] = index["utterances"][:3]
    (corpus / "index.json").write_text(json.dumps(index))
    assert load_corpus_features(corpus).n_utterances == 3  # a stale cache is never read


def test_corpus_errors_name_the_problem(tmp_path):
    with pytest.raises(CorpusError, match="no index.json"):
        load_corpus_features(tmp_path)
    (tmp_path / "index.json").write_text(
        json.dumps({"format": "adamesh-corpus/1", "spec": {"fps": 30}, "utterances": []})
    )
    with pytest.raises(CorpusError, match="30 fps.*--fps 25"):
        load_corpus_features(tmp_path)


def test_windows_have_one_length_in_range_and_fit_their_utterance():
    n_frames = np.array([30, 80, 200, 45])
    rng = np.random.default_rng(0)
    for _ in range(50):
        windows = draw_windows(rng, n_frames, 16, (1.0, 4.0), multiple=4)
        assert 25 <= windows.length <= 100 and windows.length % 4 == 0
        assert (windows.start >= 0).all() and (windows.start + windows.length <= n_frames[windows.utterance]).all()
    # longer than every utterance: the window shrinks to the longest one
    assert draw_windows(rng, n_frames, 4, (20.0, 30.0), multiple=4).length == 200


def test_expression_batch_pairs_each_window_with_another_utterance_of_its_speaker(tiny_corpus):
    features = load_corpus_features(tiny_corpus)
    corruption = PhoneticCorruption({"words": load_error_profile("words")}, {"words": 1.0}, dropout=0.5)
    rng = np.random.default_rng(3)
    batch = expression_batch(features, features.bilabial_frames(), rng, 8, (1.0, 2.0), 1.5, 0.5, corruption)
    length = batch.mel.shape[1]
    assert batch.mel.shape == (8, length, 4, 80) and batch.expression.shape == (8, length, len(features.channels))
    assert batch.reference.shape[0] == 8 and batch.reference.shape[2] == len(features.channels) + 3
    sums = batch.phonetic.sum(-1)
    mel_only = (sums == 0).all(dim=1)
    assert 0 < int(mel_only.sum()) < 8  # dropout 0.5 over 8 windows: some of each (fixed seed)
    assert np.allclose(sums[~mel_only].numpy(), 1.0, atol=1e-5)
    assert set(batch.keep_style.tolist()) <= {0.0, 1.0}
    # references come from another utterance of the same speaker
    from backend.training.batches import reference_windows

    utterances = np.arange(features.n_utterances)
    refs = reference_windows(features, utterances, 1.5, np.random.default_rng(0))
    assert (features.speaker[refs.utterance] == features.speaker[utterances]).all()
    several = np.array([len(features.utterances_of(int(s))) > 1 for s in features.speaker])
    assert (refs.utterance[several] != utterances[several]).all()


def test_phonetic_input_is_the_exact_phones_corrupted_like_the_recogniser(tiny_corpus):
    features = load_corpus_features(tiny_corpus)
    rng = np.random.default_rng(0)
    windows = draw_windows(rng, features.n_frames, 16, (1.5, 2.5))
    exact = np.stack(
        [
            phone_features(features.phones(int(u)), int(features.n_frames[u]), MODEL_FPS)[s : s + windows.length]
            for u, s in zip(windows.utterance, windows.start)
        ]
    )
    clean = PhoneticCorruption(
        {
            "aligned": {
                **load_error_profile("aligned"),
                "deletion_rate": 0.0,
                "insertion_rate": 0.0,
                "boundary_errors_ms": [0.0],
                "substitution_matrix": np.eye(8).tolist(),
                "same_phone_within_class": [1.0] * 8,
            }
        },
        {"aligned": 1.0},
        0.0,
    )
    # with a profile that makes no errors, the input is the exact phones: the window cut is right
    np.testing.assert_allclose(phonetic_input(features, windows, clean, rng).numpy(), exact, atol=1e-5)
    noisy = PhoneticCorruption({"allphone": load_error_profile("allphone")}, {"allphone": 1.0}, 0.0)
    corrupted = phonetic_input(features, windows, noisy, rng).numpy()
    changed = (corrupted.argmax(-1) != exact.argmax(-1)).mean()
    assert 0.1 < changed < 0.7  # the allphone recogniser gets ~60 % of frames right on real speech
    assert corrupted.shape[-1] == len(FEATURE_PHONES)


def test_bilabial_frames_are_the_frames_overlapping_p_b_m(tiny_corpus):
    features = load_corpus_features(tiny_corpus)
    mask = features.bilabial_frames().numpy()
    assert mask.any()
    for u in range(features.n_utterances):
        marked = mask[features.rows(u)]
        bilabials = [p for p in features.phones(u) if p.phone in {"P", "B", "M"}]
        for p in bilabials:
            assert marked[min(round((p.start + p.end) / 2 * MODEL_FPS), len(marked) - 1)]
        for i in np.flatnonzero(marked):
            lo, hi = (i - 0.5) / MODEL_FPS, (i + 0.5) / MODEL_FPS
            assert any(p.start < hi and p.end > lo for p in bilabials)


def test_presets_load_and_bad_ones_are_named(tmp_path):
    tiny, starter = load_preset("tiny"), load_preset("starter")
    assert tiny.model.expression.d_model < starter.model.expression.d_model
    assert tiny.training.expression.steps < starter.training.expression.steps
    with pytest.raises(PresetError, match="unknown preset 'huge'.*starter"):
        load_preset("huge")
    bad = {"model": {"base": "tiny"}, "training": {"expression": {"steps": 1}}}
    with pytest.raises(PresetError, match=r"training\.expression\.batch is missing"):
        preset_from_table("x", bad, "x.toml")
    stage = {"steps": 1, "batch": 1, "lr": 1e-3, "window_seconds": [1, 2], "time_share": 0.5}
    table = {"training": {"expression": stage, "pose_vqvae": stage, "pose_gpt": stage}}
    with pytest.raises(PresetError, match="add up to 1.5"):
        preset_from_table("x", table, "x.toml")
    with pytest.raises(PresetError, match=r"unknown setting config\.expression\.d_modl"):
        preset_from_table("x", {"model": {"expression": {"d_modl": 3}}, **table}, "x.toml")
    path = tmp_path / "mine.toml"
    path.write_text("[training\n")
    with pytest.raises(PresetError, match="not valid TOML"):
        load_preset(str(path))
