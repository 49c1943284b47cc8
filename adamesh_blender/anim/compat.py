"""The one place that knows how Blender versions differ for Actions and sound strips, by feature detection.

- Actions: 4.2/4.3 hold F-Curves in `action.fcurves`. 4.4+ has layered Actions: slots (one per animated ID),
  layers, a keyframe strip and a channelbag per slot that holds the F-Curves, and `animation_data.action_slot`
  says which slot an ID plays; 5.0 removed `action.fcurves`. When both exist (4.4), the layered API is used.
- Sound strips: `scene.sequence_editor.strips` / `strips_all` (4.4+) versus `.sequences` / `sequences_all`. A
  Blender built without Audaspace (the bpy 4.2 wheel on PyPI; never the released applications) cannot add them.
- A sound strip's `sound_offset` (where in its file it starts playing) exists from 4.3; 4.2 plays from the start.
- Video output: 5.0 chooses the output's media type (`image_settings.media_type`) before its file format.
- Material nodes: before 5.0 a new material has no node tree until `use_nodes` is set; 5.0 gives it one and
  deprecates `use_nodes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy

from ..errors import AddonError

NO_AUDIO_SUPPORT = (
    "this Blender is built without audio support (bpy.app.build_options.audaspace is off), so it cannot add sound "
    "strips; use a Blender from blender.org (every release there has it)"
)


def has_layered_actions() -> bool:
    # RNA properties are not Python class attributes: look them up in the type's bl_rna
    properties = bpy.types.Action.bl_rna.properties
    return "slots" in properties and "layers" in properties


@dataclass
class ActionChannels:
    """A new Action prepared to animate one ID type, with a way to add F-Curves to it."""

    action: bpy.types.Action
    slot: bpy.types.ActionSlot | None  # None on 4.2/4.3, which have no slots
    _fcurves: object  # action.fcurves or the slot's channelbag.fcurves
    _groups: object  # action.groups or the channelbag's groups

    def new_fcurve(self, data_path: str, index: int = 0, group: str | None = None) -> bpy.types.FCurve:
        fcurve = self._fcurves.new(data_path, index=index)
        if group:
            fcurve.group = self._groups.get(group) or self._groups.new(group)
        return fcurve


def new_action(name: str, id_type: str, slot_name: str) -> ActionChannels:
    """Create an empty Action for IDs of `id_type` ('KEY' for shape keys, 'OBJECT' for pose bones)."""
    action = bpy.data.actions.new(name)
    if not has_layered_actions():
        action.id_root = id_type
        return ActionChannels(action, None, action.fcurves, action.groups)
    slot = action.slots.new(id_type=id_type, name=slot_name)
    strip = action.layers.new("Layer").strips.new(type="KEYFRAME")
    channelbag = strip.channelbag(slot, ensure=True)
    return ActionChannels(action, slot, channelbag.fcurves, channelbag.groups)


def current_action(id_block) -> bpy.types.Action | None:
    animation_data = id_block.animation_data
    return animation_data.action if animation_data else None


def assign_action(id_block, channels: ActionChannels) -> None:
    """Make `id_block` play the Action (and, on 4.4+, its slot)."""
    animation_data = id_block.animation_data or id_block.animation_data_create()
    animation_data.action = channels.action
    if channels.slot is not None:
        animation_data.action_slot = channels.slot


def remove_action(action: bpy.types.Action) -> None:
    bpy.data.actions.remove(action)


def _strips(scene, all_levels: bool):
    editor = scene.sequence_editor
    if editor is None:
        return ()
    if hasattr(editor, "strips"):
        return editor.strips_all if all_levels else editor.strips
    return editor.sequences_all if all_levels else editor.sequences


def sound_strips(scene) -> list:
    """Every sound strip of the scene, inside meta strips too, in timeline order."""
    return sorted((s for s in _strips(scene, all_levels=True) if s.type == "SOUND"), key=lambda s: s.frame_start)


def can_add_sound_strips() -> bool:
    return bool(bpy.app.build_options.audaspace)


def new_sound_strip(scene, name: str, filepath: str, channel: int, frame_start: int):
    """Add a sound strip to the scene's sequencer (created if needed); AddonError when this Blender cannot."""
    if not can_add_sound_strips():  # checked first: the sequencer is not created for nothing
        raise AddonError(NO_AUDIO_SUPPORT)
    scene.sequence_editor_create()
    return _strips(scene, all_levels=False).new_sound(name, filepath, channel, frame_start)


def material_node_tree(material):
    """The material's shader node tree, made on versions where a new material has none."""
    if material.node_tree is None:
        material.use_nodes = True
    return material.node_tree


def sound_offset(strip) -> float:
    """Seconds of the strip's file skipped before it plays (0 on 4.2, which has no such setting)."""
    return float(getattr(strip, "sound_offset", 0.0))


def use_video_output(image_settings, file_format: str = "FFMPEG") -> None:
    """Render to a movie file: 5.0 needs the media type set first, 4.2/4.5 take the file format directly."""
    if "media_type" in image_settings.bl_rna.properties:
        image_settings.media_type = "VIDEO"
    image_settings.file_format = file_format
