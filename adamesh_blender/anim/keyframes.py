"""Write a whole motion clip as keyframes: new Actions, filled in bulk, assigned only when complete.

The artist's previous Actions are never touched except to give them a fake user, so they survive a save and
reload without users; the report names them. Keys go in with `keyframe_points.add` + `foreach_set`, two orders
of magnitude faster than a `keyframe_insert` loop (benchmarks/bench_keyframes.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..clip_reader import MotionClip
from ..errors import RigError
from . import compat
from .curves import CurvePlan, plan_curves
from .rigs import RigMapping, describe_rig, find_armature
from .timing import SceneTiming, sample_frames


@dataclass(frozen=True)
class BakeReport:
    """What a bake did, for the operator's report."""

    shape_key_action: str | None
    pose_action: str | None
    kept_actions: tuple[str, ...]  # the previous Actions, kept with a fake user
    first_frame: int
    last_frame: int
    keyframes: int
    rotation_modes: dict[str, str]  # bone -> the rotation mode its keys were written in
    notes: tuple[str, ...]

    def summary(self) -> str:
        written = " and ".join(f"'{name}'" for name in (self.shape_key_action, self.pose_action) if name)
        text = f"Keyed frames {self.first_frame}-{self.last_frame} ({self.keyframes} keys) into {written}"
        if self.kept_actions:
            text += "; previous animation kept as " + ", ".join(f"'{name}'" for name in self.kept_actions)
        return text


def bake_clip(clip: MotionClip, mesh_obj, mapping: RigMapping, timing: SceneTiming, label: str) -> BakeReport:
    """Key `clip` onto `mesh_obj`'s shape keys and its armature; raise (assigning nothing) if anything fails.

    `mapping` comes from `rigs.map_rig` for this clip's channels; `label` names the new Actions.
    """
    unknown = sorted({channel for channel in mapping.shape_keys.values() if channel not in clip.expression_names})
    if unknown:
        raise RigError(f"the rig mapping uses channels {', '.join(unknown[:6])} that {clip.path.name} lacks")
    armature = _check_rig_still_fits(mesh_obj, mapping)
    sampling = sample_frames(clip.n_frames, clip.fps, timing)
    modes = {target.bone: armature.pose.bones[target.bone].rotation_mode for target in mapping.bones}
    curves = plan_curves(clip, mapping, sampling, modes)

    key = mesh_obj.data.shape_keys
    targets = [(key, "KEY", "shape keys", curves.shape_keys), (armature, "OBJECT", "pose", curves.pose)]
    built: dict[str, tuple[object, compat.ActionChannels]] = {}
    try:
        for id_block, id_type, what, plans in targets:
            if plans:
                channels = compat.new_action(f"AdaMesh {label} ({what})", id_type, id_block.name)
                built[what] = (id_block, channels)
                _fill(channels, curves.frames, plans)
    except BaseException:
        for _, channels in built.values():
            compat.remove_action(channels.action)
        raise

    kept = []
    for id_block, channels in built.values():
        previous = compat.current_action(id_block)
        if previous is not None:
            previous.use_fake_user = True
            kept.append(previous.name)
        compat.assign_action(id_block, channels)
    action_names = {what: channels.action.name for what, (_, channels) in built.items()}
    return BakeReport(
        shape_key_action=action_names.get("shape keys"),
        pose_action=action_names.get("pose"),
        kept_actions=tuple(kept),
        first_frame=int(curves.frames[0]),
        last_frame=int(curves.frames[-1]),
        keyframes=len(curves.frames) * (len(curves.shape_keys) + len(curves.pose)),
        rotation_modes=modes,
        notes=mapping.notes + _widen_slider_ranges(key, curves.shape_keys),
    )


def _check_rig_still_fits(mesh_obj, mapping: RigMapping):
    """The rig may have changed since it was mapped: check every key and bone now, before building anything."""
    rig = describe_rig(mesh_obj)
    wanted_keys = [*mapping.shape_keys, *([mapping.jaw_open_key] if mapping.jaw_open_key else [])]
    wanted_keys += [key for corrective in mapping.correctives for key in corrective.keys]
    missing = [key for key in wanted_keys if key not in rig.shape_keys]
    if missing:
        raise RigError(f"mesh '{mesh_obj.name}' no longer has shape key {', '.join(missing[:6])}; detect the rig again")
    if not mapping.bones:
        return None
    armature = find_armature(mesh_obj)
    if armature is None or armature.name != mapping.armature_name:
        raise RigError(f"mesh '{mesh_obj.name}' is no longer deformed by armature '{mapping.armature_name}'")
    absent = [target.bone for target in mapping.bones if target.bone not in armature.pose.bones]
    if absent:
        raise RigError(f"armature '{armature.name}' no longer has bone {', '.join(absent)}; detect the rig again")
    return armature


def _fill(channels: compat.ActionChannels, frames: np.ndarray, plans: tuple[CurvePlan, ...]) -> None:
    n = len(frames)
    co = np.empty(2 * n, dtype=np.float32)
    co[0::2] = frames
    linear = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value
    interpolation = np.full(n, linear, dtype=np.int32)
    for plan in plans:
        fcurve = channels.new_fcurve(plan.data_path, plan.index, plan.group)
        co[1::2] = plan.values
        fcurve.keyframe_points.add(n)
        fcurve.keyframe_points.foreach_set("co", co)
        fcurve.keyframe_points.foreach_set("interpolation", interpolation)
        fcurve.update()


def _widen_slider_ranges(key, plans: tuple[CurvePlan, ...], shown: int = 4) -> tuple[str, ...]:
    """Shape-key values are clamped to each key's slider range: widen it where the clip goes beyond.

    One note for all of them (a generated clip can leave the range on dozens of keys), naming the first few."""
    widened = []
    for plan in plans:
        block = key.key_blocks[plan.shape_key]
        low, high = float(plan.values.min()), float(plan.values.max())
        if low < block.slider_min or high > block.slider_max:
            block.slider_min = min(block.slider_min, np.floor(low * 100) / 100)
            block.slider_max = max(block.slider_max, np.ceil(high * 100) / 100)
            widened.append(f"'{block.name}' to {block.slider_min:g}..{block.slider_max:g}")
    if not widened:
        return ()
    more = f" and {len(widened) - shown} more" if len(widened) > shown else ""
    what = "the slider range of" if len(widened) == 1 else f"the slider ranges of {len(widened)} shape keys:"
    return (f"widened {what} {', '.join(widened[:shown])}{more}",)
