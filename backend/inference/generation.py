"""Generation: speech -> a motion clip (expression, jaw, head) in a checkpoint's channels.

    audio -> log-mel per 25 fps frame (+ phones from pocketsphinx -> per-frame phone features)
          -> expression model, in overlapping chunks crossfaded    -> expression [T, C], jaw [T, 3]
          -> the lips closed on each P, B, M of the phones (backend/inference/lip_closure.py)
          -> mel-only encoder features -> PoseGPT, chunk by chunk with the previous codes as prompt
          -> VQ-VAE decoder                                         -> head [T, 3]
          -> resampled to the requested fps
          -> blinks and eye saccades, drawn with the seed (optional; backend/eyes/eye_motion.py)

A style from Adapt Style (backend/inference/style_files.py) puts its adapters into a copy of the expression model
and supplies the expression and pose style vectors and the head calibration; its strengths scale them.

Chunks keep memory bounded and time linear on hour-long audio: the Conformer attends within a chunk only, and
PoseGPT's KV cache never holds more than one chunk and its prompt. Chunks are sized like the training windows, so
the models see the context lengths they were trained on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from backend.clips import MotionClip, resample_clip
from backend.core.errors import AdaMeshError, AudioError
from backend.core.phones import PHONETIC_MODES
from backend.core.progress import Progress, ProgressReporter
from backend.core.timebase import MODEL_FPS
from backend.inference.chunking import ChunkPlan, crossfade_weights, crossfade_windows
from backend.inference.features import mel_frames, phone_frames, speech_phones
from backend.inference.generate_options import GenerateOptions
from backend.inference.lip_closure import close_bilabials
from backend.inference.pose_calibration import PoseCalibration
from backend.inference.pose_styles import pose_style_vector
from backend.inference.style_files import Style, apply_style, load_style
from backend.models.checkpoint_file import Checkpoint, load_checkpoint
from backend.models.devices import select_device
from backend.models.molora import molora_layers, set_molora_scale
from backend.models.pose_gpt import pool_to_code_rate

_DECODE_CHUNK_CODES = 1024  # VQ-VAE decoding in pieces (exact: the overlap exceeds its receptive field)
_DECODE_OVERLAP_CODES = 16


class GenerationCancelled(AdaMeshError):
    """The caller cancelled generation."""

    code = "cancelled"


@dataclass(frozen=True)
class Motion:
    expression: np.ndarray  # [T, C] at 25 fps
    jaw: np.ndarray  # [T, 3]
    head: np.ndarray  # [T, 3]


def generate_clip(
    audio_path: str | Path,
    options: GenerateOptions = GenerateOptions(),
    checkpoint: Checkpoint | None = None,
    *,
    style: Style | None = None,
    wave: np.ndarray | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> MotionClip:
    """The motion clip for the speech in `audio_path`, at `options.fps`, one frame per instant i / fps in the audio.

    checkpoint: a loaded Checkpoint (the worker keeps one); None loads `options.checkpoint` (None: the starter) on
    `options.device`. style: a loaded Style (a caller that checked it first); None loads `options.style`, if any.
    The style is applied at the options' strengths; the clip then has the style's channels. wave: the sound of
    `audio_path` already decoded (mono, 16 kHz), for a caller that inspected it first; None decodes the file here.
    progress(fraction, message) is called as work advances; `cancel()` returning True stops with
    GenerationCancelled at the next chunk.
    """
    from backend.audio.decode import load_audio
    from backend.audio.frames import canonical_fps, motion_frame_count
    from backend.audio.mel import SAMPLE_RATE
    from backend.eyes.eye_motion import EyeStyle, add_eye_motion, pause_timeline

    report = ProgressReporter(progress, cancel, GenerationCancelled, "generation")
    if options.phonetic not in PHONETIC_MODES:
        raise AdaMeshError(f"unknown phonetic mode {options.phonetic!r}; use one of {', '.join(PHONETIC_MODES)}")
    fps = canonical_fps(options.fps)
    if checkpoint is None:
        checkpoint = load_checkpoint(options.checkpoint, select_device(options.device))
    if style is None and options.style is not None:
        style = load_style(options.style, checkpoint)
    expression_style, style_pose, eyes = None, None, EyeStyle()
    if style is not None:
        checkpoint, expression_style, style_pose = apply_style(
            checkpoint, style, options.expression_strength, options.pose_strength
        )
        eyes = style.eyes
    if wave is None:
        report(0.0, "decoding audio")
        wave = load_audio(audio_path)
    duration = len(wave) / SAMPLE_RATE
    n_out = motion_frame_count(duration, fps)
    if n_out == 0:
        raise AudioError(f"{audio_path} holds no sound to animate")
    # one 25 fps frame past the last instant, so resampling reaches every requested frame
    n_frames = motion_frame_count(duration, MODEL_FPS) + 1
    mel = mel_frames(wave, n_frames)
    timeline = phones = None
    if options.phonetic != "none" and checkpoint.config.expression.use_phonetic:
        report(0.05, "recognising phones" if options.transcript is None else "aligning the transcript")
        timeline = speech_phones(wave, options.transcript, options.phonetic)
        phones = phone_frames(timeline, n_frames)
    # a named training pose style wins over the style's own (and its calibration)
    own_pose = style_pose is not None and options.pose_style is None
    pose = style_pose if own_pose else pose_style_vector(checkpoint, options.pose_style)
    calibration = style.pose_calibration.at_strength(options.pose_strength) if own_pose else None
    motion = generate_motion(
        checkpoint,
        mel,
        phones,
        options.seed,
        pose,
        expression_style,
        pose_calibration=calibration,
        progress=lambda f, m: report(0.4 + 0.6 * f if phones is not None else 0.1 + 0.9 * f, m),
    )
    clip = MotionClip(
        fps=MODEL_FPS,
        expression=motion.expression,
        expression_names=checkpoint.channel_names,
        jaw=motion.jaw,
        head=motion.head,
    )
    if fps != MODEL_FPS:
        clip = resample_clip(clip, fps)
    clip = MotionClip(
        fps=fps,
        expression=clip.expression[:n_out],
        expression_names=clip.expression_names,
        jaw=clip.jaw[:n_out],
        head=clip.head[:n_out],
    )
    if options.blinks:
        pauses = timeline if timeline is not None else pause_timeline(wave, SAMPLE_RATE, n_out, fps)
        clip = add_eye_motion(clip, eyes, options.seed, pauses)
    report(1.0, "done")
    return clip


@torch.inference_mode()
def generate_motion(
    checkpoint: Checkpoint,
    mel: Tensor,
    phonetic: Tensor | None,
    seed: int,
    pose_style: Tensor,
    expression_style: Tensor | None = None,
    plan: ChunkPlan | None = None,
    progress: Progress | None = None,
    pose_calibration: PoseCalibration | None = None,
) -> Motion:
    """Motion at 25 fps for mel [T, 4, 80] and phonetic [T, 40] (None: mel only).

    pose_style [1, S] is PoseGPT's style vector; expression_style [1, S'] the expression model's (None: the average
    style); pose_calibration a style's head calibration (backend/inference/pose_calibration.py), applied to the
    whole head track. The same inputs and seed give the same motion.
    """
    models = checkpoint.models
    plan = plan or ChunkPlan.for_checkpoint(checkpoint)
    device = next(models.parameters()).device
    expression, jaw, pose_audio = expression_chunks(
        models.expression,
        mel.to(device),
        None if phonetic is None else phonetic.to(device),
        expression_style,
        plan,
        progress,
    )
    head = head_motion(checkpoint, pose_audio, pose_style, seed, plan, progress)
    expression, jaw = expression.cpu().numpy(), jaw.cpu().numpy()
    if phonetic is not None:  # the lips close on every P, B, M fed in (backend/inference/lip_closure.py)
        expression, jaw = close_bilabials(expression, jaw, phonetic.cpu().numpy(), checkpoint.channel_names, MODEL_FPS)
    head = head[: len(mel)].cpu().numpy()
    if pose_calibration is not None:
        head = pose_calibration.apply(head, MODEL_FPS)
    return Motion(expression, jaw, head)


def expression_chunks(
    model, mel: Tensor, phonetic: Tensor | None, style: Tensor | None, plan: ChunkPlan, progress: Progress | None
) -> tuple[Tensor, Tensor, Tensor]:
    """Expression [T, C], jaw [T, 3] and the pose path's mel-only base features [T, D], chunk by chunk."""
    n = len(mel)
    windows = crossfade_windows(n, plan.expression_frames, plan.expression_overlap)
    # without phones or adapters the expression path reads the very features the pose path does: encode once
    shared_encoder = phonetic is None and not has_active_adapters(model)
    expression = jaw = pose_audio = None
    for k, (start, end) in enumerate(windows):
        if progress:
            progress(0.5 * k / len(windows), "expression")
        chunk_mel = mel[None, start:end]
        # the pose path reads the base encoder on the mel alone (backend/training/stages.py)
        strength = molora_scale(model)
        set_molora_scale(model, 0.0)
        base = model.encode_audio(chunk_mel, None)
        set_molora_scale(model, strength)  # a style's strength (backend/inference/style_files.py), 1 for a plain model
        features = (
            base
            if shared_encoder
            else model.encode_audio(chunk_mel, None if phonetic is None else phonetic[None, start:end])
        )
        out = model.decode(features, style)
        if expression is None:
            expression, jaw = mel.new_zeros(n, out.expression.shape[-1]), mel.new_zeros(n, 3)
            pose_audio = mel.new_zeros(n, base.shape[-1])
        w = crossfade_weights(start, end, n, plan.expression_overlap).to(mel.device)[:, None]
        expression[start:end] += w * out.expression[0]
        jaw[start:end] += w * out.jaw[0]
        pose_audio[start:end] += w * base[0]
    return expression, jaw, pose_audio


def molora_scale(model) -> float:
    """The adapters' common strength (1.0 for a model without adapters)."""
    return next((layer.scale for layer in molora_layers(model)), 1.0)


def has_active_adapters(model) -> bool:
    """True when some MoLoRA adapter would change the model's output (a non-zero B at a non-zero scale)."""
    return any(layer.scale != 0.0 and bool(layer.molora.lora_B.any()) for layer in molora_layers(model))


def head_motion(
    checkpoint: Checkpoint, pose_audio: Tensor, style: Tensor, seed: int, plan: ChunkPlan, progress: Progress | None
) -> Tensor:
    """Head rotation [ceil(T / 4) * 4, 3]: PoseGPT codes chunk by chunk, each prompted with the codes before it."""
    models = checkpoint.models
    factor = models.config.pose_vqvae.downsample
    audio = pool_to_code_rate(pose_audio[None], factor)  # [1, N, D]
    n_codes = audio.shape[1]
    generator = torch.Generator(device=audio.device).manual_seed(seed)
    codes = torch.zeros(1, n_codes, dtype=torch.long, device=audio.device)
    for start in range(0, n_codes, plan.pose_codes):
        if progress:
            progress(0.5 + 0.4 * start / n_codes, "head motion")
        first = max(0, start - plan.pose_prompt)
        end = min(start + plan.pose_codes, n_codes)
        prompt = codes[:, first:start] if start > first else None
        codes[:, first:end] = models.pose_gpt.generate(audio[:, first:end], style, generator=generator, prompt=prompt)
    if progress:
        progress(0.9, "head motion")
    return decode_codes(models.pose_vqvae, codes[0])


def decode_codes(vqvae, codes: Tensor) -> Tensor:
    """VQ-VAE decoding of a long code sequence [N] in overlapping pieces -> pose [N * downsample, 3]."""
    factor = vqvae.config.downsample
    pieces = []
    n = len(codes)
    for start in range(0, n, _DECODE_CHUNK_CODES):
        first, end = max(0, start - _DECODE_OVERLAP_CODES), min(n, start + _DECODE_CHUNK_CODES + _DECODE_OVERLAP_CODES)
        pose = vqvae.decode(codes[None, first:end])[0]
        keep_end = min(start + _DECODE_CHUNK_CODES, n)
        pieces.append(pose[(start - first) * factor : (keep_end - first) * factor])
    return torch.cat(pieces)
