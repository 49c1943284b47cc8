"""Expression weights per frame: the head's pose and the face's shapes fitted to the landmarks' image positions.

Per frame, alternately: the weak-perspective pose of the (expression-shaped) face (head_pose.py), then the shape
weights in [0, 1] that best explain the landmarks under that pose (bounded least squares), pulled towards the
previous frame's weights (temporal smoothing) and slightly towards zero (so that shapes which look alike share
no phantom weight). The person's neutral is the template plus the ICT identity modes fitted to the whole clip,
and, for the brows, eyes and nose, the clip's median residual: MediaPipe places those points a millimetre or two
differently from face to face and view to view (measured on the rendered ICT head: 1.3 mm median), as much as a
brow shape moves them. The mouth keeps only the identity modes, so that a smile held through the clip stays a
smile.

The points are not equally sure (weighted least squares): a mouth corner's height across the lip line is the
sharpest thing MediaPipe sees, where it ends along the line the vaguest (MediaPipe slides the corners along it
towards a symmetric mouth), and the chin and cheek points on smooth skin are placed by its face prior more than by
the picture (measured on the rendered ICT head with a crooked smile: the less-smiling corner pushed outwards as
far as the other, the chin shifted towards the smile; equal weights read the smile's side at 40 % of its size).
A mouth side turned away from the camera is seen worst of all; there, in the second pass, its left/right shape pairs
are pulled towards the difference the first pass read where each side is seen (SIDE_PAIRS).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import lsq_linear

from backend.tracking.face_model import FaceModel
from backend.tracking.head_pose import Pose, fit_pose, initial_pose

SMOOTHING = 0.02  # cm^2 per unit weight change between frames: a light hand, 25 fps motion stays sharp
SHRINKAGE = 0.002  # cm^2 per unit weight
IDENTITY_PRIOR = 0.05  # cm^2 per unit identity coefficient (modes span about +-3)
CORNER_ACROSS = 9.0  # weight of a mouth corner across the lip line, against 1 for the other points (sd a third)
CORNER_ALONG = 0.1  # and along it
SKIN = 0.3  # weight of the chin and cheek points
PASSES = 2
# A mouth side turned away from the camera is seen poorly: a broad smile's raised cheek hides its corner, and
# MediaPipe puts the corner where the lip line still shows, below its lift (measured on the rendered ICT head turned
# 20 degrees: the far corner lifted 6 px where the mesh's rose 14). There, each left/right pair of mouth shapes is
# pulled towards the left-right difference the clip shows where each side is seen, instead of towards no difference.
SIDE_PAIRS = ("mouthSmile", "mouthFrown", "mouthStretch", "mouthPress")
SIDE_PRIOR = 2.0  # cm^2 per unit of a pair's difference from the clip's, the side fully hidden
SEEN_DEG = 5.0  # head yaw towards one side up to which that side's corner is seen
HIDDEN_DEG = 15.0  # and from which it is hidden (linear between)
MIN_SEEN_FRAMES = 25  # a side seen in fewer frames (counted as far as seen) gives no difference to pull towards
ALTERNATIONS = 3  # pose <-> weights per frame


@dataclass(frozen=True)
class FaceFit:
    weights: np.ndarray  # float32 [T, K] shape weights in [0, 1], the model's shape_names
    rotations: np.ndarray  # float64 [T, 3, 3] head rotation per frame (model frame -> camera, clip axes)
    residual_cm: np.ndarray  # float32 [T] RMS image distance of the fitted points from the landmarks, in cm
    identity: np.ndarray  # float32 [10]


def fit_face(model: FaceModel, observed: np.ndarray, progress: Callable[[float], None] | None = None) -> FaceFit:
    """observed: [T, P, 3] landmarks in the clip's axes (camera_to_head_axes, pixels), every frame present."""
    n_frames, n_points, _ = observed.shape
    n_shapes = len(model.shape_names)
    basis = model.expressions.astype(np.float64)  # [K, P, 3]
    identity_basis = model.identities.astype(np.float64)
    identity = np.zeros(len(identity_basis))
    offset = np.zeros_like(model.template)
    weights = np.zeros((n_frames, n_shapes))
    poses: list[Pose] = [None] * n_frames
    residual = np.zeros(n_frames)
    regulariser = np.sqrt(SMOOTHING + SHRINKAGE) * np.eye(n_shapes)
    sides = _side_pairs(model.shape_names)
    asymmetry = None  # [pairs] the clip's left-right difference where each side is seen, after the first pass
    for pass_ in range(PASSES):
        person = np.tensordot(identity, identity_basis, axes=1) + offset  # the person's difference from the template
        previous = np.zeros(n_shapes)
        for t in range(n_frames):
            image = observed[t, :, :2]
            neutral = model.template + person
            shaped = neutral + np.tensordot(weights[t], basis, axes=1)
            pose = poses[t] or initial_pose(shaped[model.rigid], observed[t, model.rigid])
            for _ in range(ALTERNATIONS):
                pose = fit_pose(shaped[model.rigid], image[model.rigid], pose)
                neutral = model.template_at(pose.rotation) + person
                # image of the neutral and of each shape under this pose, in model units (cm)
                moved = _misfit(pose, image, neutral)
                shape_images = (basis @ pose.rotation.T)[:, :, :2]
                root = _root_weights(model, pose)
                moved = np.einsum("pij,pj->pi", root, moved).reshape(-1)
                shape_images = np.einsum("pij,kpj->pik", root, shape_images).reshape(-1, n_shapes)
                rows, targets = (
                    [shape_images, regulariser],
                    [moved, SMOOTHING * previous / np.sqrt(SMOOTHING + SHRINKAGE)],
                )
                if asymmetry is not None:  # a hidden side's pairs pulled towards the clip's difference
                    pull = np.sqrt(SIDE_PRIOR * _hidden_sides(pose).max())
                    rows.append(pull * sides)
                    targets.append(pull * asymmetry)
                weights[t] = lsq_linear(np.vstack(rows), np.concatenate(targets), bounds=(0.0, 1.0), method="bvls").x
                shaped = neutral + np.tensordot(weights[t], basis, axes=1)
            poses[t], previous = pose, weights[t]
            residual[t] = np.sqrt((_misfit(pose, image, shaped) ** 2).sum(axis=1).mean())
            if progress is not None and t % 10 == 0:
                progress((pass_ * n_frames + t + 1) / (PASSES * n_frames))
        if pass_ < PASSES - 1:
            identity = _fit_identity(model, poses, observed, weights, basis, identity_basis)
            offset = _upper_face_offset(model, poses, observed, weights, basis, identity_basis, identity)
            asymmetry = _seen_asymmetry(weights, poses, sides)
    rotations = np.stack([pose.rotation for pose in poses])
    return FaceFit(weights.astype(np.float32), rotations, residual.astype(np.float32), identity.astype(np.float32))


def _side_pairs(shape_names: tuple[str, ...]) -> np.ndarray:
    """[pairs, K]: each row the left minus the right shape of one of SIDE_PAIRS."""
    pairs = [name for name in SIDE_PAIRS if f"{name}_L" in shape_names]
    rows = np.zeros((len(pairs), len(shape_names)))
    for row, name in enumerate(pairs):
        rows[row, shape_names.index(f"{name}_L")], rows[row, shape_names.index(f"{name}_R")] = 1.0, -1.0
    return rows


def _hidden_sides(pose: Pose) -> np.ndarray:
    """[2] how far the face's left and right mouth corners are hidden, 0 (seen) to 1: by the head's yaw, which turns
    the left side away from the camera when positive (the clip's axes)."""
    forward = pose.rotation[:, 2]
    yaw = np.degrees(np.arctan2(forward[0], forward[2]))
    return np.clip((np.array([yaw, -yaw]) - SEEN_DEG) / (HIDDEN_DEG - SEEN_DEG), 0.0, 1.0)


def _seen_asymmetry(weights: np.ndarray, poses: list[Pose], sides: np.ndarray) -> np.ndarray | None:
    """[pairs] each pair's mean left weight over the frames its left side is seen, minus the mean right weight over
    the frames its right side is seen (each frame counted as far as it is seen); None (no pull) when either side is
    seen in under MIN_SEEN_FRAMES."""
    seen = 1.0 - np.stack([_hidden_sides(pose) for pose in poses])  # [T, 2]
    if seen.sum(axis=0).min() < MIN_SEEN_FRAMES:
        return None
    left, right = np.clip(sides, 0, None), np.clip(-sides, 0, None)
    return (seen[:, 0] @ weights @ left.T) / seen[:, 0].sum() - (seen[:, 1] @ weights @ right.T) / seen[:, 1].sum()


def _misfit(pose: Pose, image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """[P, 2] where the landmarks `image` [P, 2] (pixels) lie from `points` [P, 3] seen under `pose`, in model
    units (cm)."""
    return (image - pose.project(points)) / pose.scale


def _root_weights(model: FaceModel, pose: Pose) -> np.ndarray:
    """[P, 2, 2] square roots of the points' weights in the image (applied to a point's 2-D misfit): the mouth's
    corners weighted across and along the lip line (the face's left-right axis as seen), the skin points less."""
    root = np.tile(np.eye(2), (len(model.template), 1, 1))
    root[model.skin] *= np.sqrt(SKIN)
    along = pose.rotation[:2, 0] / np.linalg.norm(pose.rotation[:2, 0])
    across = np.array([-along[1], along[0]])
    root[model.corners] = np.sqrt(CORNER_ALONG) * np.outer(along, along) + np.sqrt(CORNER_ACROSS) * np.outer(
        across, across
    )
    return root


def _fit_identity(
    model: FaceModel,
    poses: list[Pose],
    observed: np.ndarray,
    weights: np.ndarray,
    basis: np.ndarray,
    identity_basis: np.ndarray,
) -> np.ndarray:
    """Identity coefficients explaining what the expressions leave unexplained, over the clip (ridge)."""
    rows, targets = [], []
    for t, pose in enumerate(poses):
        shaped = model.template_at(pose.rotation) + np.tensordot(weights[t], basis, axes=1)
        rows.append((identity_basis @ pose.rotation.T)[:, :, :2].reshape(len(identity_basis), -1).T)
        targets.append(_misfit(pose, observed[t, :, :2], shaped).reshape(-1))
    matrix, target = np.vstack(rows), np.concatenate(targets)
    gram = matrix.T @ matrix / len(poses) + IDENTITY_PRIOR * np.eye(matrix.shape[1])
    return np.linalg.solve(gram, matrix.T @ target / len(poses))


def _upper_face_offset(
    model: FaceModel,
    poses: list[Pose],
    observed: np.ndarray,
    weights: np.ndarray,
    basis: np.ndarray,
    identity_basis: np.ndarray,
    identity: np.ndarray,
) -> np.ndarray:
    """[P, 3]: the median residual of the non-mouth points, turned back into the face's frame (depth unseen)."""
    person = np.tensordot(identity, identity_basis, axes=1)
    residuals = []
    for t, pose in enumerate(poses):
        shaped = model.template_at(pose.rotation) + person + np.tensordot(weights[t], basis, axes=1)
        flat = np.zeros((len(shaped), 3))
        flat[:, :2] = _misfit(pose, observed[t, :, :2], shaped)
        residuals.append(flat @ pose.rotation)
    offset = np.median(np.stack(residuals), axis=0)
    offset[model.mouth] = 0.0
    return offset
