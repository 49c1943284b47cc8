"""Model configuration: one frozen dataclass per model part, each default with its reason.

The defaults are the `starter` preset (the checkpoint shipped in the extension); `ModelConfig.tiny()` is the
test-sized variant. A config travels as JSON in a checkpoint's safetensors metadata (`to_json` / `from_json`);
preset files apply nested overrides through `with_overrides`.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.core.channels import CHANNELS
from backend.core.errors import AdaMeshError
from backend.core.phones import PHONES


@dataclass(frozen=True)
class MoLoRAConfig:
    ranks: tuple[int, ...] = (2, 4, 8, 16)  # experts of different ranks (AdaMesh); (30,) = single LoRA, same size
    alpha: float = 8.0  # peft's scaling alpha / r per expert: rank 8 gets scale 1


@dataclass(frozen=True)
class ExpressionConfig:
    n_mel: int = 80  # librosa log-mel bins (docs/architecture.md section 5)
    mel_per_frame: int = 4  # 10 ms mel hop, 40 ms motion frame (25 fps)
    n_phones: int = len(PHONES)  # phone posterior / one-hot over ARPAbet + SIL; all zeros = no phonetic input
    use_phonetic: bool = True  # False builds a mel-only model (languages pocketsphinx does not cover)
    d_model: int = 192  # 3.1 M base parameters (+0.4 M MoLoRA): inside 2-5 M, >= 100x real time on 2 CPU threads
    n_heads: int = 4  # head dim 48
    n_encoder_layers: int = 4  # Conformer blocks over the audio
    n_decoder_layers: int = 1  # style-conditioned Conformer blocks before the heads
    ffn_mult: int = 2  # Conformer uses 4; 2 keeps the FFNs from dominating a small model's budget
    conv_kernel: int = 15  # +-280 ms at 25 fps: spans coarticulation (lips move ~200 ms before a bilabial)
    dropout: float = 0.1  # small corpora: the synthetic corpus is tens of minutes
    style_dim: int = 64  # style vector from the reference motion window
    style_hidden: int = 128  # width of the style encoder's convs
    n_expression: int = len(CHANNELS)  # output channels of the checkpoint (ARKit subset, backend/core/channels.py)
    expression_head_rank: int | None = None  # None: full linear head; an int: low-rank head (e.g. FLAME Exp1..100)
    molora: MoLoRAConfig = field(default_factory=MoLoRAConfig)


@dataclass(frozen=True)
class PoseVQVAEConfig:
    fps: float = 25.0  # internal motion rate; velocities are in rad/s
    pose_scale: float = 0.1  # rad: typical head rotation, so the encoder sees values near unit size
    downsample: int = 4  # 6.25 codes/s: head motion is < ~3 Hz, and a nod's onset stays within +-80 ms of a beat
    codebook_size: int = 256  # 8 bits per 160 ms of a 3-DoF signal; larger books leave codes dead on small data
    code_dim: int = 32  # a code stands for 4 frames x (3 angles + 3 velocities) = 24 numbers; low dims use codes well
    hidden: int = 64  # conv width of encoder and decoder: a 3-DoF signal needs little (~0.3 M parameters)
    n_res_blocks: int = 2  # residual blocks per resolution: each code sees ~2.8 s, a whole nod and its return
    ema_decay: float = 0.99  # codebook EMA (van den Oord et al. 2017, appendix)
    commitment: float = 0.25  # commitment-loss weight beta (VQ-VAE paper)
    dead_code_threshold: float = 1.0  # EMA usage below this many vectors per batch: restart the code from data


@dataclass(frozen=True)
class PoseGPTConfig:
    d_model: int = 128  # ~1 M parameters: 30 min of corpus is only ~11 k codes, a bigger prior would memorise
    n_heads: int = 4  # head dim 32
    n_layers: int = 4
    ffn_mult: int = 4
    audio_context: int = 5  # conv over the code-rate audio features: +-2 codes (+-320 ms) of look-ahead and back
    dropout: float = 0.1
    n_styles: int = 16  # training sets it to the corpus's number of pose styles (one embedding each)
    style_dim: int = 64  # pose-style embedding; retrieval blends these vectors


@dataclass(frozen=True)
class StyleMatrixConfig:
    n_clusters: int = 16  # a 10 s reference has ~62 codes: ~4 per cluster; more clusters would be mostly empty
    kmeans_iters: int = 50  # Lloyd iterations; converges well before on code-rate audio features
    blend_top_k: int = 3  # nearest training styles blended for an unseen reference


@dataclass(frozen=True)
class ModelConfig:
    expression: ExpressionConfig = field(default_factory=ExpressionConfig)
    pose_vqvae: PoseVQVAEConfig = field(default_factory=PoseVQVAEConfig)
    pose_gpt: PoseGPTConfig = field(default_factory=PoseGPTConfig)
    style_matrix: StyleMatrixConfig = field(default_factory=StyleMatrixConfig)

    @classmethod
    def starter(cls) -> ModelConfig:
        return cls()

    @classmethod
    def tiny(cls) -> ModelConfig:
        """Seconds-to-train sizes for tests and smoke runs; same structure as the starter."""
        return cls().with_overrides(
            {
                "expression": {
                    "d_model": 32,
                    "n_heads": 2,
                    "n_encoder_layers": 1,
                    "n_decoder_layers": 1,
                    "conv_kernel": 5,
                    "dropout": 0.0,
                    "style_dim": 8,
                    "style_hidden": 16,
                    "molora": {"ranks": (1, 2), "alpha": 2.0},
                },
                "pose_vqvae": {"codebook_size": 16, "code_dim": 8, "hidden": 16, "n_res_blocks": 1},
                "pose_gpt": {"d_model": 32, "n_heads": 2, "n_layers": 1, "dropout": 0.0, "n_styles": 3, "style_dim": 8},
                "style_matrix": {"n_clusters": 4, "kmeans_iters": 10, "blend_top_k": 2},
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        return _build(cls, data, "config")

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise AdaMeshError(f"model config is not valid JSON ({err}); the checkpoint's metadata is damaged") from err
        return cls.from_dict(data)

    def with_overrides(self, overrides: Mapping[str, Any]) -> ModelConfig:
        """A copy with nested fields replaced, e.g. {"expression": {"d_model": 256}} (a preset file's content)."""
        return self.from_dict(_merge(self.to_dict(), overrides, "config"))


def _merge(base: dict[str, Any], overrides: Mapping[str, Any], where: str) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if key not in base:
            raise AdaMeshError(f"unknown setting {where}.{key}; known: {', '.join(sorted(base))}")
        merged[key] = _merge(base[key], value, f"{where}.{key}") if isinstance(base[key], dict) else value
    return merged


def _build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    """A config dataclass from plain JSON data, checking names and coercing lists to tuples."""
    if not isinstance(data, Mapping):
        raise AdaMeshError(f"{where} must be a table of settings, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise AdaMeshError(f"unknown setting {where}.{unknown[0]}; known: {', '.join(sorted(names))}")
    values = {}
    for name in names & set(data):
        hint, value = hints[name], data[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, f"{where}.{name}")
        else:
            values[name] = _coerce(hint, value, f"{where}.{name}")
    return cls(**values)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in options:
        return None
    for option in options:
        if typing.get_origin(option) is tuple and isinstance(value, (list, tuple)):
            if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                return tuple(value)
        elif option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        elif option in (int, bool, str) and type(value) is option:
            return value
    raise AdaMeshError(f"setting {where} = {value!r} has the wrong type; expected {hint}")
