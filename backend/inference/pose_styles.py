"""PoseGPT's style vector for generation: one of the checkpoint's training styles, or their even blend."""

from __future__ import annotations

import torch
from torch import Tensor

from backend.core.errors import AdaMeshError
from backend.models.checkpoint_file import Checkpoint


def pose_style_vector(checkpoint: Checkpoint, style: str | int | None) -> Tensor:
    """PoseGPT's style vector [1, S]: a training style by name or index, or the even blend of all (None)."""
    gpt = checkpoint.models.pose_gpt
    names = [s.name for s in checkpoint.pose_styles]
    if style is None:
        ids = torch.arange(len(names), device=gpt.style_embedding.weight.device)
        return gpt.blend_styles(ids, torch.full((len(names),), 1.0 / len(names), device=ids.device))[None]
    if isinstance(style, str) and style in names:
        index = names.index(style)
    elif isinstance(style, int) or (isinstance(style, str) and style.isdigit()):
        index = int(style)
        if not 0 <= index < len(names):
            raise AdaMeshError(
                f"pose style index {index} is out of range: this checkpoint has {len(names)} (0 to {len(names) - 1})"
            )
    else:
        raise AdaMeshError(
            f"unknown pose style {style!r}; this checkpoint has: "
            + ", ".join(f"{k} {s.name} ({s.kind})" for k, s in enumerate(checkpoint.pose_styles))
        )
    return gpt.style_vectors(torch.tensor([index], device=gpt.style_embedding.weight.device))
