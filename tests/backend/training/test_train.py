"""Training: the loss falls, a seed gives the same weights, --resume continues exactly, DDP over two gloo processes,
and the checkpoint it writes (metadata, style bank)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from backend.core.channels import CHANNELS
from backend.core.errors import AdaMeshError
from backend.models.adamesh import AdaMeshModels
from backend.models.checkpoint_file import load_checkpoint
from backend.training.batches import PhoneticCorruption
from backend.training.corpus_data import load_corpus_features
from backend.training.losses import LipSeparation
from backend.training.settings import load_preset
from backend.training.stages import ExpressionStage
from backend.training.state import TrainingStateError, state_path
from backend.training.train import train

pytestmark = pytest.mark.slow  # trains checkpoints

REPO = Path(__file__).resolve().parents[3]


def fixed_batch_loss(models: AdaMeshModels, corpus: Path) -> float:
    """The expression loss of one fixed batch (seeded windows, no phonetic corruption or style dropout)."""
    features = load_corpus_features(corpus)
    settings = load_preset("tiny").training
    stage = ExpressionStage(
        models,
        features,
        settings,
        PhoneticCorruption({}, {}, dropout=1.0),
        LipSeparation(CHANNELS),
        torch.device("cpu"),
    )
    batch = stage.batch(np.random.default_rng(123), 8)
    models.eval()
    with torch.no_grad():
        loss, _ = stage.loss(stage.module, batch)
    return loss.item()


def test_training_lowers_the_loss_of_every_stage(tiny_corpus, tiny_checkpoint):
    trained = load_checkpoint(tiny_checkpoint).models
    torch.manual_seed(0)
    untrained = AdaMeshModels(trained.config)
    untrained.expression.front_end.set_mel_statistics(*load_corpus_features(tiny_corpus).mel_statistics())
    before, after = fixed_batch_loss(untrained, tiny_corpus), fixed_batch_loss(trained, tiny_corpus)
    assert after < 0.5 * before
    stages = load_checkpoint(tiny_checkpoint).training["stages"]
    assert set(stages) == {"expression", "pose_vqvae", "pose_gpt"}
    for name, summary in stages.items():
        assert summary["steps"] == summary["planned_steps"] and not summary["stopped_by_time"]
        assert summary["loss_last"] < summary["loss_first"], name


def test_checkpoint_carries_what_generation_needs(tiny_corpus, tiny_checkpoint):
    with safe_open(tiny_checkpoint, "pt") as f:
        metadata = f.metadata()
    assert metadata["format"] == "adamesh-checkpoint/1"
    assert json.loads(metadata["channel_names"]) == list(CHANNELS)
    assert float(metadata["fps"]) == 25.0
    index = json.loads((tiny_corpus / "index.json").read_text())
    speakers = sorted({u["speaker"] for u in index["utterances"]})
    assert [s["name"] for s in json.loads(metadata["pose_styles"])] == speakers
    checkpoint = load_checkpoint(tiny_checkpoint)
    config = checkpoint.config
    assert config.pose_gpt.n_styles == len(speakers)
    assert checkpoint.style_bank.means.shape == (
        len(speakers),
        config.style_matrix.n_clusters,
        config.pose_vqvae.code_dim,
    )
    assert checkpoint.style_bank.counts.sum(dim=1).min() > 0  # every training speaker filled some clusters
    assert checkpoint.audio_centroids.shape == (config.style_matrix.n_clusters, config.expression.d_model)
    mel_mean = checkpoint.models.expression.front_end.mel_mean
    expected_mean, _ = load_corpus_features(tiny_corpus).mel_statistics()
    torch.testing.assert_close(mel_mean, expected_mean)
    # the base model keeps its adapters at zero: generation with them equals generation without
    assert all(not t.any() for n, t in checkpoint.models.state_dict().items() if n.endswith("lora_B"))
    assert not state_path(tiny_checkpoint).exists()  # removed once the checkpoint is written


def assert_same_weights(a: Path, b: Path) -> None:
    first, second = load_file(a), load_file(b)
    assert first.keys() == second.keys()
    different = [k for k in first if not torch.equal(first[k], second[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


def test_a_seed_gives_identical_weights(tiny_corpus, tiny_checkpoint, tmp_path):
    torch.set_num_threads(1)
    again = train(tiny_corpus, "tiny", tmp_path / "again.safetensors", device="cpu", seed=0)
    assert_same_weights(tiny_checkpoint, again)
    other = load_file(train(tiny_corpus, "tiny", tmp_path / "other.safetensors", device="cpu", seed=1))
    reference = load_file(tiny_checkpoint)
    assert not torch.equal(other["expression.jaw_head.weight"], reference["expression.jaw_head.weight"])


def test_pose_stages_retrain_on_another_corpus_and_keep_the_expression_model_bit_for_bit(
    tiny_corpus, heldout_corpus, tiny_checkpoint, tmp_path
):
    torch.set_num_threads(1)
    out = train(
        heldout_corpus, "tiny", tmp_path / "pose.safetensors", device="cpu", seed=3, stages="pose", base=tiny_checkpoint
    )
    kept, retrained = load_file(tiny_checkpoint), load_file(out)
    expression = [k for k in kept if k.startswith("expression.")]
    assert expression and all(torch.equal(kept[k], retrained[k]) for k in expression)
    assert not torch.equal(kept["pose_vqvae.quantizer.codebook"], retrained["pose_vqvae.quantizer.codebook"])
    loaded = load_checkpoint(out)
    assert [s.name for s in loaded.pose_styles] == [s.name for s in load_corpus_features(heldout_corpus).speakers]
    assert loaded.training["pose_retrained"]["expression_from"] == tiny_checkpoint.name
    assert set(loaded.training["stages"]) == {"expression", "pose_vqvae", "pose_gpt"}
    with pytest.raises(AdaMeshError, match="--stages pose needs --from"):
        train(heldout_corpus, "tiny", tmp_path / "x.safetensors", device="cpu", stages="pose")


@pytest.mark.parametrize("stop_after", [15, 115], ids=["in-expression", "in-pose-gpt"])
def test_resume_continues_exactly_where_training_stopped(tiny_corpus, tiny_checkpoint, tmp_path, stop_after):
    torch.set_num_threads(1)
    out = tmp_path / "resumed.safetensors"
    calls = iter(range(10**6))
    assert (
        train(tiny_corpus, "tiny", out, device="cpu", seed=0, should_stop=lambda: next(calls) + 1 >= stop_after) is None
    )
    assert state_path(out).is_file() and not out.exists()
    with pytest.raises(TrainingStateError, match="another training run.*seed"):
        train(tiny_corpus, "tiny", out, device="cpu", seed=5, resume=True)
    assert train(tiny_corpus, "tiny", out, device="cpu", seed=0, resume=True) == out
    assert_same_weights(tiny_checkpoint, out)
    assert not state_path(out).exists()
    with pytest.raises(TrainingStateError, match="nothing to resume"):
        train(tiny_corpus, "tiny", out, device="cpu", seed=0, resume=True)


def test_ddp_with_two_gloo_processes_writes_one_checkpoint(tiny_corpus, tiny_checkpoint, tmp_path):
    out = tmp_path / "ddp.safetensors"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "backend",
        "train",
        "--data",
        str(tiny_corpus),
        "--preset",
        "tiny",
        "--out",
        str(out),
        "--device",
        "cpu",
        "--seed",
        "0",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("train: wrote") == 1  # process 0 alone writes and reports
    checkpoint = load_checkpoint(out)
    assert checkpoint.training["processes"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp.safetensors"]  # no stray temp or state files
    # each process drew its own windows: the result differs from the one-process run of the same seed
    single = load_file(tiny_checkpoint)
    assert not torch.equal(
        checkpoint.models.state_dict()["expression.jaw_head.weight"], single["expression.jaw_head.weight"]
    )


def test_time_budget_ends_each_stage_at_its_share(tiny_corpus, tmp_path):
    out = train(tiny_corpus, "tiny", tmp_path / "hurried.safetensors", device="cpu", seed=0, max_minutes=0.002)
    for name, summary in load_checkpoint(out).training["stages"].items():
        assert summary["stopped_by_time"] and summary["steps"] < summary["planned_steps"], name
