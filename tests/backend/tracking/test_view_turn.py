"""The per-view neutrals lose their own turn in yaw and pitch (it would feed back through the pose), and keep their
roll and every non-rigid difference (face_model.without_view_turn)."""

from __future__ import annotations

import numpy as np

from backend.clips.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from backend.tracking.face_model import view_rotation, without_view_turn
from backend.tracking.head_pose import Pose, fit_pose

YAWS, PITCHES = np.array([-12.0, 0.0, 12.0]), np.array([-5.0, 5.0])
RIGID = np.arange(8)
MOUTH = 15


def turned_views(template: np.ndarray, extra: np.ndarray, mouth_shift: float) -> np.ndarray:
    """Views as MediaPipe might report them: each seen turned by `extra` (axis-angle, camera axes) on top of its
    own view, and one mouth point lower by `mouth_shift` in the picture."""
    views = np.zeros((len(YAWS), len(PITCHES), *template.shape))
    for i, yaw in enumerate(YAWS):
        for j, pitch in enumerate(PITCHES):
            view = view_rotation(pitch, yaw)
            seen = (template @ (axis_angle_to_matrix(extra) @ view).T)[:, :2]
            seen[MOUTH, 1] -= mouth_shift
            flat = np.zeros_like(template)
            flat[:, :2] = seen - (template @ view.T)[:, :2]
            views[i, j] = template + flat @ view
    return views


def test_a_views_turn_in_yaw_and_pitch_is_taken_out_and_its_roll_and_the_mouth_kept():
    template = np.random.default_rng(0).normal(scale=4.0, size=(20, 3))
    extra = np.radians([1.5, -2.0, 1.0])
    cleaned = without_view_turn(template, turned_views(template, extra, 0.3), YAWS, PITCHES, RIGID)
    for i, yaw in enumerate(YAWS):
        for j, pitch in enumerate(PITCHES):
            view = Pose(1.0, view_rotation(pitch, yaw), np.zeros(2))
            seen = (cleaned[i, j] @ view.rotation.T)[:, :2]
            fitted = fit_pose(template[RIGID], seen[RIGID], view)
            turn = np.degrees(matrix_to_axis_angle(fitted.rotation @ view.rotation.T))
            np.testing.assert_allclose(turn[:2], 0.0, atol=0.05)
            assert abs(turn[2] - 1.0) < 0.1
            mouth = seen[MOUTH] - fitted.project(template[MOUTH : MOUTH + 1])[0]
            np.testing.assert_allclose(mouth, [0.0, -0.3], atol=0.02)
