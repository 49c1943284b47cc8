"""The training state beside a checkpoint being trained, for `--resume`: one safetensors file, no pickle.

Tensors: every model weight and buffer ("model.*") and the running stage's AdamW moments ("optimizer.<param>.<key>");
metadata: where training stands (stage, step, seconds spent per stage, finished stages' summaries), the optimiser's
parameter groups, and the identity of the run (preset, seed, corpus), which a resume must match. Batches are a
function of (seed, stage, step, rank), so these are all a resumed run needs to continue exactly where it stopped.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from backend.core.errors import AdaMeshError
from backend.models.tensor_files import read_tensors, write_tensors

STATE_FORMAT = "adamesh-train-state/1"


class TrainingStateError(AdaMeshError):
    """The training state cannot be used to resume (missing, damaged, or from another run)."""

    code = "bad_training_state"


@dataclass
class TrainingProgress:
    stage: int = 0  # index of the running stage in STAGES; len(STAGES) once all are trained
    step: int = 0  # steps done in the running stage
    seconds: dict[str, float] = field(default_factory=dict)  # wall time spent per stage
    losses: list[float] = field(default_factory=list)  # the running stage's loss at each step
    summaries: dict[str, dict] = field(default_factory=dict)  # finished stages: steps, minutes, losses


def state_path(checkpoint: Path) -> Path:
    """starter.safetensors -> starter.train-state.safetensors, in the same folder."""
    return checkpoint.with_name(checkpoint.name.removesuffix(".safetensors") + ".train-state.safetensors")


def save_state(
    path: Path, models: nn.Module, optimizer: torch.optim.Optimizer | None, progress: TrainingProgress, identity: dict
) -> None:
    tensors = {f"model.{name}": t for name, t in models.state_dict().items()}
    groups: list = []
    if optimizer is not None:
        optimizer_state = optimizer.state_dict()
        for param, values in optimizer_state["state"].items():
            tensors |= {f"optimizer.{param}.{key}": value for key, value in values.items()}
        groups = optimizer_state["param_groups"]
    write_tensors(
        path,
        tensors,
        {
            "format": STATE_FORMAT,
            "identity": json.dumps(identity, sort_keys=True),
            "progress": json.dumps(asdict(progress)),
            "optimizer_groups": json.dumps(groups),
        },
    )


def load_state(path: Path, models: nn.Module, identity: dict) -> tuple[TrainingProgress, dict | None]:
    """Load the weights into `models`; return the progress and the optimiser state dict (None between stages)."""
    if not path.is_file():
        raise TrainingStateError(
            f"nothing to resume: no training state {path} (it is removed once training ends); "
            "train without --resume to start afresh"
        )
    tensors, metadata = read_tensors(path, "training state", TrainingStateError)
    if metadata.get("format") != STATE_FORMAT:
        raise TrainingStateError(f"{path} is not an AdaMesh training state (format {metadata.get('format')!r})")
    saved = json.loads(metadata["identity"])
    differs = sorted(key for key in set(saved) | set(identity) if saved.get(key) != identity.get(key))
    if differs:
        raise TrainingStateError(
            f"{path} belongs to another training run ({', '.join(differs)} differ); train with "
            "the same data, preset and seed, or delete it to start afresh"
        )
    models.load_state_dict({name[6:]: t for name, t in tensors.items() if name.startswith("model.")})
    progress = TrainingProgress(**json.loads(metadata["progress"]))
    groups = json.loads(metadata["optimizer_groups"])
    if not groups:
        return progress, None
    state: dict[int, dict] = {}
    for name, t in tensors.items():
        if name.startswith("optimizer."):
            _, param, key = name.split(".", 2)
            state.setdefault(int(param), {})[key] = t
    for group in groups:
        group["betas"] = tuple(group["betas"])
    return progress, {"state": state, "param_groups": groups}
