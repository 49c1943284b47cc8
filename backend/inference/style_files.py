"""Style files: what Adapt Style learnt from a reference, as one small safetensors file (a reusable asset).

Tensors: `adapter.<name>` the MoLoRA tensors of the expression model (names as in its state dict), `head.<name>`
the output head when the reference's channels are not the checkpoint's, `expression_style` [S] and `pose_style`
[S'] (PoseGPT's style vector), `pose_gain` [3], `pose_offset` [3], `pose_response` [3, F] and `pose_spread` [3]
(the per-axis head calibration, backend/inference/pose_calibration.py; from format 2 on, a format-1 file reads as
no calibration; the spread, each clip's target, from format 3 on, a format-2 file reads without it).
Metadata (strings): `format` ("adamesh-style/3"), `checkpoint_hash` (of the checkpoint the style was adapted on: a
style only fits that one), `channel_names`, `head_rank`, `name`, `reference_seconds`, `created` (ISO 8601, UTC),
`eyes` (blink rate and duration, gaze spread), `retrieval` (how the pose style was found, fitted and calibrated),
`adaptation` (steps, losses, time). About 2 MB for the starter checkpoint.

Applying a style (`apply_style`) never touches the checkpoint it is given: the expression model is copied, so a
worker can keep one checkpoint loaded and serve any style with it.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from torch import Tensor

from backend.core.errors import AdaMeshError
from backend.core.format_tags import check_format_tag
from backend.eyes.eye_motion import EyeStyle
from backend.inference.pose_calibration import RESPONSE_BINS, PoseCalibration
from backend.inference.pose_styles import pose_style_vector
from backend.models.checkpoint_file import Checkpoint
from backend.models.molora import load_molora_state_dict, set_molora_scale
from backend.models.tensor_files import read_tensors, write_tensors

STYLE_FORMAT = "adamesh-style/3"
_OLDER_READABLE = ("1", "2")  # 1: before the pose calibration, read as none; 2: before its spread, read without
MAX_STRENGTH = 3.0  # beyond this the adapters extrapolate into faces nobody makes
_ADAPTER, _HEAD = "adapter.", "head."
_HASH_SHOWN = 16  # hex digits of a checkpoint hash in messages


class StyleError(AdaMeshError):
    """A style file is missing, damaged, from a newer AdaMesh, or made for another checkpoint."""

    code = "bad_style"


@dataclass
class Style:
    adapter: dict[str, Tensor]  # MoLoRA tensors of the expression model
    expression_style: Tensor  # [S]
    pose_style: Tensor  # [S']
    channel_names: tuple[str, ...]  # the channels the style animates (the reference's)
    checkpoint_hash: str
    checkpoint_name: str = ""  # the file name of that checkpoint, for messages ("" in older style files)
    head: dict[str, Tensor] = field(default_factory=dict)  # output head for the reference's channels, or empty
    head_rank: int | None = None
    eyes: EyeStyle = field(default_factory=EyeStyle)
    name: str = ""
    reference_seconds: float = 0.0
    created: str = ""  # ISO 8601 UTC
    retrieval: dict = field(default_factory=dict)
    adaptation: dict = field(default_factory=dict)
    pose_calibration: PoseCalibration = field(default_factory=PoseCalibration.identity)


def checkpoint_hash(checkpoint: Checkpoint) -> str:
    """SHA-256 of a checkpoint's weights and channel names (on the CPU, so the same on every device)."""
    digest = hashlib.sha256(json.dumps(checkpoint.channel_names).encode())
    for name, tensor in sorted(checkpoint.models.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def save_style(path: str | Path, style: Style) -> None:
    """Write the style file atomically."""
    path = Path(path)
    if not path.parent.is_dir():
        raise StyleError(f"cannot write {path}: folder {path.parent} does not exist")
    tensors = {f"{_ADAPTER}{k}": v for k, v in style.adapter.items()}
    tensors |= {f"{_HEAD}{k}": v for k, v in style.head.items()}
    tensors |= {
        "expression_style": style.expression_style,
        "pose_style": style.pose_style,
        "pose_gain": style.pose_calibration.gain,
        "pose_offset": style.pose_calibration.offset,
        "pose_response": style.pose_calibration.response,
    }
    if style.pose_calibration.spread is not None:
        tensors["pose_spread"] = style.pose_calibration.spread
    metadata = {
        "format": STYLE_FORMAT,
        "checkpoint_hash": style.checkpoint_hash,
        "checkpoint_name": style.checkpoint_name,
        "channel_names": json.dumps(style.channel_names),
        "head_rank": json.dumps(style.head_rank),
        "name": style.name,
        "reference_seconds": repr(float(style.reference_seconds)),
        "created": style.created,
        "eyes": json.dumps(style.eyes.to_dict()),
        "retrieval": json.dumps(style.retrieval),
        "adaptation": json.dumps(style.adaptation),
    }
    write_tensors(path, tensors, metadata)


def load_style(path: str | Path, checkpoint: Checkpoint | None = None) -> Style:
    """Read a style file; with a checkpoint, also check that the style was made for it."""
    path = Path(path)
    tensors, metadata = read_tensors(path, "style file", StyleError)
    check_format_tag(
        path, metadata.get("format"), STYLE_FORMAT, "style file", "Adapt Style", StyleError, _OLDER_READABLE
    )
    try:
        style = Style(
            adapter={k[len(_ADAPTER) :]: v for k, v in tensors.items() if k.startswith(_ADAPTER)},
            head={k[len(_HEAD) :]: v for k, v in tensors.items() if k.startswith(_HEAD)},
            expression_style=tensors["expression_style"],
            pose_style=tensors["pose_style"],
            channel_names=tuple(json.loads(metadata["channel_names"])),
            checkpoint_hash=metadata["checkpoint_hash"],
            checkpoint_name=metadata.get("checkpoint_name", ""),
            head_rank=json.loads(metadata["head_rank"]),
            eyes=EyeStyle.from_dict(json.loads(metadata["eyes"])),
            name=metadata.get("name", ""),
            reference_seconds=float(metadata["reference_seconds"]),
            created=metadata.get("created", ""),
            retrieval=json.loads(metadata.get("retrieval", "{}")),
            adaptation=json.loads(metadata.get("adaptation", "{}")),
            pose_calibration=_pose_calibration(tensors),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise StyleError(
            f"{path}: its metadata or tensors are incomplete or damaged ({error!r}); adapt the style again"
        ) from None
    if not style.adapter or not style.channel_names:
        raise StyleError(f"{path} holds no adapter weights or no channel names; adapt the style again")
    if checkpoint is not None:
        check_style_fits(style, checkpoint, path)
    return style


def _pose_calibration(tensors: dict[str, Tensor]) -> PoseCalibration:
    names = ("pose_gain", "pose_offset", "pose_response")
    if not any(name in tensors for name in names):  # format 1
        return PoseCalibration.identity()
    gain, offset, response = (tensors[name] for name in names)
    spread = tensors.get("pose_spread")  # none in format 2, nor for a style calibrated without it: no clip factor
    shapes = (gain.shape, offset.shape, response.shape, (3,) if spread is None else spread.shape)
    parts = (gain, offset, response) if spread is None else (gain, offset, response, spread)
    if shapes != ((3,), (3,), (3, RESPONSE_BINS), (3,)) or not all(t.isfinite().all() for t in parts):
        raise ValueError(
            f"pose calibration of shapes {[tuple(x) for x in shapes]} (need finite [3], [3], [3, {RESPONSE_BINS}], [3])"
        )
    if spread is not None and (spread < 0).any():
        raise ValueError(f"a negative pose spread {spread.tolist()}")
    return PoseCalibration(gain.float(), offset.float(), response.float(), None if spread is None else spread.float())


def check_style_fits(style: Style, checkpoint: Checkpoint, where: str | Path = "the style") -> None:
    """StyleError naming both checkpoints (file names when known, and hashes) when `style` was adapted on another."""
    own = checkpoint_hash(checkpoint)
    if style.checkpoint_hash != own:
        raise StyleError(
            f"{where} was adapted on checkpoint {_described(style.checkpoint_name, style.checkpoint_hash)}, but the "
            f"checkpoint in use is {_described(checkpoint.name, own)}; generate with the checkpoint it was made for, "
            "or adapt the style again with this one"
        )


def _described(name: str, digest: str) -> str:
    return f"{name} ({digest[:_HASH_SHOWN]}...)" if name else f"{digest[:_HASH_SHOWN]}..."


def apply_style(
    checkpoint: Checkpoint, style: Style, expression_strength: float = 1.0, pose_strength: float = 1.0
) -> tuple[Checkpoint, Tensor, Tensor]:
    """A checkpoint whose expression model carries the style, with the expression and pose style vectors [1, S].

    Strength 0 gives the base (adapters off, the average expression style, the default pose blend), 1 the style,
    above 1 exaggerates it (up to MAX_STRENGTH): the adapters are scaled by the expression strength and the
    expression style vector with them; the pose vector moves from the default blend by the pose strength (and the
    pose calibration, which generation applies, from none: `style.pose_calibration.at_strength`).
    The given checkpoint is not changed.
    """
    for name, value in (("expression", expression_strength), ("pose", pose_strength)):
        if not (math.isfinite(value) and 0.0 <= value <= MAX_STRENGTH):
            raise StyleError(
                f"the {name} strength must lie in [0, {MAX_STRENGTH:g}] (0 = base, 1 = the style, above "
                f"1 exaggerates), got {value}"
            )
    check_style_fits(style, checkpoint)
    device = checkpoint.audio_centroids.device
    models = copy.deepcopy(checkpoint.models)
    expression = models.expression
    if style.head:
        expression.replace_expression_head(len(style.channel_names), style.head_rank)
        try:
            expression.expression_head.load_state_dict(style.head)
        except RuntimeError as error:
            raise StyleError(f"the style's output head does not fit its channels ({error})") from None
    try:
        load_molora_state_dict(expression, {k: v.to(device) for k, v in style.adapter.items()})
    except ValueError as error:
        raise StyleError(f"the style's adapter does not fit the checkpoint: {error}") from None
    set_molora_scale(expression, expression_strength)
    default_pose = pose_style_vector(checkpoint, None)
    pose = default_pose + pose_strength * (style.pose_style.to(device)[None] - default_pose)
    styled = dataclasses.replace(checkpoint, models=models.eval(), channel_names=style.channel_names)
    return styled, expression_strength * style.expression_style.to(device)[None], pose
