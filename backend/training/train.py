"""`python -m backend train`: the base models from a corpus (`synth` or `prepare`), in stages, into one checkpoint.

    features (cached beside the corpus) -> expression model -> pose VQ-VAE -> PoseGPT -> style bank -> checkpoint

Multi-process: `torchrun --nproc_per_node N -m backend train ...` (gloo on CPU, nccl on CUDA); every process draws
its own windows, process 0 alone builds the feature cache, shows progress and writes files. With --max-minutes, each
stage stops when its share of the budget is spent (the result then depends on the machine's speed; without a budget
a CPU run is a function of its seed). A training state beside the output is saved every few minutes, at each
stage's end and on Ctrl-C; --resume continues from it, and it is removed once the checkpoint is written.

`--stages pose --from CHECKPOINT` retrains only the pose path (VQ-VAE, PoseGPT, style bank) on the corpus and keeps
CHECKPOINT's expression model bit for bit (its weights and mel statistics): new pose styles without the hour the
expression model takes. The corpus must have the checkpoint's channels.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import torch

from backend.audio.phone_errors import load_error_profile
from backend.core.errors import AdaMeshError
from backend.core.lip_gap import contract_channels
from backend.core.timebase import MODEL_FPS
from backend.models.adamesh import AdaMeshModels
from backend.models.checkpoint_file import Checkpoint, PoseStyleEntry, load_checkpoint, save_checkpoint
from backend.models.molora import freeze_molora, set_molora_scale
from backend.training.batches import PhoneticCorruption
from backend.training.corpus_data import CorpusFeatures, load_corpus_features, read_index
from backend.training.distributed import Processes, start_processes
from backend.training.loop import LoopOptions, run_stage
from backend.training.losses import LipSeparation
from backend.training.settings import STAGES, Preset, load_preset
from backend.training.stages import (
    ExpressionStage,
    PoseGPTStage,
    PoseVQVAEStage,
    build_style_bank,
    corpus_pose_audio_features,
)
from backend.training.state import TrainingProgress, load_state, save_state, state_path

STAGE_SETS = {"all": STAGES, "pose": ("pose_vqvae", "pose_gpt")}  # --stages


def train(
    data: str | Path,
    preset: str,
    out: str | Path,
    device: str = "auto",
    max_minutes: float | None = None,
    seed: int = 0,
    resume: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    threads: int | None = None,
    stages: str = "all",
    base: str | Path | None = None,
) -> Path | None:
    """Train a checkpoint into `out`; returns its path, or None when `should_stop` ended training early (the state
    for --resume is saved then). In a torchrun launch every process calls this; only process 0 writes.
    threads: CPU threads per process (None: torch's default, or the cores shared out under torchrun).
    stages: "all", or "pose" to retrain the pose path only, keeping the expression model of checkpoint `base`."""
    out = Path(out)
    if not out.parent.is_dir():
        raise AdaMeshError(f"cannot write {out}: folder {out.parent} does not exist")
    if max_minutes is not None and max_minutes <= 0:
        raise AdaMeshError(f"--max-minutes must be positive, got {max_minutes}")
    if stages not in STAGE_SETS:
        raise AdaMeshError(f"unknown --stages {stages!r}; use one of {', '.join(STAGE_SETS)}")
    if (stages == "all") != (base is None):
        raise AdaMeshError(
            "--stages pose needs --from CHECKPOINT (whose expression model is kept), and only it"
            if base is None
            else "--from is only for --stages pose: the expression model is kept from that checkpoint"
        )
    processes = start_processes(device, threads)
    try:
        kept = None if base is None else load_checkpoint(base, processes.device)
        return _train(
            Path(data),
            load_preset(preset),
            out,
            processes,
            max_minutes,
            seed,
            resume,
            should_stop,
            STAGE_SETS[stages],
            kept,
        )
    finally:
        processes.close()


def _train(
    data: Path,
    preset: Preset,
    out: Path,
    processes: Processes,
    max_minutes: float | None,
    seed: int,
    resume: bool,
    should_stop: Callable[[], bool],
    stages: tuple[str, ...] = STAGES,
    kept: Checkpoint | None = None,
) -> Path | None:
    started = time.monotonic()
    features = _corpus_features(data, processes)
    if kept is not None and features.channels != kept.channel_names:
        raise AdaMeshError(
            f"{data}'s channels ({len(features.channels)}: {', '.join(features.channels[:2])}, ...) "
            f"are not those of {kept.name}, whose expression model is kept: use a corpus with its "
            "channels"
        )
    # the corpus decides the output channels (the demo head's 37, FLAME's Exp1..Exp100, ...) and the pose styles;
    # a kept expression model brings its own configuration
    model_config = preset.model if kept is None else kept.config
    config = model_config.with_overrides(
        {"expression": {"n_expression": len(features.channels)}, "pose_gpt": {"n_styles": len(features.speakers)}}
    )
    device = processes.device
    torch.manual_seed(seed)
    models = AdaMeshModels(config).to(device)
    freeze_molora(models.expression)  # the adapters stay at zero in the base model ...
    set_molora_scale(models.expression, 0.0)  # ... and are skipped while it trains
    if kept is None:
        mean, std = features.mel_statistics()
        models.expression.front_end.set_mel_statistics(mean.to(device), std.to(device))
    else:  # weights, adapters (zero) and mel statistics exactly as they were
        models.expression.load_state_dict(kept.models.expression.state_dict())

    settings = preset.training
    identity = {
        "preset": preset.name,
        "config": config.to_json(),
        "seed": seed,
        "corpus": features.corpus_hash,
        "training": repr(settings),
        "stages": list(stages),
    }
    if kept is not None:
        identity["expression_from"] = kept.corpus_hash
    state_file = state_path(out)
    progress, optimizer_state = TrainingProgress(), None
    if resume:
        progress, optimizer_state = load_state(state_file, models, identity)

    def save(optimizer: torch.optim.Optimizer | None) -> None:
        save_state(state_file, models, optimizer, progress, identity)

    # a recorded corpus's phones are pocketsphinx's output already: corrupting them again would double its errors
    recorded = read_index(data)["spec"].get("source") == "recorded"
    odds = {} if recorded else settings.phonetic_profiles
    corruption = PhoneticCorruption({mode: load_error_profile(mode) for mode in odds}, odds, settings.phonetic_dropout)
    separation = LipSeparation(features.channels) if contract_channels(features.channels) else None
    if separation is None and processes.is_main:
        print(
            f"train: {data}'s {len(features.channels)} channels ({', '.join(features.channels[:2])}, ...) are not "
            "the demo head's: the lip-gap loss, written for the demo head's lip channels, is left out"
        )
    audio_rows = None
    for index, name in enumerate(STAGES):
        if index < progress.stage or name not in stages:
            continue
        if name == "expression":
            stage = ExpressionStage(models, features, settings, corruption, separation, device)
        elif name == "pose_vqvae":
            stage = PoseVQVAEStage(models, features, settings, device)
        else:
            audio_rows = corpus_pose_audio_features(models.expression, features, device)
            stage = PoseGPTStage(models, features, settings, audio_rows, device)
        stage_settings = getattr(settings, name)
        options = LoopOptions(
            seed,
            settings.weight_decay,
            settings.grad_clip,
            settings.save_every_minutes * 60,
            stage_settings.time_share * max_minutes * 60 if max_minutes else None,
        )
        if not run_stage(
            stage, name, index, stage_settings, options, processes, progress, optimizer_state, save, should_stop
        ):
            return None
        progress.stage, progress.step, progress.losses, optimizer_state = index + 1, 0, [], None
        if processes.is_main:
            save(None)

    if processes.is_main:
        if audio_rows is None:  # resumed after the last stage
            audio_rows = corpus_pose_audio_features(models.expression, features, device)
        bank, centroids = build_style_bank(models, features, audio_rows, seed, device)
        training = {
            "preset": preset.name,
            "seed": seed,
            "processes": processes.world_size,
            "device": device.type,
            "utterances": features.n_utterances,
            "corpus_minutes": round(len(features.mel) / MODEL_FPS / 60.0, 2),
            "corpus_recorded": recorded,
            "lip_gap_loss": separation is not None,
            "stages": progress.summaries,
            "settings": dataclasses.asdict(settings),
        }
        if kept is not None:  # the expression model's own record stays with it
            training |= {
                "stages": kept.training.get("stages", {}) | progress.summaries,
                "settings": dataclasses.asdict(settings)
                | {
                    "expression": kept.training.get("settings", {}).get(
                        "expression", dataclasses.asdict(settings.expression)
                    )
                },
                "pose_retrained": {
                    "expression_from": kept.name,
                    "expression_corpus": kept.corpus_hash,
                    "expression_training": {
                        k: kept.training.get(k) for k in ("corpus_minutes", "utterances", "preset", "seed")
                    },
                },
            }
        models.eval()
        set_molora_scale(models.expression, 1.0)
        save_checkpoint(
            out,
            Checkpoint(
                models,
                features.channels,
                tuple(PoseStyleEntry(s.name, s.pose_kind) for s in features.speakers),
                bank,
                centroids,
                features.corpus_hash,
                training,
            ),
        )
        state_file.unlink(missing_ok=True)
        print(
            f"train: wrote {out} in {(time.monotonic() - started) / 60:.1f} min; "
            + ", ".join(
                f"{k} {v['steps']} steps loss {v['loss_first']:.3g} -> {v['loss_last']:.3g}"
                for k, v in progress.summaries.items()
            )
        )
    processes.barrier()
    return out


def _corpus_features(data: Path, processes: Processes) -> CorpusFeatures:
    """Process 0 builds the feature cache if needed; the others wait for it, then read it."""
    if processes.is_main:
        features = load_corpus_features(data)
    processes.barrier()
    if not processes.is_main:
        features = load_corpus_features(data, build=False)
    return features
