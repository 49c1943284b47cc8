"""Generation speed of the neural path as a multiple of real time (what `backend bench` reports)."""

from __future__ import annotations

import time
from typing import NamedTuple

import torch

from backend.models.adamesh import AdaMeshModels
from backend.models.molora import set_molora_scale
from backend.models.pose_gpt import pool_to_code_rate

FPS = 25  # the models' internal frame rate


class Speed(NamedTuple):
    expression: float  # x real time: audio encoder + decoder, adapters on
    pose: float  # x real time: PoseGPT sampling (KV cache) + VQ-VAE decoding
    total: float  # x real time for both, as generation runs them


def measure_speed(models: AdaMeshModels, seconds: float = 60.0, repeats: int = 3, seed: int = 0) -> Speed:
    """Best of `repeats` timed runs on random inputs of `seconds` of audio, at the current torch thread count."""
    models.eval()
    config = models.config.expression
    frames = round(seconds * FPS)
    g = torch.Generator().manual_seed(seed)
    mel = torch.randn(1, frames, config.mel_per_frame, config.n_mel, generator=g)
    phonetic = torch.softmax(torch.randn(1, frames, config.n_phones, generator=g), -1) if config.use_phonetic else None
    style = torch.zeros(1, config.style_dim)
    pose_style = models.pose_gpt.style_vectors(torch.zeros(1, dtype=torch.long))

    def expression() -> torch.Tensor:
        set_molora_scale(models.expression, 0.0)  # pose features come from the base encoder
        features = models.expression.encode_audio(mel, phonetic)
        set_molora_scale(models.expression, 1.0)
        models.expression(mel, phonetic, style)
        return features

    def pose(features: torch.Tensor) -> None:
        audio = pool_to_code_rate(features, models.config.pose_vqvae.downsample)
        codes = models.pose_gpt.generate(audio, pose_style, generator=torch.Generator().manual_seed(seed))
        models.pose_vqvae.decode(codes)

    best_expression = best_pose = float("inf")
    with torch.inference_mode():
        features = expression()  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            features = expression()
            middle = time.perf_counter()
            pose(features)
            end = time.perf_counter()
            best_expression, best_pose = min(best_expression, middle - start), min(best_pose, end - middle)
    return Speed(seconds / best_expression, seconds / best_pose, seconds / (best_expression + best_pose))
