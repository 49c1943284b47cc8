"""The expression model: speech (+ phones) and a style vector -> expression channels and jaw rotation at 25 fps.

    mel [B, T, 4, 80] --stack 4 frames--> Linear --+--> Conformer x L_enc --> audio features [B, T, D]
    phonetic [B, T, P] -------------> Linear -----/
    reference [B, Tr, C+3] --> StyleEncoder --> style [B, S]
    audio features, style --> (FiLM(style) -> Conformer) x L_dec --> expression [B, T, C], jaw [B, T, 3]

Missing inputs are zeros by convention, so one set of weights serves every path: an all-zero phonetic row means
"no phonetic information" (posteriors sum to 1 when present), a zero style vector means "no reference" (the FiLM
biases then hold the average style). Training drops each now and then so both paths are learnt.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from backend.models.config import ExpressionConfig
from backend.models.conformer import ConformerBlock


class ExpressionOutput(NamedTuple):
    expression: Tensor  # [B, T, C] channel values (ARKit blendshape weights for the starter)
    jaw: Tensor  # [B, T, 3] axis-angle, opening by +X


class AudioFrontEnd(nn.Module):
    """mel [B, T, 4, 80] (+ phonetic [B, T, P]) -> [B, T, D] at the motion frame rate."""

    def __init__(self, config: ExpressionConfig):
        super().__init__()
        self.mel_shape = (config.mel_per_frame, config.n_mel)
        # Per-bin log-mel statistics of the training corpus, saved with the weights (training sets them).
        self.register_buffer("mel_mean", torch.zeros(config.n_mel))
        self.register_buffer("mel_std", torch.ones(config.n_mel))
        self.mel = nn.Linear(config.mel_per_frame * config.n_mel, config.d_model)
        self.phonetic = nn.Linear(config.n_phones, config.d_model) if config.use_phonetic else None
        self.dropout = nn.Dropout(config.dropout)

    def set_mel_statistics(self, mean: Tensor, std: Tensor) -> None:
        """Per-bin mean and standard deviation [n_mel] of the training corpus's log-mel."""
        self.mel_mean.copy_(mean)
        self.mel_std.copy_(std.clamp_min(1e-5))

    def forward(self, mel: Tensor, phonetic: Tensor | None) -> Tensor:
        if mel.dim() != 4 or tuple(mel.shape[-2:]) != self.mel_shape:
            raise ValueError(f"mel must be [B, T, {self.mel_shape[0]}, {self.mel_shape[1]}], got {tuple(mel.shape)}")
        mel = (mel - self.mel_mean) / self.mel_std
        x = self.mel(mel.flatten(2))  # [B, T, D]
        if self.phonetic is not None:
            # Absent phones = zero rows, whose projection is the bias alone.
            x = x + (self.phonetic(phonetic) if phonetic is not None else self.phonetic.bias)
        elif phonetic is not None:
            raise ValueError("this model is mel-only (use_phonetic=False) but a phonetic input was given")
        return self.dropout(x)


class StyleEncoder(nn.Module):
    """Reference motion (expression + jaw) [B, Tr, C+3] -> style vector [B, S]: convs over time, then mean pool."""

    def __init__(self, config: ExpressionConfig):
        super().__init__()
        h = config.style_hidden
        self.convs = nn.Sequential(
            nn.Conv1d(config.n_expression + 3, h, 5, padding=2),
            nn.GELU(),
            nn.Conv1d(h, h, 5, padding=2, stride=2),
            nn.GELU(),  # 12.5 Hz: style is slower than phones
            nn.Conv1d(h, h, 5, padding=2),
            nn.GELU(),
        )
        self.proj = nn.Linear(h, config.style_dim)

    def forward(self, reference: Tensor) -> Tensor:
        # Mean pooling makes the style independent of the reference's length (10 s to minutes).
        return self.proj(self.convs(reference.transpose(1, 2)).mean(dim=-1))


class ExpressionHead(nn.Module):
    """[B, T, D] -> [B, T, C]; with a rank, D -> rank -> C (many correlated channels, e.g. FLAME's 100)."""

    def __init__(self, d_model: int, n_channels: int, rank: int | None):
        super().__init__()
        self.net = (
            nn.Linear(d_model, n_channels)
            if rank is None
            else nn.Sequential(nn.Linear(d_model, rank, bias=False), nn.Linear(rank, n_channels))
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ExpressionModel(nn.Module):
    def __init__(self, config: ExpressionConfig):
        super().__init__()
        if config.n_decoder_layers < 1:
            raise ValueError("the expression decoder needs at least one layer to apply the style")
        self.config = config
        d = config.d_model

        def block() -> ConformerBlock:
            return ConformerBlock(d, config.n_heads, config.ffn_mult, config.conv_kernel, config.dropout, config.molora)

        self.front_end = AudioFrontEnd(config)
        self.encoder = nn.ModuleList(block() for _ in range(config.n_encoder_layers))
        self.style_encoder = StyleEncoder(config)
        # FiLM (Perez et al. 2018) before each decoder block: scale for amplitude styles, shift for biases (smile).
        self.film = nn.ModuleList(nn.Linear(config.style_dim, 2 * d) for _ in range(config.n_decoder_layers))
        for film in self.film:
            nn.init.zeros_(film.weight)  # starts as identity, so early training is not swamped by a random style
            nn.init.zeros_(film.bias)
        self.decoder = nn.ModuleList(block() for _ in range(config.n_decoder_layers))
        self.expression_head = ExpressionHead(d, config.n_expression, config.expression_head_rank)
        self.jaw_head = nn.Linear(d, 3)

    def encode_audio(self, mel: Tensor, phonetic: Tensor | None = None) -> Tensor:
        """mel [B, T, 4, 80], phonetic [B, T, P] or None -> audio features [B, T, D]."""
        x = self.front_end(mel, phonetic)
        for layer in self.encoder:
            x = layer(x)
        return x

    def encode_style(self, reference: Tensor) -> Tensor:
        """Reference motion [B, Tr, C+3] (expression channels then jaw) -> style [B, S]."""
        return self.style_encoder(reference)

    def decode(self, audio: Tensor, style: Tensor | None = None) -> ExpressionOutput:
        """audio features [B, T, D], style [B, S] or None (average style) -> expression [B, T, C], jaw [B, T, 3]."""
        if style is None:
            style = audio.new_zeros(audio.shape[0], self.config.style_dim)
        x = audio
        for film, layer in zip(self.film, self.decoder):
            scale, shift = film(style)[:, None, :].chunk(2, dim=-1)  # each [B, 1, D]
            x = layer(x * (1 + scale) + shift)
        return ExpressionOutput(self.expression_head(x), self.jaw_head(x))

    def forward(self, mel: Tensor, phonetic: Tensor | None = None, style: Tensor | None = None) -> ExpressionOutput:
        return self.decode(self.encode_audio(mel, phonetic), style)

    def replace_expression_head(self, n_channels: int, rank: int | None = None) -> None:
        """A fresh head for a rig whose channels differ from the checkpoint's (trained during adaptation).

        `config` keeps describing the checkpoint (the style encoder still reads its channels); the head's shape
        belongs with the adapted style.
        """
        device = self.jaw_head.weight.device
        self.expression_head = ExpressionHead(self.config.d_model, n_channels, rank).to(device)
