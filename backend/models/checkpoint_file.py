"""Checkpoints: one safetensors file holding the trained models, the pose-style bank and what they mean.

Tensors: the models' state dict (`expression.*`, `pose_vqvae.*`, `pose_gpt.*`; the mel statistics are the buffers
`expression.front_end.mel_mean` / `mel_std`), and the style bank (`style_bank.means` [S, K, D], `style_bank.counts`
[S, K], `style_bank.audio_centroids` [K, F]). Metadata (strings): `format` ("adamesh-checkpoint/1"), `config`
(ModelConfig JSON), `channel_names`, `fps`, `pose_styles` ([{name, kind}], one per style-bank row and PoseGPT style
embedding), `corpus_hash` (SHA-256 of the training corpus's index.json) and `training` (preset, seed, steps, losses).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from backend.core.errors import AdaMeshError
from backend.core.format_tags import check_format_tag
from backend.models.adamesh import AdaMeshModels
from backend.models.config import ModelConfig
from backend.models.style_matrix import PoseStyleMatrix
from backend.models.tensor_files import read_tensors, write_tensors

CHECKPOINT_FORMAT = "adamesh-checkpoint/1"
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "starter.safetensors"
_BANK_PREFIX = "style_bank."


class CheckpointError(AdaMeshError):
    """A checkpoint file is missing, damaged, from a newer AdaMesh, or not a checkpoint at all."""

    code = "bad_checkpoint"


@dataclass(frozen=True)
class PoseStyleEntry:
    name: str  # the training speaker (or style) it was learnt from
    kind: str  # its kind of head motion, e.g. "nodder" (synthetic corpus) or "unknown"


@dataclass
class Checkpoint:
    models: AdaMeshModels
    channel_names: tuple[str, ...]  # the expression head's channels, in order
    pose_styles: tuple[PoseStyleEntry, ...]
    style_bank: PoseStyleMatrix  # one semantic-aware pose style matrix per entry of pose_styles
    audio_centroids: torch.Tensor  # [K, F] k-means centroids of the code-rate audio features
    corpus_hash: str
    training: dict = field(default_factory=dict)
    fps: float = 25.0  # the models' frame rate
    name: str = ""  # the file it was loaded from (its name only), for messages

    @property
    def config(self) -> ModelConfig:
        return self.models.config


def save_checkpoint(path: str | Path, checkpoint: Checkpoint) -> None:
    """Write the checkpoint atomically (a temp file beside `path`, then renamed)."""
    tensors = dict(checkpoint.models.state_dict())
    tensors |= {
        f"{_BANK_PREFIX}means": checkpoint.style_bank.means,
        f"{_BANK_PREFIX}counts": checkpoint.style_bank.counts,
        f"{_BANK_PREFIX}audio_centroids": checkpoint.audio_centroids,
    }
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "config": checkpoint.config.to_json(),
        "channel_names": json.dumps(checkpoint.channel_names),
        "fps": repr(float(checkpoint.fps)),
        "pose_styles": json.dumps([{"name": s.name, "kind": s.kind} for s in checkpoint.pose_styles]),
        "corpus_hash": checkpoint.corpus_hash,
        "training": json.dumps(checkpoint.training, sort_keys=True),
    }
    write_tensors(Path(path), tensors, metadata)


def resolve_checkpoint(path: str | Path | None) -> Path:
    """The named checkpoint, or the starter shipped with the backend when none is named."""
    if path is not None:
        return Path(path)
    if not DEFAULT_CHECKPOINT.is_file():
        raise CheckpointError(
            f"no checkpoint was named and the starter checkpoint {DEFAULT_CHECKPOINT} is not "
            "installed; name one (--checkpoint FILE, or the Checkpoint setting in the add-on's preferences), or "
            "reinstall AdaMesh, which ships it"
        )
    return DEFAULT_CHECKPOINT


def load_checkpoint(path: str | Path | None = None, device: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint (the starter when `path` is None) onto `device`, in eval mode."""
    path = resolve_checkpoint(path)
    tensors, metadata = read_tensors(path, "checkpoint", CheckpointError)
    check_format_tag(
        path, metadata.get("format"), CHECKPOINT_FORMAT, "checkpoint", "`python -m backend train`", CheckpointError
    )
    try:
        config = ModelConfig.from_json(metadata["config"])
        channel_names = tuple(json.loads(metadata["channel_names"]))
        pose_styles = tuple(PoseStyleEntry(s["name"], s["kind"]) for s in json.loads(metadata["pose_styles"]))
        fps = float(metadata["fps"])
        training = json.loads(metadata.get("training", "{}"))
        bank = PoseStyleMatrix(tensors.pop(f"{_BANK_PREFIX}means"), tensors.pop(f"{_BANK_PREFIX}counts"))
        centroids = tensors.pop(f"{_BANK_PREFIX}audio_centroids")
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: its metadata or style bank is incomplete or damaged ({error!r})") from None
    except AdaMeshError as error:
        raise CheckpointError(f"{path}: {error}") from None
    models = AdaMeshModels(config)
    try:
        models.load_state_dict(tensors)
    except RuntimeError as error:
        first_line = str(error).splitlines()[1].strip() if len(str(error).splitlines()) > 1 else str(error)
        raise CheckpointError(f"{path}: its weights do not fit its own model config ({first_line})") from None
    if (
        len(channel_names) != config.expression.n_expression
        or len(pose_styles) != len(bank.means)
        or len(pose_styles) != config.pose_gpt.n_styles
    ):
        raise CheckpointError(
            f"{path}: channel names or pose styles disagree with the model's sizes; the file is damaged"
        )
    return Checkpoint(
        models.to(device).eval(),
        channel_names,
        pose_styles,
        PoseStyleMatrix(bank.means.to(device), bank.counts.to(device)),
        centroids.to(device),
        metadata.get("corpus_hash", ""),
        training,
        fps,
        path.name,
    )
