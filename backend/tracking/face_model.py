"""The face model the tracker fits: the ICT head's shapes at the points MediaPipe's Face Mesh tracks.

assets/tracking/ict_mediapipe.npz (made by scripts/make_tracking_template.py from renders of the ICT head) holds
where MediaPipe puts its points on the neutral ICT head, per view (MediaPipe's points slide over a turning face),
so a difference between where
MediaPipe and the mesh put a lip line is not read as an expression. The shapes move each point as they move the
ICT vertex it stands for: a Multi-PIE landmark's vertex (`landmarks68`) for the 51 non-contour landmarks, the
vertex nearest to where MediaPipe puts it for the chin and cheek points (EXTRA).

A view's neutral may sit turned against the template (MediaPipe's points slide as the face turns); the turn in
yaw and pitch over the rigid points is taken out of each view on loading. Kept, it fed back through the pose: the
pose picks the view, and a view turned further turns the pose further (measured in the closed loop: the nod read
1.8x its size, pitch error 2.1 deg RMS; without, 1.2x and 1.2 deg).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from backend.clips.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from backend.core.channels import CHANNELS
from backend.core.errors import AdaMeshError
from backend.tracking.correspondence import EXTRA, FITTED, MOUTH_CORNERS, RIGID, SUBNASALE, landmarks68
from backend.tracking.head_pose import Pose, fit_pose
from backend.tracking.ict_channels import JAW_SHAPE, ict_names_of
from backend.tracking.ict_face import load_ict_face

TEMPLATE = Path(__file__).resolve().parents[2] / "assets" / "tracking" / "ict_mediapipe.npz"
# Only the shapes the clip's channels and jaw carry are fitted: the others (gaze, jawForward / Left / Right,
# mouthDimple) move the points much as fitted ones do, and would take their weight.
FITTED_SHAPES = tuple(sorted({name for channel in CHANNELS for name in ict_names_of(channel)} | {JAW_SHAPE}))


@dataclass(frozen=True)
class FaceModel:
    template: np.ndarray  # float32 [P, 3] the neutral at MediaPipe's mesh points, ICT frame (cm)
    view_templates: np.ndarray  # float32 [yaws, pitches, P, 3] the neutral as MediaPipe sees it from each view
    view_yaw: np.ndarray  # degrees, ascending
    view_pitch: np.ndarray
    expressions: np.ndarray  # float32 [K, P, 3] each fitted shape's motion of the points at weight 1
    identities: np.ndarray  # float32 [10, P, 3]
    shape_names: tuple[str, ...]  # the K fitted ICT shapes
    rigid: np.ndarray  # rows of the points the head rotation is fitted to
    mouth: np.ndarray  # rows of the lower face (below the nose)
    corners: np.ndarray  # rows of the mouth's corners (MOUTH_CORNERS)
    skin: np.ndarray  # rows of the chin and cheek points (EXTRA): on smooth skin, placed by MediaPipe's face prior

    def template_at(self, rotation: np.ndarray) -> np.ndarray:
        """[P, 3] the neutral as seen at this head rotation (bilinear in yaw and pitch, clamped to the grid)."""
        forward = rotation[:, 2]
        yaw = np.degrees(np.arctan2(forward[0], forward[2]))
        pitch = np.degrees(np.arctan2(-forward[1], np.hypot(forward[0], forward[2])))
        (y0, y1, fy), (p0, p1, fp) = _cell(self.view_yaw, yaw), _cell(self.view_pitch, pitch)
        grid = self.view_templates
        return (1 - fy) * ((1 - fp) * grid[y0, p0] + fp * grid[y0, p1]) + fy * (
            (1 - fp) * grid[y1, p0] + fp * grid[y1, p1]
        )

    def points_of(self, mediapipe_points: np.ndarray) -> np.ndarray:
        """[..., 478, 3] -> [..., P, 3]: the model's points from MediaPipe's."""
        return model_points(mediapipe_points)


def model_points(mediapipe_points: np.ndarray) -> np.ndarray:
    """The 51 non-contour Multi-PIE landmarks, then the EXTRA points."""
    return np.concatenate([landmarks68(mediapipe_points)[..., FITTED, :], mediapipe_points[..., EXTRA, :]], axis=-2)


def view_rotation(pitch_deg: float, yaw_deg: float) -> np.ndarray:
    """[3, 3] yaw about +Y after pitch about +X: the views' convention (FaceModel.template_at reads them back)."""
    return axis_angle_to_matrix(np.array([0.0, np.radians(yaw_deg), 0.0])) @ axis_angle_to_matrix(
        np.array([np.radians(pitch_deg), 0.0, 0.0])
    )


def without_view_turn(
    template: np.ndarray, views: np.ndarray, yaws: np.ndarray, pitches: np.ndarray, rigid: np.ndarray
) -> np.ndarray:
    """[Y, P, N, 3] views whose rigid points, seen from their own view, fit `template` at that view's yaw and pitch:
    each view's apparent turn in yaw and pitch, scale and shift (a weak-perspective fit) is taken out of all its
    points. Roll stays: the view does not depend on it, so it cannot feed back."""
    out = views.astype(np.float64).copy()
    for i, yaw in enumerate(yaws):
        for j, pitch in enumerate(pitches):
            view = Pose(1.0, view_rotation(pitch, yaw), np.zeros(2))
            seen = (out[i, j] @ view.rotation.T)[:, :2]
            fitted = fit_pose(template[rigid], seen[rigid], view)
            turn = matrix_to_axis_angle(fitted.rotation @ view.rotation.T)
            turn[2] = 0.0
            apparent = Pose(fitted.scale, axis_angle_to_matrix(turn) @ view.rotation, fitted.shift)
            moved = np.zeros_like(template, dtype=np.float64)
            moved[:, :2] = apparent.project(template) - view.project(template)
            out[i, j] -= moved @ view.rotation
    return out


def _cell(axis: np.ndarray, value: float) -> tuple[int, int, float]:
    value = float(np.clip(value, axis[0], axis[-1]))
    upper = int(np.clip(np.searchsorted(axis, value), 1, len(axis) - 1))
    return upper - 1, upper, (value - axis[upper - 1]) / (axis[upper] - axis[upper - 1])


@lru_cache(maxsize=1)
def load_face_model(template_path: str | Path = TEMPLATE) -> FaceModel:
    face = load_ict_face()
    try:
        with np.load(template_path, allow_pickle=False) as arrays:
            template = model_points(arrays["template"]).astype(np.float32)
            views = model_points(arrays["view_templates"]).astype(np.float32)
            view_yaw = arrays["view_yaw_deg"].astype(np.float64)
            view_pitch = arrays["view_pitch_deg"].astype(np.float64)
            nearest = arrays["nearest_vertex"].astype(np.int64)
            subnasale = arrays["template"][SUBNASALE, 1]
    except (OSError, KeyError, ValueError) as error:
        raise AdaMeshError(f"the tracker's face model {template_path} is missing or damaged ({error})") from None
    rigid = np.searchsorted(FITTED, RIGID)
    views = without_view_turn(template, views, view_yaw, view_pitch, rigid).astype(np.float32)
    vertices = np.concatenate([face.landmarks68[FITTED], nearest[list(EXTRA)]])
    kept = [face.expression_names.index(name) for name in FITTED_SHAPES]
    return FaceModel(
        template=template,
        view_templates=views,
        view_yaw=view_yaw,
        view_pitch=view_pitch,
        expressions=face.expression_basis(vertices)[kept],
        identities=face.identity_basis(vertices),
        shape_names=FITTED_SHAPES,
        rigid=rigid,
        mouth=np.flatnonzero(template[:, 1] < subnasale),
        corners=np.searchsorted(FITTED, MOUTH_CORNERS),
        skin=len(FITTED) + np.arange(len(EXTRA)),
    )
