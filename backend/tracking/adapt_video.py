"""Adapt Style from a video: track the face, then learn the style from the tracked motion and the video's sound."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from backend.adaptation.adapt_options import AdaptOptions
from backend.clips import save_clip
from backend.tracking.errors import VideoError
from backend.tracking.landmarks import load_face_mesh
from backend.tracking.track import track_video
from backend.tracking.video import probe_video

Progress = Callable[[float, str], None]
_TRACK_SHARE = 0.3  # of the progress bar


def check_video_reference(video: str | os.PathLike) -> None:
    """Fail before any long work when `video` cannot be a reference: the tracker is not installed
    (TrackerMissingError), the file is no video, or it has no sound (VideoError)."""
    load_face_mesh()
    if not probe_video(video).has_audio:
        raise VideoError(
            f"{Path(video).name} has no sound: Adapt Style learns how the face moves with the speech, "
            "so the reference video needs its sound track (tracking alone works without it)"
        )


def adapt_from_video(
    video: str | os.PathLike,
    out: str | os.PathLike | None,
    options: AdaptOptions = AdaptOptions(),
    checkpoint=None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    tracked_out: str | os.PathLike | None = None,
):
    """The style learnt from `video` (its face and its sound), as adapt_style with `options` (its audio range is the
    stretch the face was tracked over). The tracked motion is also written to `tracked_out` when given (once the
    style is written, so a failure leaves neither). Returns (style, tracked video): its notes say what the artist
    should know (a second face, the stretch kept)."""
    from backend.adaptation.adapt_style import adapt_style

    def tracking(fraction: float, message: str) -> None:
        if progress is not None:
            progress(_TRACK_SHARE * fraction, f"tracking the face: {message}")

    def adapting(fraction: float, message: str) -> None:
        if progress is not None:
            progress(_TRACK_SHARE + (1 - _TRACK_SHARE) * fraction, message)

    check_video_reference(video)
    if tracked_out is not None and not Path(tracked_out).parent.is_dir():
        raise VideoError(f"cannot write {tracked_out}: folder {Path(tracked_out).parent} does not exist")
    tracked = track_video(video, None, tracking, cancel)
    with tempfile.TemporaryDirectory(prefix="adamesh-video-") as folder:
        motion = Path(folder) / "tracked.npz"
        save_clip(tracked.clip, motion)
        options = dataclasses.replace(options, audio_start=tracked.start, audio_end=tracked.stop)
        style = adapt_style(video, motion, out, options, checkpoint, progress=adapting, cancel=cancel)
    if tracked_out is not None:
        save_clip(tracked.clip, tracked_out)
    return style, tracked
