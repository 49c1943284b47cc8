"""The demo's bake for real: a style adapted from the bundled reference (assets/demo/) on the starter checkpoint,
the bundled second sentence generated with and without it, both keyed by demo/scene.py onto two demo heads, and
read back from the evaluated meshes at the phones of the sentence's exact timeline. The heads are the ICT head, as
in the demo."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest

from adamesh_blender.rig_builders.head_mesh import lip_separation_mm
from adamesh_blender.rig_builders.ict_face import ict_face, load_asset
from adamesh_blender.rig_builders.ict_head import build_ict_head
from backend.adaptation.adapt_options import AdaptOptions
from backend.core.phones import load_timeline
from backend.evaluation.metrics import CLOSED_MM, closure_rate, opening_rate
from backend.inference.generate_options import GenerateOptions
from demo import render, scene
from demo.moments import CLOSED, OPEN, pick_moments

from .sound_strips import add_sound_strip

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets" / "demo"
ADAPT_STEPS = 120  # of the default 400 (early stopping ends the full run near 300): the style shows by then
OPEN_MM = 8.0  # an open vowel is open when the lips part this far (the corpus's usual opening is ~15 mm)
LIP_LANDMARKS = range(48, 68)  # Multi-PIE: the outer and inner lip contours; 54 and 48 the mouth's corners
STYLED, BASE = "crooked smile", "base model"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_clips(tmp_path_factory) -> dict[str, Path]:
    """The starter's clips of the bundled sentence: without a style, and in the style of the bundled reference."""
    import torch

    from backend.adaptation.adapt_style import adapt_style
    from backend.clips import save_clip
    from backend.inference.generation import generate_clip
    from backend.models.checkpoint_file import load_checkpoint

    folder = tmp_path_factory.mktemp("demo")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # see tests/conftest.py single_torch_thread
    try:
        checkpoint = load_checkpoint(None, torch.device("cpu"))
        style = folder / "crooked-smile.safetensors"
        adapt_style(
            ASSETS / "reference.flac",
            ASSETS / "reference.npz",
            style,
            AdaptOptions(steps=ADAPT_STEPS, device="cpu", transcript=(ASSETS / "reference.txt").read_text()),
            checkpoint,
        )
        clips = {}
        for label, style_file in ((BASE, None), (STYLED, style)):
            clips[label] = folder / f"{label}.npz"
            save_clip(
                generate_clip(
                    ASSETS / "speech.flac",
                    GenerateOptions(
                        fps=scene.FPS,
                        device="cpu",
                        style=style_file,
                        transcript=(ASSETS / "speech.txt").read_text(),
                        blinks=False,
                    ),
                    checkpoint,
                ),
                clips[label],
            )
    finally:
        torch.set_num_threads(threads)
    return clips


@pytest.fixture
def demo_heads(demo_clips) -> dict:
    current = bpy.context.scene
    current.render.fps = scene.FPS
    speech = ASSETS / "speech.flac"
    strip = add_sound_strip(current, speech.stem, str(speech), channel=1, frame_start=scene.FRAME_START)
    heads, _ = scene.key_heads(
        current, build_ict_head(), strip, [(BASE, demo_clips[BASE]), (STYLED, demo_clips[STYLED])]
    )
    return {BASE: heads[0], STYLED: heads[1]}


def speech_frames() -> range:
    current = bpy.context.scene
    return range(current.frame_start, current.frame_end + 1)


def lip_gaps_mm(head) -> np.ndarray:
    """The midline lip gap of the evaluated mesh at every frame of the speech; index k is the sound's k-th frame."""
    gaps = []
    for frame in speech_frames():
        bpy.context.scene.frame_set(frame)
        gaps.append(lip_separation_mm(head, bpy.context.evaluated_depsgraph_get()))
    return np.array(gaps)


def mouth_shape_mm(head) -> np.ndarray:
    """[frames, 2] in the head's own axes, mm: the sideways shift of the lips' centre (+ = towards the subject's
    left), and how much higher the left mouth corner sits than the right one."""
    landmarks = ict_face(load_asset(ROOT / "assets" / "ict-face" / "ict_face.npz")).landmarks68
    lips = [int(landmarks[n]) for n in LIP_LANDMARKS]
    rest = np.array([head.data.vertices[i].co for i in lips])
    left, right = lips[int(rest[:, 0].argmax())], lips[int(rest[:, 0].argmin())]
    rows = []
    for frame in speech_frames():
        bpy.context.scene.frame_set(frame)
        evaluated = head.evaluated_get(bpy.context.evaluated_depsgraph_get())
        mesh = evaluated.to_mesh()
        try:
            points = np.array([mesh.vertices[i].co for i in lips])
            rows.append((points[:, 0].mean(), mesh.vertices[left].co.z - mesh.vertices[right].co.z))
        finally:
            evaluated.to_mesh_clear()
    # the neck moves the whole head: only the mouth's motion relative to it counts, so subtract the rest shape
    return 1000.0 * (np.array(rows) - (rest[:, 0].mean(), rest[rest[:, 0].argmax(), 2] - rest[rest[:, 0].argmin(), 2]))


def test_lips_close_on_every_bilabial_and_open_on_open_vowels(demo_heads):
    phones = load_timeline(ASSETS / "speech.phones.json")
    for label, head in demo_heads.items():
        gaps = lip_gaps_mm(head)
        closed, bilabials = closure_rate(phones, gaps, scene.FPS)
        opened, open_vowels = opening_rate(phones, gaps, scene.FPS, usual_opening_mm=2 * OPEN_MM)
        print(
            f"{label}: lips closed (< {CLOSED_MM} mm) on {closed:.0%} of {bilabials} P B M; open (> {OPEN_MM} mm) "
            f"on {opened:.0%} of {open_vowels} open vowels; gap {gaps.min():.1f}..{gaps.max():.1f} mm"
        )
        assert bilabials >= 10 and open_vowels >= 6
        assert closed >= 0.9, f"{label}: lips closed on {closed:.0%} of the P B M phones"
        assert opened >= 0.8, f"{label}: mouth open on {opened:.0%} of the open vowels"


def test_the_styled_head_smiles_crookedly_like_the_reference(demo_heads):
    shift_base, corners_base = mouth_shape_mm(demo_heads[BASE]).mean(axis=0)
    shift_styled, corners_styled = mouth_shape_mm(demo_heads[STYLED]).mean(axis=0)
    print(
        f"mouth shifted left {shift_base:.2f} -> {shift_styled:.2f} mm; left corner above right "
        f"{corners_base:.2f} -> {corners_styled:.2f} mm (base -> styled, mean over the sentence)"
    )
    # the reference's style pulls the mouth to the subject's left and lifts the left corner (make_demo_assets.py)
    assert shift_styled - shift_base > 1.0
    assert corners_styled - corners_base > 1.0


def test_the_contact_sheet_shows_the_lip_moments_of_the_timeline(demo_heads, tmp_path):
    current = bpy.context.scene
    scene.add_camera_and_lights(current, list(demo_heads.values()))
    moments = pick_moments(load_timeline(ASSETS / "speech.phones.json"), per_kind=1)
    shots = render.shots(current, list(demo_heads.values()), moments, scene.FRAME_START)
    assert sorted(shot.moment.kind for shot in shots) == sorted((CLOSED, OPEN))
    for shot in shots:  # each at its clearest frame, which shows the state the phone asks for
        assert all(gap < CLOSED_MM if shot.moment.kind == CLOSED else gap > OPEN_MM for gap in shot.lip_mm.values())
    sheet = render.contact_sheet(current, shots, [BASE, STYLED], tmp_path / "sheet.png", tile_size=(96, 54))

    from PIL import Image

    with Image.open(sheet) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.int32)
    assert pixels.shape == (render.HEADER_HEIGHT + render.LABEL_HEIGHT + 54, 2 * 96, 3)
    lip_coloured = (pixels[..., 0] - pixels[..., 1] > 60).sum()  # the lip material, reddish
    assert lip_coloured > 20
