"""Reliability, style and checkpoint files handed to Generate Animation through a real worker: empty, corrupt,
truncated, a style from another checkpoint, a file of a newer format, a pickle posing as weights. Each is a
bad_style or bad_checkpoint error naming the file and what to do; no clip is written and the worker serves on."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import pytest

from adamesh_blender.client import BackendError
from backend.inference.style_files import load_style
from backend.models.checkpoint_file import DEFAULT_CHECKPOINT

from .conftest import CodeOnLoad, adapt_request, assert_nothing_left, generate_request


@pytest.fixture(scope="module")
def tiny_style(module_worker, tiny_checkpoint, reference, tmp_path_factory) -> Path:
    """A style really adapted (2 steps) on the tiny checkpoint by the worker."""
    audio, motion = reference
    out = tmp_path_factory.mktemp("style") / "narrator.safetensors"
    module_worker.request(
        *adapt_request(audio=str(audio), motion=str(motion), out=str(out), checkpoint=str(tiny_checkpoint), steps=2),
        timeout=120,
    )
    return out


@pytest.fixture(scope="module")
def speech_file(heldout_speech) -> Path:
    return heldout_speech[0]


def with_format(source: Path, target: Path, old: bytes, new: bytes) -> Path:
    """A copy of a safetensors file whose metadata's format tag reads `new` (same length: offsets stay valid)."""
    data = source.read_bytes()
    length = struct.unpack("<Q", data[:8])[0]
    header = data[8 : 8 + length]
    assert old in header and len(old) == len(new)
    target.write_bytes(data[:8] + header.replace(old, new) + data[8 + length :])
    return target


def _truncated(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    return target


def _pickled_weights(target: Path) -> Path:
    target.write_bytes(pickle.dumps({"weights": CodeOnLoad(target.with_name("pwned"))}))
    return target


def _write(data: bytes):
    def make(target: Path) -> Path:
        target.write_bytes(data)
        return target

    return make


# name -> (maker(folder, tiny style, tiny checkpoint) -> file, words of the message)
BAD_STYLES = {
    "empty.safetensors": (lambda f, s, c: _write(b"")(f / "empty.safetensors"), "is empty; it is not a style file"),
    "corrupt.safetensors": (
        lambda f, s, c: _write(b"\x00\xff" * 5000)(f / "corrupt.safetensors"),
        "is not a style file (not a safetensors file)",
    ),
    "truncated.safetensors": (
        lambda f, s, c: _truncated(s, f / "truncated.safetensors"),
        "the style file was not completely written or copied; replace it with a complete copy",
    ),
    "newer.safetensors": (
        lambda f, s, c: with_format(s, f / "newer.safetensors", b"adamesh-style/3", b"adamesh-style/9"),
        "made by a newer AdaMesh than this backend reads (adamesh-style/3); update the AdaMesh add-on",
    ),
    "tiny.safetensors": (lambda f, s, c: c, "is not an AdaMesh style file (it holds 'adamesh-checkpoint/1')"),
    "pickle.safetensors": (lambda f, s, c: _pickled_weights(f / "pickle.safetensors"), "is not a style file"),
}


@pytest.mark.parametrize("name", list(BAD_STYLES))
def test_a_bad_style_file_is_named_with_what_to_do(
    module_worker, worker_temp_dir, tiny_checkpoint, tiny_style, speech_file, tmp_path, name
):
    maker, words = BAD_STYLES[name]
    style = maker(tmp_path, tiny_style, tiny_checkpoint)
    error = _refused(
        module_worker,
        worker_temp_dir,
        tmp_path,
        audio=str(speech_file),
        style=str(style),
        checkpoint=str(tiny_checkpoint),
    )
    assert error.code == "bad_style" and words in str(error) and name in str(error), str(error)
    assert not (tmp_path / "pwned").exists()


def test_a_style_from_another_checkpoint_names_both(
    module_worker, worker_temp_dir, tiny_checkpoint, tiny_style, speech_file, tmp_path
):
    style = load_style(tiny_style)
    assert style.checkpoint_name == "tiny.safetensors"  # Adapt Style recorded which checkpoint it adapted
    error = _refused(module_worker, worker_temp_dir, tmp_path, audio=str(speech_file), style=str(tiny_style))
    assert error.code == "bad_style"
    assert (
        f"narrator.safetensors was adapted on checkpoint tiny.safetensors ({style.checkpoint_hash[:16]}...), "
        f"but the checkpoint in use is {DEFAULT_CHECKPOINT.name} ("
    ) in str(error)
    assert "generate with the checkpoint it was made for, or adapt the style again with this one" in str(error)
    # with its own checkpoint the same file works
    out = tmp_path / "styled.npz"
    module_worker.request(
        *generate_request(
            audio=str(speech_file), out=str(out), fps=25.0, checkpoint=str(tiny_checkpoint), style=str(tiny_style)
        ),
        timeout=120,
    )
    assert out.is_file()


BAD_CHECKPOINTS = {
    "empty.safetensors": (lambda f, c: _write(b"")(f / "empty.safetensors"), "is empty; it is not a checkpoint"),
    "corrupt.safetensors": (
        lambda f, c: _write(json.dumps({"weights": 1}).encode())(f / "corrupt.safetensors"),
        "is not a checkpoint (not a safetensors file)",
    ),
    "truncated.safetensors": (
        lambda f, c: _truncated(c, f / "truncated.safetensors"),
        "the checkpoint was not completely written or copied; replace it with a complete copy",
    ),
    "newer.safetensors": (
        lambda f, c: with_format(c, f / "newer.safetensors", b"adamesh-checkpoint/1", b"adamesh-checkpoint/7"),
        "made by a newer AdaMesh than this backend reads (adamesh-checkpoint/1); update the AdaMesh add-on",
    ),
    "model.pt": (lambda f, c: _pickled_weights(f / "model.pt"), "is not a checkpoint (not a safetensors file)"),
    "missing.safetensors": (lambda f, c: f / "missing.safetensors", "missing.safetensors does not exist"),
}


@pytest.mark.parametrize("name", list(BAD_CHECKPOINTS))
def test_a_bad_checkpoint_is_named_with_what_to_do(
    module_worker, worker_temp_dir, tiny_checkpoint, speech_file, tmp_path, name
):
    maker, words = BAD_CHECKPOINTS[name]
    checkpoint = maker(tmp_path, tiny_checkpoint)
    error = _refused(module_worker, worker_temp_dir, tmp_path, audio=str(speech_file), checkpoint=str(checkpoint))
    assert error.code == "bad_checkpoint" and words in str(error) and name in str(error), str(error)
    assert not (tmp_path / "pwned").exists()
    assert module_worker.request("ping")["jobs"] == []  # the worker serves on


def _refused(worker, temp_dir: Path, folder: Path, **fields) -> BackendError:
    before = {p.name for p in folder.iterdir()}
    with pytest.raises(BackendError) as caught:
        worker.request(*generate_request(out=str(folder / "clip.npz"), fps=25.0, **fields), timeout=120)
    assert caught.value.traceback is None
    assert_nothing_left(worker, temp_dir, folder, before)
    return caught.value
