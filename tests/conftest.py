"""Shared test settings, and session data for the tests that run the models (backend, worker, Blender): small
corpora from the real synthesiser and a tiny checkpoint trained on one of them (a few seconds each, built once
per test session, only when a test asks for them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import repository_only


def pytest_configure(config) -> None:
    repository_only.install()


@pytest.fixture(autouse=True)
def single_torch_thread():
    """One intra-op thread: on 2 shared cores, two OpenMP threads on small ops stall each other (measured: 120
    tiny VQ-VAE steps 1.5 s on 1 thread, 12-26 s on 2 under load). Only applied when torch is already imported,
    so tests of the torch-free modules stay torch-free."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _require_espeak() -> None:
    from backend.synth.espeak import espeak_unavailable_reason

    reason = espeak_unavailable_reason()
    if reason:
        pytest.skip(f"espeak-ng is needed to synthesise the test corpus: {reason}")


def _corpus(folder: Path, split: str, seed: int, speakers: int) -> Path:
    from backend.synth.corpus import CorpusSpec, build_corpus

    _require_espeak()
    # in this process: the corpus is the same whatever the workers, and a spawned process cannot start once the
    # bpy module is imported (its interpreter is not a plain Python: on bpy 4.5 the pool's workers never start)
    build_corpus(folder, CorpusSpec(minutes=0.3, seed=seed, speakers=speakers, split=split), workers=1)
    return folder


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """About a minute of synthetic speech (espeak and Festival voices) by 3 training speakers."""
    return _corpus(tmp_path_factory.mktemp("corpus") / "train", "train", seed=1, speakers=3)


@pytest.fixture(scope="session")
def heldout_corpus(tmp_path_factory) -> Path:
    """Held-out voices and sentences (`--split test`) by 2 speakers."""
    return _corpus(tmp_path_factory.mktemp("corpus") / "test", "test", seed=2, speakers=2)


@pytest.fixture(scope="session")
def heldout_speech(heldout_corpus) -> tuple[Path, float]:
    """The held-out corpus's first utterance: (audio file, duration in seconds)."""
    entry = json.loads((heldout_corpus / "index.json").read_text())["utterances"][0]
    return heldout_corpus / entry["audio"], float(entry["duration"])


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tiny_corpus) -> Path:
    """The tiny preset trained on tiny_corpus with seed 0, on one CPU thread."""
    import torch

    from backend.training.train import train

    out = tmp_path_factory.mktemp("checkpoint") / "tiny.safetensors"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert train(tiny_corpus, "tiny", out, device="cpu", seed=0) == out
    finally:
        torch.set_num_threads(threads)
    return out
