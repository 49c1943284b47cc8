"""The style library's buttons: refresh from the folder, rename, delete."""

import bpy
from bpy.props import StringProperty

from ..errors import AddonError
from ..styles import delete_style, refresh_styles, rename_style


def _active_style(context):
    settings = context.scene.adamesh
    return settings.styles[settings.style_index] if 0 <= settings.style_index < len(settings.styles) else None


class _ActiveStyleOperator:
    @classmethod
    def poll(cls, context) -> bool:
        if _active_style(context) is None:
            cls.poll_message_set("Choose a style in the list")
            return False
        return True


class ADAMESH_OT_refresh_styles(bpy.types.Operator):
    bl_idname = "adamesh.refresh_styles"
    bl_label = "Refresh Styles"
    bl_description = "Read the style library folder again"

    def execute(self, context) -> set[str]:
        refresh_styles(context)
        return {"FINISHED"}


class ADAMESH_OT_rename_style(_ActiveStyleOperator, bpy.types.Operator):
    bl_idname = "adamesh.rename_style"
    bl_label = "Rename Style"
    bl_description = "Rename the chosen style's file"

    new_name: StringProperty(name="New Name")

    def invoke(self, context, event) -> set[str]:
        self.new_name = _active_style(context).name
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context) -> set[str]:
        try:
            rename_style(context, _active_style(context).name, self.new_name)
        except (AddonError, OSError) as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        return {"FINISHED"}


class ADAMESH_OT_delete_style(_ActiveStyleOperator, bpy.types.Operator):
    bl_idname = "adamesh.delete_style"
    bl_label = "Delete Style"
    bl_description = "Delete the chosen style's file from the library"

    def invoke(self, context, event) -> set[str]:
        return context.window_manager.invoke_confirm(self, event)

    def execute(self, context) -> set[str]:
        name = _active_style(context).name
        try:
            delete_style(context, name)
        except OSError as error:
            self.report({"ERROR"}, f"cannot delete style '{name}': {error}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Deleted style '{name}'")
        return {"FINISHED"}
