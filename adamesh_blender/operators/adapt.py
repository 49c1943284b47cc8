"""Adapt Style: a reference (speech + matching face motion) -> the worker's `adapt` -> a style file in the library."""

from __future__ import annotations

import uuid
from pathlib import Path

import bpy

from .. import preferences, properties, session
from ..anim.rigs import describe_rig, find_armature, map_rig
from ..client import AdaptRequest, Job
from ..errors import AddonError
from ..reference import reference_channels, sample_rig_animation, write_clip
from ..sound_timing import file_seconds_at
from ..styles import check_style_name, refresh_styles, select_style, style_path, tracked_reference_path
from . import checks
from .job_operator import JobOperator


def disabled_reason(context) -> str | None:
    settings = context.scene.adamesh
    reason = session.busy_reason(context) or checks.backend_problem(context)
    if reason:
        return reason
    if not settings.style_name.strip():
        return "Give the new style a name"
    if settings.reference_source == "FILES":
        if not settings.reference_motion or not settings.reference_audio:
            return "Choose the reference's motion file and its audio (or video) file"
        return None
    if settings.reference_source == "VIDEO":
        return None if settings.reference_video else "Choose the reference video (one person talking, with sound)"
    if settings.reference_frame_end <= settings.reference_frame_start:
        return "The reference frame range is empty: its end must come after its start"
    return checks.mesh_problem(context.active_object) or checks.sound_strip_problem(context.scene)


class ADAMESH_OT_adapt(JobOperator, bpy.types.Operator):
    bl_idname = "adamesh.adapt"
    bl_label = "Adapt Style"
    bl_description = "Learn a talking style from the reference and add it to the style library"
    job_label = "Adapting style"

    @classmethod
    def poll(cls, context) -> bool:
        return checks.allowed(cls, disabled_reason(context))

    def start_job(self, context) -> Job:
        self._reference_clip = None
        settings = context.scene.adamesh
        prefs = preferences.addon_preferences(context)
        name = check_style_name(settings.style_name)
        out = style_path(context, name)
        if out.exists():
            raise AddonError(f"a style named '{name}' exists already: choose another name, or delete it first")
        if settings.reference_source == "FILES":
            tracker = None if settings.reference_tracker == "CLIP" else settings.reference_tracker.lower()
            reference = dict(
                audio=str(checks.existing_file(settings.reference_audio, "reference audio")),
                motion=str(checks.existing_file(settings.reference_motion, "reference motion file")),
                tracker=tracker,
                motion_fps=settings.reference_fps if tracker else None,
            )
        elif settings.reference_source == "VIDEO":
            reference = dict(
                video=str(checks.existing_file(settings.reference_video, "reference video")),
                tracked=str(tracked_reference_path(context, name)),  # kept for Key Tracked Reference
            )
        else:
            reference = self._rig_reference(context)
        request = AdaptRequest(
            out=str(out),
            name=name,
            checkpoint=bpy.path.abspath(prefs.default_checkpoint) if prefs.default_checkpoint else None,
            device=prefs.device.lower(),
            **reference,
        )
        self._style_name = name
        return session.worker(context).submit(request.request_type, request.params())

    def scratch_files(self, job: Job | None) -> tuple[Path, ...]:
        # the reference clip made from the rig's animation is read by the worker and then of no more use
        return (self._reference_clip,) if self._reference_clip is not None else ()

    def _rig_reference(self, context) -> dict:
        """The selected rig's animation over the range as a clip, and the part of the strip's sound under it."""
        scene, settings = context.scene, context.scene.adamesh
        mesh = checks.target_mesh(context)
        strip = checks.sound_strip(scene)
        rig = describe_rig(mesh)
        custom = properties.custom_mapping(settings)
        channels = tuple(custom.channels) if custom else reference_channels(rig)
        mapping = map_rig(rig, channels, custom=custom)
        frames = range(settings.reference_frame_start, settings.reference_frame_end + 1)
        start = file_seconds_at(scene, strip, frames.start)
        if start < 0:
            raise AddonError(
                f"the reference starts at frame {frames.start}, before sound strip '{strip.name}' plays: "
                "move the range or the strip so the sound covers the whole range"
            )
        audio = checks.sound_file(strip)
        arrays = sample_rig_animation(scene, mesh, find_armature(mesh), mapping, frames)
        clip = write_clip(arrays, Path(bpy.app.tempdir) / f"adamesh-reference-{uuid.uuid4().hex}.npz")
        self._reference_clip = clip
        return dict(
            audio=str(audio),
            motion=str(clip),
            audio_start=start,
            audio_end=file_seconds_at(scene, strip, frames[-1] + 1),
        )

    def job_succeeded(self, context, job: Job) -> set[str]:
        refresh_styles(context)
        select_style(context, self._style_name)
        summary = job.result.get("summary") or f"saved as {job.result.get('style')}"
        notes = "".join(f"; note: {note}" for note in job.result.get("notes") or ())
        self.report({"INFO"}, f"Style '{self._style_name}': {summary}{notes}")
        return {"FINISHED"}
