"""Generate Animation: the sound strip's speech -> the worker's `generate` -> a motion clip -> keyframes on the rig."""

from __future__ import annotations

import uuid
from pathlib import Path

import bpy

from .. import preferences, session
from ..anim import compat
from ..anim.keyframes import bake_clip
from ..anim.rigs import CustomMapping, describe_rig, map_rig
from ..clip_reader import read_clip
from ..client import GenerateRequest, Job
from ..errors import AddonError
from ..sound_timing import strip_timing
from ..styles import style_path
from . import checks
from .job_operator import JobOperator


def disabled_reason(context) -> str | None:
    return (
        session.busy_reason(context)
        or checks.mesh_problem(context.active_object)
        or checks.sound_strip_problem(context.scene)
        or checks.backend_problem(context)
    )


class ADAMESH_OT_generate(JobOperator, bpy.types.Operator):
    bl_idname = "adamesh.generate"
    bl_label = "Generate Animation"
    bl_description = "Animate the selected face from the sound strip, in the chosen style"
    bl_options = {"REGISTER", "UNDO"}
    job_label = "Generating animation"

    @classmethod
    def poll(cls, context) -> bool:
        reason = disabled_reason(context)
        if reason:
            cls.poll_message_set(reason)
        return reason is None

    def start_job(self, context) -> Job:
        mesh = checks.target_mesh(context)
        scene = context.scene
        strip = checks.sound_strip(scene)
        settings = scene.adamesh
        prefs = preferences.addon_preferences(context)
        style = settings.active_style()
        request = GenerateRequest(
            audio=str(checks.sound_file(strip)),
            out=str(Path(bpy.app.tempdir) / f"adamesh-{uuid.uuid4().hex}.npz"),
            rig_channels=describe_rig(mesh).shape_keys,
            checkpoint=bpy.path.abspath(prefs.default_checkpoint) if prefs.default_checkpoint else None,
            style=str(style_path(context, style.name)) if style else None,
            expression_strength=style.expression_strength if style else 1.0,
            pose_strength=style.pose_strength if style else 1.0,
            transcript=settings.transcript.strip() or None,
            device=prefs.device.lower(),
        )
        self._mesh_name, self._strip_name = mesh.name, strip.name
        return session.worker(context).submit(request.request_type, request.params())

    def job_succeeded(self, context, job: Job) -> set[str]:
        scene = context.scene
        custom = scene.adamesh.custom_mapping()
        report = bake_generated_clip(scene, self._mesh_name, self._strip_name, job.result.get("clip", ""), custom)
        self.report({"INFO"}, report.summary())
        for note in report.notes:
            self.report({"WARNING"}, note)
        return {"FINISHED"}


def bake_generated_clip(scene, mesh_name: str, strip_name: str, clip_path: str, custom: CustomMapping | None):
    """Key the worker's clip onto the mesh, aligned to where the strip plays its sound; returns the BakeReport.

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
