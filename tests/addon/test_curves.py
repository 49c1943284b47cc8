"""The planned F-Curves: data paths, per-frame values, FLAME correctives and jawOpen, every rotation mode."""

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adamesh_blender.anim.curves import (
    ROTATION_MODES,
    bone_rotation_curves,
    corrective_weights,
    jaw_open_from_rotation,
    plan_curves,
)
from adamesh_blender.anim.rigs import (
    ARKIT_52,
    FLAME_BONES,
    FLAME_EXPRESSION_KEYS,
    CustomMapping,
    RigDescription,
    map_rig,
)
from adamesh_blender.anim.rotations import axis_angle_to_quaternion
from adamesh_blender.anim.timing import SceneTiming, sample_frames
from adamesh_blender.clip_reader import MotionClip


def _clip(names, n_frames=26, fps=25.0) -> MotionClip:
    rng = np.random.default_rng(5)
    return MotionClip(
        path=Path("clip.npz"),
        fps=fps,
        expression=rng.uniform(size=(n_frames, len(names))).astype(np.float32),
        expression_names=tuple(names),
        jaw=np.outer(np.linspace(0, 0.3, n_frames), [1, 0, 0]).astype(np.float32),
        head=(rng.normal(size=(n_frames, 3)) * 0.2).astype(np.float32),
        eyes=None,
    )


def test_corrective_weights_are_r_minus_identity_row_by_row():
    angle = 0.3
    c, s = np.cos(angle), np.sin(angle)
    weights = corrective_weights(axis_angle_to_quaternion(np.array([[angle, 0, 0]])))
    np.testing.assert_allclose(weights[0], [0, 0, 0, 0, c - 1, -s, 0, s, c - 1], atol=1e-12)


def test_jaw_open_scale():
    openings = np.array([0.0, 0.175, 0.35, 0.5, -0.1])
    values = jaw_open_from_rotation(axis_angle_to_quaternion(np.outer(openings, [1, 0, 0])))
    np.testing.assert_allclose(values, [0, 0.5, 1, 1, 0], atol=1e-12)


def test_flame_plan():
    names = FLAME_EXPRESSION_KEYS[:10]
    pose_keys = tuple(f"Pose{i}" for i in range(1, 19))
    rig = RigDescription("FLAME-x", FLAME_EXPRESSION_KEYS + pose_keys, "Arm", FLAME_BONES)
    clip = _clip(names)  # 26 rows at 25 fps: one second
    sampling = sample_frames(clip.n_frames, clip.fps, SceneTiming(37, 24))
    curves = plan_curves(clip, map_rig(rig, names), sampling, {"neck": "XYZ", "jaw": "QUATERNION"})
    np.testing.assert_array_equal(curves.frames, np.arange(37, 62))
    assert curves.shape_keys[1].data_path == 'key_blocks["Exp2"].value'
    assert [plan.shape_key for plan in curves.shape_keys[10:]] == [f"Pose{i}" for i in range(1, 19)]

    row = 23 / 24 * 25  # frame 60 plays 23/24 s into the clip
    values_at_60 = [plan.values[23] for plan in curves.shape_keys]
    expected = [np.interp(row, np.arange(26), clip.expression[:, i]) for i in range(10)]
    np.testing.assert_allclose(values_at_60[:10], expected, atol=1e-6)
    jaw = Rotation.from_rotvec([np.interp(row, np.arange(26), clip.jaw[:, 0]), 0, 0]).as_matrix()
    np.testing.assert_allclose(values_at_60[19:28], (jaw - np.eye(3)).ravel(), atol=1e-6)
    assert [(plan.data_path, plan.index, plan.group) for plan in curves.pose] == (
        [('pose.bones["neck"].rotation_euler', i, "neck") for i in range(3)]
        + [('pose.bones["jaw"].rotation_quaternion', i, "jaw") for i in range(4)]
    )


def test_arkit_plan_keys_jaw_open():
    clip = _clip(["mouthClose"])
    mapping = map_rig(RigDescription("Face", ARKIT_52), ["mouthClose"])
    curves = plan_curves(clip, mapping, sample_frames(clip.n_frames, clip.fps, SceneTiming(1, 25)), {})
    assert [plan.shape_key for plan in curves.shape_keys] == ["mouthClose", "jawOpen"]
    np.testing.assert_allclose(curves.shape_keys[1].values, np.clip(clip.jaw[:, 0] / 0.35, 0, 1), atol=1e-6)
    assert curves.pose == ()


def test_names_with_quotes_are_escaped_in_data_paths():
    clip = _clip(["mouthClose"])
    custom = CustomMapping({"mouthClose": 'odd "key"'})
    mapping = map_rig(RigDescription("Blob", ('odd "key"',)), ["mouthClose"], custom=custom)
    [plan] = plan_curves(clip, mapping, sample_frames(clip.n_frames, clip.fps, SceneTiming(1, 25)), {}).shape_keys
    assert plan.data_path == 'key_blocks["odd \\"key\\""].value'


@pytest.mark.parametrize(
    "mode, prop, count",
    [
        ("QUATERNION", "rotation_quaternion", 4),
        ("AXIS_ANGLE", "rotation_axis_angle", 4),
        ("ZXY", "rotation_euler", 3),
    ],
)
def test_rotation_curves_per_mode(mode, prop, count):
    plans = bone_rotation_curves('b"1', axis_angle_to_quaternion(np.array([[0.1, 0.2, 0.3]])), mode)
    assert [plan.data_path for plan in plans] == [f'pose.bones["b\\"1"].{prop}'] * count
    assert [plan.index for plan in plans] == list(range(count))
    assert mode in ROTATION_MODES
    with pytest.raises(ValueError, match="rotation mode 'SPIN'"):
        bone_rotation_curves("b", axis_angle_to_quaternion(np.zeros((1, 3))), "SPIN")
