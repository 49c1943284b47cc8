"""ARKit rigs are recognised by meaning: every common spelling of the 52 names, ICT's split halves, mouthClose
under jawOpen (pure: plain name lists and curve values)."""

import numpy as np
import pytest

from adamesh_blender.anim.curves import limit_mouth_close, shape_key_curve
from adamesh_blender.anim.rigs import (
    ARKIT_52,
    RigDescription,
    RigKind,
    arkit_channel_of,
    arkit_channels_without_keys,
    detect_rig_kind,
    map_rig,
    rig_channels,
)
from backend.core.channels import CHANNELS


def _sided(name: str, left: str, right: str) -> str:
    for word, suffix in (("Left", left), ("Right", right)):
        if name.endswith(word) and name not in ("mouthLeft", "mouthRight", "jawLeft", "jawRight"):
            return name[: -len(word)] + suffix
    return name


SPELLINGS = {
    "apple": lambda name: name,
    "ict": lambda name: _sided(name, "_L", "_R"),
    "lower_case_side": lambda name: _sided(name, "_l", "_r"),
    "blender_side": lambda name: _sided(name, ".L", ".R"),
    "live_link_csv": lambda name: name[0].upper() + name[1:],
    "fbx_namespace": lambda name: f"blendShape1.{name}",
}


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_each_spelling_maps_the_same_channels(spelling):
    spell = SPELLINGS[spelling]
    rig = RigDescription("Face", tuple(spell(name) for name in ARKIT_52), "Body", ("Neck",))
    assert detect_rig_kind(rig) is RigKind.ARKIT
    mapping = map_rig(rig, CHANNELS)
    assert {channel: mapping.keys_of(channel) for channel in CHANNELS} == {c: (spell(c),) for c in CHANNELS}
    assert mapping.jaw_open_key == spell("jawOpen")
    assert mapping.mouth_close_keys == (spell("mouthClose"),)
    assert rig_channels(rig) == ARKIT_52
    assert arkit_channels_without_keys(rig) == ()


def test_names_that_end_in_left_or_right_without_being_sided():
    assert arkit_channel_of("mouthLeft") == ("mouthLeft", None)
    assert arkit_channel_of("JawRight") == ("jawRight", None)
    assert arkit_channel_of("mouthSmile_L") == ("mouthSmileLeft", None)
    assert arkit_channel_of("EyeBlinkRight") == ("eyeBlinkRight", None)
    assert arkit_channel_of("browInnerUp_R") == ("browInnerUp", "Right")
    assert arkit_channel_of("cheekPuff.l") == ("cheekPuff", "Left")
    assert arkit_channel_of("CheekPuffRight") == ("cheekPuff", "Right")
    assert arkit_channel_of("jawOpen_L") is None  # jawOpen is never split
    assert arkit_channel_of("smile") is None and arkit_channel_of("Basis") is None


ICT_NAMES = tuple(
    [_sided(name, "_L", "_R") for name in ARKIT_52 if name not in ("browInnerUp", "cheekPuff", "tongueOut")]
    + ["browInnerUp_L", "browInnerUp_R", "cheekPuff_L", "cheekPuff_R"]
)


def test_ict_split_channels_drive_both_halves_and_tongue_out_is_named_missing():
    rig = RigDescription("ICT head", ICT_NAMES, "ICT head rig", ("root", "neck", "head", "left_eye", "right_eye"))
    assert detect_rig_kind(rig) is RigKind.ARKIT
    mapping = map_rig(rig, (*CHANNELS, "tongueOut"))
    assert mapping.keys_of("browInnerUp") == ("browInnerUp_L", "browInnerUp_R")
    assert mapping.keys_of("cheekPuff") == ("cheekPuff_L", "cheekPuff_R")
    assert mapping.keys_of("mouthPressLeft") == ("mouthPress_L",)
    assert any("no shape key for tongueOut" in note for note in mapping.notes)
    assert arkit_channels_without_keys(rig) == ("tongueOut",)


def test_mouth_close_never_exceeds_jaw_open_on_any_frame():
    rig = RigDescription("Face", ARKIT_52)
    mapping = map_rig(rig, CHANNELS)
    jaw = np.array([0.0, 0.1, 0.3, 0.3, 0.0])
    close = np.array([0.2, 0.2, 0.1, 0.5, 0.0])
    curves = [
        shape_key_curve("mouthClose", close),
        shape_key_curve("jawOpen", jaw),
        shape_key_curve("mouthFunnel", close),
    ]
    limited = {curve.shape_key: curve.values for curve in limit_mouth_close(curves, mapping)}
    np.testing.assert_array_equal(limited["mouthClose"], [0.0, 0.1, 0.1, 0.3, 0.0])
    np.testing.assert_array_equal(limited["mouthFunnel"], close)  # other channels untouched
    np.testing.assert_array_equal(limited["jawOpen"], jaw)
