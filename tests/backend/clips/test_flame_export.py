"""export-flame: a FLAME-channel clip as FLAME parameters under VHAP's keys, read back by the VHAP reader."""

from __future__ import annotations

import numpy as np
import pytest

from backend.cli.main import main
from backend.clips import MotionClip, read_vhap, save_clip
from backend.clips.flame_export import export_flame
from backend.core.channels import CHANNELS
from backend.core.errors import ClipError
from backend.synth.flame_lift import FLAME_EXPRESSION_NAMES


def flame_clip(n: int = 40, fps: float = 30.0) -> MotionClip:
    rng = np.random.default_rng(0)
    return MotionClip(
        fps,
        rng.normal(size=(n, 100)).astype(np.float32),
        FLAME_EXPRESSION_NAMES,
        rng.normal(0, 0.1, (n, 3)).astype(np.float32),
        rng.normal(0, 0.05, (n, 3)).astype(np.float32),
        eyes=rng.normal(0, 0.02, (n, 6)).astype(np.float32),
    )


def test_the_file_has_vhaps_keys_and_reads_back_as_the_same_clip(tmp_path):
    clip = flame_clip()
    out = tmp_path / "flame.npz"
    export_flame(clip, out)
    with np.load(out, allow_pickle=False) as arrays:
        assert set(arrays.files) == {"expr", "jaw_pose", "neck_pose", "rotation", "translation", "eyes_pose", "fps"}
        assert float(arrays["fps"]) == 30.0 and not arrays["rotation"].any()
    back = read_vhap(out, fps=30.0)
    np.testing.assert_array_equal(back.expression, clip.expression)
    np.testing.assert_array_equal(back.jaw, clip.jaw)
    np.testing.assert_array_equal(back.head, clip.head)  # head = FLAME neck joint
    np.testing.assert_array_equal(back.eyes, clip.eyes)


def test_channels_are_placed_by_their_number(tmp_path):
    """A clip with some FLAME channels, out of order: each lands in its own column, the others stay at zero."""
    clip = flame_clip()
    names = ("Exp3", "Exp1", "Exp50")
    partial = MotionClip(clip.fps, clip.expression[:, :3], names, clip.jaw, clip.head)
    arrays = export_flame(partial, tmp_path / "partial.npz", fps=25.0)
    assert arrays["expr"].shape[1] == 50 and float(arrays["fps"]) == 25.0
    assert not arrays["expr"][:, [1, *range(3, 49)]].any()
    np.testing.assert_allclose(arrays["expr"][0, [2, 0, 49]], partial.expression[0])


def test_a_clip_in_other_channels_is_refused_with_what_to_do(tmp_path):
    n = 10
    arkit = MotionClip(
        25.0,
        np.zeros((n, len(CHANNELS)), np.float32),
        CHANNELS,
        np.zeros((n, 3), np.float32),
        np.zeros((n, 3), np.float32),
    )
    with pytest.raises(ClipError, match="not FLAME expression coefficients.*adapted on a FLAME reference"):
        export_flame(arkit, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


def test_cli(tmp_path, capsys):
    save_clip(flame_clip(), tmp_path / "clip.npz")
    assert main(["export-flame", str(tmp_path / "clip.npz"), "--out", str(tmp_path / "flame.npz")]) == 0
    assert "100 expression coefficients" in capsys.readouterr().out
    assert read_vhap(tmp_path / "flame.npz", fps=30.0).n_frames == 40
