"""Checkpoint files: an exact round trip, and a specific error for each way a file can be wrong."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from backend.core.channels import CHANNELS
from backend.models import checkpoint_file as checkpoints
from backend.models.adamesh import AdaMeshModels
from backend.models.checkpoint_file import Checkpoint, CheckpointError, PoseStyleEntry, load_checkpoint, save_checkpoint
from backend.models.config import ModelConfig
from backend.models.style_matrix import PoseStyleMatrix


def tiny_checkpoint_object(seed: int = 0) -> Checkpoint:
    torch.manual_seed(seed)
    config = ModelConfig.tiny()
    k, styles = config.style_matrix.n_clusters, config.pose_gpt.n_styles
    bank = PoseStyleMatrix(torch.randn(styles, k, config.pose_vqvae.code_dim), torch.rand(styles, k).round() * 5)
    return Checkpoint(
        AdaMeshModels(config).eval(),
        CHANNELS,
        tuple(PoseStyleEntry(f"s{i}", kind) for i, kind in enumerate(["still", "nodder", "tilter"])),
        bank,
        torch.randn(k, config.expression.d_model),
        "abc123",
        {"preset": "tiny", "seed": seed},
    )


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, tiny_checkpoint_object())
    return path


def test_round_trip_is_exact(saved):
    original = tiny_checkpoint_object()
    loaded = load_checkpoint(saved)
    assert loaded.config == original.config
    assert loaded.channel_names == CHANNELS and loaded.fps == 25.0
    assert loaded.pose_styles == original.pose_styles
    assert loaded.corpus_hash == "abc123" and loaded.training == {"preset": "tiny", "seed": 0}
    for name, tensor in original.models.state_dict().items():
        assert torch.equal(loaded.models.state_dict()[name], tensor), name
    assert torch.equal(loaded.style_bank.means, original.style_bank.means)
    assert torch.equal(loaded.style_bank.counts, original.style_bank.counts)
    assert torch.equal(loaded.audio_centroids, original.audio_centroids)
    assert not loaded.models.training
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]  # the atomic write left no temp file


def rewrite(path, tensors=None, **metadata_changes):
    """The checkpoint at `path` saved again with some metadata changed (None deletes a key)."""
    from safetensors import safe_open

    with safe_open(path, "pt") as f:
        metadata = f.metadata()
    metadata = {k: v for k, v in {**metadata, **metadata_changes}.items() if v is not None}
    save_file(tensors if tensors is not None else load_file(path), path, metadata)


def test_missing_empty_truncated_and_foreign_files(saved, tmp_path):
    with pytest.raises(CheckpointError, match=r"checkpoint .*nope\.safetensors does not exist"):
        load_checkpoint(tmp_path / "nope.safetensors")
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="is empty"):
        load_checkpoint(empty)
    data = saved.read_bytes()
    for cut in (len(data) - 1000, 100, 12):
        truncated = tmp_path / f"cut{cut}.safetensors"
        truncated.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="is truncated .*complete copy"):
            load_checkpoint(truncated)
    clip = tmp_path / "clip.npz"
    np.savez(clip, a=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a checkpoint .*not a safetensors file"):
        load_checkpoint(clip)
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(data[:8] + b"{" + b"\xff" * 40 + data[49:])
    with pytest.raises(CheckpointError, match="damaged header"):
        load_checkpoint(damaged)


def test_other_formats_are_refused_with_the_reason(saved):
    rewrite(saved, format="adamesh-checkpoint/2")
    with pytest.raises(
        CheckpointError, match="made by a newer AdaMesh than this backend reads.*update the AdaMesh add-on"
    ):
        load_checkpoint(saved)
    rewrite(saved, format="adamesh-style/1")
    with pytest.raises(CheckpointError, match="not an AdaMesh checkpoint \\(it holds 'adamesh-style/1'\\)"):
        load_checkpoint(saved)
    rewrite(saved, format=None)
    with pytest.raises(CheckpointError, match="has no AdaMesh format tag"):
        load_checkpoint(saved)


def test_inconsistent_contents_are_refused(saved):
    rewrite(
        saved,
        format="adamesh-checkpoint/1",
        config=ModelConfig.tiny().with_overrides({"expression": {"d_model": 48, "n_heads": 2}}).to_json(),
    )
    with pytest.raises(CheckpointError, match="weights do not fit its own model config"):
        load_checkpoint(saved)
    rewrite(saved, config=ModelConfig.tiny().to_json(), pose_styles=json.dumps([{"name": "a", "kind": "still"}]))
    with pytest.raises(CheckpointError, match="pose styles disagree"):
        load_checkpoint(saved)
    tensors = load_file(saved)
    del tensors["style_bank.means"]
    rewrite(saved, tensors=tensors)
    with pytest.raises(CheckpointError, match="metadata or style bank is incomplete"):
        load_checkpoint(saved)


def test_no_checkpoint_named_and_no_starter_installed(monkeypatch, tmp_path):
    monkeypatch.setattr(checkpoints, "DEFAULT_CHECKPOINT", tmp_path / "starter.safetensors")
    with pytest.raises(
        CheckpointError,
        match=r"starter checkpoint .* is not installed; name one \(--checkpoint FILE, or the Checkpoint setting",
    ):
        load_checkpoint(None)
