"""VQ-VAE over head-pose windows: the discrete pose prior of AdaMesh's pose adapter.

    pose [B, T, 3] (axis-angle, 25 fps) + velocity --conv encoder, /4 in time--> z [B, T/4, D]
    z --nearest code (EMA codebook)--> indices [B, T/4] --codebook lookup, conv decoder, x4--> pose [B, T, 3]

The quantiser is written here (about 60 lines) rather than taken from vector-quantize-pytorch: that library moves
fast (1.x releases monthly, einops/einx dependencies) for the few features used here, and owning it lets the EMA
statistics be all-reduced under DDP and the dead-code restarts be broadcast, so every process keeps one codebook.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from backend.models.config import PoseVQVAEConfig


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


class Quantized(NamedTuple):
    quantized: Tensor  # [B, N, D] codebook vectors, with straight-through gradients to the encoder
    indices: Tensor  # [B, N] long
    commitment_loss: Tensor  # scalar: beta * |z - sg(code)|^2


class EMAQuantizer(nn.Module):
    """Nearest-code quantiser; codes follow an exponential moving average of their assigned vectors.

    Codes are seeded from the first training batch, and a code whose EMA usage falls below `dead_code_threshold`
    vectors per batch restarts at a vector of the current batch (Jukebox-style), so the book stays in use on a
    small corpus.
    """

    def __init__(self, codebook_size: int, code_dim: int, decay: float, commitment: float, dead_code_threshold: float):
        super().__init__()
        self.decay, self.commitment, self.dead_code_threshold = decay, commitment, dead_code_threshold
        self.register_buffer("codebook", torch.zeros(codebook_size, code_dim))
        self.register_buffer("ema_count", torch.zeros(codebook_size))
        self.register_buffer("ema_sum", torch.zeros(codebook_size, code_dim))
        self.register_buffer("initialised", torch.tensor(False))

    def nearest(self, z: Tensor) -> Tensor:
        """z [..., D] -> indices [...] of the nearest codes (squared Euclidean distance)."""
        flat = z.reshape(-1, z.shape[-1])
        distances = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.T + self.codebook.pow(2).sum(1)[None, :]
        return distances.argmin(dim=1).view(z.shape[:-1])

    def lookup(self, indices: Tensor) -> Tensor:
        """indices [...] -> code vectors [..., D]."""
        return F.embedding(indices, self.codebook)

    def forward(self, z: Tensor) -> Quantized:
        """z [B, N, D] -> quantized; in training mode the codebook then moves towards this batch."""
        flat = z.detach().reshape(-1, z.shape[-1])
        if self.training and not self.initialised:
            self._restart(torch.ones_like(self.ema_count, dtype=torch.bool), flat)
            self.initialised.fill_(True)
        indices = self.nearest(z)
        codes = self.lookup(indices)
        if self.training:
            self._update(flat, indices.reshape(-1))
        commitment_loss = self.commitment * F.mse_loss(z, codes)
        return Quantized(z + (codes - z).detach(), indices, commitment_loss)

    @torch.no_grad()
    def _update(self, flat: Tensor, indices: Tensor) -> None:
        assigned = F.one_hot(indices, self.codebook.shape[0]).type_as(flat)  # [M, K]
        counts, sums = assigned.sum(0), assigned.T @ flat
        if _distributed():
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total, eps = self.ema_count.sum(), 1e-5
        smoothed = (self.ema_count + eps) / (total + eps * len(self.ema_count)) * total  # Laplace: never divide by 0
        self.codebook.copy_(self.ema_sum / smoothed[:, None])
        self._restart(self.ema_count < self.dead_code_threshold, flat)

    @torch.no_grad()
    def _restart(self, dead: Tensor, flat: Tensor) -> None:
        """Move the `dead` codes onto vectors of the batch (chosen on rank 0, then shared).

        k-means++ seeding, one code at a time: each pick is drawn with probability ~ squared distance to the
        nearest live code, so restarts land where the book serves the data worst and not twice in one place.
        """
        live = ~dead
        if live.any():
            nearest_sq = torch.cdist(flat, self.codebook[live]).pow(2).amin(dim=1)
        else:  # the first batch: every code is free
            nearest_sq = torch.full((len(flat),), torch.inf, device=flat.device)
        for code in dead.nonzero().flatten().tolist():
            finite = torch.isfinite(nearest_sq)
            weights = nearest_sq if finite.all() and nearest_sq.sum() > 0 else (~finite).float() + 1e-12
            pick = flat[torch.multinomial(weights, 1)[0]]
            self.codebook[code], self.ema_sum[code], self.ema_count[code] = pick, pick, 1.0
            nearest_sq = torch.minimum(nearest_sq, (flat - pick).pow(2).sum(-1))
        if _distributed():
            for buffer in (self.codebook, self.ema_sum, self.ema_count):
                dist.broadcast(buffer, src=0)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.GELU(),
            nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation),
            nn.GELU(),
            nn.Conv1d(channels, channels, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.net(x)


def _residual_stack(channels: int, n_blocks: int) -> list[nn.Module]:
    # Dilations 1, 3, 9, ... widen the receptive field cheaply (as in Jukebox's encoders).
    return [ResidualBlock(channels, 3**i) for i in range(n_blocks)]


class VQVAEOutput(NamedTuple):
    reconstruction: Tensor  # [B, T, 3]
    indices: Tensor  # [B, T / downsample]
    commitment_loss: Tensor  # scalar


class PoseVQVAE(nn.Module):
    def __init__(self, config: PoseVQVAEConfig):
        super().__init__()
        n_stages = round(math.log2(config.downsample))
        if 2**n_stages != config.downsample:
            raise ValueError(f"downsample must be a power of two, got {config.downsample}")
        self.config = config
        h = config.hidden
        encoder: list[nn.Module] = [nn.Conv1d(6, h, 3, padding=1)]
        for _ in range(n_stages):
            encoder += [*_residual_stack(h, config.n_res_blocks), nn.Conv1d(h, h, 4, stride=2, padding=1)]
        encoder += [*_residual_stack(h, config.n_res_blocks), nn.GELU(), nn.Conv1d(h, config.code_dim, 1)]
        self.encoder = nn.Sequential(*encoder)
        self.quantizer = EMAQuantizer(
            config.codebook_size, config.code_dim, config.ema_decay, config.commitment, config.dead_code_threshold
        )
        decoder: list[nn.Module] = [nn.Conv1d(config.code_dim, h, 3, padding=1)]
        for _ in range(n_stages):
            # Nearest upsampling then a conv: no checkerboard ripple, which on a head would read as tremor.
            decoder += [
                *_residual_stack(h, config.n_res_blocks),
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv1d(h, h, 3, padding=1),
            ]
        decoder += [*_residual_stack(h, config.n_res_blocks), nn.GELU(), nn.Conv1d(h, 3, 3, padding=1)]
        self.decoder = nn.Sequential(*decoder)

    def encoder_outputs(self, pose: Tensor) -> Tensor:
        """Pre-quantisation features (what the style matrix averages): pose [B, T, 3] -> z [B, T/downsample, D]."""
        if pose.dim() != 3 or pose.shape[-1] != 3 or pose.shape[1] % self.config.downsample:
            raise ValueError(
                f"pose must be [B, T, 3] with T a multiple of {self.config.downsample}, got {tuple(pose.shape)}"
            )
        velocity = torch.diff(pose, dim=1, prepend=pose[:, :1]) * self.config.fps  # rad/s
        # velocity / 2 pi: a 1 Hz nod has the same input size as its angle.
        features = torch.cat((pose, velocity / (2 * math.pi)), dim=-1) / self.config.pose_scale  # [B, T, 6]
        return self.encoder(features.transpose(1, 2)).transpose(1, 2)

    def encode(self, pose: Tensor) -> Tensor:
        """pose [B, T, 3] -> code indices [B, T/downsample]."""
        return self.quantizer.nearest(self.encoder_outputs(pose))

    def decode(self, indices: Tensor) -> Tensor:
        """code indices [B, N] -> pose [B, N * downsample, 3]."""
        return self._decode_vectors(self.quantizer.lookup(indices))

    def _decode_vectors(self, codes: Tensor) -> Tensor:
        return self.decoder(codes.transpose(1, 2)).transpose(1, 2) * self.config.pose_scale

    def forward(self, pose: Tensor) -> VQVAEOutput:
        quantized = self.quantizer(self.encoder_outputs(pose))
        return VQVAEOutput(self._decode_vectors(quantized.quantized), quantized.indices, quantized.commitment_loss)
