"""The ICT head renamed to each common ARKit spelling keys the same curves (real bpy), mouthClose never above
jawOpen on any frame, and the Rig panel says what it recognised and which channel has no key."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from adamesh_blender.anim.rigs import arkit_channel_of
from adamesh_blender.generation import bake_generated_clip
from adamesh_blender.rig_builders.ict_head import build_ict_head
from adamesh_blender.ui.panels import VIEW3D_PT_adamesh_rig
from backend.core.channels import CHANNELS

from .fcurves import assigned_fcurves
from .helpers import add_speech_strip, clip_file
from .reliability import addon  # noqa: F401 (a fixture)
from .rna_layout import draw_panel

FPS = 25


def _apple(name: str) -> str:
    """An ICT key's name in Apple's spelling (split halves keep their side as Left/Right)."""
    channel, side = arkit_channel_of(name)
    return channel + (side or "")


SPELLINGS = {
    "ict": lambda name: name,
    "apple": _apple,
    "live_link_csv": lambda name: _apple(name)[0].upper() + _apple(name)[1:],
    "lower_case_side": lambda name: name[:-2] + name[-2:].lower() if name[-2:] in ("_L", "_R") else name,
    "blender_side": lambda name: name[:-2] + "." + name[-1] if name[-2:] in ("_L", "_R") else name,
    "fbx_namespace": lambda name: f"blendShape1.{name}",
}


def _clip(tmp_path):
    """A clip in the corpus's channels whose mouthClose often exceeds what the jaw opens."""
    rng = np.random.default_rng(3)
    frames = 50
    expression = rng.uniform(0.0, 0.6, (frames, len(CHANNELS))).astype(np.float32)
    jaw = np.zeros((frames, 3), np.float32)
    jaw[:, 0] = 0.2 * (1 + np.sin(np.arange(frames) / 4)) / 2
    head = np.zeros((frames, 3), np.float32)
    head[:, 1] = 0.1 * np.sin(np.arange(frames) / 7)
    return clip_file(tmp_path, expression_names=CHANNELS, expression=expression, jaw=jaw, head=head, fps=float(FPS))


def _bake(tmp_path, rename) -> dict[str, np.ndarray]:
    """Key the clip onto a fresh ICT head renamed by `rename`; the curves by the ICT name of their key."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    head = build_ict_head()
    ict_names = {}
    for block in head.data.shape_keys.key_blocks[1:]:
        ict_names[rename(block.name)] = block.name
        block.name = rename(block.name)
    strip = add_speech_strip(tmp_path, frame_start=1, fps=FPS)
    bake_generated_clip(bpy.context.scene, head.name, strip.name, str(_clip(tmp_path).path), custom=None)
    curves = {}
    for fcurve in assigned_fcurves(head.data.shape_keys):
        key = fcurve.data_path.split('"')[1]
        values = np.empty(2 * len(fcurve.keyframe_points), np.float32)
        fcurve.keyframe_points.foreach_get("co", values)
        curves[ict_names[key]] = values
    return curves


@pytest.fixture(scope="module")
def ict_curves(tmp_path_factory):
    return _bake(tmp_path_factory.mktemp("ict"), SPELLINGS["ict"])


@pytest.mark.parametrize("spelling", sorted(set(SPELLINGS) - {"ict"}))
def test_a_rig_in_each_spelling_keys_the_same_curves(spelling, ict_curves, tmp_path):
    curves = _bake(tmp_path, SPELLINGS[spelling])
    assert set(curves) == set(ict_curves)
    for key, values in ict_curves.items():
        np.testing.assert_array_equal(curves[key], values, err_msg=key)


def test_every_channel_is_keyed_and_mouth_close_stays_under_jaw_open(ict_curves):
    keyed = set(ict_curves)
    assert {"browInnerUp_L", "browInnerUp_R", "cheekPuff_L", "cheekPuff_R", "mouthSmile_L", "jawOpen"} <= keyed
    np.testing.assert_array_equal(ict_curves["browInnerUp_L"], ict_curves["browInnerUp_R"])
    close, jaw = ict_curves["mouthClose"][1::2], ict_curves["jawOpen"][1::2]
    assert len(close) == len(jaw) >= 50
    assert np.all(close <= jaw)


def test_the_rig_panel_names_the_kind_and_the_missing_channel(addon):  # noqa: F811
    head = build_ict_head()
    bpy.context.view_layer.objects.active = head
    problems, drawn = draw_panel(VIEW3D_PT_adamesh_rig, bpy.context)
    assert problems == []
    assert "label: ICT head: ARKit-52" in drawn
    assert "label: No shape key for: tongueOut" in drawn
