"""Import Audio: a sound file becomes a sound strip at the current frame, chosen for Generate."""

from pathlib import Path

import bpy
from bpy.props import StringProperty

from ..anim import compat

SOUND_FILES = "*.wav;*.flac;*.ogg;*.mp3;*.m4a;*.aac;*.opus;*.mp4;*.mov;*.mkv"


class ADAMESH_OT_import_audio(bpy.types.Operator):
    bl_idname = "adamesh.import_audio"
    bl_label = "Import Audio"
    bl_description = "Add a sound file as a sound strip at the current frame and animate from it"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(subtype="FILE_PATH")
    filter_glob: StringProperty(default=SOUND_FILES, options={"HIDDEN"})

    @classmethod
    def poll(cls, context) -> bool:
        if not compat.can_add_sound_strips():
            cls.poll_message_set(compat.NO_AUDIO_SUPPORT)
            return False
        return True

    def invoke(self, context, event) -> set[str]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context) -> set[str]:
        path = Path(bpy.path.abspath(self.filepath))
        if not path.is_file():
            self.report({"ERROR"}, f"no sound file at {path}")
            return {"CANCELLED"}
        scene = context.scene
        channel = 1 + max((strip.channel for strip in compat.sound_strips(scene)), default=0)
        strip = compat.new_sound_strip(scene, path.stem, str(path), channel, scene.frame_current)
        scene.adamesh.sound_strip = strip.name
        self.report({"INFO"}, f"Added sound strip '{strip.name}' at frame {scene.frame_current}")
        return {"FINISHED"}
