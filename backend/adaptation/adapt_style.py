"""Adapt Style: a reference (speech + facial motion) -> a style file.

    reference audio + motion (clip or tracker file, any fps) -> 25 fps, mel + phones     (adaptation/reference.py)
        -> expression: MoLoRA on the frozen base, style vector, output head if the
           reference's channels differ; early stopping on the reference's tail        (adaptation/expression.py)
        -> pose: style matrix -> top-k blend of the bank, refined if unseen, fitted to the
           reference's codes, per-axis amplitude and offset calibrated              (adaptation/pose.py)
        -> blink rate and duration, gaze spread from the reference's eyes              (eyes.py)
        -> style file (safetensors: adapter, style vectors, metadata)                 (styles.py)

Measured on this 2-core CPU with the starter (`bench adapt`): a 10 s reference adapts in 40-55 s, pocketsphinx included,
nearly all of it the MoLoRA steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from backend.adaptation.adapt_options import AdaptOptions
from backend.adaptation.expression import AdaptationSettings, adapt_expression
from backend.adaptation.pose import adapt_pose
from backend.adaptation.reference import Reference, load_reference
from backend.core.errors import AdaMeshError
from backend.core.phones import PHONETIC_MODES
from backend.core.progress import Progress, ProgressReporter
from backend.eyes.eye_motion import eye_style_from_clip
from backend.inference.style_files import Style, checkpoint_hash, save_style
from backend.models.checkpoint_file import Checkpoint, load_checkpoint
from backend.models.devices import select_device
from backend.models.molora import molora_state_dict

_EXPRESSION_SHARE = (0.1, 0.95)  # of the progress bar: reading and recognising before, pose and writing after


class AdaptationCancelled(AdaMeshError):
    """The caller cancelled Adapt Style."""

    code = "cancelled"


def adapt_style(
    audio: str | Path,
    motion: str | Path,
    out: str | Path | None = None,
    options: AdaptOptions = AdaptOptions(),
    checkpoint: Checkpoint | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Style:
    """Learn a style from a reference and write it to `out` (when given); returns the style.

    audio: speech (any format FFmpeg reads), from `options.audio_start` to `options.audio_end` s; motion: an AdaMesh
    motion clip, or a tracker's file (`options.tracker` at `options.motion_fps`). checkpoint: a loaded one (kept
    unchanged); None loads `options.checkpoint` (None: the starter) on `options.device`. progress(fraction,
    message) is called as work advances; `cancel()` returning True stops with AdaptationCancelled within a step (a
    fraction of a second).
    """
    report = ProgressReporter(progress, cancel, AdaptationCancelled, "Adapt Style")
    if options.phonetic not in PHONETIC_MODES:
        raise AdaMeshError(f"unknown phonetic mode {options.phonetic!r}; use one of {', '.join(PHONETIC_MODES)}")
    settings = (
        AdaptationSettings(seed=options.seed)
        if options.steps is None
        else AdaptationSettings(max_steps=options.steps, seed=options.seed)
    )
    if out is not None and not Path(out).parent.is_dir():
        raise AdaMeshError(f"cannot write {out}: folder {Path(out).parent} does not exist")
    if checkpoint is None:
        report(0.0, "loading the model")
        checkpoint = load_checkpoint(options.checkpoint, select_device(options.device))
    report(
        0.02,
        "reading the reference" if options.phonetic == "none" else "reading the reference and recognising its phones",
    )
    reference = load_reference(
        audio,
        motion,
        options.tracker,
        options.motion_fps,
        options.audio_start,
        options.audio_end,
        options.phonetic,
        options.transcript,
        checkpoint.config.expression.use_phonetic,
    )
    style = adapt_reference(checkpoint, reference, settings, report, options.name or (Path(out).stem if out else ""))
    if out is not None:
        report(0.99, "writing the style")
        save_style(out, style)
    report(1.0, "done")
    return style


def adapt_reference(
    checkpoint: Checkpoint,
    reference: Reference,
    settings: AdaptationSettings = AdaptationSettings(),
    progress: Progress | None = None,
    name: str = "",
) -> Style:
    """The style of a loaded reference (the core of adapt_style, also used by the benchmark and tests)."""
    started = time.monotonic()
    low, high = _EXPRESSION_SHARE
    expression = adapt_expression(
        checkpoint, reference, settings, None if progress is None else lambda f, m: progress(low + (high - low) * f, m)
    )
    if progress is not None:
        progress(high, "matching the head-motion style")
    pose = adapt_pose(checkpoint, reference)
    head = (
        {}
        if expression.head_rank is None
        else {k: v.detach().cpu() for k, v in expression.model.expression_head.state_dict().items()}
    )
    return Style(
        adapter={k: v.cpu() for k, v in molora_state_dict(expression.model).items()},
        expression_style=expression.style.cpu(),
        pose_style=pose.vector.cpu(),
        channel_names=expression.channel_names,
        checkpoint_hash=checkpoint_hash(checkpoint),
        checkpoint_name=checkpoint.name,
        head=head,
        head_rank=expression.head_rank,
        eyes=eye_style_from_clip(reference.clip),
        name=name,
        reference_seconds=reference.seconds,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        retrieval=pose.report,
        pose_calibration=pose.calibration,
        adaptation=expression.summary | {"total_seconds": time.monotonic() - started},
    )


def describe(style: Style) -> str:
    """One line for the artist: what was learnt and how well the pose style matched."""
    a, r = style.adaptation, style.retrieval
    stop = "early stop" if a.get("stopped_early") else "step limit"
    matches = ", ".join(f"{m['kind']} {m['weight']:.0%}" for m in r.get("matches", []))
    stages = r.get("method", "blend").split("+")
    pose = (
        f"pose: unlike every training style ({r.get('distance_ratio', 0.0):.1f}x their spacing), blend of "
        f"{matches} refined on the reference"
        if "refine" in stages
        else f"pose: blend of {matches} ({r.get('distance_ratio', 0.0):.1f}x the training styles' spacing)"
    )
    if "fit" in stages:
        fit = r["fit"]
        pose += (
            f", fitted to its pose codes (held-out loss {fit['code_loss_start']:.2f} -> {fit['code_loss_best']:.2f})"
        )
    if "calibration" in stages:
        gain = " / ".join(f"{g:.2f}" for g in r["calibration"]["gain"])
        pose += f", calibrated (amplitude x {gain} nod / turn / tilt)"
    head = f", output head for {len(style.channel_names)} channels" if style.head_rank is not None else ""
    blinks = (
        f"blinks {style.eyes.blink_rate:.0f}/min from the reference"
        if style.eyes.source == "reference"
        else "default blinks"
    )
    return (
        f"{style.reference_seconds:.1f} s reference; expression: {a.get('steps')} steps ({stop}), held-out loss "
        f"{a.get('holdout_loss_start', 0.0):.3f} -> {a.get('holdout_loss_best', 0.0):.3f}{head}; {pose}; {blinks}; "
        f"{a.get('total_seconds', 0.0):.0f} s on {a.get('device')}"
    )
