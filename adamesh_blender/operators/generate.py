"""Generate Animation: the sound strip's speech -> the worker's `generate` -> a motion clip -> keyframes on the rig.

Undo: the keys land in one step (bl_options UNDO; Blender records it when the operator finishes, after the modal
job). Undoing it restores the rig's previous Actions, removes the new ones and puts back the fake-user flags and
shape-key slider ranges the bake changed; the generated clip file (in Blender's temporary folder) stays.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import bpy

from .. import preferences, properties, session
from ..client import Job
from ..errors import AddonError
from ..generation import bake_generated_clip, generate_request
from ..styles import style_path
from . import checks
from .job_operator import JobOperator


def disabled_reason(context) -> str | None:
    obj = context.active_object
    return (
        session.busy_reason(context)
        or checks.mesh_problem(obj)
        or checks.editable_problem(obj)
        or checks.rig_problem(obj, properties.custom_mapping(context.scene.adamesh))
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
        return checks.allowed(cls, disabled_reason(context))

    def start_job(self, context) -> Job:
        self._clip, self._clip_keyed = None, False
        mesh = checks.target_mesh(context)
        scene = context.scene
        strip = checks.sound_strip(scene)
        settings = scene.adamesh
        prefs = preferences.addon_preferences(context)
        style = properties.active_style(settings)
        request = generate_request(
            scene,
            mesh,
            strip,
            checks.sound_file(strip),
            Path(bpy.app.tempdir) / f"adamesh-{uuid.uuid4().hex}.npz",
            checkpoint=bpy.path.abspath(prefs.default_checkpoint) if prefs.default_checkpoint else None,
            style=style_path(context, style.name) if style else None,
            expression_strength=style.expression_strength if style else 1.0,
            pose_strength=style.pose_strength if style else 1.0,
            transcript=settings.transcript.strip() or None,
            device=prefs.device.lower(),
        )
        self._scene_name, self._mesh_name, self._strip_name = scene.name, mesh.name, strip.name
        self._clip = Path(request.out)
        muted = checks.muted_strip_note(strip)
        self._notes = (muted,) if muted else ()
        return session.worker(context).submit(request.request_type, request.params())

    def scratch_files(self, job: Job | None) -> tuple[Path, ...]:
        # a keyed clip stays for the artist (docs/blender.md); one that was not keyed (failed, cancelled, or
        # its file closed) is of no use
        return () if self._clip is None or self._clip_keyed else (self._clip,)

    def job_succeeded(self, context, job: Job) -> set[str]:
        scene = bpy.data.scenes.get(self._scene_name)  # the artist may have switched scenes while the job ran
        if scene is None:
            raise AddonError(f"scene '{self._scene_name}' was deleted or renamed while the animation was generated")
        custom = properties.custom_mapping(scene.adamesh)
        report = bake_generated_clip(scene, self._mesh_name, self._strip_name, job.result.get("clip", ""), custom)
        self._clip_keyed = True
        self.report({"INFO"}, report.summary())
        for note in (*self._notes, *job.result.get("notes", ()), *report.notes):
            self.report({"WARNING"}, note)
        return {"FINISHED"}
