"""Generation: clips of the right length at any frame rate, seeds, pose styles, chunking (exact stitching, bounded
work per chunk, linear total), progress and cancellation, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile
import torch

from backend.audio.decode import load_audio
from backend.audio.frames import motion_frame_count
from backend.cli.main import main
from backend.clips import load_clip
from backend.core.errors import AdaMeshError
from backend.inference.generate_options import GenerateOptions
from backend.inference.generation import (
    ChunkPlan,
    GenerationCancelled,
    crossfade_weights,
    crossfade_windows,
    generate_clip,
    generate_motion,
    mel_frames,
    pose_style_vector,
)
from backend.models.checkpoint_file import load_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


@pytest.fixture(scope="module")
def speech(heldout_corpus):
    """The held-out corpus's first utterance (audio path, duration in seconds)."""
    entry = json.loads((heldout_corpus / "index.json").read_text())["utterances"][0]
    return heldout_corpus / entry["audio"], entry["duration"]


@pytest.mark.parametrize("fps", [24.0, 29.97, 30.0, 60.0])
def test_clip_has_one_frame_per_instant_at_any_frame_rate(checkpoint, speech, fps):
    audio, duration = speech
    clip = generate_clip(audio, GenerateOptions(fps=fps, phonetic="none", blinks=False), checkpoint)
    assert clip.n_frames == motion_frame_count(duration, fps)
    assert clip.expression_names == checkpoint.channel_names and abs(clip.fps - fps) < 1e-3
    clip.validate()
    # resampling keeps the motion: the 25 fps clip's jaw at the same instants
    base = generate_clip(audio, GenerateOptions(fps=25.0, phonetic="none", blinks=False), checkpoint)
    times = np.arange(clip.n_frames) / clip.fps
    expected = np.interp(times, np.arange(base.n_frames) / 25.0, base.jaw[:, 0])
    # slerp of the whole rotation is not linear in its x component, but close (a frame's shift would be far off)
    assert np.abs(clip.jaw[:, 0] - expected).max() < 0.02 and np.abs(clip.jaw[:, 0] - expected).mean() < 2e-3


def test_seed_drives_head_motion_only(checkpoint, speech):
    audio, _ = speech
    a, b = (generate_clip(audio, GenerateOptions(seed=s, phonetic="none", blinks=False), checkpoint) for s in (1, 1))
    c = generate_clip(audio, GenerateOptions(seed=2, phonetic="none", blinks=False), checkpoint)
    assert np.array_equal(a.head, b.head) and np.array_equal(a.expression, b.expression)
    assert not np.array_equal(a.head, c.head)
    assert np.array_equal(a.expression, c.expression)


def test_pose_style_by_name_index_or_blend(checkpoint, speech):
    names = [s.name for s in checkpoint.pose_styles]
    by_name, by_index = pose_style_vector(checkpoint, names[1]), pose_style_vector(checkpoint, "1")
    assert torch.equal(by_name, by_index)
    blend = pose_style_vector(checkpoint, None)
    torch.testing.assert_close(blend[0], checkpoint.models.pose_gpt.style_embedding.weight.mean(0))
    with pytest.raises(AdaMeshError, match="unknown pose style 'nobody'.*" + names[0]):
        pose_style_vector(checkpoint, "nobody")
    with pytest.raises(AdaMeshError, match="out of range"):
        pose_style_vector(checkpoint, 99)


def test_crossfade_windows_cover_the_audio_with_weights_summing_to_one():
    for n in (1, 40, 100, 101, 977):
        total = torch.zeros(n)
        windows = crossfade_windows(n, 100, 20)
        assert windows[0][0] == 0 and windows[-1][1] == n
        for start, end in windows:
            assert end - start <= 100
            total[start:end] += crossfade_weights(start, end, n, 20)
        torch.testing.assert_close(total, torch.ones(n))


@pytest.fixture(scope="module")
def long_mel(heldout_corpus):
    """About 30 s of held-out speech (its utterances one after another) as 25 fps log-mel."""
    index = json.loads((heldout_corpus / "index.json").read_text())
    wave = np.concatenate([load_audio(heldout_corpus / u["audio"]) for u in index["utterances"]])[: 30 * 16000]
    return mel_frames(wave, motion_frame_count(len(wave) / 16000, 25.0))


def test_chunks_are_stitched_exactly(checkpoint, long_mel):
    """Where one chunk alone covers a frame, the output is that chunk's output; audio within one chunk gives the
    unchunked result. (Across chunks results differ by design: the Conformer attends within its chunk only.)"""
    style = pose_style_vector(checkpoint, None)
    plan = ChunkPlan(expression_frames=60, expression_overlap=12, pose_codes=9, pose_prompt=3)
    chunked = generate_motion(checkpoint, long_mel, None, 0, style, plan=plan)
    windows = crossfade_windows(len(long_mel), 60, 12)
    for k, (start, end) in enumerate(windows):
        alone = generate_motion(checkpoint, long_mel[start:end], None, 0, style, plan=ChunkPlan(10**6, 1, 9, 3))
        own_start = start + (12 if k > 0 else 0)
        own_end = end - (12 if end < len(long_mel) else 0)
        np.testing.assert_allclose(
            chunked.expression[own_start:own_end], alone.expression[own_start - start : own_end - start], atol=1e-5
        )
        np.testing.assert_allclose(
            chunked.jaw[own_start:own_end], alone.jaw[own_start - start : own_end - start], atol=1e-5
        )
    short = long_mel[:50]
    one_chunk = generate_motion(checkpoint, short, None, 0, style, plan=plan)
    unchunked = generate_motion(checkpoint, short, None, 0, style, plan=ChunkPlan(10**6, 1, 10**6, 1))
    np.testing.assert_allclose(one_chunk.expression, unchunked.expression, atol=1e-6)
    np.testing.assert_allclose(one_chunk.jaw, unchunked.jaw, atol=1e-6)


def test_work_per_chunk_is_bounded_and_total_work_linear(checkpoint, long_mel):
    """Count the frames the Conformer and PoseGPT see, per call and in all, for 10 s and 30 s of audio."""
    models = checkpoint.models
    seen: dict[str, list[int]] = {"encoder": [], "gpt": []}
    hooks = [
        models.expression.encoder[0].register_forward_pre_hook(lambda m, a: seen["encoder"].append(a[0].shape[1])),
        models.pose_gpt.blocks[0].register_forward_pre_hook(lambda m, a: seen["gpt"].append(a[0].shape[1])),
    ]
    plan = ChunkPlan.for_checkpoint(checkpoint)
    totals = {}
    try:
        for seconds in (10, 30):
            for key in seen:
                seen[key].clear()
            generate_motion(checkpoint, long_mel[: seconds * 25], None, 0, pose_style_vector(checkpoint, None))
            assert max(seen["encoder"]) <= plan.expression_frames
            assert max(seen["gpt"]) <= plan.pose_codes + plan.pose_prompt + 1  # first step: BOS + prompt
            totals[seconds] = sum(seen["encoder"])
    finally:
        for hook in hooks:
            hook.remove()
    # the base (mel-only) and expression paths share one encoder pass; overlaps add a fixed share
    assert totals[30] <= 3.0 * totals[10] * 1.1
    assert (
        totals[30]
        <= 30 * 25 * (1 + plan.expression_overlap / (plan.expression_frames - plan.expression_overlap))
        + plan.expression_frames
    )


def test_progress_rises_to_one_and_cancel_stops(checkpoint, speech):
    audio, _ = speech
    reports = []
    generate_clip(
        audio, GenerateOptions(phonetic="none", blinks=False), checkpoint, progress=lambda f, m: reports.append((f, m))
    )
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(reports) >= 4
    calls = []
    with pytest.raises(GenerationCancelled):
        generate_clip(
            audio,
            GenerateOptions(phonetic="none", blinks=False),
            checkpoint,
            cancel=lambda: calls.append(1) or len(calls) > 2,
        )


def test_phonetic_input_changes_the_lips(checkpoint, speech):
    audio, _ = speech
    with_phones = generate_clip(audio, GenerateOptions(phonetic="words", blinks=False), checkpoint)
    mel_only = generate_clip(audio, GenerateOptions(phonetic="none", blinks=False), checkpoint)
    assert with_phones.n_frames == mel_only.n_frames
    assert not np.allclose(with_phones.expression, mel_only.expression)
    np.testing.assert_array_equal(with_phones.head, mel_only.head)  # the pose path reads the mel alone


def test_cli_writes_a_valid_clip(tiny_checkpoint, speech, tmp_path, capsys):
    audio, duration = speech
    wav = tmp_path / "speech.wav"
    soundfile.write(wav, load_audio(audio), 16000)
    out = tmp_path / "motion.npz"
    assert (
        main(
            [
                "generate",
                "--audio",
                str(wav),
                "--checkpoint",
                str(tiny_checkpoint),
                "--fps",
                "30",
                "--phonetic",
                "none",
                "--pose-style",
                "0",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    clip = load_clip(out)
    assert clip.n_frames == motion_frame_count(duration, 30) and clip.fps == 30
    printed = capsys.readouterr().out
    assert "frames at 30 fps" in printed and "note:" not in printed
    assert (
        main(
            [
                "generate",
                "--audio",
                str(tmp_path / "missing.wav"),
                "--checkpoint",
                str(tiny_checkpoint),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "missing.wav" in capsys.readouterr().err


def test_cli_says_when_the_sound_is_silent(tiny_checkpoint, tmp_path, capsys):
    silent = tmp_path / "room tone.wav"
    soundfile.write(silent, np.zeros(2 * 16000, dtype=np.float32), 16000, subtype="PCM_16")
    assert (
        main(
            [
                "generate",
                "--audio",
                str(silent),
                "--checkpoint",
                str(tiny_checkpoint),
                "--phonetic",
                "none",
                "--out",
                str(tmp_path / "motion.npz"),
            ]
        )
        == 0
    )
    assert "note: room tone.wav is silent" in capsys.readouterr().out
