"""Media files written by PyAV (FFmpeg's real encoders and muxers) for the tests: any codec, rate and channel count,
with an optional video track."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}


def write_media(
    path: Path,
    channels: np.ndarray,
    rate: int,
    codec: str,
    *,
    video: bool = False,
    codec_options: dict[str, str] | None = None,
) -> Path:
    """Encode `channels` ([C, S] floats in [-1, 1]) as the file's audio track; `video` adds a small video track."""
    channels = np.atleast_2d(np.asarray(channels, dtype=np.float64))
    layout = LAYOUTS[len(channels)]
    with av.open(str(path), "w") as container:
        if video:
            picture = container.add_stream("mpeg4", rate=25)
            picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream(codec, rate=rate)
        sound.layout = layout
        if codec_options:
            sound.codec_context.options = codec_options
        sample_format = av.AudioFormat(sound.codec_context.format.name)
        frame_size = sound.codec_context.frame_size or 1024
        for start in range(0, channels.shape[1], frame_size):
            chunk = channels[:, start : start + frame_size]
            data = _as_sample_format(chunk, sample_format)
            frame = av.AudioFrame.from_ndarray(data, format=sample_format.name, layout=layout)
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            for packet in sound.encode(frame):
                container.mux(packet)
        for packet in sound.encode(None):
            container.mux(packet)
        if video:
            for index in range(math.ceil(channels.shape[1] / rate * 25)):
                image = np.full((48, 64, 3), index * 9 % 256, dtype=np.uint8)
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts = index
                for packet in picture.encode(frame):
                    container.mux(packet)
            for packet in picture.encode(None):
                container.mux(packet)
    return path


def _as_sample_format(chunk: np.ndarray, sample_format: av.AudioFormat) -> np.ndarray:
    data = chunk if sample_format.is_planar else chunk.T.reshape(1, -1)
    kind = sample_format.name.rstrip("p")
    if kind == "s16":
        return np.clip(np.round(data * 32767), -32768, 32767).astype(np.int16)
    if kind == "s32":
        return np.round(data * (2**31 - 1)).astype(np.int32)
    return np.ascontiguousarray(data, dtype=np.float64 if kind == "dbl" else np.float32)


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.5, onset: float = 0.0) -> np.ndarray:
    """A cosine starting sharply at `onset` seconds (silence before)."""
    n = np.arange(round(seconds * rate))
    start = math.ceil(onset * rate)
    return np.where(n >= start, amplitude * np.cos(2 * np.pi * freq * (n - start) / rate), 0.0)


def write_silent_video(path: Path, frames: int = 5) -> Path:
    """A small MPEG-4 video with no audio track."""
    with av.open(str(path), "w") as container:
        picture = container.add_stream("mpeg4", rate=25)
        picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), dtype=np.uint8), format="rgb24")
            frame.pts = index
            for packet in picture.encode(frame):
                container.mux(packet)
        for packet in picture.encode(None):
            container.mux(packet)
    return path
