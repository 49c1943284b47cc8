"""MoLoRA: a mixture of low-rank adapters of different ranks on a frozen layer (AdaMesh, arXiv 2310.07236).

A wrapped layer computes

    y = base(x) + scale * sum_i g_i(x) * (alpha / r_i) * B_i A_i x,      g(x) = softmax(W_g x + b_g)  (per token)

with experts i of ranks r_i (e.g. 2, 4, 8, 16): low ranks catch the broad shift of a style from 10 s of reference,
high ranks its detail, and the gate picks per frame. B starts at zero, so a fresh or base model computes exactly
`base(x)`; during adaptation only these parameters train.

The wrappers follow peft's LoRA layers: the original layer lives on as `base_layer` (so its weights keep their
meaning) and everything trainable sits in a child module named `molora`, so selecting a style's parameters is a
name test (`.molora.`), never a list kept by hand. The experts are stored concatenated (A: [R, ...], B: [out, R],
R = sum of ranks): one matmul serves all experts, and the gate weight of expert i is spread over its r_i columns.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MOLORA = "molora"  # the name of the child module holding every adaptable parameter


class LowRankExperts(nn.Module):
    """The trainable part of a MoLoRA layer: expert factors concatenated along the rank, and the gate.

    lora_A [R, *a_shape] (a_shape: (in,) for a linear, (in, k) for a dense conv, (k,) for a depthwise conv),
    lora_B [out, R], gate: gate_features -> N experts.
    """

    def __init__(
        self, a_shape: tuple[int, ...], out_features: int, gate_features: int, ranks: Sequence[int], alpha: float
    ):
        super().__init__()
        if not ranks or any(r < 1 for r in ranks):
            raise ValueError(f"MoLoRA ranks must be positive integers, got {tuple(ranks)}")
        self.lora_A = nn.Parameter(torch.empty(sum(ranks), *a_shape))
        self.lora_B = nn.Parameter(torch.zeros(out_features, sum(ranks)))  # zero: the base output is unchanged
        # peft's init for A: uniform with the scale of a default nn.Linear, so the first steps of B see unit features.
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        # One expert needs no gate (softmax over one logit is 1): this is plain LoRA, the ablation baseline.
        self.gate = nn.Linear(gate_features, len(ranks)) if len(ranks) > 1 else None
        if self.gate is not None:
            nn.init.zeros_(self.gate.weight)  # uniform mixture until the data says otherwise
            nn.init.zeros_(self.gate.bias)
        expert_of_column = torch.repeat_interleave(torch.arange(len(ranks)), torch.tensor(ranks))
        # peft's alpha / r per expert. Both buffers derive from the config, so a style file does not carry them.
        self.register_buffer("expert_of_column", expert_of_column, persistent=False)
        self.register_buffer(
            "column_scaling", alpha / torch.tensor(ranks, dtype=torch.float32)[expert_of_column], persistent=False
        )
        self.ranks = tuple(ranks)

    def expert_weights(self, tokens: Tensor) -> Tensor:
        """Per-token gate: tokens [..., gate_features] -> [..., N] (all ones for a single expert)."""
        if self.gate is None:
            return tokens.new_ones(*tokens.shape[:-1], 1)
        return torch.softmax(self.gate(tokens), dim=-1)

    def column_weights(self, tokens: Tensor) -> Tensor:
        """Gate weight times alpha / r for every rank column: tokens [..., gate_features] -> [..., R]."""
        return self.expert_weights(tokens)[..., self.expert_of_column] * self.column_scaling


class MoLoRALinear(nn.Module):
    """`nn.Linear` plus a MoLoRA update. x [..., in] -> [..., out]."""

    def __init__(self, base_layer: nn.Linear, ranks: Sequence[int], alpha: float):
        super().__init__()
        self.base_layer = base_layer
        d_in, d_out = base_layer.in_features, base_layer.out_features
        self.molora = LowRankExperts((d_in,), d_out, d_in, ranks, alpha)  # attribute name = MOLORA
        self.scale = 1.0  # global strength of the adaptation; 0 skips the update entirely (see set_molora_scale)

    def forward(self, x: Tensor) -> Tensor:
        y = self.base_layer(x)
        if self.scale == 0.0:
            return y
        experts = self.molora
        h = F.linear(x, experts.lora_A) * experts.column_weights(x)  # [..., R]
        return y + self.scale * F.linear(h, experts.lora_B)


class MoLoRAConv1d(nn.Module):
    """`nn.Conv1d` (stride 1, same length) plus a MoLoRA update. x [B, in, T] -> [B, out, T].

    Dense conv (groups=1): each expert is a conv with r_i output channels and the base's kernel (A) followed by a
    1x1 conv (B), as peft and diffusers factorise convolutions. Depthwise conv (groups = channels): the weight is one
    kernel per channel, W [C, k], and each expert factorises it as W_i = B_i A_i with A_i [r_i, k] (r_i temporal
    filters shared by all channels) and B_i [C, r_i] (each channel's mix of them): the update stays depthwise and
    costs r (C + k) parameters instead of the dense factorisation's r C (k + 1); ranks above k add nothing.
    The gate reads the input frame at the output's own time step, hence stride 1 and same-length padding.
    """

    def __init__(self, base_layer: nn.Conv1d, ranks: Sequence[int], alpha: float):
        super().__init__()
        (kernel,), (stride,), (dilation,) = base_layer.kernel_size, base_layer.stride, base_layer.dilation
        same_length = base_layer.padding == "same" or 2 * base_layer.padding[0] == dilation * (kernel - 1)
        if stride != 1 or not same_length or base_layer.padding_mode != "zeros":
            raise ValueError("MoLoRAConv1d needs a stride-1, zero-padded conv whose output has the input's length")
        c_in, c_out, groups = base_layer.in_channels, base_layer.out_channels, base_layer.groups
        self.depthwise = groups == c_in == c_out
        if groups != 1 and not self.depthwise:
            raise ValueError(f"MoLoRAConv1d handles dense or depthwise convs, not {groups} groups")
        self.base_layer = base_layer
        a_shape = (kernel,) if self.depthwise else (c_in, kernel)
        self.molora = LowRankExperts(a_shape, c_out, c_in, ranks, alpha)
        self.scale = 1.0

    def forward(self, x: Tensor) -> Tensor:
        y = self.base_layer(x)
        if self.scale == 0.0:
            return y
        experts, base = self.molora, self.base_layer
        if self.depthwise:
            return y + self.scale * self._depthwise_update(x)
        h = F.conv1d(x, experts.lora_A, padding=base.padding, dilation=base.dilation)  # [B, R, T]
        h = h * experts.column_weights(x.transpose(1, 2)).transpose(1, 2)
        return y + self.scale * torch.matmul(experts.lora_B, h)  # [out, R] @ [B, R, T] -> [B, out, T]

    def _depthwise_update(self, x: Tensor) -> Tensor:
        experts, base = self.molora, self.base_layer
        channels, n_experts = x.shape[1], len(experts.ranks)
        membership = F.one_hot(experts.expert_of_column, n_experts).to(x.dtype)  # [R, N]
        # Every expert's depthwise kernels, W_i[c] = sum over its columns j of B[c, j] (alpha / r_i) A[j]: [C, N, k]
        kernels = torch.einsum("cj,ji,jk->cik", experts.lora_B * experts.column_scaling, membership, experts.lora_A)
        per_expert = F.conv1d(
            x,
            kernels.reshape(channels * n_experts, 1, -1),
            padding=base.padding,
            dilation=base.dilation,
            groups=channels,
        )  # [B, C * N, T], channel-major
        gate = experts.expert_weights(x.transpose(1, 2)).transpose(1, 2)  # [B, N, T]
        return (per_expert.view(x.shape[0], channels, n_experts, -1) * gate[:, None]).sum(dim=2)


MoLoRALayer = MoLoRALinear | MoLoRAConv1d


def is_molora_name(name: str) -> bool:
    """True for the parameter / state-dict names that belong to a MoLoRA adapter."""
    return MOLORA in name.split(".")


def molora_layers(model: nn.Module) -> Iterator[MoLoRALayer]:
    return (m for m in model.modules() if isinstance(m, (MoLoRALinear, MoLoRAConv1d)))


def molora_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for name, p in model.named_parameters() if is_molora_name(name)]


def molora_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """The adapter alone (what a style file holds), keyed as in the model's state dict."""
    return {name: t.detach().clone() for name, t in model.state_dict().items() if is_molora_name(name)}


def load_molora_state_dict(model: nn.Module, state: Mapping[str, Tensor]) -> None:
    """Load an adapter saved by `molora_state_dict`; every MoLoRA tensor must be given, with its exact shape.

    Raises ValueError naming the missing, unexpected or mis-shaped keys (an adapter made for another checkpoint);
    the caller, who knows the file, turns it into a user-facing error.
    """
    own = molora_state_dict(model)
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    misshaped = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    problems = [
        f"{len(keys)} {what} (e.g. {keys[0]})"
        for keys, what in ((missing, "missing"), (unexpected, "unexpected"), (misshaped, "with another shape"))
        if keys
    ]
    if problems:
        raise ValueError("MoLoRA state does not fit this model: " + "; ".join(problems))
    model.load_state_dict(dict(state), strict=False)


def mark_only_molora_trainable(model: nn.Module) -> None:
    """Adaptation: freeze the base model, train the adapters (peft's `mark_only_lora_as_trainable`)."""
    for name, p in model.named_parameters():
        p.requires_grad_(is_molora_name(name))


def freeze_molora(model: nn.Module) -> None:
    """Base training: keep the adapters at their zero start (B = 0) while everything else trains."""
    for p in molora_parameters(model):
        p.requires_grad_(False)


def set_molora_scale(model: nn.Module, scale: float) -> None:
    """Strength of every adapter in `model`: 1 as trained, 0 for the base model (and skips the adapters' cost)."""
    for layer in molora_layers(model):
        layer.scale = float(scale)
