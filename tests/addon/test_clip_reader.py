"""The add-on's clip reader on clips written by the backend's own writer, and on broken files."""

import numpy as np
import pytest

from adamesh_blender.clip_reader import CLIP_FORMAT, read_clip
from adamesh_blender.errors import ClipReadError
from backend.clips.motion_clip import MotionClip, save_clip


def _backend_clip(n_frames: int = 12, with_eyes: bool = True) -> MotionClip:
    rng = np.random.default_rng(3)
    return MotionClip(
        fps=25.0,
        expression=rng.normal(size=(n_frames, 3)).astype(np.float32),
        expression_names=("mouthClose", "mouthFunnel", "browInnerUp"),
        jaw=rng.normal(size=(n_frames, 3)).astype(np.float32) * 0.1,
        head=rng.normal(size=(n_frames, 3)).astype(np.float32) * 0.1,
        eyes=rng.normal(size=(n_frames, 6)).astype(np.float32) * 0.1 if with_eyes else None,
    )


def _raw_clip(path, **overrides) -> None:
    arrays = {
        "format": np.array(CLIP_FORMAT),
        "fps": np.array(30.0),
        "expression": np.zeros((5, 2), np.float32),
        "expression_names": np.array(["a", "b"]),
        "jaw": np.zeros((5, 3), np.float32),
        "head": np.zeros((5, 3), np.float32),
    }
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


def test_reads_what_the_backend_writes(tmp_path):
    written = _backend_clip()
    save_clip(written, tmp_path / "c.npz")
    clip = read_clip(tmp_path / "c.npz")
    assert clip.fps == 25.0 and clip.n_frames == 12
    assert clip.expression_names == written.expression_names
    for key in ("expression", "jaw", "head", "eyes"):
        np.testing.assert_array_equal(getattr(clip, key), getattr(written, key))


def test_eyes_are_optional(tmp_path):
    save_clip(_backend_clip(with_eyes=False), tmp_path / "c.npz")
    assert read_clip(tmp_path / "c.npz").eyes is None


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"format": np.array("adamesh-motion/9")}, "adamesh-motion/9"),
        ({"fps": np.array(0.0)}, "fps"),
        ({"jaw": None}, "lacks jaw"),
        ({"head": np.zeros((5, 4), np.float32)}, "head must be [T, 3]"),
        ({"eyes": np.zeros((4, 6), np.float32)}, "eyes 4"),
        ({"expression_names": np.array(["a"])}, "expression_names must be 2 strings"),
        ({"expression": np.full((5, 2), np.nan, np.float32)}, "NaN"),
        ({"expression_names": np.array(["a", "b"], dtype=object)}, "allow_pickle"),
    ],
)
def test_bad_clips_name_the_problem(tmp_path, overrides, message):
    path = tmp_path / "bad.npz"
    _raw_clip(path, **overrides)
    with pytest.raises(ClipReadError, match=message.replace("[", r"\[").replace("]", r"\]")) as error:
        read_clip(path)
    assert str(path) in str(error.value)


def test_missing_and_non_npz_files(tmp_path):
    with pytest.raises(ClipReadError, match="does not exist"):
        read_clip(tmp_path / "nothing.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ClipReadError, match="not a motion clip"):
        read_clip(tmp_path / "text.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(ClipReadError, match="single array"):
        read_clip(tmp_path / "single.npy")
