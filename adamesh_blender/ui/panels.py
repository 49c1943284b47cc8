"""3D Viewport > Sidebar > AdaMesh. Draw only: every action is an operator, every disabled one says why."""

import bpy

from .. import properties, session
from ..anim.rigs import RigKind, arkit_channels_without_keys, describe_rig, detect_rig_kind, find_armature
from ..generation import out_of_sync_reason
from ..operators import adapt, checks, generate
from ..styles import tracked_reference_path

RIG_KIND_LABELS = {
    RigKind.FLAME: "FLAME",
    RigKind.ARKIT: "ARKit-52",
    RigKind.DEMO_HEAD: "AdaMesh demo head",
    RigKind.CUSTOM: "Not recognised: use a custom mapping",
}


class _AdaMeshPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "AdaMesh"


def _reason_label(layout, reason: str | None) -> None:
    """Say under a disabled button why it is disabled (its tooltip says it too)."""
    if reason:
        layout.label(text=reason, icon="INFO")


class VIEW3D_PT_adamesh(_AdaMeshPanel, bpy.types.Panel):
    bl_label = "AdaMesh"

    def draw(self, context):
        layout = self.layout
        if session.active_job() is None:
            layout.label(text="Speech to a talking head, in a person's style")
            return
        status = context.window_manager.adamesh_job
        row = layout.row(align=True)
        row.progress(factor=status.progress, type="BAR", text=f"{status.label}: {status.message}")
        row.operator("adamesh.cancel_job", text="", icon="CANCEL")


class VIEW3D_PT_adamesh_rig(_AdaMeshPanel, bpy.types.Panel):
    bl_label = "Rig"
    bl_parent_id = "VIEW3D_PT_adamesh"

    def draw(self, context):
        layout = self.layout
        obj = context.active_object
        problem = checks.mesh_problem(obj)
        if problem:
            layout.label(text=problem, icon="ERROR")
            return
        settings = context.scene.adamesh
        rig = describe_rig(obj)
        kind = detect_rig_kind(rig)
        layout.label(text=f"{obj.name}: {RIG_KIND_LABELS[kind]}", icon="OUTLINER_OB_ARMATURE")
        if kind is RigKind.ARKIT:
            unkeyed = arkit_channels_without_keys(rig)
            text = f"No shape key for: {', '.join(unkeyed)}" if unkeyed else "A shape key for each of the 52 channels"
            layout.label(text=text, icon="INFO" if unkeyed else "CHECKMARK")
        if rig.armature_name:
            layout.label(text=f"Armature: {rig.armature_name}", icon="BONE_DATA")
        layout.prop(settings, "use_custom_mapping")
        if not settings.use_custom_mapping:
            return
        armature = find_armature(obj)
        column = layout.column()
        for prop in ("head_bone", "jaw_bone"):
            if armature is not None:
                column.prop_search(settings, prop, armature.data, "bones")
            else:
                column.prop(settings, prop)
        column.prop_search(settings, "jaw_open_key", obj.data.shape_keys, "key_blocks")
        row = layout.row()
        row.template_list("ADAMESH_UL_channels", "", settings, "channel_map", settings, "channel_map_index", rows=3)
        buttons = row.column(align=True)
        buttons.operator("adamesh.add_channel", text="", icon="ADD")
        buttons.operator("adamesh.remove_channel", text="", icon="REMOVE")


class VIEW3D_PT_adamesh_style(_AdaMeshPanel, bpy.types.Panel):
    bl_label = "Style"
    bl_parent_id = "VIEW3D_PT_adamesh"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.adamesh
        box = layout.box()
        box.label(text="Reference: speech and the matching face motion")
        box.row().prop(settings, "reference_source", expand=True)
        if settings.reference_source == "RIG":
            row = box.row(align=True)
            row.prop(settings, "reference_frame_start")
            row.prop(settings, "reference_frame_end")
            box.label(text="The selected rig's animation, with the sound strip under it")
        elif settings.reference_source == "VIDEO":
            box.prop(settings, "reference_video")
            box.label(text="First time: Install Video Tracker in the preferences", icon="INFO")
        else:
            box.prop(settings, "reference_motion")
            box.prop(settings, "reference_tracker")
            if settings.reference_tracker != "CLIP":
                box.prop(settings, "reference_fps")
            box.prop(settings, "reference_audio")
        box.prop(settings, "style_name")
        box.operator("adamesh.adapt", icon="SHADERFX")
        _reason_label(box, adapt.disabled_reason(context))

        layout.label(text="Style Library")
        row = layout.row()
        row.template_list("ADAMESH_UL_styles", "", settings, "styles", settings, "style_index", rows=3)
        buttons = row.column(align=True)
        buttons.operator("adamesh.refresh_styles", text="", icon="FILE_REFRESH")
        buttons.operator("adamesh.rename_style", text="", icon="GREASEPENCIL")
        buttons.operator("adamesh.delete_style", text="", icon="TRASH")
        layout.prop(settings, "use_style")
        style = properties.active_style(settings)
        if style is not None:
            column = layout.column(align=True)
            column.prop(style, "expression_strength", slider=True)
            column.prop(style, "pose_strength", slider=True)
            if tracked_reference_path(context, style.name).is_file():
                layout.operator("adamesh.key_tracked_reference", icon="KEYINGSET")


class VIEW3D_PT_adamesh_generate(_AdaMeshPanel, bpy.types.Panel):
    bl_label = "Generate"
    bl_parent_id = "VIEW3D_PT_adamesh"

    def draw(self, context):
        layout = self.layout
        scene = context.scene
        settings = scene.adamesh
        editor = scene.sequence_editor
        row = layout.row(align=True)
        if editor is not None:
            strips = "strips_all" if hasattr(editor, "strips_all") else "sequences_all"
            row.prop_search(settings, "sound_strip", editor, strips, icon="SOUND")
        else:
            row.label(text="No sound strips yet", icon="SOUND")
        row.operator("adamesh.import_audio", text="", icon="FILEBROWSER")
        layout.prop(settings, "transcript")
        layout.operator("adamesh.generate", icon="PLAY_SOUND")
        _reason_label(layout, generate.disabled_reason(context))
        out_of_sync = out_of_sync_reason(context.scene, context.active_object)
        if out_of_sync:
            layout.label(text=out_of_sync, icon="ERROR")
