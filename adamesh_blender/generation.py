"""Generate Animation around the worker, shared by the operator (UI) and the batch-bake script (bake.py): the
request for a sound strip, and keying the clip the worker returns where that strip plays its sound."""

from __future__ import annotations

from pathlib import Path

import bpy

from .anim import compat
from .anim.keyframes import BakeReport, bake_clip
from .anim.rigs import CustomMapping, describe_rig, map_rig
from .clip_reader import read_clip
from .client import GenerateRequest
from .errors import AddonError
from .sound_timing import strip_timing


def generate_request(scene, mesh, strip, audio: Path, out: Path, *, checkpoint: str | None = None,
                     style: Path | None = None, expression_strength: float = 1.0, pose_strength: float = 1.0,
                     transcript: str | None = None, device: str = "auto") -> GenerateRequest:
    """The request that animates `mesh` from `audio`, the file `strip` plays, at the scene's frame rate
    (fps / fps_base), so that clip rows land on scene frames."""
    return GenerateRequest(
        audio=str(audio),
        out=str(out),
        fps=strip_timing(scene, strip).frame_rate,
        rig_channels=describe_rig(mesh).shape_keys,
        checkpoint=checkpoint,
        style=str(style) if style is not None else None,
        expression_strength=expression_strength,
        pose_strength=pose_strength,
        transcript=transcript,
        device=device,
    )


def bake_generated_clip(scene, mesh_name: str, strip_name: str, clip_path: str, custom: CustomMapping | None
                        ) -> BakeReport:
    """Key the worker's clip onto the mesh, aligned to where the strip plays its sound, into new Actions named
    after the strip. Nothing is assigned unless every key was written.

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
    return bake_clip(clip, mesh, mapping, strip_timing(scene, strip), label=strip.name)
