"""Which torch device adaptation and generation run on: auto (CUDA, else Apple's MPS, else CPU), cpu, cuda or mps.

Results agree across devices within float32 rounding, not bit for bit: GPU kernels sum in another order. Measured
on CPU only (this machine has no GPU); the tolerance the tests state for "auto" against "cpu" is 1e-4 on channel
values, far below what a shape key shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.core.errors import AdaMeshError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
DEVICE_TOLERANCE = 1e-4  # largest difference in channel values between devices that counts as the same result


def mps_available() -> bool:
    import torch

    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def select_device(name: str) -> torch.device:
    """The device for `name`; a clear error when the asked-for one is not there. (Torch is imported here, not with
    the module, so the command line can list DEVICES without loading it.)"""
    import torch

    if name not in DEVICES:
        raise AdaMeshError(f"unknown device {name!r}; use one of {', '.join(DEVICES)}")
    if name == "mps" or (name == "auto" and not torch.cuda.is_available() and mps_available()):
        if not mps_available():
            raise AdaMeshError("--device mps was asked for, but PyTorch sees no Apple GPU (MPS); use --device cpu")
        return torch.device("mps")
    return resolve_device(name)


def resolve_device(name: str) -> torch.device:
    """ "auto" -> CUDA when present, else CPU; "cpu" / "cuda" as asked (a clear error when CUDA is missing). Training
    uses this one (it has no MPS path: DDP and some of its kernels need CUDA or the CPU)."""
    import torch

    if name not in ("auto", "cpu", "cuda"):
        raise AdaMeshError(f"unknown device {name!r}; use auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise AdaMeshError("--device cuda was asked for, but PyTorch sees no CUDA GPU; use --device cpu")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)
