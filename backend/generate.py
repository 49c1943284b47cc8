"""`python -m backend generate`: speech -> a motion clip (expression, jaw, head) in a checkpoint's channels.

    audio -> log-mel per 25 fps frame (+ phones from pocketsphinx -> per-frame phone features)
          -> expression model, in overlapping chunks crossfaded    -> expression [T, C], jaw [T, 3]
          -> the lips closed on each P, B, M of the phones (backend/lip_closure.py)
          -> mel-only encoder features -> PoseGPT, chunk by chunk with the previous codes as prompt
          -> VQ-VAE decoder                                         -> head [T, 3]
          -> resampled to the requested fps
          -> blinks and eye saccades, drawn with the seed (optional; backend/eyes.py)

A style from Adapt Style (backend/styles.py) puts its adapters into a copy of the expression model and supplies the
expression and pose style vectors; its strengths scale them.

Chunks keep memory bounded and time linear on hour-long audio: the Conformer attends within a chunk only, and
PoseGPT's KV cache never holds more than one chunk and its prompt. Chunks are sized like the training windows, so
the models see the context lengths they were trained on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from backend.adaptation.pose_calibration import PoseCalibration
from backend.checkpoints import Checkpoint, load_checkpoint
from backend.clips import MotionClip, resample_clip
from backend.devices import select_device
from backend.errors import AdaMeshError, AudioError
from backend.lip_closure import close_bilabials
from backend.models.molora import molora_layers, set_molora_scale
from backend.models.pose_gpt import pool_to_code_rate
from backend.styles import Style, apply_style, load_style
from backend.synth.phones import Phone

PHONETIC_MODES = ("words", "allphone", "none")  # pocketsphinx recognition modes, or no phonetic input (mel only)
_DECODE_CHUNK_CODES = 1024  # VQ-VAE decoding in pieces (exact: the overlap exceeds its receptive field)
_DECODE_OVERLAP_CODES = 16
_MODEL_FPS = 25.0
# Recogniser processes (measured on 60 s of LibriSpeech, 2 cores): words runs ~6.6x real time in one process and
# ~11x in two; allphone ~26x in one, and a second process's start-up (~1-2 s) costs more than it saves.
_RECOGNITION_WORKERS = {"words": 2, "allphone": 1}
_DEFAULT_WINDOW_S = 6.0  # chunk length for a checkpoint that does not record its training windows

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], what is happening)


class GenerationCancelled(AdaMeshError):
    """The caller cancelled generation."""

    code = "cancelled"


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
        frames = max(8, round(expression_s * _MODEL_FPS))
        codes = max(4, round(pose_s * _MODEL_FPS / checkpoint.config.pose_vqvae.downsample))
        return cls(frames, frames // 5, codes - codes // 4, codes // 4)  # overlap 20 %, prompt 25 %


@dataclass(frozen=True)
class Motion:
    expression: np.ndarray  # [T, C] at 25 fps
    jaw: np.ndarray  # [T, 3]
    head: np.ndarray  # [T, 3]


def generate_clip(audio_path: str | Path, checkpoint: Checkpoint | str | Path | None = None, fps: float = 25.0,
                  seed: int = 0, transcript: str | None = None, pose_style: str | int | None = None,
                  phonetic: str = "words", progress: Progress | None = None,
                  cancel: Callable[[], bool] | None = None, style: Style | str | Path | None = None,
                  expression_strength: float = 1.0, pose_strength: float = 1.0, blinks: bool = False,
                  device: str = "cpu", wave: np.ndarray | None = None) -> MotionClip:
    """The motion clip for the speech in `audio_path`, at `fps`, one frame per instant i / fps in the audio.

    checkpoint: a loaded Checkpoint (the worker keeps one), a path, or None for the starter (loaded on `device`:
    auto, cpu, cuda or mps). transcript: the spoken text, for forced alignment (more exact phones than
    recognition). pose_style: a training style's name or index (see the checkpoint's pose_styles); None blends them
    all evenly, or takes the style's. phonetic: "words", "allphone" or "none".
    style: a style file from Adapt Style (or a loaded Style), applied at `expression_strength` and `pose_strength`
    (0 = the base model, 1 = the style, above 1 exaggerates); the clip then has the style's channels.
    blinks: add blinks and eye saccades drawn from `seed` (at the style's blink rate; backend/eyes.py).
    progress(fraction, message) is called as work advances; `cancel()` returning True stops with
    GenerationCancelled at the next chunk. wave: the sound of `audio_path` already decoded (mono, 16 kHz), for a
    caller that inspected it first; None decodes the file here.
    """
    from backend.audio.decode import load_audio
    from backend.audio.frames import canonical_fps, motion_frame_count
    from backend.audio.mel import SAMPLE_RATE
    from backend.eyes import EyeStyle, add_eye_motion, pause_timeline

    report = ProgressReporter(progress, cancel)
    if phonetic not in PHONETIC_MODES:
        raise AdaMeshError(f"unknown phonetic mode {phonetic!r}; use one of {', '.join(PHONETIC_MODES)}")
    fps = canonical_fps(fps)
    if not isinstance(checkpoint, Checkpoint):
        checkpoint = load_checkpoint(checkpoint, select_device(device))
    expression_style, style_pose, calibration, eyes = None, None, None, EyeStyle()
    if style is not None:
        style = style if isinstance(style, Style) else load_style(style, checkpoint)
        checkpoint, expression_style, style_pose = apply_style(checkpoint, style, expression_strength, pose_strength)
        eyes = style.eyes
    if wave is None:
        report(0.0, "decoding audio")
        wave = load_audio(audio_path)
    duration = len(wave) / SAMPLE_RATE
    n_out = motion_frame_count(duration, fps)
    if n_out == 0:
        raise AudioError(f"{audio_path} holds no sound to animate")
    # one 25 fps frame past the last instant, so resampling reaches every requested frame
    n_frames = motion_frame_count(duration, _MODEL_FPS) + 1
    mel = mel_frames(wave, n_frames)
    timeline = phones = None
    if phonetic != "none" and checkpoint.config.expression.use_phonetic:
        report(0.05, "recognising phones" if transcript is None else "aligning the transcript")
        timeline = speech_phones(wave, transcript, phonetic)
        phones = phone_frames(timeline, n_frames)
    # a named training pose style wins over the style's own
    pose = style_pose if style_pose is not None and pose_style is None else pose_style_vector(checkpoint, pose_style)
    if style_pose is not None and pose_style is None:
        calibration = style.pose_calibration.at_strength(pose_strength)
    motion = generate_motion(checkpoint, mel, phones, seed, pose, expression_style, pose_calibration=calibration,
                             progress=lambda f, m: report(0.4 + 0.6 * f if phones is not None else 0.1 + 0.9 * f, m))
    clip = MotionClip(fps=_MODEL_FPS, expression=motion.expression, expression_names=checkpoint.channel_names,
                      jaw=motion.jaw, head=motion.head)
    if fps != _MODEL_FPS:
        clip = resample_clip(clip, fps)
    clip = MotionClip(fps=fps, expression=clip.expression[:n_out], expression_names=clip.expression_names,
                      jaw=clip.jaw[:n_out], head=clip.head[:n_out])
    if blinks:
        pauses = timeline if timeline is not None else pause_timeline(wave, SAMPLE_RATE, n_out, fps)
        clip = add_eye_motion(clip, eyes, seed, pauses)
    report(1.0, "done")
    return clip


def mel_frames(wave: np.ndarray, n_frames: int) -> Tensor:
    """Log-mel [T, 4, 80] for the first `n_frames` 25 fps frames of a 16 kHz wave."""
    from backend.audio.frames import features_per_motion_frame
    from backend.audio.mel import log_mel

    return torch.from_numpy(features_per_motion_frame(log_mel(wave), n_frames, _MODEL_FPS))


def speech_phones(wave: np.ndarray, transcript: str | None, mode: str) -> list[Phone]:
    """The phone timeline from pocketsphinx: forced alignment with a transcript, else recognition in `mode`."""
    from backend.audio.phonetic import align_phones, recognise_phones

    return align_phones(wave, transcript) if transcript else recognise_phones(wave, mode,
                                                                              workers=_RECOGNITION_WORKERS[mode])


def phone_frames(phones: list[Phone], n_frames: int) -> Tensor:
    """Per-frame phone features [T, 40] at the models' 25 fps."""
    from backend.audio.phonetic import phone_features

    return torch.from_numpy(phone_features(phones, n_frames, _MODEL_FPS))


def pose_style_vector(checkpoint: Checkpoint, style: str | int | None) -> Tensor:
    """PoseGPT's style vector [1, S]: a training style by name or index, or the even blend of all (None)."""
    gpt = checkpoint.models.pose_gpt
    names = [s.name for s in checkpoint.pose_styles]
    if style is None:
        ids = torch.arange(len(names), device=gpt.style_embedding.weight.device)
        return gpt.blend_styles(ids, torch.full((len(names),), 1.0 / len(names), device=ids.device))[None]
    if isinstance(style, str) and style in names:
        index = names.index(style)
    elif isinstance(style, int) or (isinstance(style, str) and style.isdigit()):
        index = int(style)
        if not 0 <= index < len(names):
            raise AdaMeshError(f"pose style index {index} is out of range: this checkpoint has {len(names)} "
                               f"(0 to {len(names) - 1})")
    else:
        raise AdaMeshError(f"unknown pose style {style!r}; this checkpoint has: "
                           + ", ".join(f"{k} {s.name} ({s.kind})" for k, s in enumerate(checkpoint.pose_styles)))
    return gpt.style_vectors(torch.tensor([index], device=gpt.style_embedding.weight.device))


@torch.inference_mode()
def generate_motion(checkpoint: Checkpoint, mel: Tensor, phonetic: Tensor | None, seed: int, pose_style: Tensor,
                    expression_style: Tensor | None = None, plan: ChunkPlan | None = None,
                    progress: Progress | None = None, pose_calibration: PoseCalibration | None = None) -> Motion:
    """Motion at 25 fps for mel [T, 4, 80] and phonetic [T, 40] (None: mel only).

    pose_style [1, S] is PoseGPT's style vector; expression_style [1, S'] the expression model's (None: the average
    style); pose_calibration a style's head calibration (backend/adaptation/pose_calibration.py), applied to the
    whole head track. The same inputs and seed give the same motion.
    """
    models = checkpoint.models
    plan = plan or ChunkPlan.for_checkpoint(checkpoint)
    device = next(models.parameters()).device
    expression, jaw, pose_audio = expression_chunks(models.expression, mel.to(device),
                                                    None if phonetic is None else phonetic.to(device),
                                                    expression_style, plan, progress)
    head = head_motion(checkpoint, pose_audio, pose_style, seed, plan, progress)
    expression, jaw = expression.cpu().numpy(), jaw.cpu().numpy()
    if phonetic is not None:  # the lips close on every P, B, M fed in (backend/lip_closure.py)
        expression, jaw = close_bilabials(expression, jaw, phonetic.cpu().numpy(), checkpoint.channel_names,
                                          _MODEL_FPS)
    head = head[:len(mel)].cpu().numpy()
    if pose_calibration is not None:
        head = pose_calibration.apply(head, _MODEL_FPS)
    return Motion(expression, jaw, head)


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


def expression_chunks(model, mel: Tensor, phonetic: Tensor | None, style: Tensor | None, plan: ChunkPlan,
                      progress: Progress | None) -> tuple[Tensor, Tensor, Tensor]:
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
        set_molora_scale(model, strength)  # a style's strength (backend/styles.py), 1 for a plain model
        features = base if shared_encoder else model.encode_audio(
            chunk_mel, None if phonetic is None else phonetic[None, start:end])
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


def head_motion(checkpoint: Checkpoint, pose_audio: Tensor, style: Tensor, seed: int, plan: ChunkPlan,
                progress: Progress | None) -> Tensor:
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
        pieces.append(pose[(start - first) * factor:(keep_end - first) * factor])
    return torch.cat(pieces)


class ProgressReporter:
    """Forwards progress and turns a cancellation request into `cancelled` (GenerationCancelled by default)."""

    def __init__(self, progress: Progress | None, cancel: Callable[[], bool] | None,
                 cancelled: type[AdaMeshError] = GenerationCancelled, what: str = "generation"):
        self.progress, self.cancel, self.cancelled, self.what = progress, cancel, cancelled, what
        self.started = time.monotonic()

    def __call__(self, fraction: float, message: str) -> None:
        if self.cancel is not None and self.cancel():
            raise self.cancelled(f"{self.what} was cancelled")
        if self.progress is not None:
            self.progress(min(max(fraction, 0.0), 1.0), message)
