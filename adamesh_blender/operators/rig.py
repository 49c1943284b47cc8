"""The custom mapping's rows: a clip channel and the shape key it drives."""

from __future__ import annotations

import bpy


class ADAMESH_OT_add_channel(bpy.types.Operator):
    bl_idname = "adamesh.add_channel"
    bl_label = "Add Channel"
    bl_description = "Map one more clip channel onto a shape key"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context) -> set[str]:
        settings = context.scene.adamesh
        settings.channel_map.add()
        settings.channel_map_index = len(settings.channel_map) - 1
        return {"FINISHED"}


class ADAMESH_OT_remove_channel(bpy.types.Operator):
    bl_idname = "adamesh.remove_channel"
    bl_label = "Remove Channel"
    bl_description = "Remove the chosen row of the custom mapping"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context) -> bool:
        settings = context.scene.adamesh
        if not 0 <= settings.channel_map_index < len(settings.channel_map):
            cls.poll_message_set("Choose a row of the mapping")
            return False
        return True

    def execute(self, context) -> set[str]:
        settings = context.scene.adamesh
        settings.channel_map.remove(settings.channel_map_index)
        settings.channel_map_index = min(settings.channel_map_index, len(settings.channel_map) - 1)
        return {"FINISHED"}
