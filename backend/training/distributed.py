"""One training process or many under torchrun (DDP): who we are, which device, and agreeing across processes.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them training runs as a single process. CPU processes talk
over gloo, CUDA ones over nccl (one GPU per process, by LOCAL_RANK).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from backend.models.devices import resolve_device


@dataclass(frozen=True)
class Processes:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """The process that writes files and shows progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def agree_max(self, values: list[float]) -> list[float]:
        """The element-wise maximum over processes (e.g. [elapsed share, stop requested])."""
        if not self.distributed:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return tensor.tolist()

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def start_processes(device_name: str, threads: int | None = None) -> Processes:
    """Join the process group when launched by torchrun; a single process otherwise. `threads`: CPU threads per
    process (None: torch's default alone, the machine's cores shared out under torchrun)."""
    device = resolve_device(device_name)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if threads is not None:
        torch.set_num_threads(threads)
    if world_size == 1:
        return Processes(0, 1, device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    elif threads is None:
        # the machine's cores shared between its processes: more threads than cores only contend
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world_size))))
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world_size)
    return Processes(rank, world_size, device)
