"""Expression adaptation: the expression model fitted to one person's reference with its base weights frozen.

What trains (method "molora", AdaMesh's expression adapter):
- the MoLoRA adapters on every attention projection and convolution of the Conformer;
- the expression style vector, which starts from the style encoder's reading of the reference (the average style,
  zero, when the reference's channels are not the checkpoint's, since the encoder reads the checkpoint's channels);
- when the reference's channels differ from the checkpoint's (a FLAME Exp1..Exp100 reference against the ARKit
  starter), an output head for them: the checkpoint's head followed by a linear map from its channels to the
  reference's, so the head's rank is the checkpoint's channel count. The map starts as the least-squares fit of
  the reference's channels on the base model's predictions, then trains with the adapters.

The ablation's other methods: "lora", one adapter of the experts' summed rank (the same A and B sizes, no gate),
and "full", every weight of the expression model (the adapters stay off).

Loss: the training loss (backend/training/losses.py), with the lip-gap term when the channels are the lip-gap
contract's. Training stops early when the loss on a held-out tail of the reference stops falling, and the weights
of the best held-out loss are kept.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from backend.adaptation.reference import Reference
from backend.core.errors import AdaMeshError
from backend.core.lip_gap import contract_channels
from backend.core.phones import BILABIALS
from backend.core.progress import Progress
from backend.core.timebase import MODEL_FPS
from backend.models.checkpoint_file import Checkpoint
from backend.models.config import MoLoRAConfig
from backend.models.expression import ExpressionModel, ExpressionOutput
from backend.models.molora import freeze_molora, is_molora_name, mark_only_molora_trainable, set_molora_scale
from backend.training.batches import ExpressionBatch
from backend.training.losses import JAW_WEIGHT, LipSeparation, expression_loss
from backend.training.settings import TrainingSettings

METHODS = ("molora", "lora", "full")
_FIT_CHUNK_FRAMES = 250  # base predictions for the head's least-squares start, 10 s at a time
_MIN_GAIN = 0.005  # a held-out loss must beat the best by this share to count as progress (not noise)
_RIDGE = 1e-3  # ridge of that fit, relative to the mean prediction variance: stable when channels are collinear


@dataclass(frozen=True)
class AdaptationSettings:
    method: str = "molora"  # molora | lora | full (METHODS)
    # Early stopping usually ends sooner. The latest best held-out loss in `bench adapt`'s 10 s adaptations came at
    # step 310 (the crooked speaker; 80-260 for the others): the earlier 400 added up to ~10 s on 2 cores, no quality.
    max_steps: int = 320
    batch: int = 4  # windows per step
    window_seconds: float = 4.0  # like the training windows (2-6 s); a shorter reference gives its whole length
    lr: float = 2e-3  # adapters, output head (Adam)
    full_lr: float = 2e-4  # base weights under "full": the weights were trained at 1e-3 and are not small
    style_lr: float = 3e-2  # the style vector: a few dozen numbers that must move within the budget
    style_weight: float = 4.0  # weight of the per-window statistics term beside the training loss (see below)
    holdout_share: float = 0.2  # the reference's tail kept out of training, to stop on
    max_holdout_seconds: float = 10.0  # a minutes-long reference needs no more than this to stop on
    warmup_steps: int = 10  # linear warm-up: full-rate first steps knock the adapted model about
    min_steps: int = 100  # no early stop before: the held-out loss first rises while the adapters find their way
    eval_every: int = 10  # steps between held-out losses
    patience: int = 10  # held-out losses without improvement before stopping (15 cost ~50 more steps, no better style)
    seed: int = 0  # window draws (and the fresh adapters of "lora")

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise AdaMeshError(f"unknown adaptation method {self.method!r}; use one of {', '.join(METHODS)}")
        if self.max_steps < 1:
            raise AdaMeshError(f"the number of adaptation steps must be at least 1, got {self.max_steps}")


@dataclass
class ExpressionAdaptation:
    model: ExpressionModel  # the adapted copy (eval mode)
    style: Tensor  # [S] expression style vector
    channel_names: tuple[str, ...]  # the output channels (the reference's)
    head_rank: int | None  # rank of the output head fitted for the reference's channels; None: the checkpoint's head
    summary: dict = field(default_factory=dict)  # steps, losses, time, parameters (JSON values)


def adapt_expression(
    checkpoint: Checkpoint, reference: Reference, settings: AdaptationSettings, progress: Progress | None = None
) -> ExpressionAdaptation:
    """Fit the expression model to `reference` (see the module docstring); progress(fraction, message) per step."""
    started = time.monotonic()
    device = next(checkpoint.models.parameters()).device
    # eval mode throughout: without dropout a step's loss and the held-out loss measure the same model, so early
    # stopping compares like with like, and a seed gives the same style
    model = _model_to_adapt(checkpoint, settings).to(device).eval()
    expression, jaw, _ = (t.to(device) for t in reference.tensors())
    mel = reference.mel.to(device)
    phonetic = (
        reference.phonetic if reference.phonetic is not None else torch.zeros(len(mel), model.config.n_phones)
    ).to(device)  # zeros = no phones
    use_phonetic = model.config.use_phonetic
    n_holdout = holdout_frames(reference.n_frames, settings)
    n_train = reference.n_frames - n_holdout
    same_channels = reference.channel_names == checkpoint.channel_names
    with torch.no_grad():
        initial_style = (
            model.encode_style(torch.cat((expression, jaw), dim=1)[:n_train][None])[0]
            if same_channels
            else mel.new_zeros(model.config.style_dim)
        )
    head_rank = None
    if not same_channels:
        head_rank = fit_channel_head(
            model, mel[:n_train], phonetic[:n_train] if use_phonetic else None, initial_style, expression[:n_train]
        )
    style = nn.Parameter(initial_style.clone())
    groups = _parameter_groups(model, style, settings, replaced_head=not same_channels)
    optimizer = torch.optim.Adam(groups)
    peak_rates = [group["lr"] for group in groups]
    weights = _loss_weights(checkpoint)
    separation = LipSeparation(reference.channel_names) if contract_channels(reference.channel_names) else None
    bilabial = phonetic[:, _bilabial_columns()].sum(dim=1).gt(0).float()
    motion = torch.cat((expression, jaw), dim=1)

    def batch_of(starts: list[int], length: int) -> ExpressionBatch:
        rows = torch.stack([torch.arange(s, s + length) for s in starts]).to(device)
        return ExpressionBatch(
            mel=mel[rows],
            phonetic=phonetic[rows],
            reference=motion[rows],
            keep_style=mel.new_ones(len(starts)),
            expression=expression[rows],
            jaw=jaw[rows],
            bilabial=bilabial[rows],
        )

    def loss_on(batch: ExpressionBatch) -> Tensor:
        output = model(batch.mel, batch.phonetic if use_phonetic else None, style.expand(len(batch.mel), -1))
        loss, _ = expression_loss(
            output, batch, weights["velocity_weight"], weights["lip_gap_weight"], weights["bilabial_weight"], separation
        )
        return loss + settings.style_weight * window_statistics_loss(output, batch)

    holdout = batch_of([n_train], n_holdout)
    trained = [p for group in groups for p in group["params"]]

    def holdout_loss() -> float:
        with torch.no_grad():
            return loss_on(holdout).item()

    rng = np.random.default_rng(settings.seed)
    length = min(n_train, max(1, round(settings.window_seconds * MODEL_FPS)))
    # never more windows than window positions: a 3 s reference's training part is one window long, and four copies
    # of it cost four times as much for the same gradient
    windows = min(settings.batch, n_train - length + 1)
    best_loss = first_loss = holdout_loss()
    best_state, best_step, evals_without_gain = _snapshot(trained), 0, 0
    step, train_loss, step_seconds = 0, math.nan, []
    counted_parameters = None
    while step < settings.max_steps:
        step_started = time.monotonic()
        for group, lr in zip(optimizer.param_groups, peak_rates):
            group["lr"] = lr * min(1.0, (step + 1) / settings.warmup_steps)
        starts = rng.integers(0, n_train - length + 1, size=windows).tolist()
        loss = loss_on(batch_of(starts, length))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if counted_parameters is None:  # what the method really trains: parameters that receive a gradient
            counted_parameters = sum(p.numel() for p in trained if p.grad is not None)
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        step += 1
        train_loss = loss.item()
        if step % settings.eval_every == 0 or step == settings.max_steps:
            current = holdout_loss()
            if current < best_loss * (1.0 - _MIN_GAIN):
                best_loss, best_state, best_step, evals_without_gain = current, _snapshot(trained), step, 0
            else:
                evals_without_gain += 1
        step_seconds.append(time.monotonic() - step_started)
        if progress is not None:
            left = (settings.max_steps - step) * float(np.mean(step_seconds[-10:]))
            progress(
                step / settings.max_steps,
                f"step {step}/{settings.max_steps}: loss {train_loss:.3f}, "
                f"held-out {best_loss:.3f}, at most {left:.0f} s left",
            )
        if evals_without_gain >= settings.patience and step >= settings.min_steps:
            break
    _restore(trained, best_state)
    model.eval()
    summary = {
        "method": settings.method,
        "steps": step,
        "best_step": best_step,
        "max_steps": settings.max_steps,
        "stopped_early": step < settings.max_steps,
        "train_loss_last": train_loss,
        "windows_per_step": windows,
        "window_seconds": length / MODEL_FPS,
        "holdout_seconds": n_holdout / MODEL_FPS,
        "holdout_loss_start": first_loss,
        "holdout_loss_best": best_loss,
        "trained_parameters": counted_parameters or 0,
        "seconds": time.monotonic() - started,
        "device": device.type,
    }
    return ExpressionAdaptation(model, style.detach(), reference.channel_names, head_rank, summary)


def window_statistics_loss(output: ExpressionOutput, batch: ExpressionBatch) -> Tensor:
    """L1 between the per-window mean and standard deviation of every channel (and the jaw) in prediction and target.

    What makes a style is mostly slow: a held smile, a mouth pulled to one side, larger or smaller articulation.
    In the per-frame loss such an offset on one channel of dozens weighs little beside the lip details the base
    model already knows, and a few hundred steps do not get to it; this term gives the window statistics their own
    weight. The jaw is in the units of the channels (JAW_WEIGHT), as in the training loss.
    """
    predicted = torch.cat((output.expression, output.jaw * JAW_WEIGHT), dim=-1)
    target = torch.cat((batch.expression, batch.jaw * JAW_WEIGHT), dim=-1)
    return (predicted.mean(1) - target.mean(1)).abs().mean() + (
        predicted.std(1, unbiased=False) - target.std(1, unbiased=False)
    ).abs().mean()


def holdout_frames(n_frames: int, settings: AdaptationSettings) -> int:
    """Frames of the reference's tail kept out of training: the share asked for, within [1 frame, the maximum]."""
    share = round(n_frames * settings.holdout_share)
    return int(min(max(share, 1), round(settings.max_holdout_seconds * MODEL_FPS), n_frames - 1))


def _model_to_adapt(checkpoint: Checkpoint, settings: AdaptationSettings) -> ExpressionModel:
    """A copy of the checkpoint's expression model, its trainable parameters set for the method."""
    base = checkpoint.models.expression
    if settings.method == "lora":
        config = base.config
        single = MoLoRAConfig(ranks=(sum(config.molora.ranks),), alpha=config.molora.alpha)
        torch.manual_seed(settings.seed)  # the fresh adapters' A matrices
        model = ExpressionModel(dataclasses.replace(config, molora=single))
        missing, unexpected = model.load_state_dict(
            {k: v for k, v in base.state_dict().items() if not is_molora_name(k)}, strict=False
        )
        assert all(is_molora_name(k) for k in missing) and not unexpected, "the base weights must fit the copy"
    else:
        model = copy.deepcopy(base)
    if settings.method == "full":
        for p in model.parameters():
            p.requires_grad_(True)
        freeze_molora(model)
        set_molora_scale(model, 0.0)
    else:
        mark_only_molora_trainable(model)
        set_molora_scale(model, 1.0)
    return model


def _parameter_groups(
    model: ExpressionModel, style: nn.Parameter, settings: AdaptationSettings, replaced_head: bool
) -> list[dict]:
    if replaced_head:
        for p in model.expression_head.parameters():
            p.requires_grad_(True)
    head = set(map(id, model.expression_head.parameters()))
    weights = [p for p in model.parameters() if p.requires_grad and id(p) not in head]
    groups = [
        {"params": [style], "lr": settings.style_lr},
        {"params": weights, "lr": settings.full_lr if settings.method == "full" else settings.lr},
    ]
    if replaced_head or settings.method == "full":
        groups.append({"params": list(model.expression_head.parameters()), "lr": settings.lr})
    return groups


@torch.no_grad()
def fit_channel_head(
    model: ExpressionModel, mel: Tensor, phonetic: Tensor | None, style: Tensor, target: Tensor
) -> int:
    """Replace the model's head by its own head followed by a map to the target's channels; returns the rank.

    The map M (with a bias) is the ridge least-squares fit of target [T, C'] on the base model's predictions
    [T, C] over the reference: a reference whose channels are a linear function of the checkpoint's (a FLAME
    lift, a renamed or reordered rig) is matched from the first step.
    """
    predictions = torch.cat(
        [
            model(
                mel[None, a : a + _FIT_CHUNK_FRAMES],
                None if phonetic is None else phonetic[None, a : a + _FIT_CHUNK_FRAMES],
                style[None],
            ).expression[0]
            for a in range(0, len(mel), _FIT_CHUNK_FRAMES)
        ]
    ).double()
    head = model.expression_head.net
    if isinstance(head, nn.Linear):
        first, second_weight, second_bias = head.weight, torch.eye(head.out_features, device=mel.device), head.bias
    else:
        first, second_weight, second_bias = head[0].weight, head[1].weight, head[1].bias
    mean_p, mean_y = predictions.mean(0), target.double().mean(0)
    centred = predictions - mean_p
    gram = centred.T @ centred
    ridge = _RIDGE * gram.diagonal().mean().clamp_min(1e-12)
    channel_map = torch.linalg.solve(
        gram + ridge * torch.eye(len(gram), dtype=gram.dtype, device=gram.device),
        centred.T @ (target.double() - mean_y),
    )  # [C, C']
    bias = mean_y - mean_p @ channel_map
    rank = first.shape[0]
    model.replace_expression_head(target.shape[1], rank)
    layers = model.expression_head.net
    layers[0].weight.copy_(first)
    layers[1].weight.copy_((channel_map.T @ second_weight.double()).float())
    layers[1].bias.copy_((channel_map.T @ second_bias.double() + bias).float())
    return rank


def _bilabial_columns() -> list[int]:
    """Columns of the phone features that are P, B or M."""
    from backend.audio.phonetic import FEATURE_PHONES

    return [FEATURE_PHONES.index(p) for p in sorted(BILABIALS)]


def _loss_weights(checkpoint: Checkpoint) -> dict[str, float]:
    """The loss weights the checkpoint was trained with (the defaults for a checkpoint that does not say)."""
    trained = checkpoint.training.get("settings", {})
    defaults = {f.name: f.default for f in dataclasses.fields(TrainingSettings)}
    return {
        name: float(trained.get(name, defaults[name]))
        for name in ("velocity_weight", "lip_gap_weight", "bilabial_weight")
    }


def _snapshot(parameters: list[Tensor]) -> list[Tensor]:
    return [p.detach().clone() for p in parameters]


def _restore(parameters: list[Tensor], state: list[Tensor]) -> None:
    with torch.no_grad():
        for p, saved in zip(parameters, state):
            p.copy_(saved)
