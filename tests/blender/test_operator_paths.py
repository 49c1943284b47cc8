"""The operators' own steps around the worker, on real rigs and clips written by the backend's writer:
what Generate does with the clip the worker returns, and the reference Adapt Style sends from a rig's animation."""

import bpy
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adamesh_blender.anim.keyframes import bake_clip
from adamesh_blender.anim.rigs import describe_rig, map_rig
from adamesh_blender.anim.timing import SceneTiming
from adamesh_blender.clip_reader import read_clip
from adamesh_blender.errors import AddonError
from adamesh_blender.generation import bake_generated_clip
from adamesh_blender.reference import reference_channels, sample_rig_animation, write_clip
from adamesh_blender.rig_builders.demo_head import CHANNELS, build_demo_head
from adamesh_blender.sound_timing import file_seconds_at, strip_timing
from backend.clips.motion_clip import load_clip

from .helpers import add_speech_strip, clip_file

CLIP_FPS = 25.0
N_ROWS = 51


def _clip(folder):
    rng = np.random.default_rng(3)
    t = np.arange(N_ROWS) / CLIP_FPS
    jaw = np.stack([0.15 * (1 - np.cos(5 * t)), 0.02 * np.sin(3 * t), 0.01 * np.cos(4 * t)], axis=1)
    head = np.stack([0.1 * np.sin(2 * t), 0.05 * np.cos(3 * t), 0.03 * np.sin(t)], axis=1)
    return clip_file(
        folder,
        fps=CLIP_FPS,
        expression=rng.uniform(0, 1, (N_ROWS, len(CHANNELS))).astype(np.float32),
        expression_names=CHANNELS,
        jaw=jaw.astype(np.float32),
        head=head.astype(np.float32),
    )


def test_the_returned_clip_is_keyed_where_the_strip_plays_its_sound(tmp_path):
    clip = _clip(tmp_path)
    strip = add_speech_strip(tmp_path, frame_start=37, fps=24)
    if "sound_offset" not in strip.bl_rna.properties:
        pytest.skip(f"Blender {bpy.app.version_string} strips have no sound_offset (4.3+): they play from second 0")
    strip.sound_offset = 0.5  # the strip starts half a second into its file
    head = build_demo_head()
    scene = bpy.context.scene
    report = bake_generated_clip(scene, head.name, strip.name, str(clip.path), custom=None)
    assert report.first_frame == 37 - 12  # second 0 of the file plays 12 frames before the strip's start
    assert report.last_frame == 25 + 48
    assert file_seconds_at(scene, strip, 37) == pytest.approx(0.5)
    scene.frame_set(61)  # file second 1.5: clip row 37.5
    expected = (clip.expression[37, 5] + clip.expression[38, 5]) / 2
    assert head.data.shape_keys.key_blocks[CHANNELS[5]].value == pytest.approx(expected, abs=1e-5)


def test_a_rig_deleted_while_generating_is_named(tmp_path):
    clip = _clip(tmp_path)
    strip = add_speech_strip(tmp_path, frame_start=1, fps=25)
    with pytest.raises(AddonError, match="'Gone' was deleted or renamed"):
        bake_generated_clip(bpy.context.scene, "Gone", strip.name, str(clip.path), custom=None)


def test_a_rigs_animation_becomes_the_reference_clip_it_came_from(tmp_path):
    """Key a clip onto the demo head at the clip's own rate, sample it back as a reference: the same motion."""
    clip = _clip(tmp_path)
    strip = add_speech_strip(tmp_path, frame_start=10, fps=25)
    head = build_demo_head()
    scene = bpy.context.scene
    rig = describe_rig(head)
    assert reference_channels(rig) == CHANNELS
    mapping = map_rig(rig, CHANNELS)
    bake_clip(clip, head, mapping, SceneTiming.of_strip(scene, strip), "reference")
    frames = range(10, 10 + N_ROWS)
    arrays = sample_rig_animation(scene, head, head.parent, mapping, frames)
    assert scene.frame_current == 1  # put back
    path = write_clip(arrays, tmp_path / "reference.npz")
    reference = read_clip(path)  # the add-on's reader accepts what the add-on wrote
    assert load_clip(path).n_frames == N_ROWS  # and so does the backend's, which adapt will use
    assert reference.fps == 25.0 and reference.expression_names == CHANNELS
    np.testing.assert_allclose(reference.expression, clip.expression, atol=1e-5)
    for source in ("jaw", "head"):
        error = Rotation.from_rotvec(getattr(reference, source)) * Rotation.from_rotvec(getattr(clip, source)).inv()
        assert error.magnitude().max() < 1e-5, source
    assert strip_timing(scene, strip).frame_start == 10
