"""Face landmarks per frame: MediaPipe Face Mesh (478 points with the irises), offline.

mediapipe 0.10.21 is the last release whose wheel carries the face detector and landmark models; later ones
download them at run time, which this product never does. It is an optional extra (requirements/tracking.txt),
so it is imported only here and its absence is a clear message, not an ImportError.

Points are in pixels of the upright frame: x right, y down, z depth towards the screen in the same scale as x
(MediaPipe's convention, z relative to the face's centre).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from backend.core.errors import AdaMeshError

N_POINTS = 478
MAX_FACES = 4  # enough to notice other people in the picture and pick the main speaker
INSTALL_HINT = (
    "install the face tracker (an optional extra, ~90 MB): python -m pip install --no-deps -r requirements/tracking.txt"
)


class TrackerMissingError(AdaMeshError):
    """The optional face tracker (mediapipe) is not installed in the backend's environment."""

    code = "tracker_missing"


@dataclass(frozen=True)
class FaceFrame:
    points: np.ndarray | None  # float32 [478, 3] of the largest face, None where no face was found
    n_faces: int
    area: float  # of the largest face's landmark bounding box, pixels^2


def load_face_mesh():
    """The mediapipe module, or TrackerMissingError saying how to install it."""
    os.environ.setdefault("GLOG_minloglevel", "2")  # the graph's start-up chatter belongs to no user
    try:
        from mediapipe.python.solutions import face_mesh
    except ImportError as error:
        raise TrackerMissingError(f"tracking a video needs mediapipe 0.10.21 ({error}); {INSTALL_HINT}") from None
    return face_mesh


def track_faces(frames: Iterable[np.ndarray], still: bool = False) -> Iterator[FaceFrame]:
    """Landmarks of the largest face in each RGB frame; in video mode (the mesh follows the face across frames)
    unless `still` (every frame detected afresh: unrelated pictures)."""
    face_mesh = load_face_mesh()
    with face_mesh.FaceMesh(
        static_image_mode=still,
        max_num_faces=MAX_FACES,
        refine_landmarks=True,
        min_detection_confidence=0.5,
        min_tracking_confidence=0.5,
    ) as mesh:
        for picture in frames:
            yield _largest_face(mesh.process(picture), picture.shape[1], picture.shape[0])


def _largest_face(result, width: int, height: int) -> FaceFrame:
    faces = result.multi_face_landmarks or []
    best, best_area = None, 0.0
    for face in faces:
        points = np.array([(p.x * width, p.y * height, p.z * width) for p in face.landmark], dtype=np.float32)
        extent = points[:, :2].max(axis=0) - points[:, :2].min(axis=0)
        area = float(extent[0] * extent[1])
        if area > best_area:
            best, best_area = points, area
    return FaceFrame(best, len(faces), best_area)
