"""Chunks of long audio: the expression model runs on overlapping windows crossfaded, PoseGPT on code chunks each
prompted with the codes before it. Chunks keep memory bounded and time linear on hour-long audio, and are sized like
the training windows, so the models see the context lengths they were trained on."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from backend.core.timebase import MODEL_FPS
from backend.models.checkpoint_file import Checkpoint

_DEFAULT_WINDOW_S = 6.0  # chunk length for a checkpoint that does not record its training windows


@dataclass(frozen=True)
class ChunkPlan:
    """Chunk sizes: the longest windows the checkpoint was trained on. The Conformer attends over its whole input,
    and its output drifts on inputs much longer than it was trained on, so chunks never exceed that length."""

    expression_frames: int  # frames per expression chunk ...
    expression_overlap: int  # ... crossfaded over this many with the next
    pose_codes: int  # new codes PoseGPT samples per chunk ...
    pose_prompt: int  # ... after this many codes of the previous chunk, so head motion flows on across chunks

    @classmethod
    def for_checkpoint(cls, checkpoint: Checkpoint) -> ChunkPlan:
        stages = checkpoint.training.get("settings", {})
        expression_s = stages.get("expression", {}).get("window_seconds", (0, _DEFAULT_WINDOW_S))[1]
        pose_s = stages.get("pose_gpt", {}).get("window_seconds", (0, _DEFAULT_WINDOW_S))[1]
        frames = max(8, round(expression_s * MODEL_FPS))
        codes = max(4, round(pose_s * MODEL_FPS / checkpoint.config.pose_vqvae.downsample))
        return cls(frames, frames // 5, codes - codes // 4, codes // 4)  # overlap 20 %, prompt 25 %


def crossfade_windows(n_frames: int, chunk: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) of chunks covering [0, n_frames), consecutive ones sharing `overlap` frames."""
    if overlap >= chunk:
        raise ValueError(f"chunk overlap {overlap} must be smaller than the chunk {chunk}")
    windows, start = [], 0
    while True:
        end = min(start + chunk, n_frames)
        windows.append((start, end))
        if end == n_frames:
            return windows
        start = end - overlap


def crossfade_weights(start: int, end: int, n_frames: int, overlap: int) -> Tensor:
    """Per-frame weight [end - start] of a chunk: linear ramps over the overlaps, so weights sum to 1."""
    weights = torch.ones(end - start)
    ramp = (torch.arange(overlap) + 0.5) / overlap
    if start > 0:
        weights[:overlap] = ramp
    if end < n_frames:
        weights[-overlap:] = 1.0 - ramp
    return weights
