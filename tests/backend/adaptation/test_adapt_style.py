"""Adapt Style end to end on a synthetic speaker no checkpoint has heard, with a strong happy and crooked mouth.

With the starter checkpoint (skipped when it is not installed): the style comes back on new sentences, also through
a FLAME-shaped reference (Exp1..Exp100 output). With the tiny test checkpoint: FLAME output's shape, strengths,
devices, progress, cancellation, tracker files, the reference errors and the command line.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from backend.adaptation.adapt_options import AdaptOptions
from backend.adaptation.adapt_style import AdaptationCancelled, adapt_style, describe
from backend.adaptation.reference import MIN_REFERENCE_SECONDS, BadReferenceError
from backend.adaptation.statistics import expression_statistics
from backend.audio.decode import load_audio
from backend.audio.frames import motion_frame_count
from backend.clips import MotionClip, load_clip, resample_clip, save_clip
from backend.inference.generate_options import GenerateOptions
from backend.inference.generation import generate_clip, mel_frames
from backend.inference.style_files import load_style
from backend.models.checkpoint_file import DEFAULT_CHECKPOINT, load_checkpoint
from backend.models.devices import DEVICE_TOLERANCE
from backend.synth.flame_lift import FLAME_EXPRESSION_NAMES, lower_from_flame
from backend.synth.speaker_styles import POSE_PRESETS, ExpressionStyle

pytestmark = pytest.mark.slow  # adapts (trains MoLoRA) on the starter and tiny checkpoints

SPEAKER_STYLE = ExpressionStyle(smile=0.5, crooked=0.7)  # happy and crooked: a style no training speaker has
N_UTTERANCES = 8  # the first six make the reference (~12 s), the last two are the new sentences
REFERENCE, NEW = slice(0, 6), slice(6, 8)


@pytest.fixture(scope="module")
def one_thread():
    """Module fixtures run before the per-test single-thread setting: two threads stall on a busy 2-core CPU."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def speaker(tmp_path_factory, one_thread) -> list[dict]:
    """Utterances of one synthetic speaker (real espeak speech, the corpus's articulation), as corpus entries."""
    from backend.synth.augment import sample_augmentation
    from backend.synth.corpus import Job, Speaker, UtterancePlan, render_job
    from backend.synth.espeak import espeak_unavailable_reason
    from backend.synth.sentences import generate_sentence
    from backend.synth.voices import sample_voice

    if espeak_unavailable_reason():
        pytest.skip(f"espeak-ng is needed to synthesise the speaker: {espeak_unavailable_reason()}")
    folder = tmp_path_factory.mktemp("speaker")
    for kind in ("audio", "phones", "motion", "flame"):
        (folder / kind).mkdir()
    rng = np.random.default_rng(7)
    person = Speaker(
        "happy-crooked",
        sample_voice(rng, "test", ("espeak",)),
        "crooked",
        SPEAKER_STYLE,
        "still",
        POSE_PRESETS["still"],
    )
    plans = tuple(
        UtterancePlan(f"u{k}", generate_sentence(rng, "test"), sample_augmentation(rng), int(rng.integers(2**31)))
        for k in range(N_UTTERANCES)
    )
    return [entry | {"root": folder} for entry in render_job(Job(folder, 25.0, person, plans))]


def write_reference(entries: list[dict], kind: str, folder: Path, seconds: float | None = None) -> tuple[Path, Path]:
    """The entries' audio and motion (`kind`: motion or flame) joined into one reference pair of files."""
    wave = np.concatenate([load_audio(e["root"] / e["audio"]) for e in entries])
    clips = [load_clip(e["root"] / e[kind]) for e in entries]
    n = sum(c.n_frames for c in clips) if seconds is None else round(seconds * 25)
    clip = MotionClip(
        25.0,
        np.concatenate([c.expression for c in clips])[:n],
        clips[0].expression_names,
        np.concatenate([c.jaw for c in clips])[:n],
        np.concatenate([c.head for c in clips])[:n],
    )
    audio, motion = folder / f"{kind}-reference.wav", folder / f"{kind}-reference.npz"
    soundfile.write(audio, wave[: round(n / 25 * 16000)], 16000, subtype="PCM_16")
    save_clip(clip, motion)
    return audio, motion


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


@pytest.fixture(scope="module")
def starter():
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip(
            f"the starter checkpoint {DEFAULT_CHECKPOINT} is not installed: the tiny test checkpoint is "
            "trained too little to carry a style"
        )
    return load_checkpoint(DEFAULT_CHECKPOINT)


@pytest.fixture(scope="module")
def starter_style(speaker, starter, tmp_path_factory, one_thread) -> Path:
    folder = tmp_path_factory.mktemp("style")
    audio, motion = write_reference(speaker[REFERENCE], "motion", folder)
    out = folder / "happy-crooked.safetensors"
    adapt_style(audio, motion, out, AdaptOptions(phonetic="none", device="cpu"), starter)
    return out


@pytest.fixture(scope="module")
def tiny_style(speaker, checkpoint, tmp_path_factory, one_thread) -> Path:
    folder = tmp_path_factory.mktemp("tiny-style")
    audio, motion = write_reference(speaker[REFERENCE], "motion", folder)
    out = folder / "tiny.safetensors"
    adapt_style(audio, motion, out, AdaptOptions(steps=60, phonetic="none", device="cpu"), checkpoint)
    return out


def statistics_on_new_sentences(speaker, checkpoint, lowered: bool = False, **options) -> tuple[dict, dict]:
    """(generated, ground truth) style statistics over the speaker's new sentences; `lowered`: the generated clips
    are FLAME-shaped and are lowered back to the corpus channels first."""
    generated, truth = [], []
    for entry in speaker[NEW]:
        clip = generate_clip(
            entry["root"] / entry["audio"], GenerateOptions(blinks=False, phonetic="none", **options), checkpoint
        )
        if lowered:
            clip = MotionClip(
                clip.fps, lower_from_flame(clip.expression), checkpoint.channel_names, clip.jaw, clip.head
            )
        generated.append(clip)
        truth.append(load_clip(entry["root"] / entry["motion"]))

    def statistics(clips: list[MotionClip]) -> dict:
        return expression_statistics(
            np.concatenate([c.expression for c in clips]),
            np.concatenate([c.jaw for c in clips]),
            clips[0].expression_names,
        )

    assert [c.n_frames for c in generated] == [c.n_frames for c in truth]
    return statistics(generated), statistics(truth)


def test_adapting_reproduces_a_happy_crooked_style_on_new_sentences(speaker, starter, starter_style):
    adapted, truth = statistics_on_new_sentences(speaker, starter, style=starter_style)
    base, _ = statistics_on_new_sentences(speaker, starter)
    for name in ("asymmetry", "smile"):
        base_error, adapted_error = abs(base[name] - truth[name]), abs(adapted[name] - truth[name])
        assert adapted_error < 0.4 * base_error, (name, truth[name], base[name], adapted[name])


def test_a_flame_reference_carries_the_style_into_flame_output(speaker, starter, tmp_path, one_thread):
    audio, motion = write_reference(speaker[REFERENCE], "flame", tmp_path)
    out = tmp_path / "flame.safetensors"
    style = adapt_style(audio, motion, out, AdaptOptions(phonetic="none", device="cpu"), starter)
    assert style.channel_names == FLAME_EXPRESSION_NAMES
    generated, truth = statistics_on_new_sentences(speaker, starter, style=out, lowered=True)
    base, _ = statistics_on_new_sentences(speaker, starter)
    # the synthetic FLAME lift is invertible: the FLAME output, lowered back to the corpus channels, carries the style
    for name in ("asymmetry", "smile"):
        assert abs(generated[name] - truth[name]) < 0.5 * abs(base[name] - truth[name]), name


def test_the_style_file_is_small_and_says_what_was_learnt(tiny_style, checkpoint):
    style = load_style(tiny_style, checkpoint)
    assert tiny_style.stat().st_size < 5_000_000
    assert style.channel_names == checkpoint.channel_names and style.head_rank is None
    assert style.reference_seconds == pytest.approx(
        load_clip(tiny_style.with_name("motion-reference.npz")).duration, abs=0.2
    )  # the audio ends a frame or two earlier
    assert style.reference_seconds > 10.0 and style.created.endswith("+00:00")
    assert 1 <= style.adaptation["steps"] <= 60
    assert style.adaptation["holdout_loss_best"] <= style.adaptation["holdout_loss_start"]
    assert style.retrieval["method"] in ("blend+fit+calibration", "blend+refine+fit+calibration")
    assert (
        style.retrieval["matches"]
        and style.retrieval["fit"]["code_loss_best"] <= style.retrieval["fit"]["code_loss_start"]
    )
    assert len(style.retrieval["calibration"]["gain"]) == 3 and "fitted to its pose codes" in describe(style)
    assert style.eyes.source == "reference"  # the reference's eyeBlink channels gave the blink rate


def test_a_flame_reference_gives_exp1_to_exp100_output(speaker, checkpoint, tmp_path):
    audio, motion = write_reference(speaker[REFERENCE], "flame", tmp_path)
    out = tmp_path / "flame.safetensors"
    style = adapt_style(audio, motion, out, AdaptOptions(steps=1, phonetic="none", device="cpu"), checkpoint)
    assert style.channel_names == FLAME_EXPRESSION_NAMES
    assert style.head_rank == len(checkpoint.channel_names)  # the checkpoint's head, then a map to the channels
    entry = speaker[NEW][0]
    flame = generate_clip(
        entry["root"] / entry["audio"], GenerateOptions(phonetic="none", style=out, blinks=False), checkpoint
    )
    assert flame.expression_names == FLAME_EXPRESSION_NAMES and flame.expression.shape[1] == 100
    assert np.isfinite(flame.expression).all() and flame.expression.std(axis=0).max() > 0


def test_the_channel_head_maps_the_models_channels_onto_the_references(speaker, checkpoint):
    """Fitted on a target that is a linear function of the model's own channels (the FLAME lift of them), the new
    head reproduces that target: the least-squares start is exact where it can be."""
    from backend.adaptation.expression import fit_channel_head
    from backend.synth.flame_lift import lift_to_flame

    model = copy.deepcopy(checkpoint.models.expression)
    entry = speaker[REFERENCE][0]
    wave = load_audio(entry["root"] / entry["audio"])
    mel = mel_frames(wave, motion_frame_count(len(wave) / 16000, 25.0))
    style = torch.zeros(model.config.style_dim)
    with torch.no_grad():
        own = model(mel[None], None, style[None]).expression[0]
        target = torch.from_numpy(lift_to_flame(own.numpy()))
        rank = fit_channel_head(model, mel, None, style, target)
        fitted = model(mel[None], None, style[None]).expression[0]
    assert rank == len(checkpoint.channel_names) and fitted.shape == target.shape
    assert (fitted - target).abs().mean() < 0.02 * (target - target.mean(0)).abs().mean()


def test_pose_retrieval_finds_a_training_speaker_and_refining_fits_the_reference(checkpoint, tiny_corpus):
    """A reference made of a training speaker's own utterances retrieves that speaker first; refining the blended
    embedding makes PoseGPT likelier to produce the reference's head motion."""
    from backend.adaptation.pose import adapt_pose
    from backend.adaptation.reference import Reference
    from backend.training.corpus_data import load_corpus_features

    features = load_corpus_features(tiny_corpus)
    for speaker, info in enumerate(features.speakers):
        rows = np.concatenate(
            [np.arange(features.rows(u).start, features.rows(u).stop) for u in features.utterances_of(speaker)]
        )
        clip = MotionClip(
            25.0,
            features.expression[rows].numpy(),
            features.channels,
            features.jaw[rows].numpy(),
            features.head[rows].numpy(),
        )
        reference = Reference(clip, features.mel[rows], None)
        blended = adapt_pose(checkpoint, reference, refine=False, last_stage="retrieval")
        assert blended.report["matches"][0]["name"] == info.name
        assert blended.report["matches"][0]["weight"] > 0.5 and blended.report["method"] == "blend"
        refined = adapt_pose(checkpoint, reference, refine=True, last_stage="blend+refine")
        assert refined.report["code_loss_refined"] < refined.report["code_loss_blend"]
        assert not torch.equal(refined.vector, blended.vector)


def test_strength_zero_is_the_base_and_above_one_exaggerates(speaker, checkpoint, tiny_style):
    entry = speaker[NEW][0]
    audio = entry["root"] / entry["audio"]
    base = generate_clip(audio, GenerateOptions(phonetic="none", blinks=False), checkpoint)
    off = generate_clip(
        audio,
        GenerateOptions(phonetic="none", style=tiny_style, expression_strength=0.0, pose_strength=0.0, blinks=False),
        checkpoint,
    )
    np.testing.assert_allclose(off.expression, base.expression, atol=1e-6)
    np.testing.assert_allclose(off.head, base.head, atol=1e-6)
    change = [
        np.abs(
            generate_clip(
                audio,
                GenerateOptions(
                    phonetic="none", style=tiny_style, expression_strength=s, pose_strength=s, blinks=False
                ),
                checkpoint,
            ).expression
            - base.expression
        ).mean()
        for s in (0.5, 1.0, 1.6)
    ]
    assert 0 < change[0] < change[1] < change[2]


def test_progress_reports_steps_and_cancel_stops_in_the_middle(speaker, checkpoint, tmp_path):
    audio, motion = write_reference(speaker[:2], "motion", tmp_path)
    messages = []
    adapt_style(
        audio,
        motion,
        None,
        AdaptOptions(steps=12, phonetic="none"),
        checkpoint,
        progress=lambda f, m: messages.append((f, m)),
    )
    fractions = [f for f, _ in messages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    steps = [m for _, m in messages if m.startswith("step ")]
    assert len(steps) == 12 and "loss" in steps[0] and "s left" in steps[0]
    calls = []
    with pytest.raises(AdaptationCancelled):
        adapt_style(
            audio,
            motion,
            tmp_path / "never.safetensors",
            AdaptOptions(steps=50, phonetic="none"),
            checkpoint,
            progress=lambda f, m: calls.append(m),
            cancel=lambda: sum(m.startswith("step") for m in calls) >= 3,
        )
    assert not (tmp_path / "never.safetensors").exists()
    assert sum(m.startswith("step") for m in calls) == 3


def test_a_reference_one_window_long_trains_on_that_window_once_a_step(speaker, checkpoint, tmp_path):
    """A 3 s reference's training part (2.4 s) is shorter than a window: four copies of it in a step would cost four
    times as much for the same gradient. A longer reference draws the usual four windows."""
    for folder in ("short", "long"):
        (tmp_path / folder).mkdir()
    short = adapt_style(
        *write_reference(speaker[:2], "motion", tmp_path / "short", seconds=3.0),
        None,
        AdaptOptions(steps=3, phonetic="none"),
        checkpoint,
    )
    assert short.adaptation["windows_per_step"] == 1 and short.adaptation["window_seconds"] == pytest.approx(2.4)
    longer = adapt_style(
        *write_reference(speaker[:6], "motion", tmp_path / "long"),
        None,
        AdaptOptions(steps=3, phonetic="none"),
        checkpoint,
    )
    assert longer.adaptation["windows_per_step"] == 4 and longer.adaptation["window_seconds"] == pytest.approx(4.0)


def test_auto_device_gives_the_cpu_result(speaker, tiny_checkpoint, tmp_path):
    audio, motion = write_reference(speaker[:2], "motion", tmp_path)
    styles = {
        device: adapt_style(
            audio, motion, None, AdaptOptions(steps=8, phonetic="none", device=device, checkpoint=str(tiny_checkpoint))
        )
        for device in ("cpu", "auto")
    }
    for name, tensor in styles["cpu"].adapter.items():
        torch.testing.assert_close(styles["auto"].adapter[name], tensor, atol=DEVICE_TOLERANCE, rtol=0)
    torch.testing.assert_close(styles["auto"].pose_style, styles["cpu"].pose_style, atol=DEVICE_TOLERANCE, rtol=0)


def test_a_reference_below_the_minimum_is_refused_with_the_minimum(speaker, checkpoint, tmp_path):
    audio, motion = write_reference(speaker[:1], "motion", tmp_path, seconds=2.0)
    with pytest.raises(BadReferenceError, match=f"2.0 s long; Adapt Style needs at least {MIN_REFERENCE_SECONDS:g} s"):
        adapt_style(audio, motion, None, AdaptOptions(phonetic="none"), checkpoint)


def test_audio_and_motion_of_different_lengths_are_refused_naming_both(speaker, checkpoint, tmp_path):
    audio, _ = write_reference(speaker[:3], "motion", tmp_path)
    (tmp_path / "short").mkdir()
    _, short_motion = write_reference(speaker[:1], "motion", tmp_path / "short", seconds=3.0)
    seconds = len(load_audio(audio)) / 16000
    wanted = rf"lasts {seconds:.2f} s but the motion .* 3.00 s \(75 frames at 25 fps\)"
    with pytest.raises(BadReferenceError, match=wanted):
        adapt_style(audio, short_motion, None, AdaptOptions(phonetic="none"), checkpoint)


def test_the_audio_range_picks_the_reference_out_of_a_longer_recording(speaker, checkpoint, tmp_path):
    audio, motion = write_reference(speaker[:2], "motion", tmp_path)
    longer = tmp_path / "longer.wav"
    wave = load_audio(audio)
    soundfile.write(longer, np.concatenate([np.zeros(32000, np.float32), wave, wave]), 16000, subtype="PCM_16")
    end = 2.0 + len(wave) / 16000
    style = adapt_style(
        longer, motion, None, AdaptOptions(steps=2, phonetic="none", audio_start=2.0, audio_end=end), checkpoint
    )
    assert style.reference_seconds == pytest.approx(len(wave) / 16000, abs=0.05)
    with pytest.raises(BadReferenceError, match="does not lie within longer.wav"):
        adapt_style(longer, motion, None, AdaptOptions(phonetic="none", audio_start=60.0), checkpoint)


def test_a_tracker_file_at_its_own_frame_rate_is_a_reference(speaker, checkpoint, tmp_path):
    """A VHAP file tracked at 30 fps: resampled to 25 fps, FLAME channels (Exp1..Exp100)."""
    audio, motion = write_reference(speaker[:2], "flame", tmp_path)
    clip = load_clip(motion)
    at_30 = resample_clip(clip, 30.0)
    vhap = tmp_path / "tracked_flame_params.npz"
    zeros = np.zeros((at_30.n_frames, 3), np.float32)
    np.savez(
        vhap,
        expr=at_30.expression,
        jaw_pose=at_30.jaw,
        neck_pose=at_30.head,
        rotation=zeros,
        translation=zeros,
        eyes_pose=np.zeros((at_30.n_frames, 6), np.float32),
    )
    style = adapt_style(
        audio, vhap, None, AdaptOptions(steps=5, phonetic="none", tracker="vhap", motion_fps=30.0), checkpoint
    )
    assert style.channel_names == FLAME_EXPRESSION_NAMES
    assert style.reference_seconds == pytest.approx(clip.n_frames / 25.0, abs=0.05)
    with pytest.raises(BadReferenceError, match="stores no frame rate"):
        adapt_style(audio, vhap, None, AdaptOptions(phonetic="none", tracker="vhap"), checkpoint)


def test_cli_adapts_and_generates_with_the_style(speaker, tiny_checkpoint, tmp_path, capsys):
    from backend.cli.main import main

    audio, motion = write_reference(speaker[:2], "motion", tmp_path)
    out = tmp_path / "cli.safetensors"
    assert (
        main(
            [
                "adapt",
                "--audio",
                str(audio),
                "--motion",
                str(motion),
                "--checkpoint",
                str(tiny_checkpoint),
                "--steps",
                "5",
                "--phonetic",
                "none",
                "--device",
                "cpu",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert f"wrote {out}" in capsys.readouterr().out and out.is_file()
    clip_out = tmp_path / "styled.npz"
    entry = speaker[NEW][0]
    assert (
        main(
            [
                "generate",
                "--audio",
                str(entry["root"] / entry["audio"]),
                "--checkpoint",
                str(tiny_checkpoint),
                "--style",
                str(out),
                "--expression-strength",
                "1.5",
                "--phonetic",
                "none",
                "--out",
                str(clip_out),
            ]
        )
        == 0
    )
    assert load_clip(clip_out).eyes is not None  # blinks and saccades are on by default
    assert (
        main(
            [
                "generate",
                "--audio",
                str(entry["root"] / entry["audio"]),
                "--checkpoint",
                str(tiny_checkpoint),
                "--style",
                str(out),
                "--expression-strength",
                "5",
                "--out",
                str(clip_out),
            ]
        )
        == 2
    )
    assert "strength must lie in [0, 3]" in capsys.readouterr().err
