"""Style files: what they hold, how a damaged, truncated, foreign or newer file is refused, and that applying a style
leaves the loaded checkpoint as it was."""

from __future__ import annotations

import dataclasses
import json
import struct

import numpy as np
import pytest
import torch

from backend.eyes.eye_motion import EyeStyle
from backend.inference.pose_calibration import RESPONSE_BINS, PoseCalibration, rhythm_filter
from backend.inference.style_files import (
    STYLE_FORMAT,
    Style,
    StyleError,
    apply_style,
    checkpoint_hash,
    load_style,
    save_style,
)
from backend.models.checkpoint_file import load_checkpoint
from backend.models.molora import molora_layers, molora_state_dict
from backend.models.tensor_files import read_tensors, write_tensors


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


@pytest.fixture
def style(checkpoint) -> Style:
    """A style as Adapt Style leaves it: adapters with non-zero B, style vectors, metadata."""
    generator = torch.Generator().manual_seed(0)
    adapter = {
        name: torch.randn(t.shape, generator=generator) * 0.1
        for name, t in molora_state_dict(checkpoint.models.expression).items()
    }
    return Style(
        adapter=adapter,
        expression_style=torch.randn(checkpoint.config.expression.style_dim),
        pose_style=torch.randn(checkpoint.config.pose_gpt.style_dim),
        channel_names=checkpoint.channel_names,
        checkpoint_hash=checkpoint_hash(checkpoint),
        eyes=EyeStyle(11.0, 0.25, 3.0, "reference"),
        name="test",
        reference_seconds=10.0,
        created="2026-01-01T00:00:00+00:00",
        retrieval={"method": "blend", "matches": []},
        adaptation={"steps": 5},
        pose_calibration=PoseCalibration(
            torch.tensor([2.0, 0.5, 1.5]),
            torch.tensor([0.0, 0.0, 0.1]),
            torch.rand(3, RESPONSE_BINS, generator=generator) + 0.5,
            torch.tensor([0.05, 0.03, 0.02]),
        ),
    )


def test_a_style_file_round_trips(style, checkpoint, tmp_path):
    path = tmp_path / "style.safetensors"
    save_style(path, style)
    loaded = load_style(path, checkpoint)
    assert loaded.adapter.keys() == style.adapter.keys()
    for name, tensor in style.adapter.items():
        assert torch.equal(loaded.adapter[name], tensor)
    assert torch.equal(loaded.pose_style, style.pose_style) and torch.equal(
        loaded.expression_style, style.expression_style
    )
    for part in ("gain", "offset", "response", "spread"):
        assert torch.equal(getattr(loaded.pose_calibration, part), getattr(style.pose_calibration, part))
    assert dataclasses.replace(
        loaded, adapter={}, pose_style=None, expression_style=None, pose_calibration=None
    ) == dataclasses.replace(style, adapter={}, pose_style=None, expression_style=None, pose_calibration=None)
    assert not list(tmp_path.glob(".*.tmp"))


def test_applying_a_style_leaves_the_checkpoint_untouched(style, checkpoint):
    before = checkpoint_hash(checkpoint)
    styled, expression, pose = apply_style(checkpoint, style, expression_strength=1.5, pose_strength=0.5)
    assert checkpoint_hash(checkpoint) == before
    assert all(layer.scale == 1.5 for layer in molora_layers(styled.models.expression))
    assert all(layer.scale == 1.0 for layer in molora_layers(checkpoint.models.expression))
    torch.testing.assert_close(expression[0], 1.5 * style.expression_style)
    default = checkpoint.models.pose_gpt.style_embedding.weight.mean(0)  # the even blend of the training styles
    torch.testing.assert_close(pose[0], default + 0.5 * (style.pose_style - default))


def test_a_format_1_style_reads_as_uncalibrated(style, checkpoint, tmp_path):
    path = tmp_path / "old.safetensors"
    save_style(path, style)
    tensors, metadata = read_tensors(path, "style file", StyleError)
    del tensors["pose_gain"], tensors["pose_offset"], tensors["pose_response"]
    write_tensors(path, tensors, metadata | {"format": "adamesh-style/1"})
    loaded = load_style(path, checkpoint)
    assert torch.equal(loaded.pose_calibration.gain, torch.ones(3))
    assert torch.equal(loaded.pose_calibration.offset, torch.zeros(3))
    assert torch.equal(loaded.pose_calibration.response, torch.ones(3, RESPONSE_BINS))


def test_a_format_2_style_reads_without_the_clip_factor(style, checkpoint, tmp_path):
    path = tmp_path / "old.safetensors"
    save_style(path, style)
    tensors, metadata = read_tensors(path, "style file", StyleError)
    del tensors["pose_spread"]
    write_tensors(path, tensors, metadata | {"format": "adamesh-style/2"})
    loaded = load_style(path, checkpoint).pose_calibration
    assert loaded.spread is None and torch.equal(loaded.gain, style.pose_calibration.gain)
    head = np.radians(np.random.default_rng(0).standard_normal((300, 3)))  # generated as before format 3:
    before = rhythm_filter(head, 25.0, loaded.response.double().numpy()) * loaded.gain.numpy() + loaded.offset.numpy()
    np.testing.assert_allclose(loaded.apply(head, 25.0), before, atol=1e-6)
    assert not np.allclose(style.pose_calibration.apply(head, 25.0), before, atol=1e-3)  # the clip factor acts


def test_a_damaged_pose_spread_is_named(style, checkpoint, tmp_path):
    path = tmp_path / "style.safetensors"
    save_style(
        path,
        dataclasses.replace(style, pose_calibration=dataclasses.replace(style.pose_calibration, spread=torch.ones(2))),
    )
    with pytest.raises(StyleError, match="pose calibration of shapes"):
        load_style(path, checkpoint)


def test_a_damaged_header_is_named(style, tmp_path):
    path = tmp_path / "style.safetensors"
    save_style(path, style)
    data = bytearray(path.read_bytes())
    data[10:30] = b"\xff" * 20  # inside the JSON header
    path.write_bytes(bytes(data))
    with pytest.raises(StyleError, match="damaged header"):
        load_style(path)


def test_a_truncated_file_is_named(style, tmp_path):
    path = tmp_path / "style.safetensors"
    save_style(path, style)
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(StyleError, match=r"truncated \(\d+ bytes\).*style file was not completely written"):
        load_style(path)


def test_a_style_for_another_checkpoint_names_both(style, checkpoint, tmp_path):
    path = tmp_path / "style.safetensors"
    save_style(path, dataclasses.replace(style, checkpoint_hash="ab" * 32))
    own = checkpoint_hash(checkpoint)
    with pytest.raises(StyleError, match=f"adapted on checkpoint {'ab' * 8}.*in use is tiny.safetensors \\({own[:16]}"):
        load_style(path, checkpoint)
    load_style(path)  # without a checkpoint to compare, the file itself is fine


def test_a_newer_or_foreign_format_is_refused(style, tmp_path, tiny_checkpoint):
    path = tmp_path / "style.safetensors"
    save_style(path, style)
    data = path.read_bytes()
    header_length = struct.unpack("<Q", data[:8])[0]
    header = data[8 : 8 + header_length]
    assert json.loads(header)["__metadata__"]["format"] == STYLE_FORMAT
    newer = header.replace(b'"adamesh-style/3"', b'"adamesh-style/4"')  # same length: the offsets stay valid
    path.write_bytes(data[:8] + newer + data[8 + header_length :])
    with pytest.raises(StyleError, match="newer AdaMesh.*update the AdaMesh add-on"):
        load_style(path)
    with pytest.raises(StyleError, match="not an AdaMesh style file"):
        load_style(tiny_checkpoint)  # a checkpoint is a safetensors file too


def test_strengths_outside_their_range_are_refused(style, checkpoint):
    for strength in (-0.1, 3.5, float("nan")):
        with pytest.raises(StyleError, match="strength must lie in"):
            apply_style(checkpoint, style, expression_strength=strength)
