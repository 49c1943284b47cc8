"""Small scene and clip makers shared by the bpy tests."""

import os
import subprocess
import sys
import wave
from pathlib import Path

import bpy
import numpy as np

from adamesh_blender.clip_reader import MotionClip, read_clip
from adamesh_blender.rig_builders.demo_head import build_demo_head
from backend.clips.motion_clip import MotionClip as BackendClip
from backend.clips.motion_clip import save_clip

from .sound_strips import add_sound_strip

HEAD = "AdaMesh demo head"  # build_demo_head's default name


def add_speech_strip(folder: Path, frame_start: int, fps: int, fps_base: float = 1.0, seconds: float = 2.0):
    """Set the scene's frame rate and add a sound strip of silent speech at `frame_start`."""
    path = folder / "speech.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(bytes(2 * int(16000 * seconds)))
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = fps, fps_base
    return add_sound_strip(scene, "speech", str(path), channel=1, frame_start=frame_start)


def clip_file(folder: Path, name: str = "clip", **arrays) -> MotionClip:
    """Write a clip with the backend's writer (the real producer) and read it back with the add-on's reader."""
    path = folder / f"{name}.npz"
    save_clip(BackendClip(**arrays), path)
    return read_clip(path)


def at_frame(frame: int):
    """Go to `frame` and return the evaluated depsgraph."""
    bpy.context.scene.frame_set(frame)
    return bpy.context.evaluated_depsgraph_get()


def clip_at(values: np.ndarray, clip_fps: float, frame: int, frame_start: float, scene_rate: float) -> np.ndarray:
    """What a scene frame should show of per-row `values` [T, K]: linear between rows, at its own time."""
    row = (frame - frame_start) / scene_rate * clip_fps
    return np.array([np.interp(row, np.arange(len(values)), column) for column in np.asarray(values).T])


def run_bake(script: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """`python SCRIPT -- ARGS` as a user runs the batch-bake script with the bpy module."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}  # the script finds its own code
    return subprocess.run(
        [sys.executable, str(script), "--", *args],
        cwd=script.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def save_scene(path: Path) -> Path:
    """The demo head alone at 24 fps, saved."""
    bpy.context.scene.render.fps = 24
    build_demo_head()
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


def evaluated_points(obj) -> np.ndarray:
    """[V, 3] the object's evaluated vertices (shape keys and armature applied), in its own space."""
    evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = evaluated.to_mesh()
    try:
        points = np.empty(3 * len(mesh.vertices))
        mesh.vertices.foreach_get("co", points)
    finally:
        evaluated.to_mesh_clear()
    return points.reshape(-1, 3)
