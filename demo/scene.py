"""The demo scene: the demo head once per generated clip, side by side, keyed by the add-on's own bake code.

The demo head is the ICT head (rig_builders/ict_head.py: a scanned human face, an ARKit rig); the egg-shaped test
head (`build.py demo-head --egg`) works too. The first head is the one `python build.py demo-head` saved; each
further one is a copy of it (mesh, shape keys and armature), as an artist would duplicate a rig. One sound strip
plays the speech; every head's Actions are aligned to it by `generation.bake_generated_clip`, the code Generate
Animation and the batch bake use.
"""

from __future__ import annotations

import math
from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector

from adamesh_blender.anim import compat
from adamesh_blender.anim.keyframes import BakeReport
from adamesh_blender.anim.lip_retarget import INNER_LIPS_PROPERTY
from adamesh_blender.anim.rigs import DEMO_HEAD_MARKER, ICT_FACE_MARKER, RIG_MARKER_PROPERTY, find_armature
from adamesh_blender.errors import AddonError
from adamesh_blender.generation import bake_generated_clip
from adamesh_blender.rig_builders.head_mesh import LIP_GROUPS

from . import render

FPS = 25  # the models' own rate: every generated row is a scene frame
FRAME_START = 1
HEAD_MARKERS = (ICT_FACE_MARKER, DEMO_HEAD_MARKER)  # the heads the demo shows
HEAD_SPACING_M = 0.24  # centre to centre; the ICT head is ~160 mm wide at the cheeks, 200 mm at the ears
LIP_BAND_M = 0.011  # width of the lip colour's fall-off around the mouth line
SKIN_RGBA = (0.80, 0.72, 0.66, 1.0)
LIP_RGBA = (0.62, 0.22, 0.24, 1.0)
CAMERA_LENS_MM = 80.0
CAMERA_FROM_TARGET = Vector((0.16, -0.95, 0.10))  # a little right of and above the faces: a gentle 3/4 view
LOOK_ABOVE_LIPS_M = 0.035  # aim between the lips and the eyes: the face from brows to chin fills the picture


def assemble(head_blend: Path, audio: Path, clips: list[tuple[str, Path]], out: Path) -> dict[str, BakeReport]:
    """Open the saved demo head, key the clips (key_heads), add camera and lights, and save to `out`."""
    bpy.ops.wm.open_mainfile(filepath=str(head_blend))
    scene = bpy.context.scene
    heads, reports = key_heads(scene, demo_head(scene), add_speech(scene, audio), clips)
    add_camera_and_lights(scene, heads)
    render.use_preview_settings(scene, render.VIDEO_SIZE)  # F12 in the saved file renders what the demo shows
    if bpy.ops.wm.save_as_mainfile(filepath=str(out.resolve())) != {"FINISHED"}:
        raise AddonError(f"could not save {out}")
    return reports


def add_speech(scene, audio: Path):
    """The scene at the demo's frame rate, with `audio` as a sound strip from FRAME_START."""
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    return compat.new_sound_strip(scene, audio.stem, str(audio), channel=1, frame_start=FRAME_START)


def key_heads(scene, first, strip, clips: list[tuple[str, Path]]) -> tuple[list, dict[str, BakeReport]]:
    """Give each (label, clip) its own copy of the head `first`, named after the label and keyed from the clip
    where the sound `strip` plays (add_speech). Heads stand left to right in the order given; returns them and
    each label's bake report."""
    heads = [first] + [duplicate_head(first) for _ in clips[1:]]
    stem = first.name
    reports = {}
    for number, (head, (label, clip)) in enumerate(zip(heads, clips)):
        head.name = f"{stem} ({label})"
        rig = find_armature(head)
        rig.name = f"{head.name} rig"
        rig.location.x = (number - (len(heads) - 1) / 2) * HEAD_SPACING_M
        reports[label] = bake_generated_clip(
            scene, head.name, strip.name, str(clip), custom=None, label=f"{strip.name} [{label}]"
        )
        if head.get(RIG_MARKER_PROPERTY) == DEMO_HEAD_MARKER:  # the ICT head has its own materials
            paint_lips(head)
    scene.frame_start, scene.frame_end = strip.frame_final_start, strip.frame_final_end - 1
    scene.frame_set(scene.frame_start)
    return heads, reports


def demo_head(scene):
    heads = [obj for obj in scene.objects if obj.get(RIG_MARKER_PROPERTY) in HEAD_MARKERS]
    if len(heads) != 1:
        raise AddonError(
            f"{bpy.data.filepath} should hold one demo head (python build.py demo-head), found {len(heads)}"
        )
    return heads[0]


def demo_heads(scene) -> list:
    """The scene's demo heads, left to right."""
    heads = [obj for obj in scene.objects if obj.get(RIG_MARKER_PROPERTY) in HEAD_MARKERS]
    return sorted(heads, key=lambda head: head.matrix_world.translation.x)


def duplicate_head(mesh_obj):
    """A copy of the head with its own mesh, shape keys and armature (nothing shared, so each keeps its Actions)."""
    armature = find_armature(mesh_obj)
    rig = armature.copy()
    rig.data = armature.data.copy()
    head = mesh_obj.copy()
    head.data = mesh_obj.data.copy()
    head.parent = rig
    for modifier in head.modifiers:
        if modifier.type == "ARMATURE":
            modifier.object = rig
    for collection in mesh_obj.users_collection:
        collection.objects.link(rig)
        collection.objects.link(head)
    return head


def paint_lips(mesh_obj) -> None:
    """A skin colour reddening towards the mouth line (a colour attribute, which Workbench shows smoothly and which
    follows the lips as they deform), so that the mouth's shape reads in a small preview."""
    mesh = mesh_obj.data
    rest = np.empty(3 * len(mesh.vertices), dtype=np.float32)
    mesh.vertices.foreach_get("co", rest)
    rest = rest.reshape(-1, 3)
    groups = {mesh_obj.vertex_groups[name].index for name in LIP_GROUPS}
    contour = rest[[v.index for v in mesh.vertices if any(g.group in groups for g in v.groups)]]
    distance = np.min(np.linalg.norm(rest[:, None, :] - contour[None, :, :], axis=2), axis=1)
    lip = np.exp(-((distance / LIP_BAND_M) ** 2))[:, None]
    colours = (1.0 - lip) * np.array(SKIN_RGBA) + lip * np.array(LIP_RGBA)
    attribute = mesh.color_attributes.new(render.LIP_COLOUR_ATTRIBUTE, "FLOAT_COLOR", "POINT")
    attribute.data.foreach_set("color", colours.astype(np.float32).ravel())
    mesh.color_attributes.active_color = attribute


def add_camera_and_lights(scene, heads) -> None:
    """A camera on the lips of all heads, a key and a fill light (for Cycles / EEVEE), a dark background."""
    centre = sum((h.matrix_world.translation for h in heads), Vector()) / len(heads)
    lips = _lip_centre(heads[0])
    target = Vector((centre.x, lips.y, lips.z + LOOK_ABOVE_LIPS_M))
    camera = bpy.data.objects.new("Demo camera", bpy.data.cameras.new("Demo camera"))
    camera.data.lens = CAMERA_LENS_MM
    camera.location = target + CAMERA_FROM_TARGET
    camera.rotation_euler = (target - camera.location).to_track_quat("-Z", "Y").to_euler()
    scene.collection.objects.link(camera)
    scene.camera = camera
    for name, energy, angles in (("Demo key light", 3.0, (50, -20, -30)), ("Demo fill light", 1.0, (70, 20, 40))):
        light = bpy.data.objects.new(name, bpy.data.lights.new(name, "SUN"))
        light.data.energy = energy
        light.rotation_euler = tuple(math.radians(a) for a in angles)
        scene.collection.objects.link(light)
    scene.world = scene.world or bpy.data.worlds.new("Demo world")
    scene.world.color = (0.03, 0.03, 0.035)


def _lip_centre(mesh_obj) -> Vector:
    inner_lips = mesh_obj.get(INNER_LIPS_PROPERTY)
    if inner_lips is not None:  # the ICT head: the midline pair
        vertices = mesh_obj.data.vertices
        return mesh_obj.matrix_world @ ((vertices[int(inner_lips[0])].co + vertices[int(inner_lips[1])].co) / 2)
    group = mesh_obj.vertex_groups[LIP_GROUPS[0]].index
    points = [mesh_obj.matrix_world @ v.co for v in mesh_obj.data.vertices if any(g.group == group for g in v.groups)]
    return sum(points, Vector()) / len(points)
