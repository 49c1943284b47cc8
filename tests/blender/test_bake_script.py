"""The batch-bake script as a user runs it: `python adamesh_blender/bake.py -- --blend scene.blend ...` with the bpy
module, through the real worker and a tiny trained checkpoint; the saved file is opened and read back."""

from __future__ import annotations

import sys
from pathlib import Path

import bpy
import numpy as np
import pytest
import soundfile

from adamesh_blender.anim import compat
from backend.audio.frames import motion_frame_count

from .fcurves import action_fcurves, key_frames
from .helpers import HEAD, run_bake, save_scene

pytestmark = pytest.mark.slow  # batch bakes through the real worker

ROOT = Path(__file__).resolve().parents[2]
BAKE = ROOT / "adamesh_blender" / "bake.py"


def utterances(heldout_corpus: Path, count: int) -> list[Path]:
    return sorted((heldout_corpus / "audio").iterdir())[:count]


# The bake adds a sound strip per file; where this Blender cannot, it refuses (test_versions.py checks how).
needs_sound_strips = pytest.mark.skipif(not compat.can_add_sound_strips(), reason=compat.NO_AUDIO_SUPPORT)


@needs_sound_strips
def test_many_sound_files_are_keyed_each_on_its_own_strip_and_saved(
    tmp_path, tiny_checkpoint, tiny_style, heldout_corpus
):
    scene_file = save_scene(tmp_path / "scene.blend")
    original = scene_file.read_bytes()
    audio = utterances(heldout_corpus, 2)
    out = tmp_path / "baked.blend"
    done = run_bake(
        BAKE,
        "--blend",
        str(scene_file),
        "--object",
        HEAD,
        "--audio",
        str(audio[0]),
        "--audio",
        str(audio[1]),
        "--style",
        str(tiny_style),
        "--out",
        str(out),
        "--frame-start",
        "37",
        "--checkpoint",
        str(tiny_checkpoint),
        "--backend-python",
        sys.executable,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"bake: saved {out}" in done.stdout
    assert scene_file.read_bytes() == original  # --out leaves the scene it read alone

    bpy.ops.wm.open_mainfile(filepath=str(out))
    strips = compat.sound_strips(bpy.context.scene)
    assert [strip.name for strip in strips] == [f"{path.stem} [calm]" for path in audio]  # sound [style]
    assert strips[0].frame_start == 37 and strips[1].frame_start == strips[0].frame_final_end  # one after another
    key = bpy.data.objects[HEAD].data.shape_keys
    for strip, path in zip(strips, audio):
        action = bpy.data.actions[f"AdaMesh {strip.name} (shape keys)"]
        frames = [key_frames(fcurve) for fcurve in action_fcurves(action)]
        assert len(frames) == len(key.key_blocks) - 1  # every shape key but the basis
        rows = motion_frame_count(soundfile.info(path).duration, 24)
        assert all(np.array_equal(f, np.arange(strip.frame_start, strip.frame_start + rows)) for f in frames)
        assert f"AdaMesh {strip.name} (pose)" in bpy.data.actions
    # the last pair plays; the first pair's Actions are kept for the artist to pick
    assert key.animation_data.action.name == f"AdaMesh {strips[1].name} (shape keys)"
    assert bpy.data.actions[f"AdaMesh {strips[0].name} (shape keys)"].use_fake_user
    assert bpy.data.actions[f"AdaMesh {strips[0].name} (pose)"].use_fake_user


@needs_sound_strips
@pytest.mark.parametrize(
    "case, message",
    [
        ("missing object", "has no object 'Nobody'; meshes with shape keys: AdaMesh demo head"),
        ("missing sound file", "sound file {tmp}/missing.wav does not exist"),
        ("missing style file", "style file {tmp}/calm.safetensors does not exist"),
        ("worker error on the second file", "[2/2] notes: Cannot read '{tmp}/notes.wav'"),
    ],
)
def test_a_failure_exits_non_zero_with_one_message_and_saves_nothing(
    tmp_path, tiny_checkpoint, heldout_corpus, case, message
):
    scene_file = save_scene(tmp_path / "scene.blend")
    original = scene_file.read_bytes()
    (tmp_path / "notes.wav").write_text("meeting notes, not sound")
    speech = str(utterances(heldout_corpus, 1)[0])
    args = {
        "missing object": ["--object", "Nobody", "--audio", speech],
        "missing sound file": ["--object", HEAD, "--audio", speech, "--audio", str(tmp_path / "missing.wav")],
        "missing style file": ["--object", HEAD, "--audio", speech, "--style", str(tmp_path / "calm.safetensors")],
        # the first file is keyed, then the worker cannot decode the second: the file on disk must stay as it was
        "worker error on the second file": [
            "--object",
            HEAD,
            "--audio",
            speech,
            "--audio",
            str(tmp_path / "notes.wav"),
        ],
    }[case]
    done = run_bake(
        BAKE,
        "--blend",
        str(scene_file),
        *args,
        "--checkpoint",
        str(tiny_checkpoint),
        "--backend-python",
        sys.executable,
    )  # no --out: a success would save over scene.blend
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("bake: error: ")]
    assert len(errors) == 1 and message.format(tmp=tmp_path) in errors[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "bake: saved" not in done.stdout and scene_file.read_bytes() == original
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.wav", "scene.blend"]


def test_bad_arguments_exit_with_usage(tmp_path):
    done = run_bake(BAKE, "--blend", str(tmp_path / "scene.blend"), "--audio", "a.wav")
    assert done.returncode == 2 and "the following arguments are required: --object" in done.stderr
