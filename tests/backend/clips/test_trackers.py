"""Tracker readers, fed files written in each tracker's own layout (see backend/clips/trackers.py)."""

import numpy as np
import pytest

from backend.clips import READERS, convert_tracker_file, load_clip, read_deca, read_smirk, read_vhap, save_clip
from backend.core.errors import ClipError

T = 12


def _frames(rng: np.random.Generator, width: int) -> np.ndarray:
    return (rng.normal(size=(T, width)) * 0.1).astype(np.float32)


def _vhap_arrays() -> dict[str, np.ndarray]:
    """What VHAP's FlameTracker.save_result writes (static offsets shrunk from 5023 vertices)."""
    rng = np.random.default_rng(11)
    return {
        "rotation": _frames(rng, 3),
        "translation": _frames(rng, 3),
        "neck_pose": _frames(rng, 3),
        "jaw_pose": _frames(rng, 3),
        "eyes_pose": _frames(rng, 6),
        "shape": _frames(rng, 300)[0],
        "expr": _frames(rng, 100),
        "timestep_id": np.array([f"{i:05d}" for i in range(T)]),
        "n_processed_frames": np.array(T),
        "focal_length": np.array([1.5], np.float32),
        "tex": _frames(rng, 100)[0],
        "lights": np.zeros((9, 3), np.float32),
        "static_offset": np.zeros((1, 40, 3), np.float32),
        "image_size": np.array([512, 512]),
    }


def _deca_arrays() -> dict[str, np.ndarray]:
    """DECA's code dictionary stacked over frames (shape, tex, exp, pose, cam, light)."""
    rng = np.random.default_rng(11)
    return {
        "shape": _frames(rng, 100),
        "tex": _frames(rng, 50),
        "exp": _frames(rng, 50),
        "pose": _frames(rng, 6),
        "cam": _frames(rng, 3),
        "light": np.zeros((T, 9, 3), np.float32),
    }


def _smirk_arrays() -> dict[str, np.ndarray]:
    """SmirkEncoder's outputs stacked over frames."""
    rng = np.random.default_rng(11)
    return {
        "pose_params": _frames(rng, 3),
        "cam": _frames(rng, 3),
        "shape_params": _frames(rng, 300),
        "expression_params": _frames(rng, 50),
        "eyelid_params": rng.uniform(size=(T, 2)).astype(np.float32),
        "jaw_params": _frames(rng, 3),
    }


def _write(tmp_path, name: str, arrays: dict[str, np.ndarray]):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_vhap_file_converts_with_neck_as_head(tmp_path):
    arrays = _vhap_arrays()
    source = _write(tmp_path, "tracked_flame_params_30.npz", arrays)
    clip = read_vhap(source, fps=25)
    assert clip.fps == 25.0 and clip.n_frames == T
    assert clip.expression_names == tuple(f"Exp{i}" for i in range(1, 101))
    np.testing.assert_array_equal(clip.expression, arrays["expr"])
    np.testing.assert_array_equal(clip.jaw, arrays["jaw_pose"])
    np.testing.assert_array_equal(clip.head, arrays["neck_pose"])
    np.testing.assert_array_equal(clip.eyes, arrays["eyes_pose"])
    np.testing.assert_array_equal(clip.global_rotation, arrays["rotation"])
    np.testing.assert_array_equal(clip.translation, arrays["translation"])
    assert clip.eyelids is None


def test_deca_npz_converts_global_rotation_into_head(tmp_path):
    arrays = _deca_arrays()
    clip = read_deca(_write(tmp_path, "codes.npz", arrays), fps=30)
    assert clip.expression_names[0] == "Exp1" and clip.expression_names[-1] == "Exp50"
    np.testing.assert_array_equal(clip.expression, arrays["exp"])
    np.testing.assert_array_equal(clip.head, arrays["pose"][:, :3])
    np.testing.assert_array_equal(clip.jaw, arrays["pose"][:, 3:])
    assert clip.global_rotation is None and clip.eyes is None


def test_emoca_frame_folders_are_read_in_natural_order(tmp_path):
    """EMOCA --save_codes: one folder per frame with exp.npy [50], pose.npy [6] and other codes."""
    arrays = _deca_arrays()
    results = tmp_path / "results" / "EMOCA"
    for i in range(T):  # unpadded numbers: plain sorting would put frame10 before frame2
        frame = results / f"frame{i + 1}_000"
        frame.mkdir(parents=True)
        np.save(frame / "exp.npy", arrays["exp"][i])
        np.save(frame / "pose.npy", arrays["pose"][i][None])  # a batch of one is accepted too
        np.save(frame / "shape.npy", arrays["shape"][i])
        np.save(frame / "detail.npy", np.zeros(128, np.float32))
    (results / "video.mp4").write_bytes(b"not a frame")
    clip = read_deca(results, fps=25)
    np.testing.assert_array_equal(clip.expression, arrays["exp"])
    np.testing.assert_array_equal(clip.jaw, arrays["pose"][:, 3:])
    np.testing.assert_array_equal(clip.head, arrays["pose"][:, :3])


def test_emoca_frame_folder_missing_pose_names_it(tmp_path):
    frame = tmp_path / "000001_000"
    frame.mkdir()
    np.save(frame / "exp.npy", np.zeros(50, np.float32))
    with pytest.raises(ClipError, match=r"000001_000/pose\.npy is missing"):
        read_deca(tmp_path, fps=25)


def test_folder_without_frames_lists_what_it_holds(tmp_path):
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(ClipError, match=r"no per-frame folders with exp\.npy and pose\.npy .*found: readme\.txt"):
        read_deca(tmp_path, fps=25)


def test_frames_of_different_widths_are_refused(tmp_path):
    for name, width in (("1", 50), ("2", 100)):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / "exp.npy", np.zeros(width, np.float32))
        np.save(tmp_path / name / "pose.npy", np.zeros(6, np.float32))
    with pytest.raises(ClipError, match=r"2/exp\.npy has 100 values, the first frame has 50"):
        read_deca(tmp_path, fps=25)


def test_smirk_file_converts_with_eyelids(tmp_path):
    arrays = _smirk_arrays()
    clip = read_smirk(_write(tmp_path, "smirk.npz", arrays), fps=24)
    np.testing.assert_array_equal(clip.expression, arrays["expression_params"])
    np.testing.assert_array_equal(clip.jaw, arrays["jaw_params"])
    np.testing.assert_array_equal(clip.head, arrays["pose_params"])
    np.testing.assert_array_equal(clip.eyelids, arrays["eyelid_params"])


def test_smirk_file_without_eyelids(tmp_path):
    arrays = _smirk_arrays()
    del arrays["eyelid_params"]
    assert read_smirk(_write(tmp_path, "smirk.npz", arrays), fps=24).eyelids is None


@pytest.mark.parametrize(
    "kind, make_arrays, source_name",
    [
        ("vhap", _vhap_arrays, "tracked_flame_params.npz"),
        ("deca", _deca_arrays, "codes.npz"),
        ("smirk", _smirk_arrays, "smirk.npz"),
    ],
)
def test_convert_writes_a_loadable_clip(tmp_path, kind, make_arrays, source_name):
    source = _write(tmp_path, source_name, make_arrays())
    converted = convert_tracker_file(kind, source, tmp_path / "clip.npz", fps=30)
    loaded = load_clip(tmp_path / "clip.npz")
    assert loaded.fps == 30.0 and loaded.n_frames == T
    for key, array in converted.arrays().items():
        np.testing.assert_array_equal(getattr(loaded, key), array)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source_name, "clip.npz"])


WRONG_LAYOUTS = [
    (
        "vhap",
        _smirk_arrays,
        r"is not a VHAP file: it lacks 'expr', 'jaw_pose', .*a SMIRK file: choose .*\('smirk' on the command line\)",
    ),
    ("vhap", _deca_arrays, r"this looks like a DECA / EMOCA / SPECTRE file: choose .*\('deca' on the command line\)"),
    (
        "deca",
        _vhap_arrays,
        r"is not a DECA / EMOCA / SPECTRE file: it lacks 'exp', 'pose'.*\('vhap' on the command line\)",
    ),
    ("smirk", _vhap_arrays, r"keys found: rotation, translation, neck_pose.*\('vhap' on the command line\)"),
    ("smirk", _deca_arrays, r"is not a SMIRK file.*\('deca' on the command line\)"),
]


@pytest.mark.parametrize("kind, make_arrays, message", WRONG_LAYOUTS)
def test_wrong_layout_names_the_tracker_it_looks_like(tmp_path, kind, make_arrays, message):
    source = _write(tmp_path, "input.npz", make_arrays())
    with pytest.raises(ClipError, match=message):
        convert_tracker_file(kind, source, tmp_path / "clip.npz", fps=25)
    assert not (tmp_path / "clip.npz").exists()


def test_motion_clip_given_as_tracker_file_says_no_conversion_needed(tmp_path):
    clip = read_smirk(_write(tmp_path, "smirk.npz", _smirk_arrays()), fps=25)
    save_clip(clip, tmp_path / "already.npz")
    with pytest.raises(ClipError, match="already an AdaMesh motion clip: no conversion needed"):
        read_vhap(tmp_path / "already.npz", fps=25)


def test_one_missing_key_is_named_with_the_keys_found(tmp_path):
    arrays = _vhap_arrays()
    del arrays["eyes_pose"]
    with pytest.raises(ClipError, match=r"VHAP file: it lacks 'eyes_pose' \(keys found: rotation, translation"):
        read_vhap(_write(tmp_path, "tracked_flame_params.npz", arrays), fps=25)


@pytest.mark.parametrize(
    "kind, key, bad, message",
    [
        ("deca", "pose", np.zeros((T, 3)), r"DECA / EMOCA / SPECTRE 'pose' has shape \(12, 3\), expected \(T, 6\)"),
        ("vhap", "eyes_pose", np.zeros((T, 3)), r"VHAP 'eyes_pose' has shape \(12, 3\), expected \(T, 6\)"),
        ("smirk", "expression_params", np.zeros(50), r"'expression_params' has shape \(50,\), expected \(T, E\)"),
        ("smirk", "eyelid_params", np.zeros((T, 1)), r"'eyelid_params' has shape \(12, 1\), expected \(T, 2\)"),
        ("smirk", "jaw_params", np.array([["a", "b", "c"]] * T), r"'jaw_params' must hold numbers"),
    ],
)
def test_wrong_array_shape_names_the_tracker_key(tmp_path, kind, key, bad, message):
    arrays = {"vhap": _vhap_arrays, "deca": _deca_arrays, "smirk": _smirk_arrays}[kind]()
    arrays[key] = bad
    with pytest.raises(ClipError, match=message):
        READERS[kind](_write(tmp_path, "input.npz", arrays), 25)


def test_nan_in_tracker_output_is_refused_before_writing(tmp_path):
    arrays = _smirk_arrays()
    arrays["jaw_params"][5, 0] = np.nan
    source = _write(tmp_path, "smirk.npz", arrays)
    with pytest.raises(ClipError, match=r"smirk\.npz: jaw holds NaN or infinity, first at frame 5"):
        convert_tracker_file("smirk", source, tmp_path / "clip.npz", fps=25)
    assert not (tmp_path / "clip.npz").exists()


def test_pickled_tracker_array_is_refused(tmp_path):
    arrays = _smirk_arrays()
    arrays["pose_params"] = np.array([object()] * T, dtype=object)
    with pytest.raises(ClipError, match=r"'pose_params' is a pickled object array; pickled data is refused"):
        read_smirk(_write(tmp_path, "smirk.npz", arrays), fps=25)


@pytest.mark.parametrize("fps", [0, -25, float("nan")])
def test_tracker_rate_must_be_given_and_positive(tmp_path, fps):
    source = _write(tmp_path, "smirk.npz", _smirk_arrays())
    with pytest.raises(ClipError, match=r"fps must be a finite number above 0.*trackers do not store a frame rate"):
        read_smirk(source, fps=fps)


def test_unknown_tracker_kind_lists_the_choices(tmp_path):
    with pytest.raises(ClipError, match=r"unknown tracker 'openface'; choose one of: vhap, deca, smirk"):
        convert_tracker_file("openface", tmp_path / "x.npz", tmp_path / "clip.npz", fps=25)


def test_missing_tracker_file_names_the_path(tmp_path):
    with pytest.raises(ClipError, match=r"VHAP file .*nothing\.npz does not exist"):
        read_vhap(tmp_path / "nothing.npz", fps=25)
