"""The add-on's rotation conversions, checked against scipy's independent implementation."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adamesh_blender.anim.rotations import (
    EULER_ORDERS,
    axis_angle_to_quaternion,
    continuous_quaternions,
    matrices_to_euler,
    quaternion_to_matrix,
    quaternion_to_rotation_vector,
    quaternions_to_blender_axis_angle,
    slerp,
)

RNG = np.random.default_rng(11)
VECTORS = np.concatenate([RNG.normal(size=(200, 3)), [[0, 0, 0], [1e-9, 0, 0], [0, np.pi, 0]]])


def _scalar_first(rotation: Rotation) -> np.ndarray:
    return np.roll(rotation.as_quat(), 1, axis=-1)


def test_axis_angle_quaternion_matrix_agree_with_scipy():
    quaternions = axis_angle_to_quaternion(VECTORS)
    reference = Rotation.from_rotvec(VECTORS)
    np.testing.assert_allclose(quaternion_to_matrix(quaternions), reference.as_matrix(), atol=1e-12)
    same_sign = np.sign(np.sum(quaternions * _scalar_first(reference), axis=1, keepdims=True))
    np.testing.assert_allclose(quaternions * same_sign, _scalar_first(reference), atol=1e-12)
    back = Rotation.from_rotvec(quaternion_to_rotation_vector(quaternions))
    assert np.all((back.inv() * reference).magnitude() < 1e-9)


@pytest.mark.parametrize("order", EULER_ORDERS)
def test_euler_of_every_blender_order(order):
    # Blender's "XYZ" applies X first about fixed axes: scipy's extrinsic "xyz" with angles in that order
    blender_euler = RNG.uniform(-1.4, 1.4, size=(100, 3))
    scipy_angles = blender_euler[:, ["XYZ".index(axis) for axis in order]]
    matrices = Rotation.from_euler(order.lower(), scipy_angles).as_matrix()
    np.testing.assert_allclose(matrices_to_euler(matrices, order), blender_euler, atol=1e-9)


def test_euler_sequences_are_unwrapped():
    angles = np.linspace(2.8, 3.6, 9)  # passes pi about Z, where a plain atan2 jumps by 2 pi
    matrices = Rotation.from_euler("z", angles[:, None]).as_matrix()
    np.testing.assert_allclose(matrices_to_euler(matrices, "XYZ")[:, 2], angles, atol=1e-9)


def test_slerp_matches_scipy_and_takes_the_short_way():
    q0, q1 = axis_angle_to_quaternion(VECTORS[:50]), axis_angle_to_quaternion(VECTORS[50:100])
    t = RNG.uniform(size=50)
    ours = Rotation.from_quat(np.roll(slerp(q0, -q1, t), -1, axis=1))  # -q1: the same rotations, other sign
    for i in range(50):
        ends = Rotation.from_rotvec(np.stack([VECTORS[i], VECTORS[50 + i]]))
        relative = ends[1] * ends[0].inv()
        expected = Rotation.from_rotvec(relative.as_rotvec() * t[i]) * ends[0]
        assert (ours[i] * expected.inv()).magnitude() < 1e-9


def test_continuous_quaternions_flip_signs_only():
    q = axis_angle_to_quaternion(RNG.normal(size=(30, 3)) * 0.3)
    q[1::3] *= -1
    fixed = continuous_quaternions(q)
    assert np.all(np.sum(fixed[1:] * fixed[:-1], axis=1) > 0)
    np.testing.assert_allclose(np.abs(fixed), np.abs(q))


def test_blender_axis_angle_keeps_its_axis_through_zero():
    angles = np.linspace(0.2, -0.2, 9)  # about +X, through the rest pose
    result = quaternions_to_blender_axis_angle(axis_angle_to_quaternion(np.outer(angles, [1.0, 0, 0])))
    np.testing.assert_allclose(result[:, 1:], np.tile([1.0, 0, 0], (9, 1)))
    np.testing.assert_allclose(result[:, 0], angles, atol=1e-12)
    general = quaternions_to_blender_axis_angle(axis_angle_to_quaternion(VECTORS))
    rebuilt = Rotation.from_rotvec(general[:, 1:] * general[:, :1])
    assert np.all((rebuilt.inv() * Rotation.from_rotvec(VECTORS)).magnitude() < 1e-8)
