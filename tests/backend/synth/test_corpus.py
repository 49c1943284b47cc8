"""The synthetic corpus end to end: real espeak-ng (and Festival where installed), real files, real determinism."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from backend.clips import load_clip
from backend.core.channels import CHANNELS
from backend.core.errors import SynthError
from backend.core.lip_gap import lip_gap
from backend.core.phones import BILABIALS, load_timeline
from backend.synth.corpus import CorpusSpec, build_corpus
from backend.synth.espeak import espeak_unavailable_reason
from backend.synth.festival import festival_unavailable_reason
from backend.synth.speaker_styles import EXPRESSION_KINDS

pytestmark = [
    pytest.mark.slow,  # builds corpora with both speech engines
    pytest.mark.skipif(espeak_unavailable_reason() is not None, reason=str(espeak_unavailable_reason())),
]

SPEC = CorpusSpec(minutes=0.4, seed=5, speakers=len(EXPRESSION_KINDS))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "c"
    return out, build_corpus(out, SPEC, workers=2)


def test_every_utterance_has_consistent_audio_phones_and_motion(corpus):
    out, index = corpus
    assert index["format"] == "adamesh-corpus/1" and index["channels"] == list(CHANNELS)
    assert SPEC.minutes * 60 <= index["seconds"] < SPEC.minutes * 60 + 4 * 4 * 8  # at most one round too many
    for utterance in index["utterances"]:
        audio, rate = soundfile.read(out / utterance["audio"], dtype="float32")
        assert rate == 16000 and audio.ndim == 1
        duration = len(audio) / rate
        assert duration == pytest.approx(utterance["duration"], abs=1e-4)
        phones = load_timeline(out / utterance["phones"])
        assert phones[0].start == 0 and phones[-1].end == pytest.approx(duration, abs=1e-6)
        assert all(a.end == b.start for a, b in zip(phones, phones[1:]))
        clip = load_clip(out / utterance["motion"])
        assert clip.fps == 25 and clip.expression_names == CHANNELS
        assert clip.n_frames == utterance["n_frames"] == int(np.ceil(duration * 25 - 1e-9))
        flame = load_clip(out / utterance["flame"])
        assert flame.expression.shape == (clip.n_frames, 100) and flame.expression_names[0] == "Exp1"
        np.testing.assert_array_equal(flame.jaw, clip.jaw)


def test_lips_close_on_every_bilabial_of_the_corpus(corpus):
    """The ground truth itself must never teach a model to skip a closure (within the phone +-40 ms)."""
    out, index = corpus
    closures = 0
    for utterance in index["utterances"]:
        clip = load_clip(out / utterance["motion"])
        gap = lip_gap(clip.expression, clip.jaw)
        times = np.arange(clip.n_frames) / clip.fps
        for phone in load_timeline(out / utterance["phones"]):
            if phone.phone in BILABIALS:
                window = (times >= phone.start - 0.04) & (times <= phone.end + 0.04)
                assert gap[window].min() < 0.5, (utterance["id"], phone)
                closures += 1
    assert closures > 20


def test_speakers_cover_every_style_and_both_engines(corpus):
    _, index = corpus
    kinds = {speaker["expression_style"]["kind"] for speaker in index["speakers"].values()}
    assert kinds == set(EXPRESSION_KINDS)
    engines = {utterance["engine"] for utterance in index["utterances"]}
    assert "espeak" in engines
    if festival_unavailable_reason() is None:
        assert "festival" in index["spec"]["engines"]


def test_same_seed_same_bytes_whatever_the_worker_count(tmp_path, corpus):
    out, index = corpus
    again = build_corpus(tmp_path / "again", SPEC, workers=1)
    index.pop("synthesis_wall_seconds"), again.pop("synthesis_wall_seconds")
    assert json.dumps(index) == json.dumps(again)
    for utterance in index["utterances"][:6]:
        for kind in ("audio", "phones", "motion", "flame"):
            assert (out / utterance[kind]).read_bytes() == (tmp_path / "again" / utterance[kind]).read_bytes()


def test_test_split_shares_no_sentence_or_voice_with_train(tmp_path, corpus):
    _, train = corpus
    test = build_corpus(tmp_path / "test", CorpusSpec(minutes=0.2, seed=5, speakers=4, split="test"), workers=2)
    assert not {u["text"] for u in train["utterances"]} & {u["text"] for u in test["utterances"]}
    voice = lambda s: (s["voice"]["engine"], s["voice"]["name"], s["voice"]["variant"])  # noqa: E731
    assert not {voice(s) for s in train["speakers"].values()} & {voice(s) for s in test["speakers"].values()}


def test_refuses_a_non_empty_folder_and_leaves_it_alone(tmp_path):
    (tmp_path / "keep.txt").write_text("artist's file")
    with pytest.raises(SynthError, match="not empty"):
        build_corpus(tmp_path, SPEC)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_command_line_writes_a_corpus_and_plots_it(tmp_path):
    out = tmp_path / "cli corpus"
    run = lambda *args: subprocess.run([sys.executable, "-m", "backend", *args], capture_output=True, text=True)  # noqa: E731
    result = run("synth", "--out", str(out), "--minutes", "0.1", "--speakers", "2", "--engines", "espeak")
    assert result.returncode == 0, result.stderr
    assert "x real time" in result.stdout
    utterance = json.loads((out / "index.json").read_text())["utterances"][0]
    png = tmp_path / "plot.png"
    result = run(
        "plot",
        str(out / utterance["motion"]),
        "--audio",
        str(out / utterance["audio"]),
        "--phones",
        str(out / utterance["phones"]),
        "--out",
        str(png),
    )
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    refused = run("synth", "--out", str(out), "--minutes", "0.1")
    assert refused.returncode == 2 and refused.stderr.startswith("error: ") and "Traceback" not in refused.stderr
