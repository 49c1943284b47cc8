"""`backend eval`: every measure on a held-out corpus and on a "real" clip scored against its phone timeline."""

from __future__ import annotations

import json
import shutil

import pytest

from backend.cli.main import main
from backend.core.errors import AdaMeshError
from backend.evaluation.evaluate import evaluate

pytestmark = pytest.mark.slow  # evaluates a trained checkpoint

LIP_KEYS = {
    "bilabial_closure",
    "m_closure",
    "open_vowel_opening",
    "open_close_ratio",
    "n_bilabials",
    "n_m",
    "n_open_vowels",
}


@pytest.fixture(scope="module")
def real_clip(heldout_corpus, tmp_path_factory):
    """A held-out recording laid out like the real clip in assets/real-speech/: audio, phones.json, transcript."""
    entry = json.loads((heldout_corpus / "index.json").read_text())["utterances"][1]
    folder = tmp_path_factory.mktemp("real")
    shutil.copy(heldout_corpus / entry["audio"], folder / "clip.wav")
    shutil.copy(heldout_corpus / entry["phones"], folder / "clip.phones.json")
    (folder / "clip.transcript.txt").write_text(entry["text"])
    return folder / "clip.wav"


def test_eval_measures_everything(heldout_corpus, tiny_checkpoint, real_clip, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert (
        main(
            [
                "eval",
                "--data",
                str(heldout_corpus),
                "--checkpoint",
                str(tiny_checkpoint),
                "--real",
                str(real_clip),
                "--json",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    index = json.loads((heldout_corpus / "index.json").read_text())
    assert report["utterances"] == len(index["utterances"])
    for path in ("phonetic", "exact_phones", "mel_only"):
        measures = report["synthetic"][path]
        assert set(measures) == LIP_KEYS | {"expression_mae", "expression_l2", "jaw_correlation"}
        assert measures["expression_mae"] > 0 and -1 <= measures["jaw_correlation"] <= 1
        assert measures["n_bilabials"] > 0 and 0 <= measures["bilabial_closure"] <= 1
    # the ground truth closes every bilabial and opens nearly every open vowel: the measures are sound
    truth = report["ground_truth"]
    assert truth["bilabial_closure"] == 1.0 and truth["m_closure"] in (1.0, None)
    assert truth["open_vowel_opening"] > 0.8 and truth["open_close_ratio"] > 1.5
    assert report["thresholds"]["beat_sigma_s"] == 0.1 and report["thresholds"]["usual_opening_mm"] > 5
    pose = report["pose"]
    assert pose["diversity_deg"] >= 0 and pose["diversity_deg_ground_truth"] > 0.1
    assert 0 <= pose["beat_alignment_generated"] <= 1 and 0 < pose["beat_alignment_ground_truth"] <= 1
    retrieval = report["style_retrieval"]
    assert retrieval["speakers"] == len({u["speaker"] for u in index["utterances"]})
    assert 0 <= retrieval["accuracy"] <= 1
    real = report["real"]
    assert set(real) == {"clip", "seconds", "words", "transcript", "mel_only"}
    assert set(real["words"]) == LIP_KEYS and set(real["mel_only"]) == LIP_KEYS
    # pocketsphinx may fail to force-align synthetic speech (it hears espeak badly): then the reason is reported
    assert set(real["transcript"]) in (LIP_KEYS, {"error"})
    table = capsys.readouterr().out
    assert "bilabial_closure" in table and "real transcript" in table and "pose-style retrieval" in table


def test_eval_refuses_a_real_clip_without_its_phones(heldout_corpus, tiny_checkpoint, real_clip, tmp_path):
    lonely = tmp_path / "lonely.wav"
    shutil.copy(real_clip, lonely)
    with pytest.raises(AdaMeshError, match="no reference phone timeline"):
        evaluate(heldout_corpus, tiny_checkpoint, real_audio=lonely)
