"""The demo head and the FLAME stand-in, built in bpy and checked on the evaluated (deformed) mesh."""

import bpy
import numpy as np
import pytest
from mathutils import Vector

from adamesh_blender.anim.rigs import FLAME_BONES, RigKind, describe_rig, detect_rig_kind, map_rig
from adamesh_blender.rig_builders.demo_head import build_demo_head
from adamesh_blender.rig_builders.flame_standin import build_flame_standin
from adamesh_blender.rig_builders.head_mesh import JAW_LEVER, lip_separation_mm
from backend.core.channels import CHANNELS
from backend.core.lip_gap import JAW_GAP_MM_PER_RAD, LIP_GAP_MM


def _separation(mesh_obj) -> float:
    return lip_separation_mm(mesh_obj, bpy.context.evaluated_depsgraph_get())


def _set_jaw(mesh_obj, opening: float) -> None:
    jaw = mesh_obj.parent.pose.bones["jaw"]
    jaw.rotation_mode = "XYZ"
    jaw.rotation_euler = (opening, 0.0, 0.0)


def _group_members(mesh_obj, name: str) -> set[int]:
    index = mesh_obj.vertex_groups[name].index
    return {v.index for v in mesh_obj.data.vertices if any(g.group == index for g in v.groups)}


def _check_flame_bones(armature) -> None:
    bones = armature.data.bones
    assert [bone.name for bone in bones] == list(FLAME_BONES)
    assert {bone.name: bone.parent.name if bone.parent else None for bone in bones} == {
        "root": None,
        "neck": "root",
        "jaw": "neck",
        "left_eye": "neck",
        "right_eye": "neck",
    }
    for bone in bones:  # pointing up with roll 0: bone-local x, y, z = FLAME's left, up, forward
        axes = bone.matrix_local.to_3x3()
        for local, world in ((0, (1, 0, 0)), (1, (0, 0, 1)), (2, (0, -1, 0))):
            assert (axes.col[local] - Vector(world)).length < 1e-6
    assert bones["left_eye"].head_local.x > 0 > bones["right_eye"].head_local.x  # +X is the subject's left


def test_demo_head_structure():
    head = build_demo_head()
    keys = [block.name for block in head.data.shape_keys.key_blocks]
    assert keys == ["Basis", *CHANNELS]
    _check_flame_bones(head.parent)
    upper, lower = _group_members(head, "lip_upper"), _group_members(head, "lip_lower")
    assert len(upper) == len(lower) >= 7 and len(upper - lower) >= 5  # shared corners, separate inner contour
    rig = describe_rig(head)
    assert detect_rig_kind(rig) is RigKind.DEMO_HEAD
    assert map_rig(rig, CHANNELS).notes == ()


def test_demo_head_lips_touch_at_rest_and_the_jaw_opens_them_by_plus_x():
    head = build_demo_head()
    assert abs(_separation(head)) < 1e-6
    assert JAW_LEVER * 1000 == JAW_GAP_MM_PER_RAD  # the contract's lever: 80 mm per radian
    for opening in (0.1, 0.3, -0.05):
        _set_jaw(head, opening)
        # a rigid lower lip on that lever parts from the upper one by 80 sin(a)
        assert _separation(head) == pytest.approx(JAW_GAP_MM_PER_RAD * np.sin(opening), abs=1e-4)


@pytest.mark.parametrize("channel", CHANNELS)
def test_each_channel_moves_the_lip_midline_as_the_contract_says(channel):
    head = build_demo_head()
    head.data.shape_keys.key_blocks[channel].value = 1.0
    assert _separation(head) == pytest.approx(LIP_GAP_MM.get(channel, 0.0), abs=1e-3)


def test_channels_add_up_linearly():
    head = build_demo_head()
    weights = np.random.default_rng(2).uniform(0, 1, len(CHANNELS))
    for channel, weight in zip(CHANNELS, weights):
        head.data.shape_keys.key_blocks[channel].value = weight
    expected = sum(LIP_GAP_MM.get(channel, 0.0) * weight for channel, weight in zip(CHANNELS, weights))
    assert _separation(head) == pytest.approx(expected, abs=1e-3)


def test_mouth_close_closes_a_jaw_held_open():
    head = build_demo_head()
    _set_jaw(head, 0.12)
    assert _separation(head) > 9.0
    head.data.shape_keys.key_blocks["mouthClose"].value = 0.4  # cancels 10 mm of the 9.6 mm opening
    assert _separation(head) == pytest.approx(JAW_GAP_MM_PER_RAD * np.sin(0.12) - 10.0, abs=0.2)


def test_flame_standin_structure():
    standin = build_flame_standin()
    assert standin.name == "FLAME-standin"
    assert "NOT the FLAME model" in standin["adamesh_note"]
    keys = [block.name for block in standin.data.shape_keys.key_blocks][1:]
    assert keys == [f"Exp{i}" for i in range(1, 101)] + [f"Pose{i}" for i in range(1, 37)]
    assert standin.parent.type == "ARMATURE"
    _check_flame_bones(standin.parent)
    weights = {name: _group_members(standin, name) for name in ("jaw", "neck")}
    assert _group_members(standin, "lip_lower") <= weights["jaw"]
    assert not (_group_members(standin, "lip_upper") - _group_members(standin, "lip_lower")) & weights["jaw"]
    rig = describe_rig(standin)
    assert detect_rig_kind(rig) is RigKind.FLAME
    mapping = map_rig(rig, [f"Exp{i}" for i in range(1, 101)])
    assert [c.keys[0] for c in mapping.correctives] == ["Pose1", "Pose10"] and mapping.notes == ()
    # every key deforms the mesh, a little
    basis = np.array([v.co for v in standin.data.shape_keys.key_blocks["Basis"].data])
    for block in standin.data.shape_keys.key_blocks[1:]:
        moved = np.abs(np.array([v.co for v in block.data]) - basis).max()
        assert 1e-5 < moved < 0.01, block.name
