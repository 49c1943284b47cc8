"""The optimisation loop every stage shares: AdamW, warm-up + cosine schedule, DDP, time budget, saves, progress bar.

Every step draws its batch from a generator seeded by (seed, stage, step, rank) and reseeds torch from the same,
so a run is a function of its seed (on CPU), and resuming from a saved state continues bit for bit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from backend.training.distributed import Processes
from backend.training.settings import StageSettings
from backend.training.state import TrainingProgress

_FINAL_LR_SHARE = 0.05  # cosine decay ends at this share of the peak rate
_SUMMARY_STEPS = 20  # losses averaged over this many first and last steps for the checkpoint's summary


class Stage(Protocol):
    module: nn.Module

    def step(self, module: nn.Module, rng: np.random.Generator, batch: int) -> tuple[Tensor, dict[str, float]]:
        """Draw a batch from `rng` and return the loss through `module` (the stage's module, maybe DDP-wrapped)."""


@dataclass(frozen=True)
class LoopOptions:
    seed: int
    weight_decay: float
    grad_clip: float
    save_every_s: float
    budget_s: float | None  # the stage's share of --max-minutes; None: steps alone decide


def step_generators(seed: int, stage_index: int, step: int, rank: int) -> np.random.Generator:
    """The step's numpy generator; torch's global generator is reseeded from the same entropy (dropout, VQ
    restarts)."""
    sequence = np.random.SeedSequence([seed, stage_index, step, rank])
    torch.manual_seed(int(sequence.generate_state(1, np.uint64)[0] >> np.uint64(1)))
    return np.random.default_rng(sequence)


def learning_rate(settings: StageSettings, step: int, done: float) -> float:
    """Linear warm-up over the first steps, then cosine decay by `done` (share of the stage behind us)."""
    warmup = min(settings.warmup_steps, settings.steps // 5)
    if step < warmup:
        return settings.lr * (step + 1) / warmup
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(done, 1.0)))
    return settings.lr * (_FINAL_LR_SHARE + (1.0 - _FINAL_LR_SHARE) * cosine)


def run_stage(
    stage: Stage,
    name: str,
    index: int,
    settings: StageSettings,
    options: LoopOptions,
    processes: Processes,
    progress: TrainingProgress,
    optimizer_state: dict | None,
    save: Callable[[torch.optim.Optimizer], None],
    should_stop: Callable[[], bool],
) -> bool:
    """Train `stage` from progress.step; True when the stage finished (steps or time), False when stopped early
    (then the state was saved for --resume)."""
    from tqdm import tqdm

    parameters = [p for p in stage.module.parameters() if p.requires_grad]
    module = DistributedDataParallel(stage.module) if processes.distributed else stage.module
    module.train()
    optimizer = torch.optim.AdamW(parameters, lr=settings.lr, weight_decay=options.weight_decay)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    per_process = math.ceil(settings.batch / processes.world_size)
    started = time.monotonic() - progress.seconds.get(name, 0.0)
    last_save = time.monotonic()
    time_share = 0.0
    bar = tqdm(
        total=settings.steps,
        initial=progress.step,
        desc=name,
        unit="step",
        disable=not processes.is_main,
        dynamic_ncols=True,
    )
    while progress.step < settings.steps:
        rng = step_generators(options.seed, index, progress.step, processes.rank)
        lr = learning_rate(settings, progress.step, max(progress.step / settings.steps, time_share))
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss, parts = stage.step(module, rng, per_process)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, options.grad_clip)
        optimizer.step()
        progress.step += 1
        progress.losses.append(round(loss.item(), 6))
        elapsed = time.monotonic() - started
        progress.seconds[name] = elapsed
        time_share, stop = processes.agree_max(
            [elapsed / options.budget_s if options.budget_s else 0.0, float(should_stop())]
        )
        bar.update(1)
        bar.set_postfix_str(_postfix(progress, parts, lr, elapsed, settings.steps, options.budget_s), refresh=False)
        if stop:
            if processes.is_main:
                save(optimizer)
            bar.close()
            return False
        if time_share >= 1.0:
            break
        if processes.is_main and time.monotonic() - last_save >= options.save_every_s:
            save(optimizer)
            last_save = time.monotonic()
    bar.close()
    losses = progress.losses
    progress.summaries[name] = {
        "steps": progress.step,
        "planned_steps": settings.steps,
        "minutes": round(progress.seconds[name] / 60, 2),
        "stopped_by_time": progress.step < settings.steps,
        "loss_first": float(np.mean(losses[:_SUMMARY_STEPS])),
        "loss_last": float(np.mean(losses[-_SUMMARY_STEPS:])),
    }
    return True


def _postfix(
    progress: TrainingProgress, parts: dict[str, float], lr: float, elapsed: float, steps: int, budget_s: float | None
) -> str:
    recent = float(np.mean(progress.losses[-20:]))
    rate = elapsed / max(progress.step, 1)
    left = (steps - progress.step) * rate
    if budget_s:
        left = min(left, budget_s - elapsed)
    details = " ".join(f"{k}={v:.3g}" for k, v in parts.items())
    return f"loss={recent:.4g} {details} lr={lr:.2g} left={_clock(left)}"


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
