"""The three trained parts of AdaMesh under one module: what a checkpoint file holds."""

from __future__ import annotations

from torch import nn

from backend.models.config import ModelConfig
from backend.models.expression import ExpressionModel
from backend.models.pose_gpt import PoseGPT
from backend.models.pose_vqvae import PoseVQVAE


class AdaMeshModels(nn.Module):
    """The three trained parts under one state dict (prefixes `expression.`, `pose_vqvae.`, `pose_gpt.`)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.expression = ExpressionModel(config.expression)
        self.pose_vqvae = PoseVQVAE(config.pose_vqvae)
        self.pose_gpt = PoseGPT(
            config.pose_gpt, n_codes=config.pose_vqvae.codebook_size, audio_dim=config.expression.d_model
        )
