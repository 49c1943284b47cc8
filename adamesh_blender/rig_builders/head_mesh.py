"""The head both rig builders share: an ellipsoid face with a mouth slit, FLAME's bones, jaw skinning.

Units are metres on an adult-sized head (150 mm wide). Axes follow FLAME through Blender's usual import: the
face looks down -Y, +Z is up, +X is the subject's left. Every bone points up (+Z) with roll 0, as the FLAME
add-on places them, so bone-local axes equal FLAME's and the jaw opens by +X.

The mouth is one ring of the ellipsoid cut open between its corners: inside the cut each vertex is doubled, the
upper copy bounding the upper lip and the lower copy the lower lip. At rest the copies coincide (lips touch).
The jaw hinge sits JAW_LEVER behind the lower lip's midline at the same height, so opening the jaw by an angle
a parts the lips by JAW_LEVER * sin(a) (the backend's lip-gap contract: 80 mm per radian).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np
from mathutils import Vector

from ..anim.lip_retarget import INNER_LIPS_PROPERTY

JAW_LEVER = 0.080  # m from the jaw hinge to the lower lip's midline
BONE_LENGTH = 0.02
LIP_GROUPS = ("lip_upper", "lip_lower")


@dataclass(frozen=True)
class HeadShape:
    """Proportions and resolution; defaults give ~2,100 vertices."""

    radii: tuple[float, float, float] = (0.075, 0.095, 0.115)  # x (half width), y (half depth), z (half height)
    rings: int = 31  # latitude rings between the poles
    segments: int = 64  # around each ring; even, so one column lies on the midline
    mouth_ring: int = 18  # the ring that is cut open (counted from the top)
    mouth_latitude: float = np.radians(-25.0)
    mouth_half_width: float = 0.026
    lip_protrusion: float = 0.006


@dataclass
class HeadGeometry:
    """The rest mesh as arrays, plus what skinning and shape keys need to know about it."""

    vertices: np.ndarray  # [V, 3]
    faces: list[tuple[int, ...]]
    latitude: np.ndarray  # [V] radians
    longitude: np.ndarray  # [V] radians, 0 at the face's front, + towards the subject's left
    upper_lip: np.ndarray  # indices: the cut's upper copies, corners included, left to right
    lower_lip: np.ndarray  # indices: the cut's lower copies, corners included, left to right
    lip_side: np.ndarray  # [V] +1 above the mouth line (and the upper copies), -1 below, 0 on the rest of its ring
    joints: dict[str, Vector] = field(default_factory=dict)  # FLAME bone name -> head position


def falloff(points: np.ndarray, centre, radius: float) -> np.ndarray:
    """Gaussian falloff [V] around `centre`, cut to exactly 0 below 1e-4 so distant parts stay exactly still."""
    weight = np.exp(-np.sum((points - np.asarray(centre)) ** 2, axis=1) / radius**2)
    return np.where(weight < 1e-4, 0.0, weight)


def front_surface_point(points: np.ndarray, x: float, z: float) -> np.ndarray:
    """The front-facing vertex nearest to (x, z) as seen from the front."""
    front = points[points[:, 1] < 0]
    return front[np.argmin((front[:, 0] - x) ** 2 + (front[:, 2] - z) ** 2)]


def head_geometry(shape: HeadShape = HeadShape()) -> HeadGeometry:
    """Build the rest head (numpy only)."""
    s, m = shape.segments, shape.mouth_ring
    above = np.linspace(np.pi / 2, shape.mouth_latitude, m + 2)[1:]  # ring m lands on the mouth latitude
    below = np.linspace(shape.mouth_latitude, -np.pi / 2, shape.rings - m + 1)[1:-1]
    ring_lat = np.concatenate([above, below])
    seg_lon = (np.arange(s) * 2 * np.pi / s + np.pi) % (2 * np.pi) - np.pi
    lat = np.concatenate([[np.pi / 2], np.repeat(ring_lat, s), [-np.pi / 2]])
    lon = np.concatenate([[0.0], np.tile(seg_lon, len(ring_lat)), [0.0]])

    def index(ring: int, seg: int) -> int:
        return 1 + ring * s + seg % s

    rx, ry, rz = shape.radii
    mouth_z = rz * np.sin(shape.mouth_latitude)
    corner = round(np.arcsin(shape.mouth_half_width / (rx * np.cos(shape.mouth_latitude))) / (2 * np.pi / s))
    cut = range(-corner + 1, corner)
    copies = {seg: 1 + len(ring_lat) * s + 1 + n for n, seg in enumerate(cut)}
    lat = np.concatenate([lat, np.full(len(cut), shape.mouth_latitude)])
    lon = np.concatenate([lon, seg_lon[[seg % s for seg in cut]]])

    points = np.stack([rx * np.cos(lat) * np.sin(lon), -ry * np.cos(lat) * np.cos(lon), rz * np.sin(lat)], axis=1)
    forward = np.array([0.0, -1.0, 0.0])
    # features that make it read as a face: (x, z above the mouth, radius, push forward), all in metres
    features = [
        (0.0, 0.0, 0.022, shape.lip_protrusion),
        (0.0, 0.04, 0.012, 0.02),
        (0.0, 0.075, 0.01, 0.008),
        (0.0, -0.035, 0.015, 0.006),
    ]  # lips, nose tip, nose bridge, chin
    for x in (-0.032, 0.032):
        features += [(x, 0.06, 0.014, -0.01), (x, 0.083, 0.018, 0.006)]  # eye socket, brow ridge
    centres = [front_surface_point(points, x, mouth_z + z) for x, z, _, _ in features]
    for centre, (_, _, radius, push) in zip(centres, features):
        points += np.outer(falloff(points, centre, radius) * push, forward)

    faces = [(0, index(0, j), index(0, j + 1)) for j in range(s)]
    for ring in range(len(ring_lat) - 1):
        for j in range(s):
            top_a, top_b = index(ring, j), index(ring, j + 1)
            if ring == m:  # quads below the cut hang from the lower copies
                top_a, top_b = copies.get(_signed(j, s), top_a), copies.get(_signed(j + 1, s), top_b)
            faces.append((top_b, top_a, index(ring + 1, j), index(ring + 1, j + 1)))
    bottom = 1 + len(ring_lat) * s
    faces += [(bottom, index(len(ring_lat) - 1, j + 1), index(len(ring_lat) - 1, j)) for j in range(s)]

    contour = range(-corner, corner + 1)
    upper = np.array([index(m, seg) for seg in contour])
    lower = np.array([copies.get(seg, index(m, seg)) for seg in contour])
    ring_of = np.concatenate([[-1], np.repeat(np.arange(len(ring_lat)), s), [len(ring_lat)], np.full(len(cut), m)])
    lip_side = np.sign(m - ring_of).astype(float)
    lip_side[list(copies.values())] = -1.0
    lip_side[[index(m, seg) for seg in cut]] = 1.0

    lip_mid = points[upper[corner]]
    joints = {
        "root": Vector((0.0, 0.0, -rz - 0.06)),
        "neck": Vector((0.0, 0.01, -0.07)),
        "jaw": Vector(lip_mid + [0.0, JAW_LEVER, 0.0]),
        "left_eye": Vector((0.032, -ry * 0.72, 0.012)),
        "right_eye": Vector((-0.032, -ry * 0.72, 0.012)),
    }
    return HeadGeometry(points, faces, lat, lon, upper, lower, lip_side, joints)


def _signed(seg: int, segments: int) -> int:
    """A segment index wrapped to -segments/2 .. segments/2 - 1 (0 = the midline at the front)."""
    return (seg + segments // 2) % segments - segments // 2


def jaw_weights(geometry: HeadGeometry) -> np.ndarray:
    """[V] skin weight of the jaw bone: the lower face in front of the ears, fading into the neck below."""
    lon, lat, side = np.abs(geometry.longitude), geometry.latitude, geometry.lip_side
    sideways = np.clip((np.radians(95) - lon) / np.radians(30), 0.0, 1.0)
    above_neck = np.clip((lat - np.radians(-82)) / np.radians(20), 0.0, 1.0)
    weight = np.where(side < 0, 1.0, np.where(side == 0, 0.5, 0.0)) * sideways * above_neck
    weight[geometry.lower_lip] = 1.0  # the lower lip rides the jaw rigidly, as the lip-gap contract assumes
    weight[geometry.upper_lip] = np.where(np.isin(geometry.upper_lip, geometry.lower_lip), 0.5, 0.0)
    return weight


def build_head(mesh_name: str, armature_name: str, geometry: HeadGeometry):
    """Mesh and armature objects in the current scene, skinned; returns (mesh_obj, armature_obj)."""
    mesh = bpy.data.meshes.new(mesh_name)
    mesh.from_pydata(geometry.vertices.tolist(), [], geometry.faces)
    mesh.shade_smooth()
    mesh_obj = bpy.data.objects.new(mesh_name, mesh)
    armature_obj = bpy.data.objects.new(armature_name, bpy.data.armatures.new(armature_name))
    collection = bpy.context.scene.collection
    collection.objects.link(armature_obj)
    collection.objects.link(mesh_obj)
    add_bones(armature_obj, geometry.joints, FLAME_PARENTS)

    jaw = jaw_weights(geometry)
    for bone, weights in (("jaw", jaw), ("neck", 1.0 - jaw)):
        group = mesh_obj.vertex_groups.new(name=bone)
        for value in np.unique(weights[weights > 0]):
            group.add(np.flatnonzero(weights == value).tolist(), float(value), "REPLACE")
    for name, indices in zip(LIP_GROUPS, (geometry.upper_lip, geometry.lower_lip)):
        mesh_obj.vertex_groups.new(name=name).add(indices.tolist(), 1.0, "REPLACE")
    mesh_obj.parent = armature_obj
    mesh_obj.modifiers.new("Armature", "ARMATURE").object = armature_obj
    return mesh_obj, armature_obj


FLAME_PARENTS = {"neck": "root", "jaw": "neck", "left_eye": "neck", "right_eye": "neck"}


def add_bones(armature_obj, joints: dict, parents: dict[str, str | None]) -> None:
    """A bone at each joint (name -> head position), parented as `parents` says; each bone points up with roll 0,
    so bone-local axes equal the head's (FLAME's convention: a jaw opens by +X)."""
    view_layer = bpy.context.view_layer
    previous_active = view_layer.objects.active
    view_layer.objects.active = armature_obj
    bpy.ops.object.mode_set(mode="EDIT")
    bones = armature_obj.data.edit_bones
    for name, head in joints.items():
        bone = bones.new(name)
        head = Vector(tuple(head))
        bone.head, bone.tail, bone.roll = head, head + Vector((0.0, 0.0, BONE_LENGTH)), 0.0
        if parents.get(name):
            bone.parent = bones[parents[name]]
    bpy.ops.object.mode_set(mode="OBJECT")
    view_layer.objects.active = previous_active


def add_shape_key(mesh_obj, name: str, offsets: np.ndarray, slider_range: tuple[float, float] = (0.0, 1.0)):
    """A shape key at rest + offsets [V, 3]; the Basis key is made first if the mesh has none."""
    if mesh_obj.data.shape_keys is None:
        mesh_obj.shape_key_add(name="Basis", from_mix=False)
    block = mesh_obj.shape_key_add(name=name, from_mix=False)
    rest = np.empty(len(mesh_obj.data.vertices) * 3, dtype=np.float32)
    mesh_obj.data.vertices.foreach_get("co", rest)
    block.data.foreach_set("co", rest + offsets.astype(np.float32).ravel())
    block.slider_min, block.slider_max = slider_range
    block.value = 0.0  # a new key may start at 1 (bpy 5.0 does)
    return block


def lip_separation_mm(mesh_obj, depsgraph) -> float:
    """Signed inner-lip opening at the midline of the evaluated mesh, in mm along the head's up axis.

    Positive: the lips are apart by that much; negative: pressed past contact (the backend's lip-gap contract
    before max(0, .)). Uses the midline pair of the mesh's inner-lip property (lip_retarget.INNER_LIPS_PROPERTY,
    the ICT head's) or else the `lip_upper` / `lip_lower` groups, and the `neck` bone for "up".
    """
    pairs = mesh_obj.get(INNER_LIPS_PROPERTY)
    if pairs is not None:
        upper, lower = int(pairs[0]), int(pairs[1])
    else:
        upper, lower = (_midline_vertex(mesh_obj, name) for name in LIP_GROUPS)
    evaluated = mesh_obj.evaluated_get(depsgraph)
    mesh = evaluated.to_mesh()
    try:
        opening = mesh.vertices[upper].co - mesh.vertices[lower].co
    finally:
        evaluated.to_mesh_clear()
    armature = mesh_obj.parent
    neck = armature.pose.bones["neck"] if armature is not None and "neck" in armature.pose.bones else None
    up = Vector((0.0, 0.0, 1.0))
    if neck is not None:
        to_mesh = mesh_obj.matrix_world.inverted() @ armature.matrix_world @ neck.matrix
        up = (to_mesh.to_3x3() @ Vector((0.0, 1.0, 0.0))).normalized()
    return 1000.0 * opening.dot(up)


def _midline_vertex(mesh_obj, group_name: str) -> int:
    """The rest-pose vertex of a lip group closest to the midline (x = 0)."""
    group = mesh_obj.vertex_groups[group_name].index
    members = [v for v in mesh_obj.data.vertices if any(g.group == group for g in v.groups)]
    return min(members, key=lambda v: abs(v.co.x)).index
