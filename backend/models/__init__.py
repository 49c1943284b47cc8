"""AdaMesh's models: the expression adapter (Conformer + MoLoRA) and the pose adapter (VQ-VAE, PoseGPT, style matrix).

How the parts meet (25 fps motion frames, codes every `pose_vqvae.downsample` frames):
- `ExpressionModel.encode_audio` gives audio features [B, T, D]; run with the adapters off
  (`set_molora_scale(model, 0)`), pooled by `pool_to_code_rate`, they are PoseGPT's audio input and the features
  the style matrix clusters, so pose retrieval does not drift with an adapted expression style.
- `PoseVQVAE.encoder_outputs` fills the style matrix; PoseGPT samples codes that `PoseVQVAE.decode` turns into pose.
"""

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
        self.pose_gpt = PoseGPT(config.pose_gpt, n_codes=config.pose_vqvae.codebook_size,
                                audio_dim=config.expression.d_model)
