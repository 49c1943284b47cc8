"""The fitted ICT weights as a motion clip: the starter's 37 channels, the jaw rotation and the head rotation."""

from __future__ import annotations

import numpy as np

from backend.clips import MotionClip
from backend.clips.rotations import matrix_to_axis_angle
from backend.core.channels import CHANNELS
from backend.tracking.ict_channels import JAW_OPEN_RADIANS, JAW_SHAPE, channel_weights


def clip_from_fit(weights: np.ndarray, shape_names: tuple[str, ...], rotations: np.ndarray, fps: float) -> MotionClip:
    """weights [T, K] of the ICT shapes `shape_names`; rotations [T, 3, 3] of the head (clip axes)."""
    expression = weights @ channel_weights(shape_names).T
    jaw = np.zeros((len(weights), 3), dtype=np.float32)
    jaw[:, 0] = weights[:, shape_names.index(JAW_SHAPE)] * JAW_OPEN_RADIANS
    return MotionClip(
        fps=float(fps),
        expression=expression.astype(np.float32),
        expression_names=CHANNELS,
        jaw=jaw,
        head=relative_to_rest(rotations),
    )


def relative_to_rest(rotations: np.ndarray) -> np.ndarray:
    """[T, 3] axis-angle of each rotation relative to the clip's mean one.

    A video cannot tell a head held tilted from a camera placed above or below the face, so the clip's rest is how
    the person holds their head on average; the motion about it is what a style keeps.
    """
    u, _, vt = np.linalg.svd(rotations.sum(axis=0))
    rest = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt
    return np.stack([matrix_to_axis_angle(r @ rest.T) for r in rotations]).astype(np.float32)
