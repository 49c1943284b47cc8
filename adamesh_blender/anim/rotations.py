"""Rotation conversions for keying bones, vectorised over frames with numpy (no bpy, no mathutils).

The add-on cannot import the backend (it runs in Blender's Python, the backend in its own), so it keeps the few
conversions it needs here. Quaternions are (w, x, y, z) as Blender stores them. Blender's Euler order "XYZ"
applies X first, then Y, then Z: R = Rz @ Ry @ Rx; the angles are always stored as (x, y, z).
"""

from __future__ import annotations

import numpy as np

EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
_NLERP_BELOW = 1e-6  # radians between quaternions where slerp's sin(theta) ~ 0: normalised lerp is exact enough


def axis_angle_to_quaternion(rotation_vector: np.ndarray) -> np.ndarray:
    """[..., 3] axis * angle -> [..., 4] unit quaternion."""
    v = np.asarray(rotation_vector, dtype=np.float64)
    angle = np.linalg.norm(v, axis=-1, keepdims=True)
    # sin(angle/2) / angle via np.sinc stays exact and finite at angle == 0
    return np.concatenate([np.cos(angle / 2), v * 0.5 * np.sinc(angle / (2 * np.pi))], axis=-1)


def quaternion_to_rotation_vector(quaternion: np.ndarray) -> np.ndarray:
    """[..., 4] quaternion -> [..., 3] axis * angle, angle in [0, pi]."""
    q = np.asarray(quaternion, dtype=np.float64)
    q = np.where(q[..., :1] < 0, -q, q)
    sin_half = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2 * np.arctan2(sin_half, q[..., :1])
    small = sin_half < 1e-12
    return q[..., 1:] * np.where(small, 2.0, angle / np.where(small, 1.0, sin_half))


def quaternion_to_matrix(quaternion: np.ndarray) -> np.ndarray:
    """[..., 4] quaternion -> [..., 3, 3] rotation matrix."""
    q = np.asarray(quaternion, dtype=np.float64)
    w, x, y, z = np.moveaxis(q / np.linalg.norm(q, axis=-1, keepdims=True), -1, 0)
    rows = (
        (1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)),
        (2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)),
        (2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)),
    )
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def continuous_quaternions(quaternions: np.ndarray) -> np.ndarray:
    """[N, 4] with signs flipped so neighbours have a positive dot product.

    Blender interpolates quaternion F-Curves component by component; q and -q are one rotation, but keys that
    switch sign would swing the bone the long way round between frames.
    """
    q = np.array(quaternions, dtype=np.float64)
    if len(q) > 1:
        flips = np.cumsum(np.einsum("ij,ij->i", q[1:], q[:-1]) < 0) % 2
        q[1:][flips == 1] *= -1
    return q


def slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Row-wise spherical interpolation [N, 4] x [N, 4] x [N] -> [N, 4] along the shorter arc."""
    q0 = np.asarray(q0, dtype=np.float64)
    q1 = np.asarray(q1, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[:, None]
    dot = np.einsum("ij,ij->i", q0, q1)[:, None]
    q1 = np.where(dot < 0, -q1, q1)
    theta = np.arccos(np.clip(np.abs(dot), 0.0, 1.0))
    sin_theta = np.sin(theta)
    tiny = theta < _NLERP_BELOW
    safe_sin = np.where(tiny, 1.0, sin_theta)
    w0 = np.where(tiny, 1 - t, np.sin((1 - t) * theta) / safe_sin)
    w1 = np.where(tiny, t, np.sin(t * theta) / safe_sin)
    q = w0 * q0 + w1 * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def quaternions_to_blender_axis_angle(quaternions: np.ndarray) -> np.ndarray:
    """[N, 4] -> [N, 4] (angle, x, y, z) as `rotation_axis_angle` holds it, continuous from frame to frame.

    The axis keeps the previous frame's direction (its angle changes sign instead), and a zero rotation keeps
    the previous axis, so interpolating between keys never sweeps through an unrelated axis.
    """
    vectors = quaternion_to_rotation_vector(quaternions)
    angles = np.linalg.norm(vectors, axis=-1)
    out = np.empty((len(vectors), 4))
    axis = np.array([0.0, 1.0, 0.0])  # Blender's default axis for a zero rotation
    for i, (vector, angle) in enumerate(zip(vectors, angles)):
        if angle > 1e-9:
            new_axis = vector / angle
            if new_axis @ axis < 0:
                new_axis, angle = -new_axis, -angle
            axis = new_axis
        else:
            angle = 0.0
        out[i, 0] = angle
        out[i, 1:] = axis
    return out


def matrices_to_euler(matrices: np.ndarray, order: str) -> np.ndarray:
    """[N, 3, 3] -> [N, 3] Euler (x, y, z) angles in Blender's `order`, unwrapped to be continuous in time."""
    if order not in EULER_ORDERS:
        raise ValueError(f"unknown Euler order {order!r}; expected one of {EULER_ORDERS}")
    m = np.asarray(matrices, dtype=np.float64)
    i, j, k = ("XYZ".index(axis) for axis in order)  # applied first, second, third
    # R = R_k(c) R_j(b) R_i(a); an odd permutation of XYZ flips the signs of the off-diagonal terms
    sign = 1.0 if order in ("XYZ", "YZX", "ZXY") else -1.0
    first = np.arctan2(sign * m[:, k, j], m[:, k, k])
    second = np.arcsin(np.clip(-sign * m[:, k, i], -1.0, 1.0))
    third = np.arctan2(sign * m[:, j, i], m[:, i, i])
    euler = np.empty((len(m), 3))
    euler[:, i], euler[:, j], euler[:, k] = first, second, third
    return np.unwrap(euler, axis=0)
