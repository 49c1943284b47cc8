"""Rotary position embedding (RoPE, Su et al. 2021), shared by the Conformer and PoseGPT attention.

Relative positions without a table: any sequence length works, which chunked generation over hour-long audio
needs, and a KV cache only has to know the offset of the new positions.
"""

from __future__ import annotations

import torch
from torch import Tensor


def rotary_cos_sin(
    start: int, length: int, head_dim: int, device: torch.device | None = None, base: float = 10000.0
) -> tuple[Tensor, Tensor]:
    """cos and sin for positions start .. start+length-1: each [length, head_dim]."""
    inv_freq = base ** (-torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim)
    angles = torch.arange(start, start + length, device=device, dtype=torch.float32)[:, None] * inv_freq
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos(), angles.sin()


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate pairs (i, i + head_dim/2) of x [..., T, head_dim] by the position angles."""
    first, second = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-second, first), dim=-1) * sin
