"""Rotation conversions and slerp, checked against scipy's independent implementation."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from backend.clips.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    quaternion_to_axis_angle,
    quaternion_to_matrix,
    slerp,
)


def _axis_angles() -> np.ndarray:
    """Random rotations plus the hard cases: zero, tiny, exactly pi and beyond pi about tilted axes."""
    rng = np.random.default_rng(7)
    tilted = np.array([1.0, -2.0, 0.5]) / np.linalg.norm([1.0, -2.0, 0.5])
    special = np.stack([0.0 * tilted, 1e-9 * tilted, 1e-4 * tilted, np.pi * tilted, 1.5 * np.pi * tilted])
    return np.concatenate([rng.normal(size=(500, 3)) * 1.5, special])


def _scalar_first(rotation: Rotation) -> np.ndarray:
    return np.roll(rotation.as_quat(), 1, axis=-1)


def _same_rotation_quaternions(q: np.ndarray, expected: np.ndarray) -> float:
    """Largest difference between quaternions up to sign (q and -q are one rotation)."""
    return float(np.max(np.minimum(np.abs(q - expected).max(-1), np.abs(q + expected).max(-1))))


def test_axis_angle_to_matrix_and_quaternion_match_scipy():
    aa = _axis_angles()
    reference = Rotation.from_rotvec(aa)
    assert np.abs(axis_angle_to_matrix(aa) - reference.as_matrix()).max() < 1e-12
    assert _same_rotation_quaternions(axis_angle_to_quaternion(aa), _scalar_first(reference)) < 1e-12


def test_matrix_and_quaternion_back_to_axis_angle_match_scipy():
    reference = Rotation.from_rotvec(_axis_angles())
    matrices = reference.as_matrix()
    assert _same_rotation_quaternions(matrix_to_quaternion(matrices), _scalar_first(reference)) < 1e-12
    recovered = matrix_to_axis_angle(matrices)
    assert np.abs(axis_angle_to_matrix(recovered) - matrices).max() < 1e-12
    assert np.linalg.norm(recovered, axis=-1).max() <= np.pi + 1e-12
    # below pi the axis-angle itself comes back, not just the same rotation
    below_pi = np.linalg.norm(_axis_angles(), axis=-1) < np.pi - 1e-6
    assert np.abs(recovered[below_pi] - _axis_angles()[below_pi]).max() < 1e-9


def test_quaternion_conversions_handle_negated_and_unnormalised_input():
    aa = _axis_angles()[:50]
    q = axis_angle_to_quaternion(aa)
    assert np.abs(quaternion_to_axis_angle(-3.0 * q) - quaternion_to_axis_angle(q)).max() < 1e-12
    assert np.abs(quaternion_to_matrix(-3.0 * q) - axis_angle_to_matrix(aa)).max() < 1e-12


def test_tiny_angles_stay_finite_and_exact():
    aa = np.array([[1e-12, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 3e-9, -1e-9]])
    back = quaternion_to_axis_angle(axis_angle_to_quaternion(aa))
    assert np.all(np.isfinite(back))
    assert np.abs(back - aa).max() < 1e-20


@pytest.mark.parametrize("t", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_slerp_matches_scipy(t):
    rng = np.random.default_rng(3)
    start, end = Rotation.random(2, random_state=rng)
    q = slerp(_scalar_first(start), _scalar_first(end), t)
    expected = Slerp([0.0, 1.0], Rotation.concatenate([start, end]))([t])
    assert _same_rotation_quaternions(q[None], _scalar_first(expected)) < 1e-12


def test_slerp_takes_the_short_arc_when_the_end_quaternion_is_negated():
    q0 = axis_angle_to_quaternion(np.array([0.0, 0.3, 0.0]))
    q1 = axis_angle_to_quaternion(np.array([0.0, 0.9, 0.0]))
    halfway = slerp(q0, -q1, 0.5)  # -q1 is the same rotation, 180+ degrees away on the 4-sphere
    assert np.abs(quaternion_to_axis_angle(halfway) - [0.0, 0.6, 0.0]).max() < 1e-12


def test_slerp_is_vectorised_with_per_row_parameters():
    rng = np.random.default_rng(5)
    starts, ends = Rotation.random(20, random_state=rng), Rotation.random(20, random_state=rng)
    t = np.linspace(0.0, 1.0, 20)
    q = slerp(_scalar_first(starts), _scalar_first(ends), t)
    for i in range(20):
        expected = Slerp([0.0, 1.0], Rotation.concatenate([starts[i], ends[i]]))([t[i]])
        assert _same_rotation_quaternions(q[i : i + 1], _scalar_first(expected)) < 1e-12
