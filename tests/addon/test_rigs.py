"""Rig detection and mapping on plain name lists: each rig kind, and the errors that name what is missing."""

import pytest

from adamesh_blender.anim.rigs import (
    ARKIT_52,
    DEMO_HEAD_MARKER,
    FLAME_BONES,
    FLAME_EXPRESSION_KEYS,
    BoneTarget,
    Corrective,
    CustomMapping,
    RigDescription,
    RigKind,
    detect_rig_kind,
    map_rig,
)
from adamesh_blender.errors import RigError
from backend.core.channels import CHANNELS

POSE_KEYS = tuple(f"Pose{i}" for i in range(1, 37))
SHAPE_KEYS = tuple(f"Shape{i}" for i in range(1, 301))


def _flame(**changes) -> RigDescription:
    fields = dict(
        mesh_name="FLAME-generic",
        shape_keys=SHAPE_KEYS + FLAME_EXPRESSION_KEYS + POSE_KEYS,
        armature_name="Armature",
        bones=FLAME_BONES,
    )
    return RigDescription(**{**fields, **changes})


def test_flame_rig_gets_bones_and_neck_jaw_correctives():
    mapping = map_rig(_flame(), FLAME_EXPRESSION_KEYS)
    assert mapping.kind is RigKind.FLAME
    assert dict(mapping.shape_keys) == {name: name for name in FLAME_EXPRESSION_KEYS}
    assert mapping.bones == (BoneTarget("neck", "head"), BoneTarget("jaw", "jaw"))
    assert mapping.correctives == (
        Corrective("head", tuple(f"Pose{i}" for i in range(1, 10))),
        Corrective("jaw", tuple(f"Pose{i}" for i in range(10, 19))),
    )
    assert mapping.jaw_open_key is None and mapping.notes == ()


def test_flame_clip_with_eyes_keys_the_eye_bones_and_their_correctives():
    mapping = map_rig(_flame(), FLAME_EXPRESSION_KEYS[:50], clip_has_eyes=True)
    assert [target.bone for target in mapping.bones] == ["neck", "jaw", "left_eye", "right_eye"]
    assert [c.keys[0] for c in mapping.correctives] == ["Pose1", "Pose10", "Pose19", "Pose28"]


def test_flame_without_correctives_says_so():
    mapping = map_rig(_flame(shape_keys=FLAME_EXPRESSION_KEYS), FLAME_EXPRESSION_KEYS)
    assert mapping.correctives == ()
    assert "Pose1..Pose18" in mapping.notes[0]


def test_flame_is_recognised_by_its_keys_whatever_the_mesh_name():
    assert detect_rig_kind(_flame(mesh_name="Head")) is RigKind.FLAME


def test_flame_missing_bones_are_named():
    with pytest.raises(RigError, match="armature 'Armature' lacks bone jaw, left_eye"):
        map_rig(_flame(bones=("root", "neck", "right_eye")), FLAME_EXPRESSION_KEYS)
    with pytest.raises(RigError, match="'FLAME-generic' is not deformed by an armature"):
        map_rig(_flame(armature_name=None, bones=()), FLAME_EXPRESSION_KEYS)


def test_clip_for_another_rig_names_the_missing_channels():
    with pytest.raises(RigError, match=r"lacks shape keys for 37 of the clip's 37 channels \(mouthClose, mouthFunnel"):
        map_rig(_flame(), CHANNELS)


def test_no_shape_keys():
    with pytest.raises(RigError, match="'Cube' has no shape keys"):
        map_rig(RigDescription("Cube", ()), CHANNELS)


def test_arkit_rig_derives_jaw_open_and_finds_a_head_bone():
    rig = RigDescription("Face", ARKIT_52, "Body", ("Hips", "Spine", "Neck", "Head"))
    assert detect_rig_kind(rig) is RigKind.ARKIT
    mapping = map_rig(rig, CHANNELS)
    assert mapping.jaw_open_key == "jawOpen"
    assert mapping.bones == (BoneTarget("Neck", "head"),)
    assert set(mapping.shape_keys) == set(CHANNELS)


def test_arkit_rig_without_armature_notes_the_head():
    mapping = map_rig(RigDescription("Face", ARKIT_52), CHANNELS)
    assert mapping.bones == ()
    assert "head motion is not keyed" in mapping.notes[0]


def test_a_clip_channel_that_keys_jaw_open_itself_is_not_derived_twice():
    mapping = map_rig(RigDescription("Face", ARKIT_52), ("jawOpen", "mouthClose"))
    assert mapping.jaw_open_key is None and mapping.shape_keys["jawOpen"] == "jawOpen"


def test_demo_head_is_recognised_by_its_marker():
    rig = RigDescription("Head", CHANNELS, "Head rig", FLAME_BONES, marker=DEMO_HEAD_MARKER)
    assert detect_rig_kind(rig) is RigKind.DEMO_HEAD
    mapping = map_rig(rig, CHANNELS)
    assert mapping.bones == (BoneTarget("neck", "head"), BoneTarget("jaw", "jaw"))
    assert mapping.correctives == () and mapping.notes == ()


def test_unrecognised_rig_asks_for_a_custom_mapping():
    rig = RigDescription("Blob", ("smile", "open"), "Rig", ("head_bone",))
    assert detect_rig_kind(rig) is RigKind.CUSTOM
    with pytest.raises(RigError, match="choose a custom mapping"):
        map_rig(rig, CHANNELS)


def test_custom_mapping():
    rig = RigDescription("Blob", ("smile", "open", "pucker"), "Rig", ("skull", "chin"))
    custom = CustomMapping({"mouthSmileLeft": "smile"}, head_bone="skull", jaw_bone="chin", jaw_open_key="open")
    mapping = map_rig(rig, CHANNELS, custom=custom)
    assert mapping.kind is RigKind.CUSTOM
    assert dict(mapping.shape_keys) == {"smile": "mouthSmileLeft"}
    assert mapping.bones == (BoneTarget("skull", "head"), BoneTarget("chin", "jaw"))
    assert mapping.jaw_open_key == "open"


@pytest.mark.parametrize(
    "custom, message",
    [
        (CustomMapping({"notInClip": "smile"}), "channels the clip does not have: notInClip"),
        (CustomMapping({"mouthClose": "close"}), "has no shape key close"),
        (CustomMapping(jaw_open_key="gape"), "has no shape key gape"),
        (CustomMapping(jaw_bone="mandible"), "lacks bone mandible"),
        (CustomMapping(), "custom mapping is empty"),
        (CustomMapping({"mouthSmileLeft": "smile", "mouthSmileRight": "smile"}), "drives shape key smile from more"),
        (CustomMapping({"mouthClose": "open"}, jaw_open_key="open"), "drives shape key open from more"),
        (CustomMapping(head_bone="skull", jaw_bone="skull"), "bone 'skull' for both"),
    ],
)
def test_custom_mapping_errors(custom, message):
    rig = RigDescription("Blob", ("smile", "open"), "Rig", ("skull", "chin"))
    with pytest.raises(RigError, match=message):
        map_rig(rig, CHANNELS, custom=custom)
