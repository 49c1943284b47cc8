"""Render the ICT head (assets/ict-face) speaking with known motion to PNG frames, in the bpy module (Workbench).

Run as a subprocess (`python scripts/render_ict_face.py SPEC.npz OUT_DIR`), so the tracker and its tests never
load bpy and mediapipe into one process (the tests and scripts/make_tracking_template.py use it). SPEC.npz holds:
  weights  float32 [T, 53]  ICT shape weights per frame (the face's expression_names order)
  head     float32 [T, 3]   head rotation, axis-angle in the clip's axes (+X subject's left, +Y up, +Z forward)
  size     int [2]          width, height;  optional `offset` float32 [T, 2]: the head's shift in metres (x, up)
Frames are written as OUT_DIR/00000.png ...; a second head (`second_head` = 1) puts a smaller face beside it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import bpy
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.tracking.ict_face import ASSET, load_ict_face  # noqa: E402

SKIN, LIP, DARK, WHITE, IRIS, GUM = (
    (0.80, 0.60, 0.50),
    (0.62, 0.30, 0.30),
    (0.08, 0.05, 0.05),
    (0.92, 0.92, 0.9),
    (0.20, 0.12, 0.08),
    (0.55, 0.25, 0.25),
)
PART_COLOURS = {"mouth_socket": DARK, "gums_tongue": GUM, "teeth_upper": WHITE, "teeth_lower": WHITE, "lashes": DARK}
MATERIAL_COLOURS = {"M_ScleraLeft": WHITE, "M_ScleraRight": WHITE, "M_IrisLeft": IRIS, "M_IrisRight": IRIS}
HIDDEN_MATERIALS = ("M_LacrimalFluid", "M_EyeBlend", "M_EyeOcclusion")  # transparent overlays in the source
NECK_PIVOT_CM = (0.0, -8.0, 0.0)
LIP_BAND_CM = 0.45


def build_head(name: str):
    face = load_ict_face()
    with np.load(ASSET, allow_pickle=False) as arrays:
        sizes, corners = arrays["face_sizes"].astype(np.int64), arrays["face_vertices"].astype(np.int64)
        material = arrays["face_material"]
        material_names = [str(n) for n in arrays["material_names"]]
        parts = dict(zip([str(n) for n in arrays["part_names"]], arrays["part_ranges"].tolist()))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    hidden = np.isin(material, [material_names.index(n) for n in HIDDEN_MATERIALS])
    polygons = [corners[s : s + n].tolist() for s, n, h in zip(starts, sizes, hidden) if not h]
    blender = to_blender(face.neutral)
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(blender.tolist(), [], polygons)
    mesh.update()
    colours = np.tile(np.array(SKIN), (len(blender), 1))
    lips = face.neutral[face.landmarks68[48:60]]
    distance = np.min(np.linalg.norm(face.neutral[:, None] - lips[None], axis=2), axis=1)
    band = np.exp(-((distance / LIP_BAND_CM) ** 2))[:, None]
    colours = (1 - band) * colours + band * np.array(LIP)
    for part, colour in PART_COLOURS.items():
        start, stop = parts[part]
        colours[start:stop] = colour
    for material_name, colour in MATERIAL_COLOURS.items():
        chosen = material == material_names.index(material_name)
        for s, n in zip(starts[chosen], sizes[chosen]):
            colours[corners[s : s + n]] = colour
    for side in ("Left", "Right"):  # the iris sits behind the sclera's clear cornea: paint the cornea instead
        chosen = material == material_names.index(f"M_Iris{side}")
        iris = np.unique(np.concatenate([corners[s : s + n] for s, n in zip(starts[chosen], sizes[chosen])]))
        centre, radius = face.neutral[iris].mean(axis=0), np.ptp(face.neutral[iris][:, 0]) / 2
        start, stop = parts[f"eyeball_{side.lower()}"]
        near = np.linalg.norm(face.neutral[start:stop, :2] - centre[:2], axis=1)
        front = face.neutral[start:stop, 2] > centre[2] - 0.3
        colours[start:stop][(near < radius) & front] = IRIS
        colours[start:stop][(near < radius * 0.45) & front] = DARK
    attribute = mesh.color_attributes.new("colour", "FLOAT_COLOR", "POINT")
    rgba = np.concatenate([colours, np.ones((len(colours), 1))], axis=1).astype(np.float32)
    attribute.data.foreach_set("color", rgba.ravel())
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.shape_key_add(name="Basis")
    every = np.arange(len(face.neutral))
    basis = face.expression_basis(every)
    for k, shape in enumerate(face.expression_names):
        key = obj.shape_key_add(name=shape, from_mix=False)
        key.slider_min, key.slider_max = 0.0, 1.0
        key.data.foreach_set("co", (blender + to_blender(basis[k])).ravel())
    for polygon in mesh.polygons:
        polygon.use_smooth = True
    pivot = bpy.data.objects.new(name + "-neck", None)
    bpy.context.scene.collection.objects.link(pivot)
    pivot.location = to_blender(np.array(NECK_PIVOT_CM, dtype=np.float32))
    pivot.rotation_mode = "AXIS_ANGLE"
    obj.parent = pivot
    obj.location = -np.array(pivot.location)
    return obj, pivot


def to_blender(points_cm: np.ndarray) -> np.ndarray:
    points = np.asarray(points_cm, dtype=np.float32)
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], axis=-1) * 0.01


def set_pose(obj, pivot, weights: np.ndarray, rotation: np.ndarray, offset: np.ndarray) -> None:
    for key, value in zip(obj.data.shape_keys.key_blocks[1:], weights):
        key.value = float(value)
    angle = float(np.linalg.norm(rotation))
    axis = to_blender(rotation / angle) if angle > 1e-9 else np.array([1.0, 0.0, 0.0])
    pivot.rotation_axis_angle = (angle, *axis.tolist())
    base = to_blender(np.array(NECK_PIVOT_CM, dtype=np.float32))
    pivot.location = (base[0] + offset[0], base[1], base[2] + offset[1])


def main(spec_path: str, out_dir: str) -> None:
    spec = np.load(spec_path, allow_pickle=False)
    weights, head = spec["weights"], spec["head"]
    offset = spec["offset"] if "offset" in spec else np.zeros((len(weights), 2), np.float32)
    width, height = (int(v) for v in spec["size"])
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    obj, pivot = build_head("Face")
    if "second_head" in spec and int(spec["second_head"]):
        other, other_pivot = build_head("Other")
        other.scale = (0.6, 0.6, 0.6)
        other_pivot.location = (0.17, 0.05, -0.06)
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
    shading.light, shading.color_type = "STUDIO", "VERTEX"
    shading.show_backface_culling = True
    world = bpy.data.worlds.new("World")
    scene.world = world
    world.color = (0.25, 0.27, 0.3)
    out = Path(out_dir)
    for frame in range(len(weights)):
        set_pose(obj, pivot, weights[frame], head[frame], offset[frame])
        render.filepath = str(out / f"{frame:05d}.png")
        bpy.ops.render.render(write_still=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
