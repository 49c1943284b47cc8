"""A structural FLAME stand-in: FLAME's names, bones and shape-key layout on AdaMesh's own head mesh.

The FLAME model is licensed and cannot be shipped or downloaded here, so tests and the demo exercise the FLAME
path on this stand-in. It is NOT FLAME: its mesh, expression basis and correctives are made up (smooth local
deformations, largest for the first expressions, as in a PCA basis), and a custom property says so.
"""

from __future__ import annotations

import numpy as np

from ..anim.rigs import FLAME_EXPRESSION_KEYS, RIG_MARKER_PROPERTY
from .head_mesh import HeadShape, add_shape_key, build_head, falloff, front_surface_point, head_geometry

STANDIN_MARKER = "flame_standin"
NOT_FLAME_NOTE = "AdaMesh's structural stand-in with FLAME's names and bones; it is NOT the FLAME model"
CORRECTIVE_KEYS = tuple(f"Pose{i}" for i in range(1, 37))  # neck, jaw, left eye, right eye: 9 each
EXPRESSION_SLIDER_RANGE = (-3.0, 3.0)  # FLAME expression coefficients are roughly unit-variance
CORRECTIVE_SLIDER_RANGE = (-2.0, 2.0)  # entries of (R - I) lie in [-2, 2]

# Where the correctives of each joint (neck, jaw, left eye, right eye) act: (x, z) on the face, in metres
_CORRECTIVE_REGIONS = ((0.0, -0.10), (0.0, -0.07), (0.032, 0.012), (-0.032, 0.012))


def build_flame_standin(name: str = "FLAME-standin", shape: HeadShape = HeadShape(), seed: int = 0):
    """Add the stand-in (mesh named `name`, parented to its armature) to the current scene; return the mesh."""
    geometry = head_geometry(shape)
    mesh_obj, _ = build_head(name, f"{name} rig", geometry)
    points = geometry.vertices
    rng = np.random.default_rng(seed)
    front = points[points[:, 1] < -0.03]
    for k, key in enumerate(FLAME_EXPRESSION_KEYS):
        centre = front[rng.integers(len(front))]
        move = rng.normal(size=3) * 0.004 / np.sqrt(k + 1)
        add_shape_key(mesh_obj, key, np.outer(falloff(points, centre, 0.025), move), EXPRESSION_SLIDER_RANGE)
    for joint, (x, z) in enumerate(_CORRECTIVE_REGIONS):
        centre = front_surface_point(points, x, z)
        for element in range(9):
            move = rng.normal(size=3) * 0.002
            offsets = np.outer(falloff(points, centre, 0.02), move)
            add_shape_key(mesh_obj, CORRECTIVE_KEYS[9 * joint + element], offsets, CORRECTIVE_SLIDER_RANGE)
    mesh_obj[RIG_MARKER_PROPERTY] = STANDIN_MARKER
    mesh_obj["adamesh_note"] = NOT_FLAME_NOTE
    return mesh_obj
