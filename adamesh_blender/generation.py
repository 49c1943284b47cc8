"""Generate Animation around the worker, shared by the operator (UI) and the batch-bake script (bake.py): the
request for a sound strip, and keying the clip the worker returns where that strip plays its sound."""

from __future__ import annotations

from pathlib import Path

import bpy

from .anim import compat
from .anim.keyframes import BakeReport, bake_clip
from .anim.rigs import CustomMapping, describe_rig, map_rig, rig_channels
from .anim.timing import SceneTiming
from .client import GenerateRequest
from .clip_reader import read_clip
from .errors import AddonError
from .sound_timing import strip_timing


def generate_request(
    scene,
    mesh,
    strip,
    audio: Path,
    out: Path,
    *,
    checkpoint: str | None = None,
    style: Path | None = None,
    expression_strength: float = 1.0,
    pose_strength: float = 1.0,
    transcript: str | None = None,
    device: str = "auto",
) -> GenerateRequest:
    """The request that animates `mesh` from `audio`, the file `strip` plays, at the scene's frame rate
    (fps / fps_base), so that clip rows land on scene frames."""
    return GenerateRequest(
        audio=str(audio),
        out=str(out),
        fps=strip_timing(scene, strip).frame_rate,
        rig_channels=rig_channels(describe_rig(mesh)),
        checkpoint=checkpoint,
        style=str(style) if style is not None else None,
        expression_strength=expression_strength,
        pose_strength=pose_strength,
        transcript=transcript,
        device=device,
    )


def bake_generated_clip(
    scene, mesh_name: str, strip_name: str, clip_path: str, custom: CustomMapping | None, label: str | None = None
) -> BakeReport:
    """Key the worker's clip onto the mesh, aligned to where the strip plays its sound, into new Actions named
    after `label` (default: the strip's name). Nothing is assigned unless every key was written.

    The mesh and the strip are looked up again by name: the artist may have deleted them while the job ran.
    """
    mesh = bpy.data.objects.get(mesh_name)
    if mesh is None:
        raise AddonError(f"'{mesh_name}' was deleted or renamed while the animation was generated")
    strip = next((s for s in compat.sound_strips(scene) if s.name == strip_name), None)
    if strip is None:
        raise AddonError(f"sound strip '{strip_name}' was removed while the animation was generated")
    clip = read_clip(clip_path)
    mapping = map_rig(describe_rig(mesh), clip.expression_names, clip.eyes is not None, custom)
    timing = strip_timing(scene, strip)
    report = bake_clip(clip, mesh, mapping, timing, label=label or strip.name)
    for name in (report.shape_key_action, report.pose_action):
        if name:
            _record_placement(bpy.data.actions[name], strip.name, timing)
    return report


# Custom properties on a generated Action: which strip it was keyed from, and where that strip's sound played then.
STRIP_PROPERTY = "adamesh_strip"
SOUND_START_PROPERTY = "adamesh_sound_start_frame"  # the scene frame where second 0 of the sound file played
FRAME_RATE_PROPERTY = "adamesh_frame_rate"


def _record_placement(action, strip_name: str, timing: SceneTiming) -> None:
    action[STRIP_PROPERTY] = strip_name
    action[SOUND_START_PROPERTY] = timing.frame_start
    action[FRAME_RATE_PROPERTY] = timing.frame_rate


def out_of_sync_reason(scene, mesh) -> str | None:
    """Why the mesh's generated animation no longer plays in time with its strip, or None.

    Keys sit on absolute frames, so moving (or re-timing) the strip after Generate leaves the animation behind.
    The keys are not moved behind the artist's back (they may have edited them); the panel says so, and
    Generate again keys from where the strip is now."""
    key = mesh.data.shape_keys if mesh is not None and mesh.type == "MESH" else None
    action = compat.current_action(key) if key is not None else None
    if action is None or STRIP_PROPERTY not in action:
        return None
    strip_name = action[STRIP_PROPERTY]
    strip = next((s for s in compat.sound_strips(scene) if s.name == strip_name), None)
    if strip is None:
        return f"'{action.name}' was generated from sound strip '{strip_name}', which is gone"
    now, then = strip_timing(scene, strip), float(action[SOUND_START_PROPERTY])
    if abs(now.frame_rate - float(action[FRAME_RATE_PROPERTY])) > 1e-6:
        return (
            f"'{action.name}' was generated at {float(action[FRAME_RATE_PROPERTY]):g} fps; the scene now runs at "
            f"{now.frame_rate:g}: press Generate Animation again"
        )
    if abs(now.frame_start - then) > 1e-3:
        return (
            f"Sound strip '{strip_name}' moved by {now.frame_start - then:+g} frames since '{action.name}' was "
            "generated: press Generate Animation again to follow it"
        )
    return None
