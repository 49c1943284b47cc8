"""What must hold on every Blender line the suite runs (build.py BLENDER_LINES): a generated take survives saving
and reopening, the add-on leaves a clean exit behind, and a Blender without audio support is refused clearly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest

from adamesh_blender.anim import compat
from adamesh_blender.operators.generate import ADAMESH_OT_generate
from adamesh_blender.rig_builders.demo_head import build_demo_head
from backend.audio.frames import motion_frame_count

from .fcurves import assigned_fcurves, key_frames
from .helpers import HEAD, run_bake, save_scene
from .reliability import ModalRun, addon, animation_state  # noqa: F401  (addon: a fixture)
from .sound_strips import add_sound_strip

ROOT = Path(__file__).resolve().parents[2]
FRAME_START = 10


@pytest.mark.slow
def test_a_generated_take_is_the_same_after_saving_and_reopening(addon, tiny_checkpoint, heldout_speech, tmp_path):
    addon.default_checkpoint = str(tiny_checkpoint)
    scene = bpy.context.scene
    scene.render.fps = 24
    head = build_demo_head()
    bpy.context.view_layer.objects.active = head
    audio, seconds = heldout_speech
    add_sound_strip(scene, "speech", str(audio), channel=1, frame_start=FRAME_START)
    run = ModalRun(ADAMESH_OT_generate)
    run.start()
    assert run.finish(timeout=120) == {"FINISHED"}, run.reports
    keyed = animation_state()
    path = tmp_path / "baked.blend"
    assert bpy.ops.wm.save_as_mainfile(filepath=str(path)) == {"FINISHED"}
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(path))

    assert animation_state() == keyed  # every Action, key, flag and assignment as it was saved
    head = bpy.data.objects[HEAD]
    rows = motion_frame_count(seconds, 24)
    frames = np.arange(FRAME_START, FRAME_START + rows)
    key = head.data.shape_keys
    shape_curves = assigned_fcurves(key)
    assert len(shape_curves) == len(key.key_blocks) - 1  # one curve per shape key but the basis
    assert all(np.array_equal(key_frames(fcurve), frames) for fcurve in shape_curves)
    bone_curves = {(fcurve.data_path, fcurve.array_index): fcurve for fcurve in assigned_fcurves(head.parent)}
    for bone in ("jaw", "neck"):  # the demo head's bones turn in quaternions
        for index in range(4):
            assert np.array_equal(key_frames(bone_curves[(f'pose.bones["{bone}"].rotation_quaternion', index)]), frames)
    # the reopened file plays its curves: shape key values at a frame between keys are the curves' values there
    middle = FRAME_START + rows // 2 + 0.5
    bpy.context.scene.frame_set(int(middle), subframe=0.5)
    for fcurve in shape_curves:
        name = fcurve.data_path.split('"')[1]
        assert key.key_blocks[name].value == pytest.approx(fcurve.evaluate(middle), abs=1e-5)
    assert any(fcurve.evaluate(middle) != 0.0 for fcurve in shape_curves)  # a real take, not silence


ENABLE_AND_QUIT = """
import bpy, addon_utils
bpy.ops.wm.read_factory_settings(use_empty=True)
addon_utils.enable("adamesh_blender", default_set=True)
bpy.ops.wm.read_factory_settings(use_empty=True)
addon_utils.disable("adamesh_blender", default_set=True)
"""


def test_enabling_and_disabling_the_addon_then_quitting_exits_cleanly():
    """A PropertyGroup with a Python method crashed bpy 4.2 at exit (status 139); see properties.py."""
    done = subprocess.run(
        [sys.executable, "-c", ENABLE_AND_QUIT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.skipif(compat.can_add_sound_strips(), reason="this Blender has audio support")
def test_without_audio_support_the_bake_refuses_before_opening_the_scene(tmp_path, heldout_speech):
    scene_file = save_scene(tmp_path / "scene.blend")
    original = scene_file.read_bytes()
    done = run_bake(
        ROOT / "adamesh_blender" / "bake.py",
        "--blend",
        str(scene_file),
        "--object",
        HEAD,
        "--audio",
        str(heldout_speech[0]),
        "--backend-python",
        sys.executable,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"bake: error: {compat.NO_AUDIO_SUPPORT}"
    assert scene_file.read_bytes() == original and sorted(tmp_path.iterdir()) == [scene_file]


@pytest.mark.skipif(compat.can_add_sound_strips(), reason="this Blender has audio support")
def test_without_audio_support_import_audio_refuses_and_adds_nothing(addon, tmp_path, heldout_speech):
    with pytest.raises(RuntimeError, match="built without audio support"):
        bpy.ops.adamesh.import_audio(filepath=str(heldout_speech[0]))
    assert compat.sound_strips(bpy.context.scene) == [] and len(bpy.data.sounds) == 0
