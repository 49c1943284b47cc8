"""Videos of the ICT head for the tracker's tests: frames rendered in bpy (scripts/render_ict_face.py, a subprocess)
from known motion, encoded with PyAV (FFmpeg's encoders), with sound when given."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from backend.audio.decode import load_audio
from backend.clips import MotionClip, load_clip
from backend.core.channels import CHANNELS
from backend.tracking.ict_channels import JAW_OPEN_RADIANS, JAW_SHAPE, ict_names_of
from backend.tracking.ict_face import load_ict_face

ROOT = Path(__file__).resolve().parents[3]


def ict_weights(clip: MotionClip) -> np.ndarray:
    """[T, 53] ICT shape weights that show a clip in the starter's channels (jaw rotation -> jawOpen)."""
    names = load_ict_face().expression_names
    weights = np.zeros((clip.n_frames, len(names)), dtype=np.float32)
    for column, channel in enumerate(clip.expression_names):
        for name in ict_names_of(channel):
            weights[:, names.index(name)] = clip.expression[:, column]
    weights[:, names.index(JAW_SHAPE)] = clip.jaw[:, 0] / JAW_OPEN_RADIANS
    return np.clip(weights, 0.0, 1.0)


def render_frames(
    weights: np.ndarray,
    head: np.ndarray,
    size=(640, 480),
    offset: np.ndarray | None = None,
    second_head: bool = False,
    identity: tuple[int, float] | None = None,
) -> list[np.ndarray]:
    """RGB frames of the ICT head with these shape weights [T, 53] and head rotations [T, 3] (clip axes);
    `identity` (K, W) mixes in the FaceKit's identity mode K at weight W (another face)."""
    with tempfile.TemporaryDirectory(prefix="adamesh-face-") as folder:
        spec = Path(folder) / "spec.npz"
        arrays = {"weights": weights.astype(np.float32), "head": head.astype(np.float32), "size": np.array(size)}
        if offset is not None:
            arrays["offset"] = offset.astype(np.float32)
        if second_head:
            arrays["second_head"] = np.array(1)
        if identity is not None:
            arrays["identity"] = np.array(identity, dtype=np.float32)
        np.savez(spec, **arrays)
        result = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "render_ict_face.py"), str(spec), folder],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"rendering failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        return [np.array(Image.open(Path(folder) / f"{i:05d}.png").convert("RGB")) for i in range(len(weights))]


def write_video(
    path: Path,
    frames: list[np.ndarray],
    fps: float = 25.0,
    sound: np.ndarray | None = None,
    sound_rate: int = 16000,
    rotation: int = 0,
    times: np.ndarray | None = None,
) -> Path:
    """H.264 (+ AAC) in mp4/mov/mkv by suffix. rotation: the display rotation stored (the frames are stored turned
    the other way, as a phone does); times: per-frame timestamps (s) for a variable frame rate."""
    with av.open(str(path), "w") as container:
        rate = Fraction(fps).limit_denominator(1001)
        stream = container.add_stream("libx264", rate=rate)
        stored = [np.ascontiguousarray(np.rot90(frame, k=-rotation // 90)) for frame in frames]
        stream.height, stream.width = stored[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.options = {"preset": "ultrafast", "crf": "18"}
        if times is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        audio = None
        if sound is not None:
            audio = container.add_stream("aac", rate=sound_rate)
            audio.layout = "mono"
        for index, picture in enumerate(stored):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            if times is not None:
                frame.pts, frame.time_base = int(round(times[index] * 1000)), Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if audio is not None:
            samples = np.asarray(sound, dtype=np.float32)
            step = 1024
            for start in range(0, len(samples), step):
                chunk = av.AudioFrame.from_ndarray(samples[None, start : start + step], format="fltp", layout="mono")
                chunk.sample_rate = sound_rate
                chunk.pts = start
                for packet in audio.encode(chunk):
                    container.mux(packet)
            for packet in audio.encode():
                container.mux(packet)
    return path


def still_clip(seconds: float, fps: float = 25.0) -> MotionClip:
    """A face at rest with a gentle mouth movement (so that a tracker has something to follow)."""
    n = int(seconds * fps)
    t = np.arange(n) / fps
    jaw = np.zeros((n, 3), np.float32)
    jaw[:, 0] = 0.08 * (1 + np.sin(2 * np.pi * 1.5 * t))
    return MotionClip(fps, np.zeros((n, len(CHANNELS)), np.float32), CHANNELS, jaw, np.zeros((n, 3), np.float32))


DEMO_REFERENCE = ROOT / "assets" / "demo" / "reference.npz"  # with its speech, reference.flac


def speaking_video(
    path: Path,
    seconds: float | None = None,
    size=(640, 480),
    turn_deg: float = 0.0,
    sound_rate: int = 16000,
    identity: tuple[int, float] | None = None,
) -> tuple[Path, MotionClip, np.ndarray]:
    """The ICT head speaking the demo reference (its first `seconds`; None: all 10.7 s) with its sound, the head
    turned `turn_deg` to the subject's left and then to the right (one sine over the clip); `identity` (K, W): another
    face, the FaceKit's identity mode K at weight W. Returns (video,
    the truth clip, the head rotations rendered [T, 3])."""
    truth = load_clip(DEMO_REFERENCE)
    if seconds is not None:
        n = int(round(seconds * truth.fps))
        truth = MotionClip(truth.fps, truth.expression[:n], truth.expression_names, truth.jaw[:n], truth.head[:n])
    times = np.arange(truth.n_frames) / truth.fps
    head = truth.head.copy()
    head[:, 1] += np.radians(turn_deg) * np.sin(2 * np.pi * times / truth.duration)
    sound = load_audio(DEMO_REFERENCE.with_suffix(".flac"))[: int(truth.duration * sound_rate)]
    frames = render_frames(ict_weights(truth), head, size=size, identity=identity)
    return write_video(path, frames, truth.fps, sound, sound_rate), truth, head
