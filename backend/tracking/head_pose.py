"""Head pose from landmarks under a weak-perspective camera: x_2d = s P R X + t.

Only the image coordinates are trusted: MediaPipe's depth is its landmark model's guess, and under a turned head
it bends the face (measured on rendered heads: 3-D fits read a 15-degree turn's perspective as a smile). The
rotation starts from a 3-D similarity (Umeyama) and is refined on the 2-D points by Gauss-Newton.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.clips.rotations import axis_angle_to_matrix

_ITERATIONS = 6


@dataclass(frozen=True)
class Pose:
    scale: float  # pixels per model unit
    rotation: np.ndarray  # [3, 3] model frame -> camera (clip axes)
    shift: np.ndarray  # [2] pixels

    def project(self, points: np.ndarray) -> np.ndarray:
        """[N, 3] model points -> [N, 2] image points (clip axes: x right, y up)."""
        return self.scale * (points @ self.rotation.T)[:, :2] + self.shift


def umeyama(template: np.ndarray, observed: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """s, R, t minimising ||s R template + t - observed||^2 over the rows (Umeyama 1991; R a proper rotation)."""
    mean_t, mean_o = template.mean(axis=0), observed.mean(axis=0)
    centred_t, centred_o = template - mean_t, observed - mean_o
    u, singular, vt = np.linalg.svd(centred_o.T @ centred_t / len(template))
    sign = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    scale = float((singular * sign).sum() / ((centred_t**2).sum() / len(template)))
    return scale, rotation, mean_o - scale * rotation @ mean_t


def initial_pose(template: np.ndarray, observed: np.ndarray) -> Pose:
    """A first pose from the 3-D landmarks (depth included), refined by fit_pose."""
    scale, rotation, translation = umeyama(template, observed)
    return Pose(scale, rotation, translation[:2])


def fit_pose(model_points: np.ndarray, image_points: np.ndarray, start: Pose) -> Pose:
    """The weak-perspective pose that best projects `model_points` [N, 3] onto `image_points` [N, 2]."""
    scale, rotation, shift = start.scale, start.rotation, start.shift
    for _ in range(_ITERATIONS):
        turned = model_points @ rotation.T  # [N, 3]
        residual = (image_points - (scale * turned[:, :2] + shift)).reshape(-1)
        jacobian = np.zeros((len(model_points), 2, 6))
        # d(R X)/d(omega) for R <- exp(omega) R is -[R X]x ; rows x, y only
        x, y, z = turned[:, 0], turned[:, 1], turned[:, 2]
        jacobian[:, 0, 0:3] = scale * np.stack([np.zeros_like(x), z, -y], axis=1)
        jacobian[:, 1, 0:3] = scale * np.stack([-z, np.zeros_like(x), x], axis=1)
        jacobian[:, :, 3] = turned[:, :2]
        jacobian[:, 0, 4] = 1.0
        jacobian[:, 1, 5] = 1.0
        step, *_ = np.linalg.lstsq(jacobian.reshape(-1, 6), residual, rcond=None)
        rotation = axis_angle_to_matrix(step[:3]) @ rotation
        scale, shift = scale + step[3], shift + step[4:6]
        if np.abs(step[:3]).max() < 1e-6:
            break
    return Pose(float(scale), rotation, shift)


def camera_to_head_axes(points: np.ndarray) -> np.ndarray:
    """MediaPipe pixels (x right, y down, z into the screen) -> the clip's axes (+X subject's left, +Y up, +Z
    towards the camera) for a face that looks at the camera: the image's right is the subject's left."""
    return np.stack([points[..., 0], -points[..., 1], -points[..., 2]], axis=-1)
