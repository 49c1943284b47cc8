"""The ICT head in Blender: the FaceKit's mesh with its 53 ARKit-style shape keys, face materials and an armature.

The arrays come from ict_face (no bpy); this module only turns them into Blender data. Vertex numbers are the
FaceKit's own (landmarks, parts), so anything measured on the asset holds on the built mesh. The transparent eye
shells and corneas get no polygons (ict_face.polygon_surfaces); their vertices stay, loose, to keep the numbering.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from .. import bundle
from ..anim.lip_retarget import INNER_LIPS_PROPERTY
from ..anim.rigs import ICT_FACE_MARKER, RIG_MARKER_PROPERTY
from . import face_materials
from .head_mesh import add_bones, add_shape_key
from .ict_face import (
    BONE_PARENTS,
    HIDDEN,
    INNER_LIP_PAIRS,
    SURFACES,
    IctFace,
    ict_face,
    load_asset,
    polygon_surfaces,
    skeleton,
)

DEFAULT_NAME = "ICT head"
MATERIAL_OF_SURFACE = {
    "skin": face_materials.SKIN,
    "lips": face_materials.LIPS,
    "mouth_inside": face_materials.LIPS_INSIDE,
    "gums_tongue": face_materials.GUMS_TONGUE,
    "teeth": face_materials.TEETH,
    "sclera": face_materials.SCLERA,
    "iris": face_materials.IRIS,
    "pupil": face_materials.PUPIL,
    "lashes": face_materials.LASHES,
}


def build_ict_head(
    name: str = DEFAULT_NAME, identity: int | None = None, identity_weight: float = 1.0, asset: Path | None = None
):
    """Add the ICT head (mesh parented to its armature) to the current scene and return the mesh object.

    `identity` (0..9) mixes in one of the FaceKit's identity modes at `identity_weight` for another face.
    """
    face = ict_face(load_asset(asset or bundle.ict_face_asset()), identity, identity_weight)
    mesh_obj = _mesh_object(name, face)
    armature_obj = bpy.data.objects.new(f"{name} rig", bpy.data.armatures.new(f"{name} rig"))
    bpy.context.scene.collection.objects.link(armature_obj)
    bones = skeleton(face)
    add_bones(armature_obj, bones.heads, BONE_PARENTS)
    for bone, weights in bones.weights.items():
        _add_weights(mesh_obj.vertex_groups.new(name=bone), weights)
    mesh_obj.parent = armature_obj
    mesh_obj.modifiers.new("Armature", "ARMATURE").object = armature_obj
    for number, expression in enumerate(face.expression_names):
        add_shape_key(mesh_obj, expression, face.expressions.dense(number, len(face.vertices)))
    mesh_obj[RIG_MARKER_PROPERTY] = ICT_FACE_MARKER
    mesh_obj[INNER_LIPS_PROPERTY] = [int(face.landmarks68[n]) for pair in INNER_LIP_PAIRS for n in pair]
    return mesh_obj


def _mesh_object(name: str, face: IctFace):
    surfaces = polygon_surfaces(face)
    polygons = np.flatnonzero(surfaces != HIDDEN)
    starts = face.face_starts()
    corners = [face.face_vertices[starts[f] : starts[f + 1]].tolist() for f in polygons]
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(face.vertices.tolist(), [], corners)
    uv_corners = np.concatenate([face.face_uv_indices[starts[f] : starts[f + 1]] for f in polygons])
    mesh.uv_layers.new(name="UVMap").data.foreach_set("uv", face.uv[uv_corners].astype(np.float32).ravel())
    for surface in SURFACES:
        mesh.materials.append(face_materials.make_material(MATERIAL_OF_SURFACE[surface]))
    mesh.polygons.foreach_set("material_index", surfaces[polygons].astype(np.int32))
    mesh.shade_smooth()
    mesh.validate()
    mesh_obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(mesh_obj)
    return mesh_obj


def _add_weights(group, weights: np.ndarray) -> None:
    """Vertex-group weights; vertices sharing a value are added together (most are exactly 0 or 1)."""
    rounded = np.round(weights, 4)
    for value in np.unique(rounded[rounded > 0]):
        group.add(np.flatnonzero(rounded == value).tolist(), float(value), "REPLACE")
