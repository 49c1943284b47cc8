"""The README's batch-bake lines, run exactly as written (read from README.md, so they cannot drift) in a folder
laid out as they assume: the checkout's adamesh_blender/ and .venv (after `python build.py setup`; here the venv
of the Blender line under test), scene.blend with a mesh named Face, line1.wav, line2.wav and calm.safetensors."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import bpy
import pytest
import soundfile

from adamesh_blender.anim import compat
from backend.audio.frames import motion_frame_count

from .fcurves import action_fcurves, key_frames
from .helpers import HEAD, save_scene

ROOT = Path(__file__).resolve().parents[2]
FACE = "Face"


def readme_bake_lines() -> list[str]:
    """The commands of the sh block after "Batch bake" in README.md, continuation lines joined."""
    text = (ROOT / "README.md").read_text()
    block = text.split("\nBatch bake", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def program(line: str) -> str:
    return shlex.split(line, comments=True)[0]


def test_the_readme_shows_both_ways_to_bake():
    assert [program(line) for line in readme_bake_lines()] == ["blender", ".venv/bin/python"]


@pytest.fixture
def readme_folder(tmp_path, heldout_corpus, tiny_style) -> Path:
    (tmp_path / "adamesh_blender").symlink_to(ROOT / "adamesh_blender")
    (tmp_path / "bake.py").symlink_to(ROOT / "adamesh_blender" / "bake.py")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))  # the bpy of the line under test
    audio = sorted((heldout_corpus / "audio").iterdir())[:2]
    for number, path in enumerate(audio, 1):
        shutil.copy(path, tmp_path / f"line{number}.wav")
    shutil.copy(tiny_style, tmp_path / "calm.safetensors")
    save_scene(tmp_path / "scene.blend")
    bpy.data.objects[HEAD].name = FACE
    bpy.ops.wm.save_mainfile()
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize("line", readme_bake_lines(), ids=program)
def test_a_readme_bake_line_runs_as_written(readme_folder, line):
    if program(line) == "blender" and shutil.which("blender") is None:
        pytest.skip("no Blender application on PATH (the tests run the bpy module)")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run(line, shell=True, cwd=readme_folder, env=env, capture_output=True, text=True, timeout=300)
    if not compat.can_add_sound_strips():
        assert done.returncode == 1 and done.stderr.strip() == f"bake: error: {compat.NO_AUDIO_SUPPORT}"
        return
    assert done.returncode == 0, done.stderr[-3000:]
    out = readme_folder / ("baked.blend" if "--out baked.blend" in line else "scene.blend")
    assert f"bake: saved {out}" in done.stdout
    bpy.ops.wm.open_mainfile(filepath=str(out))
    face = bpy.data.objects[FACE]
    key = face.data.shape_keys
    scene = bpy.context.scene
    for number, strip in enumerate(compat.sound_strips(scene), 1):
        label = f"line{number}" + (" [calm]" if "--style" in line else "")
        assert strip.name == label
        rows = motion_frame_count(soundfile.info(readme_folder / f"line{number}.wav").duration, scene.render.fps)
        curves = action_fcurves(bpy.data.actions[f"AdaMesh {label} (shape keys)"])
        assert len(curves) == len(key.key_blocks) - 1
        assert all(len(key_frames(fcurve)) == rows for fcurve in curves)
        assert f"AdaMesh {label} (pose)" in bpy.data.actions
    assert len(compat.sound_strips(scene)) == line.count("--audio")
