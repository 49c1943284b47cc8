"""`prepare`: recordings (audio + tracker output or motion clips, transcripts) -> a corpus that `train` reads; a
checkpoint trained on FLAME channels generates FLAME clips; unpaired, mixed and mismatched input is refused.

The recordings are made from the tiny synthetic corpus: its audio, and its FLAME-lifted motion written in VHAP's
layout at 30 fps by `export-flame` (the layout backend/clips/trackers.py reads)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from backend.audio.decode import load_audio
from backend.audio.frames import motion_frame_count
from backend.audio.phonetic import TranscriptError, align_phones, recognise_phones
from backend.cli.main import main
from backend.clips import MotionClip, load_clip, save_clip
from backend.clips.flame_export import export_flame
from backend.clips.trackers import flame_expression_names
from backend.core.phones import load_timeline

pytestmark = pytest.mark.slow  # recognises phones and trains

FLAME_NAMES = flame_expression_names(100)
CLIPS_PER_SPEAKER = 3
TRACKED_FPS = 30.0


def corpus_index(corpus: Path) -> dict:
    return json.loads((corpus / "index.json").read_text())


def pick_utterances(corpus: Path) -> list[dict]:
    """Up to CLIPS_PER_SPEAKER utterances of each speaker of the corpus."""
    chosen: dict[str, list[dict]] = {}
    for entry in corpus_index(corpus)["utterances"]:
        mine = chosen.setdefault(entry["speaker"], [])
        if len(mine) < CLIPS_PER_SPEAKER:
            mine.append(entry)
    return [entry for entries in chosen.values() for entry in entries]


def first_alignable(corpus: Path, entries: list[dict]) -> dict:
    """An utterance whose text pocketsphinx can force onto its audio (it hears some espeak voices too badly)."""
    for entry in entries:
        try:
            align_phones(load_audio(corpus / entry["audio"]), entry["text"])
        except TranscriptError:
            continue
        return entry
    pytest.skip("pocketsphinx aligns none of the test utterances' transcripts")


@pytest.fixture(scope="module")
def recordings(tiny_corpus, tmp_path_factory) -> tuple[Path, list[dict], dict]:
    """SPEAKER/NAME.wav + SPEAKER/NAME.npz (VHAP layout, 30 fps) + one NAME.txt; returns (folder, entries, the
    entry with the transcript)."""
    folder = tmp_path_factory.mktemp("recordings") / "data"
    entries = pick_utterances(tiny_corpus)
    transcribed = first_alignable(tiny_corpus, entries)
    for entry in entries:
        speaker = folder / entry["speaker"]
        speaker.mkdir(parents=True, exist_ok=True)
        name = entry["id"]
        shutil.copy(tiny_corpus / entry["audio"], speaker / f"{name}.wav")
        export_flame(load_clip(tiny_corpus / entry["flame"]), speaker / f"{name}.npz", fps=TRACKED_FPS)
        if entry is transcribed:
            (speaker / f"{name}.txt").write_text(entry["text"])
    return folder, entries, transcribed


@pytest.fixture(scope="module")
def prepared(recordings, tmp_path_factory) -> Path:
    folder, _, _ = recordings
    out = tmp_path_factory.mktemp("prepared") / "corpus"
    assert (
        main(
            [
                "prepare",
                "--out",
                str(out),
                "--tracker",
                "vhap",
                "--fps",
                str(TRACKED_FPS),
                "--phonetic",
                "allphone",
                "--workers",
                "2",
                str(folder),
            ]
        )
        == 0
    )
    return out


def test_prepare_writes_a_corpus_of_the_recordings(tiny_corpus, recordings, prepared):
    folder, entries, transcribed = recordings
    index = corpus_index(prepared)
    assert index["format"] == "adamesh-corpus/1" and index["spec"]["fps"] == 25.0
    assert index["channels"] == list(FLAME_NAMES)
    assert sorted(index["speakers"]) == sorted({e["speaker"] for e in entries})  # speakers are the folders
    assert [u["id"] for u in index["utterances"]] == [f"{e['speaker']}/{e['id']}" for e in entries]
    for entry, utterance in zip(entries, index["utterances"]):
        clip = load_clip(prepared / utterance["motion"])
        assert clip.fps == 25.0 and clip.expression_names == FLAME_NAMES
        assert clip.n_frames == utterance["n_frames"]
        # 25 -> 30 -> 25 fps keeps the motion (the last source frame may fall off the 30 fps grid)
        source = load_clip(tiny_corpus / entry["flame"])
        assert entry["n_frames"] - 1 <= clip.n_frames <= entry["n_frames"]
        n = clip.n_frames
        error = np.abs(clip.expression - source.expression[:n]).mean()
        assert error < 0.3 * np.abs(clip.expression[1:] - source.expression[: n - 1]).mean()  # a frame off is far worse
        assert np.abs(clip.head - source.head[:n]).max() < 0.005 and np.abs(clip.jaw - source.jaw[:n]).max() < 0.03
        wave = load_audio(prepared / utterance["audio"])
        # audio cut to the motion's span: one frame per instant i / 25 s within it
        assert utterance["duration"] == round(len(wave) / 16000, 4)
        assert motion_frame_count(len(wave) / 16000, 25.0) == clip.n_frames
        source_wave = load_audio(folder / entry["speaker"] / f"{entry['id']}.wav")[: len(wave)]
        assert np.abs(wave - source_wave).max() < 1e-4  # 16-bit wav of the same samples
        phones = load_timeline(prepared / utterance["phones"])
        if entry is transcribed:
            assert utterance["phones_from"] == "transcript" and utterance["text"] == entry["text"]
            assert phones == align_phones(source_wave, entry["text"])
        else:
            assert utterance["phones_from"] == "allphone" and utterance["text"] is None
        assert phones[0].start == 0.0 and abs(phones[-1].end - len(wave) / 16000) < 0.02
    recognised = next(u for u in index["utterances"] if u["phones_from"] == "allphone")
    source_wave = load_audio(Path(recognised["source_audio"]))[: round(recognised["duration"] * 16000)]
    assert load_timeline(prepared / recognised["phones"]) == recognise_phones(source_wave, "allphone")
    assert not [p for p in prepared.parent.iterdir() if p.name.startswith(".")]  # the building folder is gone


def test_train_and_generate_on_flame_channels(prepared, tmp_path, capsys):
    from backend.models.checkpoint_file import load_checkpoint
    from backend.training.train import train

    checkpoint = tmp_path / "flame.safetensors"
    assert train(prepared, "tiny", checkpoint, device="cpu", seed=0, threads=1) == checkpoint
    assert "the lip-gap loss, written for the demo head's lip channels, is left out" in capsys.readouterr().out
    loaded = load_checkpoint(checkpoint)
    assert loaded.channel_names == FLAME_NAMES and loaded.config.expression.n_expression == 100
    speakers = sorted(corpus_index(prepared)["speakers"])
    # recorded speakers have no style preset: each is a pose style of its own
    assert [(s.name, s.kind) for s in loaded.pose_styles] == [(s, s) for s in speakers]
    assert loaded.training["corpus_recorded"] and not loaded.training["lip_gap_loss"]
    for stage in loaded.training["stages"].values():
        assert stage["loss_last"] < stage["loss_first"]

    utterance = corpus_index(prepared)["utterances"][0]
    out = tmp_path / "generated.npz"
    assert (
        main(
            [
                "generate",
                "--audio",
                str(prepared / utterance["audio"]),
                "--checkpoint",
                str(checkpoint),
                "--phonetic",
                "allphone",
                "--fps",
                "30",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    clip = load_clip(out)
    assert clip.expression_names == FLAME_NAMES and clip.fps == 30.0
    assert clip.n_frames == motion_frame_count(utterance["duration"], 30.0)


def flame_clip_folder(tiny_corpus: Path, folder: Path, n: int = 2) -> list[Path]:
    """`n` recordings of one speaker as motion clips in FLAME channels: returns the motion files."""
    speaker = folder / "alice"
    speaker.mkdir(parents=True)
    motions = []
    for entry in corpus_index(tiny_corpus)["utterances"][:n]:
        shutil.copy(tiny_corpus / entry["audio"], speaker / f"{entry['id']}.wav")
        shutil.copy(tiny_corpus / entry["flame"], speaker / f"{entry['id']}.npz")
        motions.append(speaker / f"{entry['id']}.npz")
    return motions


def refused(capsys, *arguments: str) -> str:
    """Run `prepare` expecting the one-line error; returns it."""
    assert main(["prepare", *arguments]) == 2
    return capsys.readouterr().err


def assert_nothing_written(out: Path) -> None:
    assert not out.exists() and not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]


def test_mismatched_lengths_are_refused(tiny_corpus, tmp_path, capsys):
    motion = flame_clip_folder(tiny_corpus, tmp_path / "data")[1]
    audio_seconds = corpus_index(tiny_corpus)["utterances"][1]["duration"]
    clip = load_clip(motion)
    half = clip.n_frames // 2
    save_clip(
        MotionClip(
            fps=clip.fps,
            expression=clip.expression[:half],
            expression_names=clip.expression_names,
            jaw=clip.jaw[:half],
            head=clip.head[:half],
        ),
        motion,
    )
    out = tmp_path / "out"
    error = refused(capsys, "--out", str(out), str(tmp_path / "data"))
    assert str(motion.with_suffix(".wav")) in error and str(motion) in error
    assert f"lasts {audio_seconds:.2f} s" in error and f"{half / clip.fps:.2f} s ({half} frames at 25 fps)" in error
    assert_nothing_written(out)


def test_mixed_channels_are_refused(tiny_corpus, tmp_path, capsys):
    motions = flame_clip_folder(tiny_corpus, tmp_path / "data")
    entry = corpus_index(tiny_corpus)["utterances"][1]
    shutil.copy(tiny_corpus / entry["motion"], motions[1])  # the demo head's channels among FLAME clips
    out = tmp_path / "out"
    error = refused(capsys, "--out", str(out), str(tmp_path / "data"))
    assert str(motions[1]) in error and "Exp1, Exp2, Exp3, ... (100 in all)" in error
    assert "(37 in all)" in error and "same channels" in error
    assert_nothing_written(out)


def test_motion_without_audio_is_refused(tiny_corpus, tmp_path, capsys):
    motions = flame_clip_folder(tiny_corpus, tmp_path / "data")
    motions[0].with_suffix(".wav").unlink()
    out = tmp_path / "out"
    error = refused(capsys, "--out", str(out), str(tmp_path / "data"))
    assert f"{motions[0]} has no audio" in error
    assert_nothing_written(out)


def test_tracker_files_need_their_frame_rate(tiny_corpus, tmp_path, capsys):
    flame_clip_folder(tiny_corpus, tmp_path / "data")
    error = refused(capsys, "--out", str(tmp_path / "out"), "--tracker", "vhap", str(tmp_path / "data"))
    assert "--tracker and --fps go together" in error


def test_a_csv_list_names_speakers_and_files(tiny_corpus, tmp_path):
    motions = flame_clip_folder(tiny_corpus, tmp_path / "data", n=2)
    listing = tmp_path / "data" / "list.csv"
    with listing.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["speaker", "audio", "motion"])
        for k, motion in enumerate(motions):
            writer.writerow(
                [
                    f"person{k}",
                    motion.with_suffix(".wav").relative_to(listing.parent),
                    motion.relative_to(listing.parent),
                ]
            )
    out = tmp_path / "out"
    assert main(["prepare", "--out", str(out), "--phonetic", "allphone", "--workers", "1", str(listing)]) == 0
    index = corpus_index(out)
    assert sorted(index["speakers"]) == ["person0", "person1"] and index["spec"]["tracker"] is None
    assert [u["id"] for u in index["utterances"]] == [f"person{k}/{m.stem}" for k, m in enumerate(motions)]


def test_recorded_phones_reach_training_as_they_are(prepared):
    """A recorded corpus's phones are pocketsphinx's own: with no error profiles they are not corrupted again."""
    from backend.audio.phonetic import phone_features
    from backend.training.batches import PhoneticCorruption, draw_windows, phonetic_input
    from backend.training.corpus_data import load_corpus_features

    features = load_corpus_features(prepared)
    rng = np.random.default_rng(0)
    windows = draw_windows(rng, features.n_frames, 6, (1.0, 2.0))
    inputs = phonetic_input(features, windows, PhoneticCorruption({}, {}, dropout=0.0), rng).numpy()
    for row, (u, start) in zip(inputs, zip(windows.utterance, windows.start)):
        whole = phone_features(features.phones(int(u)), int(features.n_frames[u]), 25.0)
        np.testing.assert_allclose(row, whole[start : start + windows.length], atol=1e-5)
