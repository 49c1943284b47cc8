"""Rotations as axis-angle, unit quaternion and matrix, vectorised over any leading shape.

Quaternions are (w, x, y, z). Everything is computed in float64; callers cast to what they store.
"""

import numpy as np

_TINY_ANGLE = 1e-6  # below this (radians), slerp falls back to normalised lerp: sin(theta) ~ 0


def axis_angle_to_quaternion(axis_angle: np.ndarray) -> np.ndarray:
    """[..., 3] axis * angle -> [..., 4] unit quaternion."""
    aa = np.asarray(axis_angle, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    # sin(angle/2)/angle written with sinc, which is exact and finite at angle == 0
    scale = 0.5 * np.sinc(angle / (2.0 * np.pi))
    return np.concatenate([np.cos(angle / 2.0), aa * scale], axis=-1)


def quaternion_to_axis_angle(quaternion: np.ndarray) -> np.ndarray:
    """[..., 4] quaternion -> [..., 3] axis * angle with angle in [0, pi]."""
    q = np.asarray(quaternion, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(q[..., :1] < 0.0, -q, q)  # q and -q are one rotation; w >= 0 gives the shorter angle
    w, xyz = q[..., :1], q[..., 1:]
    sin_half = np.linalg.norm(xyz, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(sin_half, w)
    small = sin_half < 1e-12
    # angle / sin(angle/2) -> 2 / cos(angle/2) as the angle -> 0
    factor = np.where(small, 2.0 / w, angle / np.where(small, 1.0, sin_half))
    return xyz * factor


def quaternion_to_matrix(quaternion: np.ndarray) -> np.ndarray:
    """[..., 4] quaternion -> [..., 3, 3] rotation matrix."""
    q = np.asarray(quaternion, dtype=np.float64)
    w, x, y, z = np.moveaxis(q / np.linalg.norm(q, axis=-1, keepdims=True), -1, 0)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def matrix_to_quaternion(matrix: np.ndarray) -> np.ndarray:
    """[..., 3, 3] rotation matrix -> [..., 4] unit quaternion with w >= 0."""
    m = np.asarray(matrix, dtype=np.float64)
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # Shepperd: each row is 4*q_c*q for one component c; the row of the largest |q_c| is well conditioned.
    candidates = np.stack(
        [
            np.stack([1 + m00 + m11 + m22, m21 - m12, m02 - m20, m10 - m01], axis=-1),
            np.stack([m21 - m12, 1 + m00 - m11 - m22, m01 + m10, m02 + m20], axis=-1),
            np.stack([m02 - m20, m01 + m10, 1 - m00 + m11 - m22, m12 + m21], axis=-1),
            np.stack([m10 - m01, m02 + m20, m12 + m21, 1 - m00 - m11 + m22], axis=-1),
        ],
        axis=-2,
    )
    diagonal = np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], axis=-1)
    best = np.argmax(diagonal, axis=-1)[..., None, None]
    q = np.take_along_axis(candidates, best, axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0.0, -q, q)


def axis_angle_to_matrix(axis_angle: np.ndarray) -> np.ndarray:
    """[..., 3] axis * angle -> [..., 3, 3] rotation matrix."""
    return quaternion_to_matrix(axis_angle_to_quaternion(axis_angle))


def matrix_to_axis_angle(matrix: np.ndarray) -> np.ndarray:
    """[..., 3, 3] rotation matrix -> [..., 3] axis * angle with angle in [0, pi]."""
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Spherical interpolation from q0 (t=0) to q1 (t=1) along the shorter arc.

    q0, q1: [..., 4]; t broadcasts against their leading shape. q1 is flipped into q0's hemisphere first,
    because q and -q are the same rotation and the long way round would spin the head almost a full turn.
    """
    q0 = np.asarray(q0, dtype=np.float64)
    q1 = np.asarray(q1, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0.0, -q1, q1)
    theta = np.arccos(np.clip(np.abs(dot), -1.0, 1.0))
    tiny = theta < _TINY_ANGLE
    sin_theta = np.where(tiny, 1.0, np.sin(theta))
    w0 = np.where(tiny, 1.0 - t, np.sin((1.0 - t) * theta) / sin_theta)
    w1 = np.where(tiny, t, np.sin(t * theta) / sin_theta)
    q = w0 * q0 + w1 * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)
