"""The scene's frame rate as Blender stores it (fps_base is a 32-bit float) against the clip rates the backend
writes (NTSC rates exactly n * 1000 / 1001): every clip row must keep its own frame."""

import bpy
import pytest

from adamesh_blender.anim.timing import SceneTiming, sample_frames
from backend.audio.frames import canonical_fps

from .helpers import add_speech_strip


@pytest.mark.parametrize("fps, fps_base", [(30, 1.001), (24, 1.001), (60, 1.001), (24, 1.0), (25, 1.0)])
def test_a_clip_at_the_scenes_rate_keys_every_row_on_its_own_frame(tmp_path, fps, fps_base):
    strip = add_speech_strip(tmp_path, frame_start=37, fps=fps, fps_base=fps_base)
    assert bpy.context.scene.render.fps_base == pytest.approx(fps_base) and fps_base in (1.0, 1.001)
    timing = SceneTiming.of_strip(bpy.context.scene, strip)
    clip_fps = canonical_fps(timing.frame_rate)  # what the worker writes for the rate the add-on sends
    rows = 3600 * round(clip_fps)  # an hour: float error grows with the clip's length
    sampling = sample_frames(rows, clip_fps, timing)
    assert len(sampling) == rows and sampling.scene_frames[-1] == 37 + rows - 1
    assert abs(sampling.clip_rows - (sampling.scene_frames - 37)).max() < 1e-6
