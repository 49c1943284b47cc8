"""PoseGPT: a causal transformer over pose-code indices, conditioned on audio and a pose-style vector.

    input at step n:  embed(code[n-1] or BOS) + AudioConv(audio)[n] + proj(style)   [B, N, D]
    -> causal transformer (rotary positions, KV cache) -> logits over the codebook [B, N, K]

The audio (code-rate features, e.g. the expression encoder's output pooled by `pool_to_code_rate`) is known in
full before sampling, so a centred conv gives each step a little look-ahead; only the codes are autoregressive.
The style is a vector: a row of `style_embedding` for a training style, or any blend of rows (retrieval).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from backend.models.config import PoseGPTConfig
from backend.models.rotary import apply_rotary, rotary_cos_sin

KVCache = list[tuple[Tensor, Tensor]]  # per layer: keys, values [B, H, n, Dh]


def pool_to_code_rate(features: Tensor, factor: int) -> Tensor:
    """Average frames into codes: [B, T, F] -> [B, ceil(T / factor), F] (the last code averages what is left)."""
    b, t, f = features.shape
    n = -(-t // factor)
    padded = F.pad(features, (0, 0, 0, n * factor - t))
    counts = F.pad(features.new_ones(1, t, 1), (0, 0, 0, n * factor - t))
    return padded.view(b, n, factor, f).sum(2) / counts.view(1, n, factor, 1).sum(2)


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        if d_model % n_heads or (d_model // n_heads) % 2:
            raise ValueError(f"d_model {d_model} must split into {n_heads} heads of even size (rotary pairs)")
        self.n_heads, self.dropout = n_heads, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, past: tuple[Tensor, Tensor] | None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """x [B, T, D] at positions after `past` ([B, H, P, Dh] keys, values) -> y [B, T, D], updated cache.

        With a cache, x holds one new step (it attends to everything before it, so no mask is needed).
        """
        b, t, d = x.shape
        start = 0 if past is None else past[0].shape[2]
        if past is not None and t != 1:
            raise ValueError("with a KV cache, feed one step at a time")
        q, k, v = (y.view(b, t, self.n_heads, -1).transpose(1, 2) for y in self.qkv(x).chunk(3, dim=-1))
        cos, sin = rotary_cos_sin(start, t, d // self.n_heads, x.device)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if past is not None:
            k, v = torch.cat((past[0], k), dim=2), torch.cat((past[1], v), dim=2)
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=past is None, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(y.transpose(1, 2).reshape(b, t, d)), (k, v)


class Block(nn.Module):
    """Pre-LayerNorm transformer block (GPT-2 / nanoGPT)."""

    def __init__(self, config: PoseGPTConfig):
        super().__init__()
        d = config.d_model
        self.attention_norm = nn.LayerNorm(d)
        self.attention = CausalSelfAttention(d, config.n_heads, config.dropout)
        self.mlp_norm = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, config.ffn_mult * d), nn.GELU(), nn.Linear(config.ffn_mult * d, d))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, past: tuple[Tensor, Tensor] | None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        y, cache = self.attention(self.attention_norm(x), past)
        x = x + self.dropout(y)
        return x + self.dropout(self.mlp(self.mlp_norm(x))), cache


class PoseGPT(nn.Module):
    def __init__(self, config: PoseGPTConfig, n_codes: int, audio_dim: int):
        """n_codes: the VQ-VAE's codebook size; audio_dim: width of the code-rate audio features it is fed."""
        super().__init__()
        if config.audio_context % 2 == 0:
            raise ValueError(f"audio_context must be odd (centred), got {config.audio_context}")
        self.config, self.n_codes = config, n_codes
        d = config.d_model
        self.code_embedding = nn.Embedding(n_codes + 1, d)  # index n_codes = BOS (the step before the first code)
        self.audio = nn.Conv1d(audio_dim, d, config.audio_context, padding=config.audio_context // 2)
        self.style_embedding = nn.Embedding(config.n_styles, config.style_dim)  # one row per training pose style
        self.style = nn.Linear(config.style_dim, d)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, n_codes)

    def style_vectors(self, style_ids: Tensor) -> Tensor:
        """Training-style ids [B] -> style vectors [B, S]."""
        return self.style_embedding(style_ids)

    def blend_styles(self, style_ids: Tensor, weights: Tensor) -> Tensor:
        """A weighted mix of training styles (retrieval's top k): ids [k], weights [k] -> [S]."""
        return weights @ self.style_embedding(style_ids)

    def _conditioning(self, audio: Tensor, style: Tensor) -> Tensor:
        """audio [B, N, A], style [B, S] -> per-step conditioning [B, N, D]."""
        return self.audio(audio.transpose(1, 2)).transpose(1, 2) + self.style(style)[:, None, :]

    def _run(self, x: Tensor, cache: KVCache | None) -> tuple[Tensor, KVCache]:
        new_cache = []
        for i, block in enumerate(self.blocks):
            x, layer_cache = block(x, None if cache is None else cache[i])
            new_cache.append(layer_cache)
        return self.head(self.norm(x)), new_cache

    def forward(self, codes: Tensor, audio: Tensor, style: Tensor) -> Tensor:
        """Teacher forcing: codes [B, N], audio [B, N, A], style [B, S] -> logits [B, N, K] for codes[:, n]."""
        bos = codes.new_full((codes.shape[0], 1), self.n_codes)
        previous = torch.cat((bos, codes[:, :-1]), dim=1)
        logits, _ = self._run(self.code_embedding(previous) + self._conditioning(audio, style), None)
        return logits

    @torch.no_grad()
    def generate(
        self,
        audio: Tensor,
        style: Tensor,
        temperature: float = 1.0,
        top_p: float = 0.9,
        generator: torch.Generator | None = None,
        prompt: Tensor | None = None,
        use_cache: bool = True,
    ) -> Tensor:
        """Sample codes [B, N] for audio [B, N, A] and style [B, S].

        temperature 0 picks the most likely code; top_p keeps the smallest set of codes holding that much
        probability. `prompt` [B, P] forces the first P codes (the overlap with the previous chunk when generating
        in chunks). One uniform draw per step from `generator`, so a seed gives the same motion, cached or not
        (in eval mode: dropout would draw from the global generator). Each step is a handful of tiny ops: one CPU
        thread runs it fastest and is not slowed by other busy processes.
        """
        n = audio.shape[1]
        codes = audio.new_zeros(audio.shape[0], n, dtype=torch.long)
        start = 0 if prompt is None else prompt.shape[1]
        if prompt is not None:
            codes[:, :start] = prompt
        conditioning = self._conditioning(audio, style)  # [B, N, D]
        bos = codes.new_full((codes.shape[0], 1), self.n_codes)
        previous = torch.cat((bos, codes), dim=1)  # previous[:, i] is the input at step i
        cache: KVCache | None = None
        for step in range(start, n):
            if cache is None:  # the whole prefix: every step without a cache; with one, the first (BOS + prompt)
                x = self.code_embedding(previous[:, : step + 1]) + conditioning[:, : step + 1]
            else:
                x = self.code_embedding(previous[:, step : step + 1]) + conditioning[:, step : step + 1]
            logits, cache = self._run(x, cache)
            if not use_cache:
                cache = None
            codes[:, step] = sample_code(logits[:, -1], temperature, top_p, generator)
            previous[:, step + 1] = codes[:, step]
        return codes


def sample_code(logits: Tensor, temperature: float, top_p: float, generator: torch.Generator | None) -> Tensor:
    """logits [B, K] -> code [B] by inverse-CDF sampling of the nucleus (Holtzman et al. 2020)."""
    if temperature < 0.0 or not 0.0 < top_p <= 1.0:
        raise ValueError(f"need temperature >= 0 and 0 < top_p <= 1, got {temperature} and {top_p}")
    if temperature == 0.0:
        return logits.argmax(dim=-1)
    probs, order = torch.softmax(logits / temperature, dim=-1).sort(dim=-1, descending=True)
    cumulative = probs.cumsum(dim=-1)
    probs = probs * (cumulative - probs < top_p)  # keep codes until top_p is covered (always the first)
    u = torch.rand(logits.shape[0], 1, generator=generator, device=logits.device) * probs.sum(-1, keepdim=True)
    pick = (probs.cumsum(dim=-1) < u).sum(dim=-1).clamp_max(logits.shape[-1] - 1)
    return order.gather(-1, pick[:, None]).squeeze(-1)
