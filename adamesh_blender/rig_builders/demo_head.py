"""The AdaMesh demo head: the corpus's expression channels as shape keys on the shared head and FLAME bones.

Its lips follow the backend's lip-gap contract (backend/synth/articulation.py), which the add-on cannot import:
the midline inner-lip opening in mm is 80 * sin(jaw_x) (the jaw lever, see head_mesh) plus, per channel at weight 1,
the LIP_GAP_MM distance below. Each lip channel moves the upper lip up by `up` and the lower lip down by `down`
at the midline (up + down = the contract's distance); corner channels move only the corners, so the midline
gap stays; the rest (brows, eyes, cheeks, nose) stay clear of the lips. tests/blender checks the contract on
the evaluated mesh against the backend's own numbers.
"""

from __future__ import annotations

import numpy as np

from ..anim.rigs import DEMO_HEAD_MARKER, RIG_MARKER_PROPERTY
from .head_mesh import HeadGeometry, HeadShape, add_shape_key, build_head, falloff, front_surface_point, head_geometry

# The corpus's channels (backend/core/channels.py), in its order.
CHANNELS = (
    "mouthClose",
    "mouthFunnel",
    "mouthPucker",
    "mouthLeft",
    "mouthRight",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "browInnerUp",
    "browDownLeft",
    "browDownRight",
    "browOuterUpLeft",
    "browOuterUpRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeSquintLeft",
    "eyeSquintRight",
    "eyeWideLeft",
    "eyeWideRight",
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "noseSneerLeft",
    "noseSneerRight",
)

# Lip channels, mm at weight 1: (upper lip up, lower lip down) at the midline, then forward push and the share
# by which the mouth narrows. A name ending in Left/Right acts on that side (half of it at the midline).
LIP_MOVES = {
    "mouthClose": (-10.0, -15.0, 0.0, 0.0),
    "mouthFunnel": (2.5, 2.5, 5.0, 0.15),
    "mouthPucker": (-1.5, -1.5, 7.0, 0.35),
    "mouthRollLower": (0.0, -6.0, -4.0, 0.0),
    "mouthRollUpper": (-4.0, 0.0, -3.0, 0.0),
    "mouthShrugLower": (0.0, -3.0, 2.0, 0.0),
    "mouthShrugUpper": (1.5, 0.0, 1.0, 0.0),
    "mouthPressLeft": (-0.5, -0.5, -1.0, 0.0),
    "mouthPressRight": (-0.5, -0.5, -1.0, 0.0),
    "mouthLowerDownLeft": (0.0, 2.5, 0.0, 0.0),
    "mouthLowerDownRight": (0.0, 2.5, 0.0, 0.0),
    "mouthUpperUpLeft": (2.0, 0.0, 0.0, 0.0),
    "mouthUpperUpRight": (2.0, 0.0, 0.0, 0.0),
}
# Corner channels (left variants), mm: (outwards, up, back); the right variants mirror them.
CORNER_MOVES = {"mouthSmile": (4.0, 6.0, 3.0), "mouthFrown": (0.0, -5.0, 0.0), "mouthStretch": (6.0, -2.0, 1.0)}
MOUTH_SHIFT_MM = 6.0  # mouthLeft / mouthRight: the whole mouth sideways
# Face channels (left variants where sided): landmark (x, z) in m on the face, radius m, move (x, y, z) mm.
FACE_MOVES = {
    "browInnerUp": ((0.014, 0.040), 0.015, (0.0, 0.0, 6.0)),
    "browDown": ((0.032, 0.042), 0.018, (-1.5, 0.0, -5.0)),
    "browOuterUp": ((0.050, 0.038), 0.016, (0.0, 0.0, 6.0)),
    "eyeBlink": ((0.032, 0.020), 0.012, (0.0, 0.0, -8.0)),
    "eyeSquint": ((0.032, 0.002), 0.012, (0.0, 0.0, 3.0)),
    "eyeWide": ((0.032, 0.022), 0.012, (0.0, 0.0, 3.0)),
    "cheekPuff": ((0.050, -0.034), 0.022, (8.0, 0.0, 0.0)),
    "cheekSquint": ((0.050, -0.020), 0.018, (0.0, 0.0, 4.0)),
    "noseSneer": ((0.012, 0.010), 0.010, (0.0, 0.0, 4.0)),
}
SYMMETRIC_FACE_CHANNELS = ("browInnerUp", "cheekPuff")  # one key moving both sides


def _ramp(x: np.ndarray, start: float, end: float) -> np.ndarray:
    """0 before start, 1 after end, smooth in between (exact 0 and 1 at the ends)."""
    t = np.clip((x - start) / (end - start), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _lip_fields(geometry: HeadGeometry, shape: HeadShape) -> tuple[np.ndarray, np.ndarray]:
    """[V] weights of the upper and lower lip: 1 on the cut's copies inside the mouth, fading away from it."""
    p, side = geometry.vertices, geometry.lip_side
    mid = p[geometry.upper_lip[len(geometry.upper_lip) // 2]]
    near = (
        np.exp(-(((p[:, 2] - mid[2]) / 0.012) ** 2))
        * (1 - _ramp(np.abs(p[:, 0]), shape.mouth_half_width, shape.mouth_half_width + 0.015))
        * (1 - _ramp(p[:, 1], mid[1] + 0.02, mid[1] + 0.035))
    )
    on_mouth_line = np.where(side == 0, 0.5, 0.0)  # the uncut mouth ring belongs to both lips
    return near * np.where(side > 0, 1.0, on_mouth_line), near * np.where(side < 0, 1.0, on_mouth_line)


def _side_profile(x: np.ndarray, half_width: float, sign: float) -> np.ndarray:
    """A sided channel's strength: 2 at its own corner side, 1 at the midline (half of the pair), 0 opposite."""
    return 2 * np.clip(0.5 + sign * x / (2 * half_width), 0.0, 1.0)


def channel_offsets(geometry: HeadGeometry, shape: HeadShape) -> dict[str, np.ndarray]:
    """Channel name -> [V, 3] vertex offsets (m) of its shape key at weight 1."""
    p = geometry.vertices
    upper, lower = _lip_fields(geometry, shape)
    lips = upper + lower
    mid = p[geometry.upper_lip[len(geometry.upper_lip) // 2]]
    hw = shape.mouth_half_width
    offsets = {}
    for name, (up, down, forward, narrow) in LIP_MOVES.items():
        sided = 1.0 if name.endswith("Left") else -1.0 if name.endswith("Right") else 0.0
        strength = _side_profile(p[:, 0], hw, sided) if sided else 1.0
        move_mm = np.zeros_like(p)
        move_mm[:, 2] = (up * upper - down * lower) * strength
        move_mm[:, 1] = -forward * lips * strength
        move_mm[:, 0] = -narrow * (1000.0 * p[:, 0]) * lips
        offsets[name] = move_mm / 1000.0
    for sign, side in ((1.0, "Left"), (-1.0, "Right")):
        corner = (
            _ramp(sign * p[:, 0], 0.0, hw)
            * np.exp(-((np.maximum(sign * p[:, 0] - hw, 0.0) / 0.015) ** 2))
            * np.exp(-(((p[:, 2] - mid[2]) / 0.015) ** 2))
            * (1 - _ramp(p[:, 1], mid[1] + 0.02, mid[1] + 0.04))
        )
        for stem, (out, up, back) in CORNER_MOVES.items():
            offsets[stem + side] = np.outer(corner, [sign * out, back, up]) / 1000.0
        offsets[f"mouth{side}"] = np.outer(lips, [sign * MOUTH_SHIFT_MM, 0.0, 0.0]) / 1000.0
        for stem, ((x, z), radius, (dx, dy, dz)) in FACE_MOVES.items():
            weight = falloff(p, front_surface_point(p, sign * x, z), radius)
            move = np.outer(weight, [sign * dx, dy, dz]) / 1000.0
            name = stem if stem in SYMMETRIC_FACE_CHANNELS else stem + side
            offsets[name] = offsets.get(name, 0.0) + move
    return {name: offsets[name] for name in CHANNELS}


def build_demo_head(name: str = "AdaMesh demo head", shape: HeadShape = HeadShape()):
    """Add the demo head (mesh + armature) to the current scene and return the mesh object."""
    geometry = head_geometry(shape)
    mesh_obj, _ = build_head(name, f"{name} rig", geometry)
    for channel, offsets in channel_offsets(geometry, shape).items():
        add_shape_key(mesh_obj, channel, offsets)
    mesh_obj[RIG_MARKER_PROPERTY] = DEMO_HEAD_MARKER
    return mesh_obj
