"""Plan every F-Curve a clip needs on a rig: data path, array index and one value per scene frame (pure numpy).

Shape-key curves live on the mesh's Key datablock; bone curves on the armature object, in each bone's own
rotation mode, so an artist's Euler or axis-angle bone keeps working as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from ..clip_reader import MotionClip
from .lip_retarget import LIP_GAP_MM, contract_separation, retarget_lips
from .rigs import JAW_OPEN_FULL_ANGLE, RigMapping
from .rotations import (
    EULER_ORDERS,
    matrices_to_euler,
    quaternion_to_matrix,
    quaternion_to_rotation_vector,
    quaternions_to_blender_axis_angle,
)
from .timing import FrameSampling, sample_linear, sample_rotations

ROTATION_MODES = ("QUATERNION", "AXIS_ANGLE", *EULER_ORDERS)


@dataclass(frozen=True)
class CurvePlan:
    data_path: str
    index: int
    values: np.ndarray  # [N], one per sampled scene frame
    group: str | None = None  # F-Curve group (Blender groups a bone's curves under its name)
    shape_key: str | None = None  # the shape key whose value this curve animates


@dataclass(frozen=True)
class ClipCurves:
    frames: np.ndarray  # int [N] scene frames
    shape_keys: tuple[CurvePlan, ...]  # on the Key datablock
    pose: tuple[CurvePlan, ...]  # on the armature object


def shape_key_curve(key_name: str, values: np.ndarray) -> CurvePlan:
    return CurvePlan(f'key_blocks["{_escaped(key_name)}"].value', 0, values, shape_key=key_name)


def bone_path(bone: str, prop: str) -> str:
    return f'pose.bones["{_escaped(bone)}"].{prop}'


# What bpy.utils.escape_identifier (Blender's BLI_str_escape) escapes inside a data path's double quotes
_ESCAPES = str.maketrans(
    {
        "\\": "\\\\",
        '"': '\\"',
        "\a": "\\a",
        "\b": "\\b",
        "\f": "\\f",
        "\n": "\\n",
        "\r": "\\r",
        "\t": "\\t",
        "\v": "\\v",
    }
)


def _escaped(name: str) -> str:
    return name.translate(_ESCAPES)


def clip_rotation(clip: MotionClip, source: str) -> np.ndarray:
    """[T, 3] axis-angle rows of one of the clip's rotations (rigs.ROTATION_SOURCES)."""
    if source in ("head", "jaw"):
        return getattr(clip, source)
    if clip.eyes is None:
        raise ValueError(f"the clip has no eye rotations for {source}")
    return clip.eyes[:, :3] if source == "left_eye" else clip.eyes[:, 3:]


def plan_curves(
    clip: MotionClip, mapping: RigMapping, sampling: FrameSampling, rotation_modes: Mapping[str, str]
) -> ClipCurves:
    """All curves for `clip` on the rig; `rotation_modes` gives each mapped bone's current rotation mode."""
    channel_index = {name: i for i, name in enumerate(clip.expression_names)}
    columns = [channel_index[channel] for channel in mapping.shape_keys.values()]
    expression = sample_linear(clip.expression[:, columns], sampling)
    shape_keys = [shape_key_curve(key, expression[:, i]) for i, key in enumerate(mapping.shape_keys)]
    rotations = {}  # source -> [N, 4] quaternions, sampled once however many uses

    def rotation(source: str) -> np.ndarray:
        if source not in rotations:
            rotations[source] = sample_rotations(clip_rotation(clip, source), sampling)
        return rotations[source]

    if mapping.jaw_open_key and mapping.lip_calibration is not None and mapping.mouth_close_keys:
        shape_keys = calibrated_lips(clip, mapping, sampling, shape_keys, rotation("jaw"))
    elif mapping.jaw_open_key:
        shape_keys.append(shape_key_curve(mapping.jaw_open_key, jaw_open_from_rotation(rotation("jaw"))))
    shape_keys = limit_mouth_close(shape_keys, mapping)
    for corrective in mapping.correctives:
        weights = corrective_weights(rotation(corrective.source))
        shape_keys += [shape_key_curve(key, weights[:, i]) for i, key in enumerate(corrective.keys)]
    pose = []
    for target in mapping.bones:
        pose += bone_rotation_curves(target.bone, rotation(target.source), rotation_modes[target.bone])
    return ClipCurves(sampling.scene_frames, tuple(shape_keys), tuple(pose))


def jaw_open_from_rotation(jaw_quaternions: np.ndarray) -> np.ndarray:
    """[N, 4] jaw rotations -> [N] jawOpen in [0, 1]: the opening about +X over JAW_OPEN_FULL_ANGLE."""
    opening = quaternion_to_rotation_vector(jaw_quaternions)[:, 0]
    return np.clip(opening / JAW_OPEN_FULL_ANGLE, 0.0, 1.0)


def calibrated_lips(
    clip: MotionClip, mapping: RigMapping, sampling: FrameSampling, curves: list[CurvePlan], jaw_quaternions: np.ndarray
) -> list[CurvePlan]:
    """jawOpen and mouthClose solved for the lip-gap contract on the rig's own lip millimetres (lip_retarget)."""
    contract = [name for name in LIP_GAP_MM if name in clip.expression_names]
    columns = [clip.expression_names.index(name) for name in contract]
    sampled = sample_linear(clip.expression[:, columns], sampling)
    jaw_x = quaternion_to_rotation_vector(jaw_quaternions)[:, 0]
    target = contract_separation({name: sampled[:, i] for i, name in enumerate(contract)}, jaw_x)
    close_key = mapping.mouth_close_keys[0]
    others = {curve.shape_key: curve.values for curve in curves if curve.shape_key not in mapping.mouth_close_keys}
    jaw_open, close = retarget_lips(mapping.lip_calibration, jaw_x, target, others, mapping.jaw_open_key, close_key)
    solved = [
        replace(curve, values=close) if curve.shape_key in mapping.mouth_close_keys else curve for curve in curves
    ]
    return solved + [shape_key_curve(mapping.jaw_open_key, jaw_open)]


def limit_mouth_close(curves: list[CurvePlan], mapping: RigMapping) -> list[CurvePlan]:
    """ARKit's mouthClose closes lips the jaw holds apart: above jawOpen it pushes them through each other, so each
    mouthClose curve is cut to the jawOpen curve frame by frame."""
    if not mapping.mouth_close_keys:
        return curves
    jaw_key = mapping.jaw_open_key or next(iter(mapping.keys_of("jawOpen")), None)
    jaw = next((curve.values for curve in curves if curve.shape_key == jaw_key), None)
    if jaw is None:
        return curves
    return [
        replace(curve, values=np.minimum(curve.values, jaw)) if curve.shape_key in mapping.mouth_close_keys else curve
        for curve in curves
    ]


def corrective_weights(quaternions: np.ndarray) -> np.ndarray:
    """[N, 4] joint rotations -> [N, 9] FLAME pose-corrective weights: (R - I) flattened row by row."""
    return (quaternion_to_matrix(quaternions) - np.eye(3)).reshape(-1, 9)


def bone_rotation_curves(bone: str, quaternions: np.ndarray, mode: str) -> list[CurvePlan]:
    """The curves that pose `bone` at `quaternions` [N, 4] (relative to rest) in its rotation `mode`."""
    if mode == "QUATERNION":
        prop, values = "rotation_quaternion", quaternions
    elif mode == "AXIS_ANGLE":
        prop, values = "rotation_axis_angle", quaternions_to_blender_axis_angle(quaternions)
    elif mode in EULER_ORDERS:
        prop, values = "rotation_euler", matrices_to_euler(quaternion_to_matrix(quaternions), mode)
    else:
        raise ValueError(f"bone {bone!r} has rotation mode {mode!r}; expected one of {ROTATION_MODES}")
    path = bone_path(bone, prop)
    return [CurvePlan(path, i, values[:, i], group=bone) for i in range(values.shape[1])]
