"""The ICT head built in real bpy: mesh, 53 keys at rest, materials, armature, eyes that turn in place."""

import math
import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest
from mathutils import Euler

from adamesh_blender.anim.rigs import RigKind, arkit_channels_without_keys, describe_rig, detect_rig_kind
from adamesh_blender.rig_builders.ict_face import ict_face, lip_gap_mm, load_asset
from adamesh_blender.rig_builders.ict_head import build_ict_head

from .helpers import evaluated_points

ROOT = Path(__file__).resolve().parents[2]
ASSET = ROOT / "assets" / "ict-face" / "ict_face.npz"


def test_the_ict_head_is_an_arkit_rig_at_rest():
    head = build_ict_head()
    face = ict_face(load_asset(ASSET))
    keys = head.data.shape_keys.key_blocks
    assert [key.name for key in keys][1:] == list(face.expression_names)
    assert all(key.value == 0.0 for key in keys[1:])  # bpy 5 starts new keys at 1
    np.testing.assert_allclose(evaluated_points(head), face.vertices, atol=1e-6)  # nothing moved at rest
    rig = describe_rig(head)
    assert detect_rig_kind(rig) is RigKind.ARKIT
    assert arkit_channels_without_keys(rig) == ("tongueOut",)
    assert [bone.name for bone in head.parent.data.bones] == ["root", "neck", "head", "left_eye", "right_eye"]
    names = {material.name for material in head.data.materials}
    assert {
        "AdaMesh skin",
        "AdaMesh lips",
        "AdaMesh teeth",
        "AdaMesh sclera",
        "AdaMesh iris",
        "AdaMesh lashes",
        "AdaMesh gums and tongue",
    } <= names
    used = np.zeros(len(head.data.polygons), dtype=np.int32)
    head.data.polygons.foreach_get("material_index", used)
    assert set(np.unique(used)) == set(range(len(head.data.materials)))


def test_a_shape_key_moves_the_lips_as_in_the_asset():
    head = build_ict_head()
    face = ict_face(load_asset(ASSET))
    head.data.shape_keys.key_blocks["jawOpen"].value = 1.0
    points = evaluated_points(head)
    assert lip_gap_mm(points, face.landmarks68) == pytest.approx(
        lip_gap_mm(face.vertices + face.expression_offsets("jawOpen"), face.landmarks68), abs=1e-3
    )


def test_eye_bones_turn_the_eyeballs_about_their_centres_and_the_head_bone_carries_the_teeth():
    head = build_ict_head()
    face = ict_face(load_asset(ASSET))
    armature = head.parent
    left = face.part("eyeball_left")
    centre = np.array(armature.data.bones["left_eye"].head_local)
    rest = evaluated_points(head)
    armature.pose.bones["left_eye"].rotation_mode = "XYZ"
    armature.pose.bones["left_eye"].rotation_euler = Euler((0.0, 0.0, math.radians(20)))
    turned = evaluated_points(head)
    np.testing.assert_allclose(
        np.linalg.norm(turned[left] - centre, axis=1), np.linalg.norm(rest[left] - centre, axis=1), atol=1e-6
    )  # turned in place
    assert np.abs(turned[left] - rest[left]).max() > 0.003
    np.testing.assert_allclose(turned[face.part("eyeball_right")], rest[face.part("eyeball_right")], atol=1e-9)
    armature.pose.bones["neck"].rotation_mode = "XYZ"
    armature.pose.bones["neck"].rotation_euler = Euler((math.radians(15), 0.0, 0.0))
    nodded = evaluated_points(head)
    for part in ("teeth_upper", "teeth_lower", "gums_tongue"):
        moved = nodded[face.part(part)] - rest[face.part(part)]
        assert np.abs(moved).max() > 0.005, part
        # rigid: distances between the part's points are kept
        sample = face.part(part)[::97]
        before = np.linalg.norm(rest[sample][:, None] - rest[sample][None], axis=2)
        after = np.linalg.norm(nodded[sample][:, None] - nodded[sample][None], axis=2)
        np.testing.assert_allclose(after, before, atol=1e-6)


def test_another_identity_changes_the_face_not_the_expressions():
    base = build_ict_head("Base")
    other = build_ict_head("Other", identity=2, identity_weight=1.0)
    assert np.abs(evaluated_points(base) - evaluated_points(other)).max() > 0.002
    for obj in (base, other):
        obj.data.shape_keys.key_blocks["mouthSmile_L"].value = 1.0
    delta_base = evaluated_points(base) - ict_face(load_asset(ASSET)).vertices
    delta_other = evaluated_points(other) - ict_face(load_asset(ASSET), 2, 1.0).vertices
    np.testing.assert_allclose(delta_base, delta_other, atol=1e-6)


@pytest.mark.slow
@pytest.mark.skipif(
    bpy.app.version < (4, 5, 0),
    reason="build.py writes the head with bpy 5.0, whose .blend files Blender 4.5 and later read and 4.2 does not",
)
def test_build_py_demo_head_saves_the_ict_head_with_another_identity(tmp_path):
    out = tmp_path / "head.blend"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "build.py"),
            "demo-head",
            "--out",
            str(out),
            "--identity",
            "4",
            "--identity-weight",
            "0.8",
        ],
        check=True,
        cwd=ROOT,
    )
    bpy.ops.wm.open_mainfile(filepath=str(out))
    head = bpy.context.view_layer.objects.active
    assert detect_rig_kind(describe_rig(head)) is RigKind.ARKIT
    expected = ict_face(load_asset(ASSET), 4, 0.8).vertices
    np.testing.assert_allclose(evaluated_points(head), expected, atol=1e-6)
    refused = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "demo-head", "--out", str(out), "--identity", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0 and "--identity must be 0 to 9" in refused.stderr
