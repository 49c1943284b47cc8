"""Tests in the real bpy module: every test starts from an empty factory scene, so no state leaks between them."""

from pathlib import Path

import bpy
import pytest

from backend.adaptation.adapt_options import AdaptOptions


@pytest.fixture(autouse=True)
def empty_scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield bpy.context.scene


@pytest.fixture(scope="session")
def tiny_style(tmp_path_factory, tiny_checkpoint, heldout_corpus) -> Path:
    """A style file made by Adapt Style (a few steps, no phones) on the tiny checkpoint, from the held-out corpus's
    first four utterances joined into one reference."""
    import numpy as np
    import soundfile

    from backend.adaptation.adapt_style import adapt_style
    from backend.audio.decode import load_audio
    from backend.clips import MotionClip, load_clip, save_clip

    folder = tmp_path_factory.mktemp("style")
    names = sorted(path.stem for path in (heldout_corpus / "motion").glob("*.npz"))[:4]
    clips = [load_clip(heldout_corpus / "motion" / f"{name}.npz") for name in names]
    audio = np.concatenate([load_audio(next((heldout_corpus / "audio").glob(f"{name}.*"))) for name in names])
    soundfile.write(folder / "reference.wav", audio, 16000, subtype="PCM_16")
    joined = {key: np.concatenate([getattr(clip, key) for clip in clips]) for key in ("expression", "jaw", "head")}
    save_clip(MotionClip(clips[0].fps, expression_names=clips[0].expression_names, **joined), folder / "reference.npz")
    out = folder / "calm.safetensors"
    adapt_style(
        folder / "reference.wav",
        folder / "reference.npz",
        out,
        AdaptOptions(steps=8, device="cpu", phonetic="none", name="calm", checkpoint=str(tiny_checkpoint)),
    )
    return out


def pytest_terminal_summary(terminalreporter) -> None:
    """Said once per run (also with -q): which Blender the tests ran in, and what its build lacks."""
    from .sound_strips import WHY, can_add_sound_strips

    terminalreporter.write_line(f"Blender-side tests ran in bpy {bpy.app.version_string}")
    if not can_add_sound_strips():
        terminalreporter.write_line(WHY)
