"""Session data for the training, generation and evaluation tests: small corpora from the real synthesiser and a
tiny checkpoint trained on one of them (a few seconds each, built once per test session)."""

from __future__ import annotations

from pathlib import Path

import pytest


def _require_espeak() -> None:
    from backend.synth.espeak import espeak_unavailable_reason

    reason = espeak_unavailable_reason()
    if reason:
        pytest.skip(f"espeak-ng is needed to synthesise the test corpus: {reason}")


def _corpus(folder: Path, split: str, seed: int, speakers: int) -> Path:
    from backend.synth.corpus import CorpusSpec, build_corpus

    _require_espeak()
    build_corpus(folder, CorpusSpec(minutes=0.3, seed=seed, speakers=speakers, split=split), workers=2)
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
def tiny_checkpoint(tmp_path_factory, tiny_corpus) -> Path:
    """The tiny preset trained on tiny_corpus with seed 0, on one CPU thread."""
    import torch

    from backend.train import train

    out = tmp_path_factory.mktemp("checkpoint") / "tiny.safetensors"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert train(tiny_corpus, "tiny", out, device="cpu", seed=0) == out
    finally:
        torch.set_num_threads(threads)
    return out
