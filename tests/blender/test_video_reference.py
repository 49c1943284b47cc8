"""Adapt Style from a video file, in the real bpy module through the real worker: the panel's third reference
source. The video is the ICT head rendered speaking 4 s of the demo reference with its sound (made here, in a
subprocess); the worker tracks it (MediaPipe, the optional extra) with progress and cancel, learns a style on the
tiny checkpoint, keeps the tracked motion beside the style, and Key Tracked Reference keys it onto a rig."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import bpy
import numpy as np
import pytest

from adamesh_blender import properties, session
from adamesh_blender.anim import compat
from adamesh_blender.operators.adapt import ADAMESH_OT_adapt
from adamesh_blender.rig_builders.demo_head import build_demo_head
from backend.clips import load_clip
from tests.backend.tracking.face_videos import speaking_video

from .reliability import ModalRun, addon, operator_refusal, scratch_files  # noqa: F401  (addon: a fixture)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("mediapipe") is None,
        reason="the face tracker is an optional extra: requirements/tracking.txt",
    ),
]


@pytest.fixture(scope="module")
def talking_video(tmp_path_factory) -> Path:
    video, _, _ = speaking_video(tmp_path_factory.mktemp("video") / "alice.mp4", seconds=4.0, size=(320, 240))
    return video


@pytest.fixture
def video_reference(addon, tiny_checkpoint, talking_video, tmp_path):
    """The add-on set to learn style `name` from the video, into a style library of its own."""
    addon.default_checkpoint = str(tiny_checkpoint)
    addon.style_library = str(tmp_path / "library")
    (tmp_path / "library").mkdir()
    settings = bpy.context.scene.adamesh
    settings.reference_source, settings.reference_video, settings.style_name = "VIDEO", str(talking_video), "alice"
    return tmp_path / "library"


def test_the_video_source_needs_a_video_file(addon):
    settings = bpy.context.scene.adamesh
    settings.reference_source = "VIDEO"
    assert "Choose the reference video" in operator_refusal(lambda: bpy.ops.adamesh.adapt())


def test_adapt_from_a_video_tracks_it_in_the_worker_and_keys_the_tracked_reference(video_reference):
    run = ModalRun(ADAMESH_OT_adapt)
    run.start()
    messages = []
    run.until(lambda: messages.append(run.job.message) or run.outcome is not None, timeout=600)
    assert run.outcome == {"FINISHED"}, run.reports
    tracking = [m for m in messages if m.startswith("tracking the face")]
    assert any("finding the face: frame" in m for m in tracking) and any("fitting" in m for m in tracking)
    assert {path.name for path in video_reference.iterdir()} == {"alice.safetensors", "alice.tracked.npz"}
    assert scratch_files() == []
    (info,) = run.messages("INFO")
    assert info.startswith("Style 'alice': ")
    settings = bpy.context.scene.adamesh
    assert properties.active_style(settings).name == "alice"

    tracked = load_clip(video_reference / "alice.tracked.npz")
    assert tracked.n_frames == 100 and tracked.fps == 25.0
    head = build_demo_head()
    bpy.context.view_layer.objects.active = head
    scene = bpy.context.scene
    scene.render.fps, scene.frame_start = 25, 10
    assert bpy.ops.adamesh.key_tracked_reference() == {"FINISHED"}
    key = head.data.shape_keys
    action = compat.current_action(key)
    assert action is not None and "alice tracked reference" in action.name
    # the keys are the tracked clip's, from the scene's start frame on
    smile = tracked.expression[:, tracked.expression_names.index("mouthSmileLeft")]
    keyed = []
    for row in (0, 40, 99):
        scene.frame_set(scene.frame_start + row)
        keyed.append(key.key_blocks["mouthSmileLeft"].value)
    np.testing.assert_allclose(keyed, smile[[0, 40, 99]], atol=1e-4)


def test_cancel_while_the_worker_tracks_the_video_writes_nothing(video_reference):
    run = ModalRun(ADAMESH_OT_adapt)
    run.start()
    run.until(lambda: "finding the face: frame" in run.job.message, timeout=120)
    bpy.ops.adamesh.cancel_job()
    assert run.finish(timeout=10) == {"CANCELLED"}
    assert run.messages("WARNING") == ["Adapting style: cancelled"]
    assert list(video_reference.iterdir()) == [] and scratch_files() == []
    assert session.running_worker().request("ping", timeout=10)["jobs"] == []


def test_key_tracked_reference_is_offered_only_for_a_style_learnt_from_a_video(video_reference):
    (video_reference / "plain.safetensors").write_bytes(b"")  # a style file, never tracked
    bpy.ops.adamesh.refresh_styles()
    bpy.context.view_layer.objects.active = build_demo_head()
    refusal = operator_refusal(lambda: bpy.ops.adamesh.key_tracked_reference())
    assert "Style 'plain' was not learnt from a video" in refusal
