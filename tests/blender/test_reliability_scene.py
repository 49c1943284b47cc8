"""Bad scenes for Generate Animation, in the real bpy module with the add-on enabled: each is refused with a
sentence that says what to do, and leaves every Action and key as it was. Then the scene changes Generate must
follow: frame rates of 23.976 and 120 fps, a muted strip, a strip moved after (or while) generating."""

from __future__ import annotations

import hashlib

import bpy
import numpy as np
import pytest

from adamesh_blender.generation import bake_generated_clip, out_of_sync_reason
from adamesh_blender.operators.generate import ADAMESH_OT_generate
from adamesh_blender.rig_builders.demo_head import CHANNELS, build_demo_head
from adamesh_blender.ui.panels import VIEW3D_PT_adamesh_generate
from backend.audio.frames import motion_frame_count
from backend.clips import load_clip

from .fcurves import assigned_fcurves, key_frames
from .helpers import add_speech_strip, clip_file
from .reliability import (
    ModalRun,
    add_earlier_animation,
    addon,  # noqa: F401  (a fixture)
    animation_state,
    operator_refusal,
    scratch_files,
)
from .rna_layout import draw_panel
from .sound_strips import add_sound_strip

pytestmark = pytest.mark.slow  # generation through the real worker at many frame rates


def generate():
    return bpy.ops.adamesh.generate()


@pytest.fixture
def head(addon):
    """The demo head, selected, with the artist's earlier Actions on its shape keys and armature."""
    head = build_demo_head()
    add_earlier_animation(head)
    bpy.context.view_layer.objects.active = head
    return head


def test_each_unusable_selection_is_refused_with_what_to_do(head, tmp_path):
    scene, view_layer = bpy.context.scene, bpy.context.view_layer
    add_speech_strip(tmp_path, frame_start=1, fps=24)
    before = animation_state()
    refusals = {}
    view_layer.objects.active = None
    refusals["nothing selected"] = operator_refusal(generate)
    view_layer.objects.active = head.parent
    refusals["armature"] = operator_refusal(generate)
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(camera)
    view_layer.objects.active = camera
    refusals["camera"] = operator_refusal(generate)
    plain = bpy.data.objects.new("Plain", bpy.data.meshes.new("Plain"))
    scene.collection.objects.link(plain)
    view_layer.objects.active = plain
    refusals["no shape keys"] = operator_refusal(generate)
    plain.shape_key_add(name="Basis")
    plain.shape_key_add(name="smile")
    refusals["unrecognised rig"] = operator_refusal(generate)
    view_layer.objects.active = head
    head.parent.data.bones["jaw"].name = "chin"  # a rig that lost the bone its kind needs
    refusals["missing bone"] = operator_refusal(generate)
    head.parent.data.bones["chin"].name = "jaw"
    head.modifiers.clear()
    head.parent = None  # no armature at all
    refusals["no armature"] = operator_refusal(generate)

    assert "Select the face mesh" in refusals["nothing selected"]
    assert "'AdaMesh demo head rig' is an armature: select the face mesh instead" in refusals["armature"]
    assert "'Camera' is a camera: select the face mesh instead" in refusals["camera"]
    assert "'Plain' has no shape keys" in refusals["no shape keys"]
    assert (
        "'Plain' is not a FLAME, ARKit-52 or AdaMesh demo-head rig; choose a custom mapping"
        in refusals["unrecognised rig"]
    )
    assert "lacks bone jaw, which a DEMO_HEAD rig needs" in refusals["missing bone"]
    assert "is not deformed by an armature" in refusals["no armature"]
    assert animation_state() == before
    assert scratch_files() == []


def test_sound_strip_problems_are_refused(head, tmp_path):
    before = animation_state()
    no_strip = operator_refusal(generate)
    strip = add_speech_strip(tmp_path, frame_start=1, fps=24)
    bpy.context.scene.adamesh.sound_strip = "elsewhere"
    gone = operator_refusal(generate)
    bpy.context.scene.adamesh.sound_strip = strip.name
    (tmp_path / "speech.wav").unlink()
    missing_file = operator_refusal(generate)
    assert "The scene has no sound strip: press Import Audio" in no_strip
    assert "There is no sound strip 'elsewhere' any more: choose another" in gone
    assert "the sound file of strip 'speech' is missing" in missing_file
    assert animation_state() == before
    assert scratch_files() == []


def test_a_missing_backend_python_is_named_before_anything_runs(head, addon, tmp_path):
    add_speech_strip(tmp_path, frame_start=1, fps=24)
    missing = tmp_path / "gone-venv" / "bin" / "python"
    addon.backend_python = str(missing)
    refusal = operator_refusal(generate)
    assert f"Backend Python {missing} does not exist" in refusal and "press Install Backend" in refusal


def test_a_linked_rig_is_refused_and_neither_file_changes(addon, tmp_path):
    """A rig linked from a library: keys on it would not be saved (only the link is), so Generate refuses."""
    library = tmp_path / "characters.blend"
    head = build_demo_head()
    add_earlier_animation(head)
    bpy.data.libraries.write(str(library), {head, head.parent}, fake_user=True)
    library_bytes = hashlib.sha256(library.read_bytes()).hexdigest()
    bpy.ops.wm.read_homefile(use_empty=True)
    with bpy.data.libraries.load(str(library), link=True) as (source, linked):
        linked.objects = list(source.objects)
    for obj in linked.objects:
        bpy.context.scene.collection.objects.link(obj)
    mesh = next(obj for obj in linked.objects if obj.type == "MESH")
    bpy.context.view_layer.objects.active = mesh
    add_speech_strip(tmp_path, frame_start=1, fps=24)
    before = animation_state()
    refusal = operator_refusal(generate)
    assert f"'{mesh.name}' is linked from {library}" in refusal and "Make Local" in refusal
    assert animation_state() == before
    assert hashlib.sha256(library.read_bytes()).hexdigest() == library_bytes


def _clip(folder, rows: int = 50):
    rng = np.random.default_rng(5)
    return clip_file(
        folder,
        fps=24.0,
        expression=rng.uniform(0, 1, (rows, len(CHANNELS))).astype(np.float32),
        expression_names=CHANNELS,
        jaw=np.zeros((rows, 3), np.float32),
        head=np.zeros((rows, 3), np.float32),
    )


def test_a_strip_moved_after_generating_is_flagged_and_generating_again_follows_it(head, tmp_path):
    """Policy: keys stay where they were written (the artist may have edited them); the panel says the strip moved
    and by how much, and Generate again keys from where the strip is now."""
    clip = _clip(tmp_path)
    strip = add_speech_strip(tmp_path, frame_start=37, fps=24)
    scene = bpy.context.scene
    bake_generated_clip(scene, head.name, strip.name, str(clip.path), custom=None)
    assert out_of_sync_reason(scene, head) is None
    strip.frame_start = 50
    reason = out_of_sync_reason(scene, head)
    assert reason == (
        "Sound strip 'speech' moved by +13 frames since 'AdaMesh speech (shape keys)' was generated: "
        "press Generate Animation again to follow it"
    )
    _, drawn = draw_panel(VIEW3D_PT_adamesh_generate, bpy.context)
    assert f"label: {reason}" in drawn
    bake_generated_clip(scene, head.name, strip.name, str(clip.path), custom=None)  # what Generate again keys
    assert out_of_sync_reason(scene, head) is None
    assert min(key_frames(fcurve)[0] for fcurve in assigned_fcurves(head.data.shape_keys)) == 50
    scene.render.fps = 30
    assert "generated at 24 fps; the scene now runs at 30" in out_of_sync_reason(scene, head)


@pytest.mark.parametrize("fps, fps_base", [(24, 1.001), (120, 1.0)], ids=["23.976", "120"])
def test_generate_keys_one_frame_each_at_unusual_rates(head, addon, tiny_checkpoint, heldout_speech, fps, fps_base):
    """Through the real worker, driven as the UI drives it; the strip is muted (a warning, still animated) and
    moved while the job runs (the keys follow where it is when they are written)."""
    addon.default_checkpoint = str(tiny_checkpoint)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = fps, fps_base
    strip = add_sound_strip(scene, "speech", str(heldout_speech[0]), channel=1, frame_start=10)
    strip.mute = True
    earlier = animation_state()
    run = ModalRun(ADAMESH_OT_generate)
    run.start()
    strip.frame_start = 37
    assert run.finish(timeout=60) == {"FINISHED"}, run.reports
    key = head.data.shape_keys
    clip_path = next(path for path in scratch_files() if path.suffix == ".npz")
    clip = load_clip(clip_path)
    rate = fps / fps_base
    assert clip.fps == pytest.approx(rate, abs=1e-4)
    assert clip.n_frames == motion_frame_count(heldout_speech[1], rate)
    keyed = [key_frames(fcurve) for fcurve in assigned_fcurves(key)]
    assert all(np.array_equal(frames, np.arange(37, 37 + clip.n_frames)) for frames in keyed)
    assert any("sound strip 'speech' is muted: the animation follows it" in note for note in run.messages("WARNING"))
    after = animation_state()
    for name in ("Earlier talk", "Earlier pose"):  # kept, key for key, with a fake user
        assert after["actions"][name][1] == earlier["actions"][name][1]
        assert after["actions"][name][0] is True
    clip_path.unlink()
