"""The pose half of `bench adapt`: head-motion style measured the way a user sees it, stage by stage.

References are held-out speakers (voices and sentences never trained on) whose head motion carries, on top of
their own, a habit no training style has (POSE_HABITS: a 5 degree nod at 0.6 Hz, a held tilt with a slow wide sway,
a quick small nod). Each is adapted on 3, 10 and 30 s and new speech (the speaker's other sentences, joined) is
generated with the style. Figures (backend/adaptation/pose_rhythm.py): the amplitude ratio per axis (generated on
the new speech / the reference) and the error of the dominant rhythm on the reference's dominant axis.

Rows, each a stage of backend/adaptation/pose.py on top of the one before:
    retrieval            AdaMesh: the top-k blend of the nearest training styles
    blend+refine         the blend refined on the reference's codes, pulled towards the blend
    fit                  the style vector fitted freely to the reference's codes, early-stopped
    fit+amplitude        the fit, then the per-axis amplitude gain and offset alone
    fit+calibration      the fit, then the calibration measured on the reference's speech (rhythm filter, amplitude,
                         offset), without the clip factor (as a format-2 style generates)
    fit+cal+clip spread  Adapt Style: the same, each clip's motion rescaled towards the reference's spread
    retrieval+calibration  the whole calibration on the plain retrieval: what it does without the learnt stages
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from backend.adaptation.pose import adapt_pose, calibrate
from backend.adaptation.pose_rhythm import compare_pose
from backend.adaptation.reference import Reference
from backend.core.timebase import MODEL_FPS
from backend.models.checkpoint_file import Checkpoint
from backend.training.stages import pose_audio_features

AMPLITUDE_TARGET = (0.7, 1.3)  # generated / reference amplitude per axis
RHYTHM_TARGET_HZ = 0.15  # |dominant rhythm error|
STAGE_ROWS = (
    "retrieval",
    "blend+refine",
    "fit",
    "fit+amplitude",
    "fit+calibration",
    "fit+cal+clip spread",
    "retrieval+calibration",
)


@dataclass(frozen=True)
class PoseHabit:
    name: str
    add: Callable[[np.ndarray], np.ndarray]  # frame times [T] s -> head rotation added [T, 3] radians


def _rhythm(axis: int, degrees: float, hz: float, held_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)):
    def add(t: np.ndarray) -> np.ndarray:
        out = np.tile(np.radians(np.asarray(held_deg, np.float64)), (len(t), 1))
        out[:, axis] += np.radians(degrees) * np.sin(2 * np.pi * hz * t)
        return out

    return add


POSE_HABITS = (
    PoseHabit("nod 5 deg at 0.6 Hz", _rhythm(0, 5.0, 0.6)),
    PoseHabit("tilt held 6 deg, sway 6 deg at 0.3 Hz", _rhythm(1, 6.0, 0.3, (0.0, 0.0, 6.0))),
    PoseHabit("quick nod 2 deg at 1.7 Hz", _rhythm(0, 2.0, 1.7)),
)


def with_habit(reference: Reference, habit: PoseHabit) -> Reference:
    """The reference with the habit added to its head motion."""
    t = np.arange(reference.n_frames) / MODEL_FPS
    head = (reference.clip.head.astype(np.float64) + habit.add(t)).astype(np.float32)
    return Reference(replace(reference.clip, head=head), reference.mel, reference.phonetic)


def new_speech_features(checkpoint: Checkpoint, mel: torch.Tensor) -> torch.Tensor:
    """The pose path's audio features of the new speech [T, D], computed once for every stage's head motion."""
    return pose_audio_features(checkpoint.models.expression, mel.to(checkpoint.audio_centroids.device))


def pose_stage_rows(checkpoint: Checkpoint, reference: Reference, new_features: torch.Tensor, seed: int) -> list[dict]:
    """Every stage of STAGE_ROWS adapted on `reference`, measured on the new speech (`new_speech_features`)."""
    from backend.inference.chunking import ChunkPlan
    from backend.inference.generation import head_motion

    stages, seconds = {}, {}
    for row, refine, last in (
        ("retrieval", False, "retrieval"),
        ("blend+refine", True, "blend+refine"),
        ("fit", None, "fit"),
    ):
        started = time.monotonic()
        adapted = adapt_pose(checkpoint, reference, refine=refine, last_stage=last)
        seconds[row] = time.monotonic() - started
        stages[row] = (adapted.vector, adapted.calibration, adapted.report)
    for row, start, rhythm, clip_spread in (
        ("fit+amplitude", "fit", False, False),
        ("fit+cal+clip spread", "fit", True, True),
        ("retrieval+calibration", "retrieval", True, True),
    ):
        started = time.monotonic()
        vector, _, report = stages[start]
        calibration = calibrate(checkpoint, reference, vector, rhythm)
        stages[row] = (vector, calibration if clip_spread else replace(calibration, spread=None), report)
        seconds[row] = seconds[start] + time.monotonic() - started
    vector, calibration, report = stages["fit+cal+clip spread"]
    stages["fit+calibration"] = (vector, replace(calibration, spread=None), report)
    seconds["fit+calibration"] = seconds["fit+cal+clip spread"]
    rows = []
    plan = ChunkPlan.for_checkpoint(checkpoint)
    heads: dict[bytes, np.ndarray] = {}  # the calibrated rows share their vector with an uncalibrated one
    for row in STAGE_ROWS:
        vector, calibration, report = stages[row]
        key = vector.cpu().numpy().tobytes()
        if key not in heads:
            with torch.inference_mode():
                heads[key] = (
                    head_motion(checkpoint, new_features, vector[None], seed, plan, None)[: len(new_features)]
                    .cpu()
                    .numpy()
                )
        comparison = compare_pose(calibration.apply(heads[key], MODEL_FPS), reference.clip.head, MODEL_FPS)
        rows.append(
            {
                "stage": row,
                "seconds": seconds[row],
                "distance_ratio": report["distance_ratio"],
                "calibration": calibration.to_report(),
                **comparison.to_dict(),
            }
        )
    return rows


def meets_targets(row: dict) -> bool:
    low, high = AMPLITUDE_TARGET
    return all(low <= r <= high for r in row["amplitude_ratio"]) and abs(row["rhythm_error_hz"]) <= RHYTHM_TARGET_HZ


def format_pose_table(rows: list[dict]) -> str:
    """Mean over references per reference length and stage; then every reference's 10 s row."""
    lines = [
        "",
        "Head-motion style on new speech, held-out references with habits outside the training bank "
        f"(targets: amplitude ratio {AMPLITUDE_TARGET[0]}-{AMPLITUDE_TARGET[1]} per axis, rhythm within "
        f"+-{RHYTHM_TARGET_HZ} Hz):",
        f"{'reference':>9}  {'stage':<22} {'amplitude ratio nod / turn / tilt':>34} {'|rhythm err|':>12} "
        f"{'on target':>9} {'adapt s':>8}",
    ]
    for seconds in sorted({r["reference_s"] for r in rows}):
        for stage in STAGE_ROWS:
            group = [r for r in rows if r["reference_s"] == seconds and r["stage"] == stage]
            if not group:
                continue
            ratio = np.exp(np.mean([np.log(np.maximum(r["amplitude_ratio"], 1e-6)) for r in group], axis=0))
            lines.append(
                f"{seconds:>8g}s  {stage:<22} {' / '.join(f'{x:.2f}' for x in ratio):>34} "
                f"{np.mean([abs(r['rhythm_error_hz']) for r in group]):>11.3f}  "
                f"{sum(map(meets_targets, group)):>4d}/{len(group):<4d} "
                f"{np.mean([r['seconds'] for r in group]):>8.2f}"
            )
    lines += ["", "Per reference at 10 s (amplitude ratio per axis; rhythm: reference -> generated Hz):"]
    for r in rows:
        if r["reference_s"] == 10.0 and r["stage"] in ("retrieval", "fit", "fit+calibration", "fit+cal+clip spread"):
            lines.append(
                f"  {r['speaker']:<18} {r['habit']:<38} {r['stage']:<19} "
                + " / ".join(f"{x:.2f}" for x in r["amplitude_ratio"])
                + f"  {r['axis']} {r['reference_hz']:.2f} -> {r['generated_hz']:.2f} Hz"
                + f"  ({r['distance_ratio']:.1f}x the bank spacing)"
            )
    return "\n".join(lines)
