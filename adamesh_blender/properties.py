"""The add-on's settings stored in the .blend (per scene), and the job status shown while the worker runs."""

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from .anim.rigs import CustomMapping

TRACKERS = (
    ("CLIP", "AdaMesh clip", "A motion clip (.npz) written by AdaMesh or its converters"),
    ("VHAP", "VHAP", "VHAP's tracked_flame_params*.npz"),
    ("DECA", "DECA / EMOCA / SPECTRE", "exp and pose arrays (.npz)"),
    ("SMIRK", "SMIRK", "SMIRK's expression, jaw and pose parameters (.npz)"),
)


class AdaMeshChannelPair(bpy.types.PropertyGroup):
    """One row of a custom mapping: a clip channel and the shape key it drives."""

    channel: StringProperty(name="Channel", description="Channel name in the generated clip, e.g. jawOpen or Exp1")
    shape_key: StringProperty(name="Shape Key", description="The mesh's shape key that this channel drives")


class AdaMeshStyle(bpy.types.PropertyGroup):
    """A style file of the library; `name` is the file's name without .safetensors."""

    expression_strength: FloatProperty(
        name="Expression",
        description="0 gives the base model, 1 the style, above 1 exaggerates it",
        default=1.0,
        min=0.0,
        soft_max=1.5,
        max=3.0,
    )
    pose_strength: FloatProperty(
        name="Head Pose",
        description="0 gives the base model's head motion, 1 the style's, above 1 exaggerates",
        default=1.0,
        min=0.0,
        soft_max=1.5,
        max=3.0,
    )


class AdaMeshSettings(bpy.types.PropertyGroup):
    """scene.adamesh: what the panel edits."""

    use_custom_mapping: BoolProperty(
        name="Custom Mapping", description="Map the motion onto this rig by hand instead of detecting the rig kind"
    )
    head_bone: StringProperty(name="Head Bone", description="Bone turned by the head motion (empty: none)")
    jaw_bone: StringProperty(name="Jaw Bone", description="Bone that opens the jaw by rotating about its X axis")
    jaw_open_key: StringProperty(name="Jaw Open Key", description="Shape key driven by the jaw's opening (optional)")
    channel_map: CollectionProperty(type=AdaMeshChannelPair)
    channel_map_index: IntProperty()

    reference_source: EnumProperty(
        name="Reference",
        items=(
            ("RIG", "Rig Animation", "The selected rig's current animation over a frame range, with the sound strip"),
            ("FILES", "Files", "A tracker's output or motion clip, with its audio or video file"),
            (
                "VIDEO",
                "Video File",
                "A video of the person talking: the backend tracks the face (offline) and "
                "learns from it and the video's sound",
            ),
        ),
    )
    reference_frame_start: IntProperty(name="Start", default=1, min=0, description="First frame of the reference")
    reference_frame_end: IntProperty(name="End", default=250, min=0, description="Last frame of the reference")
    reference_motion: StringProperty(name="Motion", subtype="FILE_PATH", description="The reference's face motion")
    reference_tracker: EnumProperty(name="Format", items=TRACKERS, description="What wrote the motion file")
    reference_fps: FloatProperty(
        name="Video FPS", default=25.0, min=1.0, max=240.0, description="Frame rate of the tracked video"
    )
    reference_audio: StringProperty(
        name="Audio", subtype="FILE_PATH", description="The reference's sound: an audio file or the tracked video"
    )
    reference_video: StringProperty(
        name="Video",
        subtype="FILE_PATH",
        description="A video with sound of one person talking, facing the camera (about 10 s is best)",
    )
    style_name: StringProperty(name="Style Name", default="my style", description="File name of the new style")

    styles: CollectionProperty(type=AdaMeshStyle)
    style_index: IntProperty(default=-1, description="The style Generate uses")
    use_style: BoolProperty(name="Use Style", default=True, description="Generate in the chosen style (off: base)")

    sound_strip: StringProperty(name="Sound", description="The sound strip to animate from")
    transcript: StringProperty(
        name="Transcript", description="Optional: the words spoken, which make lip sync on real speech more exact"
    )


class AdaMeshJobStatus(bpy.types.PropertyGroup):
    """window_manager.adamesh_job: how the UI draws the running job (session.active_job() says if one runs)."""

    label: StringProperty()
    progress: FloatProperty(min=0.0, max=1.0, subtype="FACTOR")
    message: StringProperty()


CLASSES = (AdaMeshChannelPair, AdaMeshStyle, AdaMeshSettings, AdaMeshJobStatus)


# Helpers over the settings are functions, not methods: on Blender 4.2 a registered PropertyGroup subclass with a
# Python method (or property) crashes the process at exit (status 139, a segmentation fault after Python has
# finalised, even when it was unregistered cleanly; measured with bpy 4.2.23: the same class without the method
# exits 0, and 4.5/5.0 do not crash either way). So no PropertyGroup of the add-on defines one.
def custom_mapping(settings: AdaMeshSettings) -> CustomMapping | None:
    if not settings.use_custom_mapping:
        return None
    return CustomMapping(
        channels={pair.channel: pair.shape_key for pair in settings.channel_map if pair.channel and pair.shape_key},
        head_bone=settings.head_bone or None,
        jaw_bone=settings.jaw_bone or None,
        jaw_open_key=settings.jaw_open_key or None,
    )


def active_style(settings: AdaMeshSettings) -> AdaMeshStyle | None:
    if settings.use_style and 0 <= settings.style_index < len(settings.styles):
        return settings.styles[settings.style_index]
    return None


def attach() -> None:
    bpy.types.Scene.adamesh = PointerProperty(type=AdaMeshSettings)
    bpy.types.WindowManager.adamesh_job = PointerProperty(type=AdaMeshJobStatus)


def detach() -> None:
    del bpy.types.WindowManager.adamesh_job
    del bpy.types.Scene.adamesh
