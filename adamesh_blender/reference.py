"""A rig's own animation as a motion clip, the reference Adapt Style learns from (the clip format:
docs/architecture.md section 3).

Every scene frame of the range is evaluated and sampled: the mapped shape keys' values, and the jaw and head
bones' rotations relative to rest as axis-angle vectors in the bones' own axes (FLAME's, on FLAME-convention
rigs). A rig whose jaw is only a jawOpen shape key gets a jaw rotation about +X that the keyframe writer would
turn back into the same jawOpen (anim/curves.jaw_open_from_rotation).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .anim.rigs import (
    ARKIT_52,
    FLAME_EXPRESSION_KEYS,
    JAW_OPEN_FULL_ANGLE,
    JAW_OPEN_KEY,
    RigDescription,
    RigKind,
    RigMapping,
    arkit_keys,
    detect_rig_kind,
)
from .clip_reader import CLIP_FORMAT
from .errors import AddonError
from .rig_builders.demo_head import CHANNELS as DEMO_HEAD_CHANNELS

_CHANNELS_OF_KIND = {
    RigKind.FLAME: FLAME_EXPRESSION_KEYS,
    RigKind.DEMO_HEAD: DEMO_HEAD_CHANNELS,
    RigKind.ARKIT: ARKIT_52,
}


def reference_channels(rig: RigDescription) -> tuple[str, ...]:
    """The rig's shape keys that carry expression, for a detected rig kind (a custom mapping names its own)."""
    kind = detect_rig_kind(rig)
    known = _CHANNELS_OF_KIND.get(kind, ())
    keys = set(arkit_keys(rig) if kind is RigKind.ARKIT else rig.shape_keys)  # ARKit: channels in any spelling
    return tuple(name for name in known if name in keys)


def sample_rig_animation(scene, mesh_obj, armature, mapping: RigMapping, frames: range) -> dict[str, np.ndarray]:
    """The clip's arrays at `frames`; the scene's current frame is restored afterwards."""
    key = mesh_obj.data.shape_keys
    # clip channel -> its shape keys (the halves of a split ARKit channel are averaged back into one)
    channels = [(channel, mapping.keys_of(channel)) for channel in dict.fromkeys(mapping.shape_keys.values())]
    bone_of = {target.source: target.bone for target in mapping.bones}
    expression = np.zeros((len(frames), len(channels)), dtype=np.float32)
    rotations = {source: np.zeros((len(frames), 3), dtype=np.float32) for source in ("jaw", "head")}
    jaw_open_key = mapping.jaw_open_key or next(iter(mapping.keys_of(JAW_OPEN_KEY)), JAW_OPEN_KEY)  # any spelling
    jaw_open = key.key_blocks.get(jaw_open_key) if "jaw" not in bone_of else None
    current = scene.frame_current
    try:
        for row, frame in enumerate(frames):
            scene.frame_set(frame)
            expression[row] = [np.mean([key.key_blocks[name].value for name in keys]) for _, keys in channels]
            for source, values in rotations.items():
                if source in bone_of:
                    axis, angle = armature.pose.bones[bone_of[source]].matrix_basis.to_quaternion().to_axis_angle()
                    values[row] = np.asarray(axis) * angle
            if jaw_open is not None:
                rotations["jaw"][row, 0] = jaw_open.value * JAW_OPEN_FULL_ANGLE
    finally:
        scene.frame_set(current)
    return {
        "format": np.array(CLIP_FORMAT),
        "fps": np.array(scene.render.fps / scene.render.fps_base),
        "expression": expression,
        "expression_names": np.array([channel for channel, _ in channels]),
        "jaw": rotations["jaw"],
        "head": rotations["head"],
    }


def write_clip(arrays: dict[str, np.ndarray], path: Path) -> Path:
    """Save the arrays as a motion clip, atomically (a temp file beside it, then renamed)."""
    if arrays["expression"].shape[0] < 2:
        raise AddonError("the reference frame range must span at least two frames")
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            np.savez(file, **arrays)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path
