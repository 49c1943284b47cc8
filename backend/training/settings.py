"""Training presets: a TOML file per recipe (backend/training/presets/*.toml) = model overrides + training schedule.

    [model]                       base = "tiny" | "starter" (ModelConfig.tiny() / .starter()), then nested
    [model.expression] ...        overrides applied with ModelConfig.with_overrides
    [training]                    settings shared by the stages (loss weights, dropouts, phonetic corruption)
    [training.expression] ...     one table per stage: steps, batch, lr, window_seconds, time_share

`--preset` takes a preset's name or the path of a .toml file written the same way (e.g. a bigger GPU recipe).
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.core.errors import AdaMeshError
from backend.models.config import ModelConfig

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
STAGES = ("expression", "pose_vqvae", "pose_gpt")  # trained in this order; the style bank follows them


class PresetError(AdaMeshError):
    """A preset is unknown, is not valid TOML, or names a setting that does not exist."""

    code = "bad_preset"


@dataclass(frozen=True)
class StageSettings:
    steps: int  # optimiser steps; the stage stops sooner when its share of --max-minutes runs out
    batch: int  # windows per step over all processes (each of N processes takes batch / N)
    lr: float  # peak AdamW learning rate: linear warm-up, then cosine decay to lr / 20
    window_seconds: tuple[float, float]  # each step draws one window length in this range (no padding needed)
    time_share: float  # share of --max-minutes this stage may take
    warmup_steps: int = 50  # Adam's second-moment estimates settle before the full rate


@dataclass(frozen=True)
class TrainingSettings:
    expression: StageSettings
    pose_vqvae: StageSettings
    pose_gpt: StageSettings
    # Which recogniser's measured errors corrupt the exact phones (backend/audio/phone_error_profile.json), with
    # the odds of each: "words" is what generation uses without a transcript, "aligned" with one.
    phonetic_profiles: dict[str, float] = field(
        default_factory=lambda: {"words": 0.5, "allphone": 0.25, "aligned": 0.25}
    )
    phonetic_dropout: float = 0.25  # windows trained mel-only (phonetic input all zeros): the path for other languages
    style_dropout: float = 0.2  # windows trained without a reference (zero style = the average style)
    reference_seconds: float = 4.0  # reference window for the style encoder, from another utterance of the speaker
    velocity_weight: float = 0.5  # L1 on frame-to-frame differences: keeps motion crisp instead of smoothed
    lip_gap_weight: float = 1.0  # L1 on the lip gap (mm / 10) computed from the prediction by the lip-gap contract
    bilabial_weight: float = 4.0  # extra lip-gap weight on frames within a P/B/M phone: closures are not averaged away
    weight_decay: float = 0.01
    grad_clip: float = 1.0  # global gradient norm
    save_every_minutes: float = 5.0  # training state for --resume (also at each stage's end)


@dataclass(frozen=True)
class Preset:
    name: str
    model: ModelConfig
    training: TrainingSettings


def load_preset(name_or_path: str) -> Preset:
    """A preset by name (backend/training/presets/NAME.toml) or by path to a .toml file."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = PRESETS_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in PRESETS_DIR.glob("*.toml")))
            raise PresetError(f"unknown preset {name_or_path!r}; choose one of {known} or give a .toml file")
    try:
        table = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise PresetError(f"preset file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise PresetError(f"preset file {path} is not valid TOML: {error}") from None
    return preset_from_table(path.stem, table, str(path))


def preset_from_table(name: str, table: Mapping[str, Any], where: str) -> Preset:
    _check_keys(table, {"model", "training"}, where)
    model_table = dict(table.get("model", {}))
    base = model_table.pop("base", "starter")
    if base not in ("tiny", "starter"):
        raise PresetError(f'{where}: model.base must be "tiny" or "starter", got {base!r}')
    base_config = ModelConfig.tiny() if base == "tiny" else ModelConfig.starter()
    try:
        model = base_config.with_overrides(model_table)
    except AdaMeshError as error:
        raise PresetError(f"{where}: {error}") from None
    training = _dataclass_from_table(TrainingSettings, table.get("training", {}), f"{where}: training")
    return Preset(name, model, training)


def _check_keys(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise PresetError(f"{where}: unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}")


def _dataclass_from_table(cls: type, table: Any, where: str) -> Any:
    if not isinstance(table, Mapping):
        raise PresetError(f"{where} must be a table of settings")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _check_keys(table, set(fields), where)
    hints = typing.get_type_hints(cls)
    values = {}
    for name, f in fields.items():
        if name not in table:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise PresetError(f"{where}.{name} is missing")
            continue
        values[name] = _value(hints[name], table[name], f"{where}.{name}")
    settings = cls(**values)
    _check_ranges(settings, where)
    return settings


def _value(hint: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _dataclass_from_table(hint, value, where)
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list) or len(value) != 2 or not all(_is_number(v) for v in value):
            raise PresetError(f"{where} must be a pair of numbers, e.g. [2.0, 6.0]")
        return (float(value[0]), float(value[1]))
    if origin is dict:
        if not isinstance(value, Mapping) or not all(_is_number(v) for v in value.values()):
            raise PresetError(f"{where} must be a table of names to numbers")
        return {str(k): float(v) for k, v in value.items()}
    if hint is float and _is_number(value):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PresetError(f"{where} = {value!r} has the wrong type; expected {getattr(hint, '__name__', hint)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_ranges(settings: Any, where: str) -> None:
    if isinstance(settings, StageSettings):
        low, high = settings.window_seconds
        if (
            settings.steps < 1
            or settings.batch < 1
            or settings.lr <= 0
            or not 0 < low <= high
            or not 0 < settings.time_share <= 1
        ):
            raise PresetError(
                f"{where}: need steps >= 1, batch >= 1, lr > 0, 0 < window_seconds[0] <= [1] and 0 < time_share <= 1"
            )
    if isinstance(settings, TrainingSettings):
        shares = sum(getattr(settings, stage).time_share for stage in STAGES)
        if shares > 1.0 + 1e-9:
            raise PresetError(f"{where}: the stages' time_share add up to {shares:g}, more than the whole budget")
        if not settings.phonetic_profiles or min(settings.phonetic_profiles.values()) < 0:
            raise PresetError(f"{where}.phonetic_profiles needs at least one profile with odds >= 0")
