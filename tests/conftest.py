"""Shared test settings."""

import pytest


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
