"""AdaMesh's models: the expression adapter (Conformer + MoLoRA) and the pose adapter (VQ-VAE, PoseGPT, style matrix).

How the parts meet (25 fps motion frames, codes every `pose_vqvae.downsample` frames):
- `ExpressionModel.encode_audio` gives audio features [B, T, D]; run with the adapters off
  (`set_molora_scale(model, 0)`), pooled by `pool_to_code_rate`, they are PoseGPT's audio input and the features
  the style matrix clusters, so pose retrieval does not drift with an adapted expression style.
- `PoseVQVAE.encoder_outputs` fills the style matrix; PoseGPT samples codes that `PoseVQVAE.decode` turns into pose.
"""
