"""Key Tracked Reference: the face motion tracked from a style's reference video, keyed onto the selected rig, so
the artist sees what the style learnt from (and how well the tracker read the video) before generating with it."""

from __future__ import annotations

import bpy

from .. import properties
from ..anim.keyframes import bake_clip
from ..anim.rigs import describe_rig, map_rig
from ..anim.timing import SceneTiming, stored_fps_base
from ..clip_reader import read_clip
from ..errors import AddonError
from ..styles import tracked_reference_path
from . import checks


def disabled_reason(context) -> str | None:
    style = properties.active_style(context.scene.adamesh)
    if style is None:
        return "Choose a style in the list"
    if not tracked_reference_path(context, style.name).is_file():
        return f"Style '{style.name}' was not learnt from a video: it has no tracked reference"
    return checks.mesh_problem(context.active_object)


class ADAMESH_OT_key_tracked_reference(bpy.types.Operator):
    bl_idname = "adamesh.key_tracked_reference"
    bl_label = "Key Tracked Reference"
    bl_description = (
        "Key the face motion tracked from the chosen style's reference video onto the selected rig, from the "
        "scene's start frame, to see what the style learnt from"
    )
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context) -> bool:
        return checks.allowed(cls, disabled_reason(context))

    def execute(self, context) -> set[str]:
        scene, settings = context.scene, context.scene.adamesh
        style = properties.active_style(settings)
        try:
            mesh = checks.target_mesh(context)
            clip = read_clip(tracked_reference_path(context, style.name))
            mapping = map_rig(
                describe_rig(mesh), clip.expression_names, clip.eyes is not None, properties.custom_mapping(settings)
            )
            timing = SceneTiming(
                float(scene.frame_start), int(scene.render.fps), stored_fps_base(scene.render.fps_base)
            )
            report = bake_clip(clip, mesh, mapping, timing, label=f"{style.name} tracked reference")
        except AddonError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self.report({"INFO"}, report.summary())
        for note in report.notes:
            self.report({"WARNING"}, note)
        return {"FINISHED"}
