"""Clips keyed onto the demo head and the FLAME stand-in, checked on the evaluated mesh and bones in bpy 5.0.1."""

import bpy
import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from adamesh_blender.anim import compat
from adamesh_blender.anim.curves import shape_key_curve
from adamesh_blender.anim.keyframes import bake_clip
from adamesh_blender.anim.rigs import RigKind, RigMapping, describe_rig, map_rig
from adamesh_blender.anim.timing import SceneTiming
from adamesh_blender.errors import RigError
from adamesh_blender.rig_builders.demo_head import build_demo_head
from adamesh_blender.rig_builders.flame_standin import build_flame_standin
from adamesh_blender.rig_builders.head_mesh import lip_separation_mm
from backend.core.channels import CHANNELS
from backend.core.lip_gap import lip_gap
from backend.core.phones import Phone
from backend.synth.articulation import articulate
from backend.synth.speaker_styles import ExpressionStyle

from .helpers import add_speech_strip, at_frame, clip_at, clip_file

CLIP_FPS = 25.0
N_ROWS = 51  # two seconds
WORDS = "SIL 0.2 M 0.3 AA 0.5 P 0.58 IY 0.8 B 0.88 UW 1.1 M 1.2 AE 1.45 SIL 2.0".split()


def _nod(n_rows: int = N_ROWS) -> np.ndarray:
    t = np.arange(n_rows) / CLIP_FPS
    return np.stack([0.15 * np.sin(3 * t), 0.1 * np.sin(2 * t + 1), 0.05 * np.cos(5 * t)], axis=1).astype(np.float32)


def _speech_clip(folder, name: str = "speech"):
    """The backend's own articulation of a phone timeline: real lip-sync ground truth, not made-up numbers."""
    ends = [float(end) for end in WORDS[1::2]]
    phones = [Phone(phone, start, end) for phone, start, end in zip(WORDS[0::2], [0.0, *ends[:-1]], ends)]
    expression, jaw = articulate(phones, CLIP_FPS, N_ROWS, ExpressionStyle(), np.random.default_rng(0))
    return clip_file(folder, name, fps=CLIP_FPS, expression=expression, expression_names=CHANNELS, jaw=jaw, head=_nod())


def _rotation_at(vectors: np.ndarray, frame: int, frame_start: float, rate: float) -> Rotation:
    row = (frame - frame_start) / rate * CLIP_FPS
    return Slerp(np.arange(len(vectors)), Rotation.from_rotvec(vectors))(min(row, len(vectors) - 1))


def _basis_rotation(armature, bone: str) -> Rotation:
    return Rotation.from_matrix(np.array(armature.pose.bones[bone].matrix_basis.to_3x3()))


@pytest.mark.parametrize("fps, fps_base", [(24, 1.0), (30, 1.001)])
def test_demo_head_speaks_on_time(tmp_path, fps, fps_base):
    clip = _speech_clip(tmp_path)
    strip = add_speech_strip(tmp_path, frame_start=37, fps=fps, fps_base=fps_base)
    head = build_demo_head()
    timing = SceneTiming.of_strip(bpy.context.scene, strip)
    assert (timing.frame_start, timing.fps, timing.fps_base) == (37.0, fps, pytest.approx(fps_base))  # float32
    report = bake_clip(clip, head, map_rig(describe_rig(head), clip.expression_names), timing, "speech")
    rate = timing.frame_rate
    assert (report.first_frame, report.last_frame) == (37, 37 + int(2.0 * rate))

    errors, closed, opened = [], [], []
    for frame in range(report.first_frame, report.last_frame + 1):
        depsgraph = at_frame(frame)
        expression = clip_at(clip.expression, CLIP_FPS, frame, 37, rate)
        jaw = clip_at(clip.jaw, CLIP_FPS, frame, 37, rate)
        expected = lip_gap(expression[None], jaw[None])[0]
        measured = max(lip_separation_mm(head, depsgraph), 0.0)
        errors.append(measured - expected)
        (closed if expected == 0 else opened).append(measured)
        armature = head.parent
        for bone, vectors in (("jaw", clip.jaw), ("neck", clip.head)):
            wanted = _rotation_at(vectors, frame, 37, rate)
            assert (_basis_rotation(armature, bone) * wanted.inv()).magnitude() < 1e-5, (bone, frame)
    # the mesh follows the backend's lip-gap contract (rigid jaw: 80 sin(a) for its 80 a, a few tenths of a mm)
    assert np.abs(errors).max() < 0.5
    assert len(closed) >= 4 and max(closed) < 0.25  # the bilabial closures of M P B M show as touching lips
    assert max(opened) > 10.0  # the open vowels open the mouth


def _flame_clip(folder, name: str = "flame"):
    rng = np.random.default_rng(1)
    t = np.arange(N_ROWS) / CLIP_FPS
    jaw = np.stack([0.2 * (1 - np.cos(4 * t)), 0.03 * np.sin(3 * t), 0.02 * np.sin(5 * t)], axis=1)
    return clip_file(
        folder,
        name,
        fps=CLIP_FPS,
        expression=rng.uniform(-1, 1, size=(N_ROWS, 100)).astype(np.float32),
        expression_names=tuple(f"Exp{i}" for i in range(1, 101)),
        jaw=jaw.astype(np.float32),
        head=_nod(),
        eyes=(rng.normal(size=(N_ROWS, 6)) * 0.1).astype(np.float32),
    )


def _expected_standin_mesh(mesh_obj, clip, frame: int, rate: float) -> np.ndarray:
    """Linear blend skinning of the shape-keyed mesh, computed here from the clip alone (FLAME's recipe)."""
    blocks = mesh_obj.data.shape_keys.key_blocks
    basis = np.array([v.co for v in blocks["Basis"].data])
    rotations = {source: _rotation_at(getattr(clip, source), frame, 37, rate) for source in ("head", "jaw")}
    rotations["left_eye"] = _rotation_at(clip.eyes[:, :3], frame, 37, rate)
    rotations["right_eye"] = _rotation_at(clip.eyes[:, 3:], frame, 37, rate)
    weights = dict(zip(clip.expression_names, clip_at(clip.expression, CLIP_FPS, frame, 37, rate)))
    for joint, source in enumerate(("head", "jaw", "left_eye", "right_eye")):
        pose_weights = (rotations[source].as_matrix() - np.eye(3)).ravel()
        weights.update({f"Pose{9 * joint + i + 1}": w for i, w in enumerate(pose_weights)})
    shaped = basis + sum(w * (np.array([v.co for v in blocks[name].data]) - basis) for name, w in weights.items())

    bones = mesh_obj.parent.data.bones
    rest = {name: np.array(bones[name].matrix_local) for name in ("neck", "jaw")}

    def basis_matrix(rotation: Rotation) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = rotation.as_matrix()
        return m

    neck_pose = rest["neck"] @ basis_matrix(rotations["head"])
    jaw_pose = neck_pose @ np.linalg.inv(rest["neck"]) @ rest["jaw"] @ basis_matrix(rotations["jaw"])
    deform = {"neck": neck_pose @ np.linalg.inv(rest["neck"]), "jaw": jaw_pose @ np.linalg.inv(rest["jaw"])}
    homogeneous = np.concatenate([shaped, np.ones((len(shaped), 1))], axis=1)
    result = np.zeros_like(shaped)
    for bone, matrix in deform.items():
        group = mesh_obj.vertex_groups[bone].index
        w = np.array([next((g.weight for g in v.groups if g.group == group), 0.0) for v in mesh_obj.data.vertices])
        result += w[:, None] * (homogeneous @ matrix.T)[:, :3]
    return result


@pytest.mark.slow
def test_flame_standin_deforms_as_flame_would(tmp_path):
    clip = _flame_clip(tmp_path)
    strip = add_speech_strip(tmp_path, frame_start=37, fps=24)
    standin = build_flame_standin()
    mapping = map_rig(describe_rig(standin), clip.expression_names, clip_has_eyes=True)
    report = bake_clip(clip, standin, mapping, SceneTiming.of_strip(bpy.context.scene, strip), "flame")
    assert report.rotation_modes == {
        "neck": "QUATERNION",
        "jaw": "QUATERNION",
        "left_eye": "QUATERNION",
        "right_eye": "QUATERNION",
    }
    assert report.keyframes == 49 * (100 + 36 + 4 * 4)
    for frame in (37, 52, 70, 85):
        depsgraph = at_frame(frame)
        evaluated = standin.evaluated_get(depsgraph).to_mesh()
        measured = np.array([v.co for v in evaluated.vertices])
        standin.evaluated_get(depsgraph).to_mesh_clear()
        np.testing.assert_allclose(measured, _expected_standin_mesh(standin, clip, frame, 24.0), atol=2e-6)


def test_rewrite_keeps_the_earlier_actions(tmp_path):
    clip = _speech_clip(tmp_path)
    strip = add_speech_strip(tmp_path, frame_start=37, fps=24)
    head = build_demo_head()
    armature, key = head.parent, head.data.shape_keys
    key.key_blocks["browInnerUp"].value = 0.5
    key.key_blocks["browInnerUp"].keyframe_insert("value", frame=1)  # the artist's own animation
    armature.pose.bones["jaw"].keyframe_insert("rotation_quaternion", frame=1)
    artist_actions = {key.animation_data.action.name, armature.animation_data.action.name}
    timing = SceneTiming.of_strip(bpy.context.scene, strip)
    mapping = map_rig(describe_rig(head), clip.expression_names)

    first = bake_clip(clip, head, mapping, timing, "take 1")
    assert set(first.kept_actions) == artist_actions
    assert "previous animation kept as" in first.summary()
    second = bake_clip(clip, head, mapping, timing, "take 2")
    assert set(second.kept_actions) == {"AdaMesh take 1 (shape keys)", "AdaMesh take 1 (pose)"}
    assert key.animation_data.action.name == "AdaMesh take 2 (shape keys)"
    assert armature.animation_data.action.name == "AdaMesh take 2 (pose)"

    saved = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(saved))
    bpy.ops.wm.open_mainfile(filepath=str(saved))
    kept = artist_actions | set(second.kept_actions)
    assert kept <= set(bpy.data.actions.keys())  # no users, but a fake user: they survive save and reload
    assert all(bpy.data.actions[name].use_fake_user for name in kept)


def test_nothing_is_assigned_when_the_rig_no_longer_fits(tmp_path):
    clip = _speech_clip(tmp_path)
    strip = add_speech_strip(tmp_path, frame_start=37, fps=24)
    head = build_demo_head()
    timing = SceneTiming.of_strip(bpy.context.scene, strip)
    mapping = map_rig(describe_rig(head), clip.expression_names)
    bake_clip(clip, head, mapping, timing, "take 1")
    actions = set(bpy.data.actions.keys())
    head.shape_key_remove(head.data.shape_keys.key_blocks["browInnerUp"])
    with pytest.raises(RigError, match="no longer has shape key browInnerUp"):
        bake_clip(clip, head, mapping, timing, "take 2")
    assert set(bpy.data.actions.keys()) == actions
    assert head.data.shape_keys.animation_data.action.name == "AdaMesh take 1 (shape keys)"


def test_a_failure_halfway_through_building_leaves_nothing_behind(tmp_path):
    clip = _speech_clip(tmp_path)
    strip = add_speech_strip(tmp_path, frame_start=37, fps=24)
    head = build_demo_head()
    timing = SceneTiming.of_strip(bpy.context.scene, strip)
    bake_clip(clip, head, map_rig(describe_rig(head), clip.expression_names), timing, "take 1")
    actions = set(bpy.data.actions.keys())
    # a hand-made mapping that keys one shape key both from a channel and from the jaw: Blender refuses the second
    # F-Curve mid-build
    keys = {"mouthClose": "mouthClose", "mouthPucker": "mouthPucker"}
    clashing = RigMapping(RigKind.DEMO_HEAD, head.name, None, keys, jaw_open_key="mouthPucker")
    with pytest.raises(RuntimeError, match="already exists"):
        bake_clip(clip, head, clashing, timing, "take 2")
    assert set(bpy.data.actions.keys()) == actions
    assert head.data.shape_keys.animation_data.action.name == "AdaMesh take 1 (shape keys)"


def test_a_clip_for_another_rig_is_refused_before_any_action_exists(tmp_path):
    clip = _flame_clip(tmp_path)
    head = build_demo_head()
    with pytest.raises(RigError, match=r"lacks shape keys for 100 of the clip's 100 channels \(Exp1, Exp2"):
        map_rig(describe_rig(head), clip.expression_names)
    assert len(bpy.data.actions) == 0 and head.data.shape_keys.animation_data is None


def test_rotation_modes_give_the_same_bone_matrices(tmp_path):
    t = np.arange(N_ROWS) / CLIP_FPS
    jaw = np.outer(0.3 * np.sin(5 * t), [0.9, 0.3, 0.3])  # about a tilted axis, through rest between frames 55, 56
    clip = clip_file(
        tmp_path,
        fps=CLIP_FPS,
        expression=np.zeros((N_ROWS, 1), np.float32),
        expression_names=("mouthClose",),
        jaw=jaw.astype(np.float32),
        head=3 * _nod(),
    )
    strip = add_speech_strip(tmp_path, frame_start=37, fps=30, fps_base=1.001)
    head = build_demo_head()
    armature = head.parent
    timing = SceneTiming.of_strip(bpy.context.scene, strip)
    mapping = map_rig(describe_rig(head), clip.expression_names)
    frames = (37.0, 44.0, 44.5, 55.5, 60.0, 71.5, 96.0)  # whole and half frames: keys and what lies between them
    matrices = {}
    for mode in ("QUATERNION", "AXIS_ANGLE", "XYZ", "ZXY"):
        for bone in ("neck", "jaw"):
            armature.pose.bones[bone].rotation_mode = mode
        assert bake_clip(clip, head, mapping, timing, mode).rotation_modes == {"neck": mode, "jaw": mode}
        matrices[mode] = []
        for frame in frames:
            bpy.context.scene.frame_set(int(frame), subframe=frame % 1)
            matrices[mode].append([np.array(armature.pose.bones[bone].matrix) for bone in ("neck", "jaw")])
    for mode, found in matrices.items():
        for frame, per_bone, reference in zip(frames, found, matrices["QUATERNION"]):
            tolerance = 1e-5 if frame % 1 == 0 else 2e-3  # between keys each mode interpolates its own way
            for bone, matrix, expected in zip(("neck", "jaw"), per_bone, reference):
                np.testing.assert_allclose(matrix, expected, atol=tolerance, err_msg=f"{mode} {bone} frame {frame}")
    rate = timing.frame_rate
    neck_rest = np.array(armature.data.bones["neck"].matrix_local.to_3x3())
    for frame, (neck, _) in zip(frames, matrices["QUATERNION"]):
        if frame % 1 == 0:
            wanted = neck_rest @ _rotation_at(clip.head, int(frame), 37, rate).as_matrix()
            np.testing.assert_allclose(neck[:3, :3], wanted, atol=1e-5)


def test_actions_and_sound_strips_in_this_blender(tmp_path):
    # slotted, layered Actions came with 4.4; 4.2/4.3 keep F-Curves on the Action with its id_root
    assert compat.has_layered_actions() == (bpy.app.version >= (4, 4, 0))
    strip = add_speech_strip(tmp_path, frame_start=37, fps=24)
    assert [s.name for s in compat.sound_strips(bpy.context.scene)] == [strip.name]
    head = build_demo_head()
    clip = _speech_clip(tmp_path)
    mapping = map_rig(describe_rig(head), clip.expression_names)
    bake_clip(clip, head, mapping, SceneTiming.of_strip(bpy.context.scene, strip), "take")
    key, rig = head.data.shape_keys, head.parent
    if compat.has_layered_actions():
        assert key.animation_data.action_slot.target_id_type == "KEY"
        assert rig.animation_data.action_slot.target_id_type == "OBJECT"
    else:
        assert (key.animation_data.action.id_root, rig.animation_data.action.id_root) == ("KEY", "OBJECT")


@pytest.mark.parametrize("name", ["plain", 'odd "key"', "back\\slash", "tab\tnew\nline"])
def test_data_paths_escape_names_as_blender_does(name):
    assert shape_key_curve(name, np.zeros(1)).data_path == f'key_blocks["{bpy.utils.escape_identifier(name)}"].value'


def test_values_beyond_a_slider_widen_its_range(tmp_path):
    expression = np.zeros((N_ROWS, len(CHANNELS)), np.float32)
    expression[:, CHANNELS.index("mouthFunnel")] = 1.4  # past the demo head's 0..1 slider
    clip = clip_file(
        tmp_path,
        fps=CLIP_FPS,
        expression=expression,
        expression_names=CHANNELS,
        jaw=np.zeros((N_ROWS, 3), np.float32),
        head=np.zeros((N_ROWS, 3), np.float32),
    )
    strip = add_speech_strip(tmp_path, frame_start=1, fps=25)
    head = build_demo_head()
    mapping = map_rig(describe_rig(head), clip.expression_names)
    report = bake_clip(clip, head, mapping, SceneTiming.of_strip(bpy.context.scene, strip), "wide")
    assert report.notes == ("widened the slider range of 'mouthFunnel' to 0..1.4",)
    assert lip_separation_mm(head, at_frame(10)) == pytest.approx(5.0 * 1.4, abs=1e-3)  # not clamped to 5 mm


def test_many_widened_sliders_make_one_note(tmp_path):
    expression = np.full((N_ROWS, len(CHANNELS)), -0.25, np.float32)  # below every 0..1 slider
    clip = clip_file(
        tmp_path,
        fps=CLIP_FPS,
        expression=expression,
        expression_names=CHANNELS,
        jaw=np.zeros((N_ROWS, 3), np.float32),
        head=np.zeros((N_ROWS, 3), np.float32),
    )
    strip = add_speech_strip(tmp_path, frame_start=1, fps=25)
    head = build_demo_head()
    timing = SceneTiming.of_strip(bpy.context.scene, strip)
    report = bake_clip(clip, head, map_rig(describe_rig(head), CHANNELS), timing, "low")
    (note,) = report.notes
    assert note.startswith(f"widened the slider ranges of {len(CHANNELS)} shape keys: '{CHANNELS[0]}' to -0.25..1")
    assert note.endswith(f" and {len(CHANNELS) - 4} more")
    assert all(block.slider_min == pytest.approx(-0.25) for block in head.data.shape_keys.key_blocks[1:])
