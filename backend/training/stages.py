"""What each training stage computes: its forward pass (as a module DDP can wrap), its loss, and the style bank.

Stages, in order: the expression model (adapters frozen at zero); the pose VQ-VAE; PoseGPT on the VQ codes of
head-pose windows, conditioned on the frozen expression encoder's mel-only features; then the style bank.

The pose path always reads the *mel-only* audio features (phonetic input absent): head motion follows prosody,
not phone identity, and so the same pose comes out whether or not the phonetic front end ran, and a reference's
style matrix lands in the bank's clusters whichever front end made it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from backend.models.adamesh import AdaMeshModels
from backend.models.expression import ExpressionModel, ExpressionOutput
from backend.models.molora import set_molora_scale
from backend.models.pose_gpt import PoseGPT, pool_to_code_rate
from backend.models.style_matrix import PoseStyleMatrix, build_style_matrix, fit_audio_clusters, stack_style_matrices
from backend.training.batches import (
    ExpressionBatch,
    PhoneticCorruption,
    draw_windows,
    expression_batch,
    gather,
    pose_batch,
)
from backend.training.corpus_data import CorpusFeatures
from backend.training.losses import LipSeparation, code_loss, expression_loss, pose_reconstruction_loss
from backend.training.settings import TrainingSettings

_MAX_CLUSTERING_CODES = 50_000  # k-means on a subsample beyond this: the centroids settle long before
_ENCODE_CHUNK_FRAMES = 1500  # utterances are encoded whole up to 60 s (training windows are shorter still)


class ExpressionStep(nn.Module):
    """The expression model's training forward: style from the reference (zeroed where dropped), then the model."""

    def __init__(self, model: ExpressionModel):
        super().__init__()
        self.model = model

    def forward(self, mel: Tensor, phonetic: Tensor | None, reference: Tensor, keep_style: Tensor) -> ExpressionOutput:
        style = self.model.encode_style(reference) * keep_style[:, None]
        return self.model(mel, phonetic, style)


class CodeStep(nn.Module):
    """PoseGPT's training forward: teacher-forced logits for codes, audio and training-style ids."""

    def __init__(self, model: PoseGPT):
        super().__init__()
        self.model = model

    def forward(self, codes: Tensor, audio: Tensor, style_ids: Tensor) -> Tensor:
        return self.model(codes, audio, self.model.style_vectors(style_ids))


class ExpressionStage:
    def __init__(
        self,
        models: AdaMeshModels,
        features: CorpusFeatures,
        settings: TrainingSettings,
        corruption: PhoneticCorruption,
        separation: LipSeparation | None,
        device: torch.device,
    ):
        self.features, self.settings, self.corruption, self.separation = features, settings, corruption, separation
        self.bilabial = features.bilabial_frames()
        self.use_phonetic = models.config.expression.use_phonetic
        self.device = device
        self.module: nn.Module = ExpressionStep(models.expression)

    def batch(self, rng: np.random.Generator, batch: int) -> ExpressionBatch:
        s = self.settings
        return expression_batch(
            self.features,
            self.bilabial,
            rng,
            batch,
            s.expression.window_seconds,
            s.reference_seconds,
            s.style_dropout,
            self.corruption,
        )

    def loss(self, module: nn.Module, batch: ExpressionBatch) -> tuple[Tensor, dict[str, float]]:
        batch = batch.to(self.device)
        output = module(batch.mel, batch.phonetic if self.use_phonetic else None, batch.reference, batch.keep_style)
        s = self.settings
        return expression_loss(output, batch, s.velocity_weight, s.lip_gap_weight, s.bilabial_weight, self.separation)

    def step(self, module: nn.Module, rng: np.random.Generator, batch: int) -> tuple[Tensor, dict[str, float]]:
        return self.loss(module, self.batch(rng, batch))


class PoseVQVAEStage:
    def __init__(
        self, models: AdaMeshModels, features: CorpusFeatures, settings: TrainingSettings, device: torch.device
    ):
        self.features, self.settings, self.device = features, settings, device
        self.config = models.config.pose_vqvae
        self.module: nn.Module = models.pose_vqvae

    def step(self, module: nn.Module, rng: np.random.Generator, batch: int) -> tuple[Tensor, dict[str, float]]:
        pose = pose_batch(
            self.features, rng, batch, self.settings.pose_vqvae.window_seconds, self.config.downsample
        ).to(self.device)
        return pose_reconstruction_loss(module(pose), pose, self.config.pose_scale, self.settings.velocity_weight)


class PoseGPTStage:
    def __init__(
        self,
        models: AdaMeshModels,
        features: CorpusFeatures,
        settings: TrainingSettings,
        audio_rows: Tensor,
        device: torch.device,
    ):
        self.features, self.settings, self.audio_rows, self.device = features, settings, audio_rows, device
        self.vqvae = models.pose_vqvae
        self.module: nn.Module = CodeStep(models.pose_gpt)

    def step(self, module: nn.Module, rng: np.random.Generator, batch: int) -> tuple[Tensor, dict[str, float]]:
        factor = self.vqvae.config.downsample
        windows = draw_windows(rng, self.features.n_frames, batch, self.settings.pose_gpt.window_seconds, factor)
        with torch.no_grad():
            codes = self.vqvae.encode(gather(self.features.head, self.features, windows).to(self.device))
        audio = pool_to_code_rate(gather(self.audio_rows, self.features, windows).to(self.device), factor)
        style_ids = torch.from_numpy(self.features.speaker[windows.utterance]).to(self.device)
        return code_loss(module(codes, audio, style_ids), codes)


@torch.no_grad()
def pose_audio_features(model: ExpressionModel, mel: Tensor) -> Tensor:
    """The pose path's audio features [T, D] for one utterance's mel [T, 4, 80]: base encoder, mel only, eval mode."""
    was_training = model.training
    model.eval()
    set_molora_scale(model, 0.0)
    try:
        pieces = [
            model.encode_audio(mel[None, a : a + _ENCODE_CHUNK_FRAMES])[0]
            for a in range(0, len(mel), _ENCODE_CHUNK_FRAMES)
        ]
    finally:
        set_molora_scale(model, 1.0)
        model.train(was_training)
    return torch.cat(pieces)


def corpus_pose_audio_features(model: ExpressionModel, features: CorpusFeatures, device: torch.device) -> Tensor:
    """`pose_audio_features` of every utterance, concatenated like the corpus rows: [N, D] on the CPU."""
    return torch.cat(
        [
            pose_audio_features(model, features.mel[features.rows(u)].to(device)).cpu()
            for u in range(features.n_utterances)
        ]
    )


@torch.no_grad()
def build_style_bank(
    models: AdaMeshModels, features: CorpusFeatures, audio_rows: Tensor, seed: int, device: torch.device
) -> tuple[PoseStyleMatrix, Tensor]:
    """k-means centroids of the code-rate audio features, and one pose style matrix per training speaker."""
    vqvae = models.pose_vqvae.eval()
    factor = vqvae.config.downsample
    audio_codes, encoded = [], []
    for u in range(features.n_utterances):
        usable = int(features.n_frames[u]) // factor * factor
        rows = features.rows(u, 0, usable)
        audio_codes.append(pool_to_code_rate(audio_rows[rows][None].to(device), factor)[0])
        encoded.append(vqvae.encoder_outputs(features.head[rows][None].to(device))[0])
    generator = torch.Generator().manual_seed(seed)
    pooled = torch.cat(audio_codes).cpu()
    if len(pooled) > _MAX_CLUSTERING_CODES:
        pooled = pooled[torch.randperm(len(pooled), generator=generator)[:_MAX_CLUSTERING_CODES]]
    config = models.config.style_matrix
    centroids = fit_audio_clusters(pooled, config.n_clusters, config.kmeans_iters, generator).to(device)
    matrices = []
    for speaker in range(len(features.speakers)):
        mine = features.utterances_of(speaker)
        matrices.append(
            build_style_matrix(
                torch.cat([audio_codes[u] for u in mine]), torch.cat([encoded[u] for u in mine]), centroids
            )
        )
    return stack_style_matrices(matrices), centroids
