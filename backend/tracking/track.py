"""`python -m backend track`: a video of a person talking -> a motion clip in the starter's channels.

frames on a constant timeline, upright (video.py) -> MediaPipe landmarks, largest face (landmarks.py)
-> short gaps bridged, the longest good stretch kept (gaps.py)
-> head pose and ICT shape weights per frame (expression_fit.py) -> clip channels, jaw, head (channels.py)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.clips import MotionClip, save_clip
from backend.core.errors import AdaMeshError
from backend.tracking.channels import clip_from_fit
from backend.tracking.errors import VideoError
from backend.tracking.expression_fit import fit_face
from backend.tracking.face_model import load_face_model
from backend.tracking.gaps import bridge, choose_stretch
from backend.tracking.head_pose import camera_to_head_axes
from backend.tracking.landmarks import N_POINTS, track_faces
from backend.tracking.video import MIN_SIDE, probe_video, read_frames

Progress = Callable[[float, str], None]
MIN_FACE_PIXELS = 60  # face height (brow to chin) below which the landmarks are a blur of a few pixels
_LANDMARK_SHARE = 0.75  # of the progress bar


class TrackingCancelled(AdaMeshError):
    code = "cancelled"


@dataclass(frozen=True)
class TrackedVideo:
    clip: MotionClip
    start: float  # seconds into the video where the clip starts
    stop: float
    has_audio: bool
    notes: tuple[str, ...]
    points: np.ndarray  # float32 [T, 478, 3] landmarks of the kept stretch (pixels, upright frames)
    residual_cm: np.ndarray  # [T] RMS misfit of the face model


def track_video(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> TrackedVideo:
    """Track `path` and write the clip to `out` (when given, atomically, and only if everything succeeded)."""

    def report(fraction: float, message: str) -> None:
        if cancel is not None and cancel():
            raise TrackingCancelled("tracking was cancelled")
        if progress is not None:
            progress(fraction, message)

    path = Path(path)
    if out is not None and not Path(out).parent.is_dir():
        raise AdaMeshError(f"cannot write {out}: folder {Path(out).parent} does not exist")
    info = probe_video(path)
    if min(info.width, info.height) < MIN_SIDE:
        raise VideoError(
            f"{path.name} is {info.width}x{info.height} pixels; the tracker needs at least {MIN_SIDE} "
            "pixels on the short side, and the face at least a fifth of the picture's height"
        )
    n_frames = info.n_frames
    if n_frames == 0:
        raise VideoError(f"{path.name} holds no frames")
    points = np.full((n_frames, N_POINTS, 3), np.nan, dtype=np.float32)
    faces = np.zeros(n_frames, dtype=np.int32)
    report(0.0, f"finding the face in {n_frames} frames")
    indices = []

    def frames():
        for index, picture in read_frames(info):
            indices.append(index)
            yield picture

    for found in track_faces(frames()):
        index = indices[-1]
        faces[index] = found.n_faces
        if found.points is not None:
            points[index] = found.points
        if index % 10 == 0:
            report(_LANDMARK_SHARE * index / n_frames, f"finding the face: frame {index + 1} of {n_frames}")
    missing = np.isnan(points[:, 0, 0])
    if missing.all():
        raise VideoError(
            f"no face found in {path.name} ({n_frames} frames looked at): the tracker needs one person "
            "facing the camera, the whole face in the picture"
        )
    heights = np.ptp(points[~missing, :, 1], axis=1)
    if np.median(heights) < MIN_FACE_PIXELS:
        raise VideoError(
            f"the face in {path.name} is only {np.median(heights):.0f} pixels tall ({info.width}x"
            f"{info.height} video); the tracker needs at least {MIN_FACE_PIXELS}: a sharper video, or "
            "the face larger in the picture"
        )
    stretch = choose_stretch(missing, info.fps, path.name)
    notes = list(stretch.notes)
    several = faces[stretch.start : stretch.stop] > 1
    if several.any():
        notes.append(f"{faces.max()} faces in {several.mean():.0%} of the frames: the largest one was tracked")
    kept = bridge(
        points[stretch.start : stretch.stop], tuple((a - stretch.start, b - stretch.start) for a, b in stretch.filled)
    )
    model = load_face_model()
    observed = model.points_of(camera_to_head_axes(kept.astype(np.float64)))
    report(_LANDMARK_SHARE, "fitting the face's shapes")
    fit = fit_face(
        model, observed, lambda f: report(_LANDMARK_SHARE + (0.98 - _LANDMARK_SHARE) * f, "fitting the face's shapes")
    )
    clip = clip_from_fit(fit.weights, model.shape_names, fit.rotations, info.fps)
    if out is not None:
        save_clip(clip, out)
    report(1.0, "done")
    return TrackedVideo(
        clip, stretch.start / info.fps, stretch.stop / info.fps, info.has_audio, tuple(notes), kept, fit.residual_cm
    )
