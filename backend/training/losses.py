"""Training losses of the three stages."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from backend.core.lip_gap import JAW_GAP_MM_PER_RAD, LIP_GAP_MM
from backend.models.expression import ExpressionOutput
from backend.models.pose_vqvae import VQVAEOutput
from backend.training.batches import ExpressionBatch

# Jaw error in the units of the channels: 1 rad moves the lips 80 mm, a channel at weight 1 at most ~25 mm.
JAW_WEIGHT = JAW_GAP_MM_PER_RAD / -LIP_GAP_MM["mouthClose"]
LIP_GAP_UNIT_MM = 10.0  # the lip-gap term in cm: errors of a few mm weigh like channel errors of a few tenths


class LipSeparation:
    """The lip-gap contract (backend/synth/articulation.py) in torch: lip separation in mm before contact."""

    def __init__(self, channels: Sequence[str]):
        self.weights = torch.tensor([LIP_GAP_MM.get(name, 0.0) for name in channels])

    def __call__(self, expression: Tensor, jaw: Tensor) -> Tensor:
        """[..., C], [..., 3] -> [...] mm; the visible gap is its positive part."""
        return JAW_GAP_MM_PER_RAD * torch.sin(jaw[..., 0]) + expression @ self.weights.to(expression)


def lip_gap_error(predicted_separation: Tensor, target_gap: Tensor) -> Tensor:
    """Per-frame error of the visible gap: where the target lips are apart, the predicted separation must match the
    gap (gradient both ways); where they touch, only a predicted opening counts (pressing harder costs nothing)."""
    return torch.where(target_gap > 0, (predicted_separation - target_gap).abs(), F.relu(predicted_separation))


def expression_loss(
    output: ExpressionOutput,
    batch: ExpressionBatch,
    velocity_weight: float,
    lip_gap_weight: float,
    bilabial_weight: float,
    separation: LipSeparation | None,
) -> tuple[Tensor, dict[str, float]]:
    """L1 on channels and jaw, L1 on their frame-to-frame velocity, and a lip-gap term weighted up inside bilabials.

    `separation` is None when the channels are not the contract's (no lip-gap term then).
    """
    expression_error = output.expression - batch.expression
    jaw_error = (output.jaw - batch.jaw) * JAW_WEIGHT
    position = expression_error.abs().mean() + jaw_error.abs().mean()
    velocity = (expression_error.diff(dim=1).abs().mean() + jaw_error.diff(dim=1).abs().mean()) * velocity_weight
    parts = {"position": position.item(), "velocity": velocity.item()}
    loss = position + velocity
    if separation is not None and lip_gap_weight > 0:
        target_gap = F.relu(separation(batch.expression, batch.jaw))
        error = lip_gap_error(separation(output.expression, output.jaw), target_gap) / LIP_GAP_UNIT_MM
        weights = 1.0 + bilabial_weight * batch.bilabial
        lip = lip_gap_weight * (weights * error).sum() / weights.sum()
        parts["lip_gap"] = lip.item()
        loss = loss + lip
    return loss, parts


def pose_reconstruction_loss(
    output: VQVAEOutput, pose: Tensor, pose_scale: float, velocity_weight: float
) -> tuple[Tensor, dict[str, float]]:
    """L1 on pose and velocity (in units of the VQ-VAE's pose scale) plus the commitment loss."""
    error = (output.reconstruction - pose) / pose_scale
    reconstruction = error.abs().mean() + velocity_weight * error.diff(dim=1).abs().mean()
    return reconstruction + output.commitment_loss, {
        "reconstruction": reconstruction.item(),
        "commitment": output.commitment_loss.item(),
    }


def code_loss(logits: Tensor, codes: Tensor) -> tuple[Tensor, dict[str, float]]:
    """Cross-entropy of PoseGPT's next-code prediction; also its perplexity over the codebook."""
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), codes.reshape(-1))
    return loss, {"perplexity": math.exp(min(loss.item(), 20.0))}
