"""The committed ICT face asset and its decoding into Blender's frame (no bpy)."""

from pathlib import Path

import numpy as np
import pytest

from adamesh_blender import bundle
from adamesh_blender.errors import AddonError
from adamesh_blender.rig_builders.ict_face import (
    BONE_PARENTS,
    HIDDEN,
    SURFACES,
    eyes,
    ict_face,
    inside_polygon,
    lip_gap_mm,
    load_asset,
    polygon_surfaces,
    skeleton,
    sphere_centre,
    to_blender,
)

ROOT = Path(__file__).resolve().parents[2]
ASSET_DIR = ROOT / "assets" / "ict-face"


@pytest.fixture(scope="module")
def arrays():
    return load_asset(bundle.ict_face_asset())


@pytest.fixture(scope="module")
def face(arrays):
    return ict_face(arrays)


def test_the_asset_is_found_in_the_checkout_with_its_licence():
    assert bundle.ict_face_asset() == ASSET_DIR / "ict_face.npz"
    assert "Permission is hereby granted, free of charge" in (ASSET_DIR / "LICENSE").read_text()  # MIT
    assert "ICT-FaceKit" in (ASSET_DIR / "CREDITS.md").read_text()
    assert ASSET_DIR.joinpath("ict_face.npz").stat().st_size < 12e6


def test_the_asset_holds_the_whole_head(arrays, face):
    assert face.vertices.shape == (26719, 3)
    assert len(face.expression_names) == len(face.expressions) == 53
    assert "mouthSmile_L" in face.expression_names and "browInnerUp_R" in face.expression_names
    assert arrays["face_sizes"].sum() == len(arrays["face_vertices"]) == len(arrays["face_uv_indices"])
    assert face.face_vertices.max() < len(face.vertices) and face.face_uv_indices.max() < len(face.uv)
    ranges = list(face.parts.values())
    assert ranges[0][0] == 0 and ranges[-1][1] == len(face.vertices)
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # the parts tile the vertices
    assert face.landmarks68[[60, 62, 64, 66]].tolist() == [5702, 5533, 6207, 5517]


def test_the_frame_is_blenders_metres_with_the_face_looking_down_minus_y(face):
    assert to_blender(np.array([[1.0, 2.0, 3.0]])).tolist() == [[0.01, -0.03, 0.02]]
    nose, neck = face.vertices[face.landmarks68[30]], face.vertices[face.part("head_neck")]
    assert nose[1] < neck[:, 1].mean() - 0.05  # the nose is in front
    assert 0.18 < np.ptp(face.vertices[:, 0]) < 0.30  # an adult head with ears, in metres
    # mouthSmile_L lifts the corner on the subject's left, +X (outer lip landmark 54)
    corner = face.landmarks68[54]
    assert face.vertices[corner, 0] > 0 and face.expression_offsets("mouthSmile_L")[corner, 2] > 0.002


def test_the_lips_touch_at_rest_and_jaw_open_parts_them(face):
    rest = lip_gap_mm(face.vertices, face.landmarks68)
    assert 0 < rest < 1.0
    opened = lip_gap_mm(face.vertices + face.expression_offsets("jawOpen"), face.landmarks68)
    assert 30 < opened < 36


def test_identity_modes_mix_linearly_and_bad_ones_are_refused(arrays, face):
    other = ict_face(arrays, identity=3, identity_weight=1.0)
    half = ict_face(arrays, identity=3, identity_weight=0.5)
    assert np.abs(other.vertices - face.vertices).max() > 0.002
    np.testing.assert_allclose(half.vertices, (face.vertices + other.vertices) / 2, atol=1e-9)
    np.testing.assert_array_equal(ict_face(arrays, 3, 0.0).vertices, face.vertices)
    with pytest.raises(AddonError, match="identity 10 does not exist: .* 0 to 9"):
        ict_face(arrays, identity=10)


def test_a_wrong_or_broken_asset_is_refused_by_name(tmp_path, arrays):
    with pytest.raises(AddonError, match="is missing"):
        load_asset(tmp_path / "none.npz")
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(AddonError, match="cannot read"):
        load_asset(tmp_path / "broken.npz")
    np.savez(tmp_path / "partial.npz", **{k: v for k, v in arrays.items() if k != "landmarks68"})
    with pytest.raises(AddonError, match="lacks landmarks68"):
        load_asset(tmp_path / "partial.npz")
    np.savez(tmp_path / "other.npz", **{**arrays, "format": np.asarray("something/2")})
    with pytest.raises(AddonError, match="format something/2"):
        load_asset(tmp_path / "other.npz")


def test_sphere_centre_recovers_a_sphere():
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(200, 3))
    points = [0.1, -0.2, 0.3] + 0.012 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    np.testing.assert_allclose(sphere_centre(points), [0.1, -0.2, 0.3], atol=1e-9)


def test_eyes_sit_in_their_sockets_and_look_forward(face):
    found = eyes(face)
    assert found["left"].centre[0] > 0.02 and found["right"].centre[0] < -0.02
    for eye in found.values():
        assert eye.axis[1] < -0.95  # looking down -Y
        ball = face.vertices[face.part("eyeball_left" if eye is found["left"] else "eyeball_right")]
        radius = np.linalg.norm(ball - eye.centre, axis=1)
        assert 0.010 < radius.min() and radius.max() < 0.018


def test_skeleton_weights_sum_to_one_and_hold_the_rigid_parts(face):
    bones = skeleton(face)
    assert list(bones.heads) == list(BONE_PARENTS)
    total = sum(bones.weights.values())
    np.testing.assert_allclose(total, 1.0, atol=1e-12)
    for part in ("face", "mouth_socket", "gums_tongue", "teeth_upper", "teeth_lower", "lashes"):
        above_chin = face.part(part)[face.vertices[face.part(part), 2] > face.vertices[face.landmarks68[8], 2]]
        assert np.all(bones.weights["head"][above_chin] == 1.0), part
    for side in ("left", "right"):
        assert np.all(bones.weights[f"{side}_eye"][face.part(f"eyeball_{side}")] == 1.0)
    bottom = np.argmin(face.vertices[:, 2])
    assert bones.weights["root"][bottom] == 1.0


def test_every_surface_is_used_and_the_corneas_and_eye_shells_are_not_built(face):
    surfaces = polygon_surfaces(face)
    counts = {name: int(np.sum(surfaces == number)) for number, name in enumerate(SURFACES)}
    assert all(count > 0 for count in counts.values()), counts
    shells = [face.material_names.index(name) for name in ("M_LacrimalFluid", "M_EyeBlend", "M_EyeOcclusion")]
    assert np.all(surfaces[np.isin(face.face_material, shells)] == HIDDEN)
    sclera = face.face_material == face.material_names.index("M_ScleraLeft")
    assert 0 < np.sum(surfaces[sclera] == HIDDEN) < np.sum(sclera) / 2  # the cornea, a small cap


def test_inside_polygon():
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    points = np.array([[0.5, 0.5], [1.5, 0.5], [-0.1, 0.2], [0.9, 0.99]])
    assert inside_polygon(points, square).tolist() == [True, False, False, True]
