"""The motion clip: validation messages, the .npz round trip, atomic writes, and refusing pickles."""

import dataclasses
import pickle
import zipfile

import numpy as np
import pytest

from backend.clips import MotionClip, load_clip, save_clip
from backend.core.errors import ClipError
from backend.core.files import write_atomically

T = 10


def _clip(**changes) -> MotionClip:
    rng = np.random.default_rng(1)
    clip = MotionClip(
        fps=25.0,
        expression=rng.normal(size=(T, 4)).astype(np.float32),
        expression_names=("Exp1", "Exp2", "Exp3", "Exp4"),
        jaw=rng.normal(size=(T, 3)).astype(np.float32) * 0.1,
        head=rng.normal(size=(T, 3)).astype(np.float32) * 0.1,
        eyes=rng.normal(size=(T, 6)).astype(np.float32) * 0.1,
        eyelids=rng.uniform(size=(T, 2)).astype(np.float32),
        global_rotation=rng.normal(size=(T, 3)).astype(np.float32) * 0.1,
        translation=rng.normal(size=(T, 3)).astype(np.float32),
    )
    return dataclasses.replace(clip, **changes)


def _bad_value(key: str, frame: int, value: float) -> dict[str, np.ndarray]:
    array = getattr(_clip(), key).copy()
    array[frame, -1] = value
    return {key: array}


def _file_arrays(clip: MotionClip) -> dict[str, np.ndarray]:
    """What save_clip writes, built by hand so tests can break one key at a time."""
    return {
        "format": np.array("adamesh-motion/1"),
        "fps": np.array(clip.fps),
        "expression_names": np.array(clip.expression_names),
        **clip.arrays(),
    }


def test_properties():
    clip = _clip()
    assert clip.n_frames == T
    assert clip.duration == pytest.approx(T / 25.0)
    assert MotionClip.FORMAT == "adamesh-motion/1"
    clip.validate()


BAD_CLIPS = {
    "jaw with 4 columns": (dict(jaw=np.zeros((T, 4), np.float32)), r"jaw has shape \(10, 4\), expected \(T, 3\)"),
    "1-D expression": (dict(expression=np.zeros(T, np.float32)), r"expression has shape \(10,\), expected \(T, E\)"),
    "3-D head": (dict(head=np.zeros((T, 1, 3), np.float32)), r"head has shape \(10, 1, 3\), expected \(T, 3\)"),
    "eyes as one eye": (dict(eyes=np.zeros((T, 3), np.float32)), r"eyes has shape \(10, 3\), expected \(T, 6\)"),
    "eyelids of 3": (dict(eyelids=np.zeros((T, 3), np.float32)), r"eyelids has shape \(10, 3\), expected \(T, 2\)"),
    "integer expression": (dict(expression=np.zeros((T, 4), np.int64)), r"expression must hold floats, got int64"),
    "list for jaw": (dict(jaw=[[0.0, 0.0, 0.0]] * T), r"jaw must be a numpy array of shape \(T, 3\), got list"),
    "NaN in head": (_bad_value("head", 4, np.nan), r"head holds NaN or infinity, first at frame 4"),
    "inf in eyelids": (_bad_value("eyelids", 0, np.inf), r"eyelids holds NaN or infinity, first at frame 0"),
    "NaN in expression": (_bad_value("expression", 9, np.nan), r"expression .* first at frame 9"),
    "fps zero": (dict(fps=0.0), r"fps must be a finite number above 0, got 0.0"),
    "fps negative": (dict(fps=-30), r"fps must be a finite number above 0, got -30"),
    "fps NaN": (dict(fps=float("nan")), r"fps must be a finite number above 0, got nan"),
    "fps infinite": (dict(fps=float("inf")), r"fps must be a finite number above 0, got inf"),
    "fps text": (dict(fps="25"), r"fps must be a number, got str"),
    "jaw one frame short": (
        dict(jaw=np.zeros((T - 1, 3), np.float32)),
        r"arrays differ in frame count \(expression 10, jaw 9, head 10, eyes 10, eyelids 10, global_rotation 10, "
        r"translation 10\)",
    ),
    "too few names": (dict(expression_names=("Exp1", "Exp2")), r"expression_names has 2 names but expression has 4"),
    "duplicate names": (dict(expression_names=("a", "b", "a", "b")), r"expression_names repeats \['a', 'b'\]"),
    "empty name": (dict(expression_names=("a", " ", "c", "d")), r"expression_names has empty names at positions \[1\]"),
    "names as list": (dict(expression_names=["a", "b", "c", "d"]), r"expression_names must be a tuple of strings"),
    "zero frames": (
        {key: array[:0] for key, array in _clip().arrays().items()},
        r"clip has zero frames",
    ),
}


@pytest.mark.parametrize("changes, message", BAD_CLIPS.values(), ids=BAD_CLIPS.keys())
def test_validate_names_the_problem(changes, message):
    with pytest.raises(ClipError, match=message):
        _clip(**changes).validate()


@pytest.mark.parametrize("changes, message", BAD_CLIPS.values(), ids=BAD_CLIPS.keys())
def test_save_refuses_a_bad_clip_and_leaves_the_existing_file_alone(tmp_path, changes, message):
    destination = tmp_path / "clip.npz"
    save_clip(_clip(), destination)
    before = destination.read_bytes()
    with pytest.raises(ClipError, match=message):
        save_clip(_clip(**changes), destination)
    assert destination.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["clip.npz"]


def test_round_trip_keeps_every_array_name_and_rate(tmp_path):
    clip = _clip(fps=29.97)
    save_clip(clip, tmp_path / "clip.npz")
    loaded = load_clip(tmp_path / "clip.npz")
    assert loaded.fps == 29.97
    assert loaded.expression_names == clip.expression_names
    for key, array in clip.arrays().items():
        np.testing.assert_array_equal(getattr(loaded, key), array)
        assert getattr(loaded, key).dtype == np.float32
    assert [p.name for p in tmp_path.iterdir()] == ["clip.npz"]  # no temp file left behind


def test_round_trip_without_optional_arrays(tmp_path):
    clip = _clip(eyes=None, eyelids=None, global_rotation=None, translation=None)
    save_clip(clip, tmp_path / "bare.npz")
    loaded = load_clip(tmp_path / "bare.npz")
    assert loaded.eyes is None and loaded.eyelids is None and loaded.global_rotation is None
    assert loaded.translation is None
    np.testing.assert_array_equal(loaded.head, clip.head)


def test_saved_file_is_plain_arrays_with_unicode_strings(tmp_path):
    save_clip(_clip(), tmp_path / "clip.npz")
    with np.load(tmp_path / "clip.npz", allow_pickle=False) as npz:
        contents = {key: npz[key] for key in npz.files}  # would raise on any pickled (object) array
    assert str(contents["format"]) == "adamesh-motion/1"
    assert contents["expression_names"].dtype.kind == "U"
    assert contents["fps"].shape == ()


def test_save_replaces_an_existing_clip(tmp_path):
    destination = tmp_path / "clip.npz"
    save_clip(_clip(), destination)
    save_clip(_clip(fps=60.0), destination)
    assert load_clip(destination).fps == 60.0
    assert [p.name for p in tmp_path.iterdir()] == ["clip.npz"]


def test_save_to_a_missing_folder_names_it(tmp_path):
    with pytest.raises(ClipError, match=r"folder .*nowhere does not exist"):
        save_clip(_clip(), tmp_path / "nowhere" / "clip.npz")


def test_failed_write_leaves_the_destination_and_no_temp_file(tmp_path):
    destination = tmp_path / "clip.npz"
    destination.write_bytes(b"previous clip")

    def write_half_then_fail(file):
        file.write(b"half a clip")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(destination, write_half_then_fail)
    assert destination.read_bytes() == b"previous clip"
    assert [p.name for p in tmp_path.iterdir()] == ["clip.npz"]


FILE_CASES = {
    "missing jaw": (lambda a: a.pop("jaw"), r"missing key 'jaw'"),
    "missing expression_names": (lambda a: a.pop("expression_names"), r"missing key 'expression_names'"),
    "missing fps": (lambda a: a.pop("fps"), r"missing key 'fps'"),
    "missing format": (lambda a: a.pop("format"), r"missing key 'format'; this is not an AdaMesh motion clip"),
    "newer version": (
        lambda a: a.update(format=np.array("adamesh-motion/2")),
        r"clip format 'adamesh-motion/2' is not one this AdaMesh reads \(supported: adamesh-motion/1\): update",
    ),
    "foreign format": (
        lambda a: a.update(format=np.array("blendshapes/3")),
        r"format 'blendshapes/3' is not an AdaMesh motion clip \(supported: adamesh-motion/1\)",
    ),
    "format not a string": (lambda a: a.update(format=np.array(1.0)), r"'format' must be a string"),
    "unknown key": (lambda a: a.update(eye=a["jaw"]), r"unknown key 'eye' \(known keys: .*eyes"),
    "fps as array": (lambda a: a.update(fps=np.array([25.0, 25.0])), r"fps must be a single number"),
    "names as numbers": (lambda a: a.update(expression_names=np.arange(4)), r"expression_names must be a 1-D string"),
    "NaN in jaw": (lambda a: a["jaw"].__setitem__((7, 1), np.nan), r"jaw holds NaN or infinity, first at frame 7"),
    "short head": (lambda a: a.update(head=a["head"][:5]), r"arrays differ in frame count \(.*head 5"),
}


@pytest.mark.parametrize("break_file, message", FILE_CASES.values(), ids=FILE_CASES.keys())
def test_load_names_the_file_and_the_problem(tmp_path, break_file, message):
    arrays = {key: np.array(value, copy=True) for key, value in _file_arrays(_clip()).items()}
    break_file(arrays)
    path = tmp_path / "broken.npz"
    np.savez(path, **arrays)
    with pytest.raises(ClipError, match=message) as raised:
        load_clip(path)
    assert str(path) in str(raised.value)


def test_load_converts_float64_arrays_to_float32(tmp_path):
    arrays = {key: (v.astype(np.float64) if v.dtype.kind == "f" else v) for key, v in _file_arrays(_clip()).items()}
    np.savez(tmp_path / "wide.npz", **arrays)
    assert load_clip(tmp_path / "wide.npz").expression.dtype == np.float32


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(ClipError, match=r"motion clip .*absent\.npz does not exist"):
        load_clip(tmp_path / "absent.npz")


def test_folder_is_not_a_clip(tmp_path):
    with pytest.raises(ClipError, match="is not a file"):
        load_clip(tmp_path)


def test_text_file_is_not_a_clip(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("expression,jaw\n1,2\n")
    with pytest.raises(ClipError, match=r"notes\.npz is not an \.npz archive"):
        load_clip(path)


def test_single_npy_array_is_not_a_clip(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.zeros((T, 3)))
    with pytest.raises(ClipError, match=r"holds a single \.npy array"):
        load_clip(path)


def test_truncated_archive_is_a_clip_error(tmp_path):
    save_clip(_clip(), tmp_path / "clip.npz")
    data = (tmp_path / "clip.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ClipError, match=r"cut\.npz is a damaged \.npz archive"):
        load_clip(tmp_path / "cut.npz")


class _Payload:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_array_inside_an_npz_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "payload_ran"
    arrays = _file_arrays(_clip())
    arrays["expression_names"] = np.array([_Payload(marker)] * 4, dtype=object)
    path = tmp_path / "crafted.npz"
    np.savez(path, **arrays)  # numpy pickles object arrays when saving

    with pytest.raises(ClipError, match=r"'expression_names' is a pickled object array; pickled data is refused"):
        load_clip(path)
    assert not marker.exists()

    # the payload is live: numpy with pickles allowed would have run it
    with zipfile.ZipFile(path) as archive:
        assert "expression_names.npy" in archive.namelist()
    with np.load(path, allow_pickle=True) as npz:
        npz["expression_names"]
    assert marker.exists()


def test_raw_pickle_file_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "payload_ran"
    path = tmp_path / "clip.npz"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ClipError, match=r"clip\.npz is a pickle, not an \.npz motion clip; pickled data is refused"):
        load_clip(path)
    assert not marker.exists()


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    import os

    umask = os.umask(0)
    os.umask(umask)
    target = tmp_path / "mode.bin"
    write_atomically(target, lambda f: f.write(b"x"))
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
