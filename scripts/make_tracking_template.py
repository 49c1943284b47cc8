"""Make assets/tracking/ict_mediapipe.npz: where MediaPipe's Face Mesh puts its 478 points on the neutral ICT head.

MediaPipe's points and the ICT mesh's vertices are two definitions of the same features (an eye corner, a lip
line), and MediaPipe's points slide over a turning face; fitting ICT shapes straight to MediaPipe points reads those
differences as expressions (measured on a rendered neutral head: a 0.6 brow shape). So the neutral ICT head is
rendered (scripts/render_ict_face.py, bpy) from a grid of views, MediaPipe is run on the pictures, and each point's
3-D position is solved from its image positions across the views (affine cameras with the known rotations, scale and
shift fitted to the nose and eye corners; MediaPipe's depth guess is not used). Kept:
  template [478, 3]              the neutral from all views (ICT frame, cm)
  view_templates [Y, P, 478, 3]  the neutral per view of the yaw x pitch grid (the tracker interpolates)
  nearest_vertex [478]           the ICT face vertex nearest each point (whose shape deltas it follows)

(Calibrating each shape's motion of MediaPipe's points the same way was tried and measured worse: a held smile's
side came out reversed.)

    python scripts/make_tracking_template.py --out assets/tracking/ict_mediapipe.npz     # ~1 minute
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.clips.rotations import matrix_to_axis_angle  # noqa: E402
from backend.core.files import write_atomically  # noqa: E402
from backend.tracking.correspondence import RIGID_POINTS  # noqa: E402
from backend.tracking.face_model import view_rotation  # noqa: E402
from backend.tracking.head_pose import camera_to_head_axes  # noqa: E402
from backend.tracking.ict_face import load_ict_face  # noqa: E402
from backend.tracking.landmarks import track_faces  # noqa: E402

YAWS_DEG = tuple(range(-30, 31, 6))
PITCHES_DEG = tuple(range(-15, 16, 5))
FACE_VERTICES = 9409  # the `face` part of the ICT mesh: skin from the forehead to the chin


def render_and_track(weights: np.ndarray, matrices: np.ndarray, folder: Path) -> list[np.ndarray]:
    """Image points (clip axes, pixels) [478, 2] per rendered picture."""
    spec = folder / "spec.npz"
    rotations = np.array([matrix_to_axis_angle(m) for m in matrices], np.float32)
    np.savez(spec, weights=weights.astype(np.float32), head=rotations, size=np.array([640, 480]))
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "render_ict_face.py"), str(spec), str(folder)],
        check=True,
        capture_output=True,
    )
    pictures = [np.array(Image.open(folder / f"{i:05d}.png").convert("RGB")) for i in range(len(weights))]
    found = []
    for index, face in enumerate(track_faces(pictures, still=True)):
        if face.points is None:
            raise SystemExit(f"no face found in rendered picture {index}")
        found.append(camera_to_head_axes(face.points.astype(np.float64))[:, :2])
    return found


def triangulate(images: list[np.ndarray], matrices: np.ndarray, anchor: np.ndarray) -> tuple[np.ndarray, list]:
    """[478, 3] points seen in `images` from views `matrices`; each view's scale and shift fitted so that the
    rigid points project where `anchor` (their 3-D positions) says."""
    cameras = []
    for image, matrix in zip(images, matrices):
        turned = (anchor[list(RIGID_POINTS)] @ matrix.T)[:, :2]
        seen = image[list(RIGID_POINTS)]
        centred = turned - turned.mean(0)
        scale = float(((seen - seen.mean(0)) * centred).sum() / (centred**2).sum())
        cameras.append((matrix, scale, seen.mean(0) - scale * turned.mean(0)))
    system = np.concatenate([scale * matrix[:2] for matrix, scale, _ in cameras])
    stacked = np.concatenate([(image - shift).T for image, (_, _, shift) in zip(images, cameras)])
    points, *_ = np.linalg.lstsq(system, stacked, rcond=None)
    return points.T, cameras


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    face = load_ict_face()
    n_shapes = len(face.expression_names)
    grid = np.array([view_rotation(p, y) for y in YAWS_DEG for p in PITCHES_DEG])
    with tempfile.TemporaryDirectory() as folder:
        neutral_images = render_and_track(np.zeros((len(grid), n_shapes)), grid, Path(folder))
    anchor = _rigid_anchor(face, neutral_images, grid)
    template, cameras = triangulate(neutral_images, grid, anchor)
    per_view, errors = [], []
    for image, (matrix, scale, shift) in zip(neutral_images, cameras):
        residual = np.zeros_like(template)
        residual[:, :2] = (image - ((scale * template @ matrix.T)[:, :2] + shift)) / scale
        per_view.append(template + residual @ matrix)
        errors.append(np.linalg.norm(residual, axis=1))
    skin = face.neutral[:FACE_VERTICES]
    nearest = np.argmin(((template[:, None, :] - skin[None]) ** 2).sum(axis=2), axis=1).astype(np.int32)
    arrays = {
        "format": np.array("adamesh-ict-mediapipe/1"),
        "template": template.astype(np.float32),
        "nearest_vertex": nearest,
        "view_pitch_deg": np.array(PITCHES_DEG, np.float32),
        "view_yaw_deg": np.array(YAWS_DEG, np.float32),
        "view_templates": np.stack(per_view).reshape(len(YAWS_DEG), len(PITCHES_DEG), 478, 3).astype(np.float32),
    }
    write_atomically(Path(args.out), lambda f: np.savez_compressed(f, **arrays))
    errors = np.concatenate(errors)
    print(
        f"wrote {args.out}: neutral from {len(grid)} views (reprojection error median {np.median(errors):.3f} cm, "
        f"95th percentile {np.percentile(errors, 95):.3f} cm)"
    )


def _rigid_anchor(face, images: list[np.ndarray], grid: np.ndarray) -> np.ndarray:
    """[478, 3] with the rigid points placed: their nearest ICT vertices to start, then refined from the views."""
    anchor = np.zeros((478, 3))
    # the frontal view's rigid points, scaled into the mesh's frame by the eye corners' distance
    frontal = images[int(np.argmin([abs(np.arctan2(m[0, 2], m[2, 2])) + abs(m[1, 2]) for m in grid]))]
    eyes = face.neutral[face.landmarks68[[36, 45]]]
    pixels = frontal[[33, 263]]
    scale = np.linalg.norm(pixels[1] - pixels[0]) / np.linalg.norm(eyes[1, :2] - eyes[0, :2])
    centre = (pixels[0] + pixels[1]) / 2 - scale * (eyes[0, :2] + eyes[1, :2]) / 2
    for point in RIGID_POINTS:
        xy = (frontal[point] - centre) / scale
        skin = face.neutral[:FACE_VERTICES]
        closest = skin[np.argmin(((skin[:, :2] - xy) ** 2).sum(axis=1) - 1e-3 * skin[:, 2])]
        anchor[point] = (xy[0], xy[1], closest[2])
    for _ in range(2):
        points, _ = triangulate(images, grid, anchor)
        anchor[list(RIGID_POINTS)] = points[list(RIGID_POINTS)]
    return anchor


if __name__ == "__main__":
    main()
