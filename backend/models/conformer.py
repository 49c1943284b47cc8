"""A compact Conformer block (Gulati et al. 2020) whose attention and convolution weights carry MoLoRA adapters.

    x = x + FFN(x) / 2;  x = x + MHSA(x);  x = x + Conv(x);  x = x + FFN(x) / 2;  x = LayerNorm(x)

Positions are rotary (relative, any length). The conv module uses LayerNorm where the paper has BatchNorm: no
running statistics, so training windows, batch-of-one adaptation and chunked inference normalise alike. Pointwise
convs are `nn.Linear` on [B, T, C] (the same map, without transposes); the depthwise conv is a real `nn.Conv1d`.
Adapted (MoLoRA): q, k, v, out projections; both pointwise convs; the depthwise conv.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from backend.models.config import MoLoRAConfig
from backend.models.molora import MoLoRAConv1d, MoLoRALinear
from backend.models.rotary import apply_rotary, rotary_cos_sin


def adapted_linear(d_in: int, d_out: int, molora: MoLoRAConfig) -> MoLoRALinear:
    return MoLoRALinear(nn.Linear(d_in, d_out), molora.ranks, molora.alpha)


class FeedForward(nn.Module):
    def __init__(self, d_model: int, mult: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(d_model),
            nn.Linear(d_model, mult * d_model),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Linear(mult * d_model, d_model),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class SelfAttention(nn.Module):
    """Bidirectional multi-head self-attention with rotary positions. x [B, T, D] -> [B, T, D]."""

    def __init__(self, d_model: int, n_heads: int, dropout: float, molora: MoLoRAConfig):
        super().__init__()
        if d_model % n_heads or (d_model // n_heads) % 2:
            raise ValueError(f"d_model {d_model} must split into {n_heads} heads of even size (rotary pairs)")
        self.n_heads, self.dropout = n_heads, dropout
        self.norm = nn.LayerNorm(d_model)
        # Separate q, k, v projections so each carries its own adapter, as in AdaMesh.
        self.q = adapted_linear(d_model, d_model, molora)
        self.k = adapted_linear(d_model, d_model, molora)
        self.v = adapted_linear(d_model, d_model, molora)
        self.out = adapted_linear(d_model, d_model, molora)
        self.out_dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        b, t, d = x.shape
        x = self.norm(x)
        q, k, v = (
            proj(x).view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2) for proj in (self.q, self.k, self.v)
        )  # each [B, H, T, Dh]
        cos, sin = rotary_cos_sin(0, t, d // self.n_heads, x.device)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.out_dropout(self.out(y.transpose(1, 2).reshape(b, t, d)))


class ConvModule(nn.Module):
    """Pointwise -> GLU -> depthwise conv over time -> LayerNorm -> SiLU -> pointwise. x [B, T, D] -> [B, T, D]."""

    def __init__(self, d_model: int, kernel: int, dropout: float, molora: MoLoRAConfig):
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"conv kernel must be odd to keep frames centred, got {kernel}")
        self.norm = nn.LayerNorm(d_model)
        self.pointwise_in = adapted_linear(d_model, 2 * d_model, molora)
        depthwise = nn.Conv1d(d_model, d_model, kernel, padding=kernel // 2, groups=d_model)
        self.depthwise = MoLoRAConv1d(depthwise, molora.ranks, molora.alpha)
        self.depthwise_norm = nn.LayerNorm(d_model)
        self.pointwise_out = adapted_linear(d_model, d_model, molora)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = F.glu(self.pointwise_in(self.norm(x)), dim=-1)  # [B, T, D]
        x = self.depthwise(x.transpose(1, 2)).transpose(1, 2)
        return self.dropout(self.pointwise_out(F.silu(self.depthwise_norm(x))))


class ConformerBlock(nn.Module):
    """x [B, T, D] -> [B, T, D]."""

    def __init__(
        self, d_model: int, n_heads: int, ffn_mult: int, conv_kernel: int, dropout: float, molora: MoLoRAConfig
    ):
        super().__init__()
        self.ffn_in = FeedForward(d_model, ffn_mult, dropout)
        self.attention = SelfAttention(d_model, n_heads, dropout, molora)
        self.conv = ConvModule(d_model, conv_kernel, dropout, molora)
        self.ffn_out = FeedForward(d_model, ffn_mult, dropout)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: Tensor) -> Tensor:
        x = x + 0.5 * self.ffn_in(x)
        x = x + self.attention(x)
        x = x + self.conv(x)
        x = x + 0.5 * self.ffn_out(x)
        return self.norm(x)
