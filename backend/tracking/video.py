"""Decode a video's frames onto a constant frame-rate timeline, upright, at a size the landmark model likes.

PyAV (FFmpeg) reads any container the product meets (mp4, mov, mkv, webm, avi). Phones store portrait video as
landscape pixels plus a display rotation; each frame is turned as the display matrix says, so the face is upright
whatever the phone did. Phones also record at a variable frame rate: frame i of the output is the picture shown
at the instant i/fps (the last decoded frame whose timestamp is not after it), which is what a viewer sees.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from backend.tracking.errors import VideoError

# The landmark model works on a 192x192 crop of the face; decoding bigger frames costs time and buys nothing.
MAX_SIDE = 640
# Below this the face detector cannot find a face at a usable size (its input is 128x128 for the whole frame).
MIN_SIDE = 96
DEFAULT_FPS = 25.0  # the models' rate; a video's own rate is used when it is lower
_MAX_FPS = 30.0  # above this, frames cost tracking time and motion gains nothing the models use


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int  # upright, as displayed (after the display rotation), before downscaling
    height: int
    rotation: int  # degrees the frames were turned to be upright (0, 90, 180, 270)
    source_fps: float  # average frame rate of the stream
    duration: float  # seconds
    has_audio: bool

    @property
    def n_frames(self) -> int:
        return frame_count(self.duration, self.fps)

    @property
    def fps(self) -> float:
        """The constant rate the frames are resampled to."""
        return min(self.source_fps, _MAX_FPS) if self.source_fps > 0 else DEFAULT_FPS


def frame_count(duration: float, fps: float) -> int:
    return int(math.floor(duration * fps + 1e-6))


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """What `path` holds, without decoding it; VideoError for a missing, unreadable or picture-less file."""
    path = Path(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        has_audio = any(s.type == "audio" for s in container.streams)
        rotation, width, height = 0, stream.codec_context.width, stream.codec_context.height
        for frame in container.decode(stream):  # the display matrix rides on the frames
            rotation = _upright_turn(frame)
            width, height = frame.width, frame.height
            break
        if rotation % 180:
            width, height = height, width
        rate = stream.average_rate or stream.guessed_rate
        duration = _duration(container, stream)
    return VideoInfo(path, width, height, rotation, float(rate) if rate else 0.0, duration, has_audio)


def read_frames(info: VideoInfo, max_side: int = MAX_SIDE) -> Iterator[tuple[int, np.ndarray]]:
    """(output frame index, RGB uint8 [H, W, 3]) upright, at info.fps; the same picture may come several times."""
    scale = min(1.0, max_side / max(info.width, info.height))
    out_w, out_h = _even(info.width * scale), _even(info.height * scale)
    n_out = info.n_frames
    index = 0
    held: np.ndarray | None = None
    with _open(info.path) as container:
        stream = _video_stream(container, info.path)
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            # every output instant before this frame's time shows the picture held so far
            while index < n_out and index / info.fps < frame.time - 1e-6 and held is not None:
                yield index, held
                index += 1
            if index >= n_out:
                return
            held = _upright(frame, out_w, out_h, info.rotation)
        while held is not None and index < n_out:
            yield index, held
            index += 1


def _upright(frame: av.VideoFrame, width: int, height: int, rotation: int) -> np.ndarray:
    stored_w, stored_h = (height, width) if rotation % 180 else (width, height)
    picture = frame.to_ndarray(format="rgb24", width=stored_w, height=stored_h)
    return np.ascontiguousarray(np.rot90(picture, k=rotation // 90)) if rotation else picture


def _upright_turn(frame: av.VideoFrame) -> int:
    """Quarter turns (counter-clockwise, degrees) that make the stored picture display upright."""
    try:
        angle = int(round(frame.rotation or 0))
    except (AttributeError, TypeError, ValueError):
        return 0
    return (int(round(angle / 90.0)) * 90) % 360


def _even(value: float) -> int:
    return max(2, int(round(value / 2.0)) * 2)


def _duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    if stream.frames and stream.average_rate:
        return float(Fraction(stream.frames) / stream.average_rate)
    return 0.0


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise VideoError(f"video {path} does not exist")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise VideoError(f"cannot read {path.name} as a video ({error})") from None


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise VideoError(f"{path.name} holds no picture (no video track): give a video of the person talking")
    return container.streams.video[0]
