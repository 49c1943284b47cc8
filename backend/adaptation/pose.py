"""Pose adaptation: AdaMesh's retrieval first, then fitting and an explicit calibration on the reference.

Stages, each starting from the one before (`adapt_pose`; `bench adapt` measures every one):
    retrieval      the top-k blend of the bank's styles nearest the reference (fast, no training)
    blend+refine   that blend refined briefly when the reference is unlike every style (below)
    fit            PoseGPT's style vector fitted freely to the reference's own pose codes, PoseGPT frozen, with
                   early stopping on a held-out tail of the codes (`fit_style`)
    calibration    per-axis rhythm filter, amplitude gain and offset, measured against what the fitted model
                   generates on the reference's speech (calibrate_pose.py)

The reference's semantic-aware pose style matrix (backend/models/style_matrix.py) is compared with the checkpoint's
style bank; the nearest training styles are blended by inverse distance (AdaMesh returns only the nearest). When
even the nearest is farther than training styles lie from one another (the median distance of each bank style to
its nearest neighbour), the reference is a style the checkpoint has not seen, and the blended embedding is refined
briefly: a few Adam steps on PoseGPT's likelihood of the reference's own pose codes, PoseGPT frozen, pulled
towards the blend so that a short reference cannot drag it anywhere.

Measured (`bench adapt`, starter): a 3-30 s reference lies 1.5-5x that spacing from its nearest training style
(a matrix from seconds of motion is noisier than one from minutes), so refinement runs for nearly every reference.
It brought the head-motion spread closer to the speaker's in 6 of 9 cases, in all three at 3 s; at 30 s the plain
blend was as good or better.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from backend.adaptation.calibrate_pose import CALIBRATION_SEEDS, measure_calibration
from backend.adaptation.reference import Reference
from backend.core.timebase import MODEL_FPS
from backend.inference.pose_calibration import PoseCalibration
from backend.models.checkpoint_file import Checkpoint
from backend.models.pose_gpt import pool_to_code_rate
from backend.models.style_matrix import PoseStyleMatrix, blend_weights, build_style_matrix, retrieve, style_similarity
from backend.training.losses import code_loss
from backend.training.stages import pose_audio_features

REFINE_STEPS = 40  # ~0.1 s each on 10 s of reference: brief, as the pose adapter needs no training
REFINE_LR = 0.02
REFINE_PULL = 1.0  # weight of |v - blend|^2 / |blend|^2 beside the code loss (nats per code)
POSE_STAGES = ("retrieval", "blend+refine", "fit", "calibration")


@dataclass(frozen=True)
class FitSettings:
    max_steps: int = 150  # each a forward and backward pass of PoseGPT over the reference's codes (~10 ms at 10 s)
    lr: float = 0.03
    holdout_share: float = 0.25  # the codes' tail kept out, to stop on (at least min_holdout_codes)
    min_holdout_codes: int = 4
    eval_every: int = 5
    patience: int = 6  # held-out evaluations without improvement before stopping


@dataclass(frozen=True)
class PoseAdaptation:
    vector: Tensor  # [S] PoseGPT style vector
    report: dict = field(default_factory=dict)  # how it was found and how close the match was (JSON values)
    calibration: PoseCalibration = field(default_factory=PoseCalibration.identity)


def reference_style_matrix(checkpoint: Checkpoint, reference: Reference) -> tuple[PoseStyleMatrix, Tensor, Tensor]:
    """The reference's pose style matrix, and its code-rate audio features [N, F] and pose codes [N]."""
    models = checkpoint.models
    device = checkpoint.audio_centroids.device
    factor = models.config.pose_vqvae.downsample
    usable = reference.n_frames // factor * factor
    _, _, head = reference.tensors()
    with torch.no_grad():
        audio = pool_to_code_rate(
            pose_audio_features(models.expression, reference.mel[:usable].to(device))[None], factor
        )[0]
        pose = head[None, :usable].to(device)
        encoded = models.pose_vqvae.encoder_outputs(pose)[0]
        codes = models.pose_vqvae.encode(pose)[0]
    return build_style_matrix(audio, encoded, checkpoint.audio_centroids), audio, codes


def bank_spacing(bank: PoseStyleMatrix) -> float:
    """The median distance from each training style to its nearest other training style."""
    nearest = []
    for i in range(len(bank.means)):
        distance = -style_similarity(PoseStyleMatrix(bank.means[i], bank.counts[i]), bank)
        distance[i] = torch.inf
        nearest.append(distance.min())
    return float(torch.stack(nearest).median())


def adapt_pose(
    checkpoint: Checkpoint,
    reference: Reference,
    refine: bool | None = None,
    last_stage: str = "calibration",
    fit: FitSettings = FitSettings(),
) -> PoseAdaptation:
    """The pose style for the reference, through the stages of POSE_STAGES up to `last_stage`.

    refine: None refines the blend when the reference is unlike every training style, True always, False never
    (AdaMesh's retrieval, blended). The stages after it start from its result.
    """
    if last_stage not in POSE_STAGES:
        raise ValueError(f"unknown pose stage {last_stage!r}; use one of {', '.join(POSE_STAGES)}")
    last = POSE_STAGES.index(last_stage)
    models = checkpoint.models
    gpt = models.pose_gpt
    matrix, audio, codes = reference_style_matrix(checkpoint, reference)
    k = models.config.style_matrix.blend_top_k
    ids, similarities = retrieve(matrix, checkpoint.style_bank, k)
    weights = blend_weights(similarities)
    with torch.no_grad():
        blend = gpt.blend_styles(ids, weights)
    nearest = float(-similarities[0])
    spacing = bank_spacing(checkpoint.style_bank) if len(checkpoint.style_bank.means) > 1 else nearest
    unseen = nearest > spacing
    refine = (unseen if refine is None else refine) and last >= 1
    report = {
        "method": "blend+refine" if refine else "blend",
        "unseen": unseen,
        "nearest_distance": nearest,
        "bank_spacing": spacing,
        "distance_ratio": nearest / max(spacing, 1e-12),
        "matches": [
            {
                "name": checkpoint.pose_styles[int(i)].name,
                "kind": checkpoint.pose_styles[int(i)].kind,
                "distance": float(-s),
                "weight": float(w),
            }
            for i, s, w in zip(ids, similarities, weights)
        ],
    }
    vector = blend
    if refine:
        vector, before, after = refine_style(gpt, blend, audio, codes)
        report |= {"code_loss_blend": before, "code_loss_refined": after}
    if last >= POSE_STAGES.index("fit"):
        vector, fitted = fit_style(gpt, vector, audio, codes, fit)
        report |= {"method": f"{report['method']}+fit", "fit": fitted}
    calibration = PoseCalibration.identity()
    if last >= POSE_STAGES.index("calibration"):
        calibration = calibrate(checkpoint, reference, vector)
        report |= {"method": f"{report['method']}+calibration", "calibration": calibration.to_report()}
    return PoseAdaptation(vector.detach(), report, calibration)


def fit_style(gpt, start: Tensor, audio: Tensor, codes: Tensor, settings: FitSettings) -> tuple[Tensor, dict]:
    """Adam on the style vector alone, free to leave the bank's span: PoseGPT's code loss on the reference's codes
    before a held-out tail; the vector of the best held-out loss is kept. Returns (vector, summary)."""
    n = len(codes)
    n_holdout = min(max(round(n * settings.holdout_share), settings.min_holdout_codes), n - 1)
    n_train = n - n_holdout
    was_training, trainable = gpt.training, [p.requires_grad for p in gpt.parameters()]
    gpt.eval().requires_grad_(False)
    vector = start.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([vector], lr=settings.lr)

    def losses(v: Tensor) -> tuple[Tensor, Tensor]:
        logits = gpt(codes[None], audio[None], v[None])[0]  # causal: the tail's predictions never reach back
        per_code = torch.nn.functional.cross_entropy(logits, codes, reduction="none")
        return per_code[:n_train].mean(), per_code[n_train:].mean()

    try:
        with torch.no_grad():
            first_train, first_holdout = (x.item() for x in losses(vector))
        best, best_vector, best_step, since, step = first_holdout, vector.detach().clone(), 0, 0, 0
        for step in range(1, settings.max_steps + 1):
            train_loss, _ = losses(vector)
            optimizer.zero_grad(set_to_none=True)
            train_loss.backward()
            optimizer.step()
            if step % settings.eval_every == 0:
                with torch.no_grad():
                    holdout = losses(vector)[1].item()
                if holdout < best:
                    best, best_vector, best_step, since = holdout, vector.detach().clone(), step, 0
                else:
                    since += 1
                if since >= settings.patience:
                    break
    finally:
        gpt.train(was_training)
        for p, flag in zip(gpt.parameters(), trainable):
            p.requires_grad_(flag)
    return best_vector, {
        "steps": step,
        "best_step": best_step,
        "holdout_codes": n_holdout,
        "code_loss_start": first_holdout,
        "code_loss_best": best,
        "train_code_loss_start": first_train,
    }


def calibrate(checkpoint: Checkpoint, reference: Reference, vector: Tensor, rhythm: bool = True) -> PoseCalibration:
    """The calibration of the learnt style on the reference's own speech (calibrate_pose.py); `rhythm` False
    measures the amplitude gain and offset alone."""
    from backend.inference.chunking import ChunkPlan
    from backend.inference.generation import head_motion

    device = checkpoint.audio_centroids.device
    features = pose_audio_features(checkpoint.models.expression, reference.mel.to(device))
    plan = ChunkPlan.for_checkpoint(checkpoint)
    with torch.inference_mode():
        generated = [
            head_motion(checkpoint, features, vector[None].to(device), seed, plan, None)[: reference.n_frames]
            .cpu()
            .numpy()
            for seed in range(CALIBRATION_SEEDS)
        ]
    return measure_calibration(generated, reference.clip.head, MODEL_FPS, rhythm)


def refine_style(gpt, start: Tensor, audio: Tensor, codes: Tensor) -> tuple[Tensor, float, float]:
    """Adam on the style vector alone: PoseGPT's code loss on the reference, pulled towards `start`.

    Returns (vector, code loss at the start, code loss at the end)."""
    was_training, trainable = gpt.training, [p.requires_grad for p in gpt.parameters()]
    gpt.eval().requires_grad_(False)  # no dropout, no weight gradients: the vector alone is being fitted
    vector = start.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([vector], lr=REFINE_LR)
    scale = start.pow(2).sum().clamp_min(1e-12)

    def loss_of(v: Tensor) -> Tensor:
        return code_loss(gpt(codes[None], audio[None], v[None]), codes[None])[0]

    try:
        with torch.no_grad():
            before = loss_of(start).item()
        for _ in range(REFINE_STEPS):
            loss = loss_of(vector) + REFINE_PULL * (vector - start).pow(2).sum() / scale
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            after = loss_of(vector).item()
    finally:
        gpt.train(was_training)
        for p, flag in zip(gpt.parameters(), trainable):
            p.requires_grad_(flag)
    return vector.detach(), before, after
