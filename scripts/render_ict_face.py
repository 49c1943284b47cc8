"""Render the ICT head speaking with known motion to PNG frames, in the bpy module (Workbench).

The head is the add-on's own (adamesh_blender/rig_builders/ict_head.py, what `build.py demo-head` saves): its shape
keys are set by the ICT expression names and its neck bone turned as the add-on keys a clip's head on an ARKit rig;
this script only adds the camera, the light and the render settings.

Run as a subprocess (`python scripts/render_ict_face.py SPEC.npz OUT_DIR`), so the tracker and its tests never
load bpy and mediapipe into one process (the tests and scripts/make_tracking_template.py use it). SPEC.npz holds:
  weights  float32 [T, 53]  ICT shape weights per frame (the face's expression_names order)
  head     float32 [T, 3]   head rotation, axis-angle in the clip's axes (+X subject's left, +Y up, +Z forward)
  size     int [2]          width, height;  optional `offset` float32 [T, 2]: the head's shift in metres (x, up)
  optional `identity` float32 [2]: (K, W), identity mode K mixed in at weight W (another face than the template's)
Frames are written as OUT_DIR/00000.png ...; a second head (`second_head` = 1) puts a smaller face beside it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import bpy
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adamesh_blender.anim.rigs import ARKIT_HEAD_BONES  # noqa: E402
from adamesh_blender.rig_builders.ict_head import build_ict_head  # noqa: E402
from backend.tracking.ict_face import load_ict_face  # noqa: E402

BACKGROUND = (0.25, 0.27, 0.3)
SECOND_HEAD_SCALE, SECOND_HEAD_PLACE = 0.6, (0.17, 0.05, 0.02)  # m, beside and behind the first head


def head_bone(mesh_obj):
    """The pose bone the add-on keys a clip's head on (the first of ARKIT_HEAD_BONES the rig has)."""
    bones = mesh_obj.parent.pose.bones
    bone = bones[next(name for name in ARKIT_HEAD_BONES if name in bones)]
    bone.rotation_mode = "AXIS_ANGLE"
    return bone


def set_pose(mesh_obj, bone, names: tuple[str, ...], weights: np.ndarray, rotation: np.ndarray, offset) -> None:
    keys = mesh_obj.data.shape_keys.key_blocks
    for name, value in zip(names, weights):
        keys[name].value = float(value)
    # the builder's bones point up with roll 0, so a bone's local axes are the clip's (+X left, +Y up, +Z forward)
    angle = float(np.linalg.norm(rotation))
    axis = rotation / angle if angle > 1e-9 else np.array([1.0, 0.0, 0.0])
    bone.rotation_axis_angle = (angle, *axis.tolist())
    mesh_obj.parent.location = (float(offset[0]), 0.0, float(offset[1]))


def main(spec_path: str, out_dir: str) -> None:
    spec = np.load(spec_path, allow_pickle=False)
    weights, head = spec["weights"], spec["head"]
    offset = spec["offset"] if "offset" in spec else np.zeros((len(weights), 2), np.float32)
    width, height = (int(v) for v in spec["size"])
    names = load_ict_face().expression_names
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    identity = (int(spec["identity"][0]), float(spec["identity"][1])) if "identity" in spec else (None, 1.0)
    face = build_ict_head("Face", *identity)
    bone = head_bone(face)
    if "second_head" in spec and int(spec["second_head"]):
        other = build_ict_head("Other").parent
        other.scale = (SECOND_HEAD_SCALE,) * 3
        other.location = SECOND_HEAD_PLACE
    camera_data = bpy.data.cameras.new("Camera")
    camera_data.lens = 50.0
    camera = bpy.data.objects.new("Camera", camera_data)
    scene.collection.objects.link(camera)
    camera.location = (0.0, -0.7, 0.0)
    camera.rotation_euler = (np.pi / 2, 0.0, 0.0)
    scene.camera = camera
    render = scene.render
    render.engine = "BLENDER_WORKBENCH"
    render.resolution_x, render.resolution_y, render.resolution_percentage = width, height, 100
    render.image_settings.file_format = "PNG"
    scene.display.render_aa = "FXAA"
    scene.view_settings.view_transform = "Standard"
    shading = scene.display.shading
    shading.light, shading.color_type = "STUDIO", "MATERIAL"
    shading.show_backface_culling = True
    world = bpy.data.worlds.new("World")
    scene.world = world
    world.color = BACKGROUND
    out = Path(out_dir)
    for frame in range(len(weights)):
        set_pose(face, bone, names, weights[frame], head[frame], offset[frame])
        render.filepath = str(out / f"{frame:05d}.png")
        bpy.ops.render.render(write_still=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
