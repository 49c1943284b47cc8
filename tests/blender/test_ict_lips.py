"""Lips on the ICT head, measured on the evaluated mesh in real bpy: the starter's clips of held-out speech (the
held-out synthetic corpus and the bundled demo sentence), keyed by the add-on's own bake onto the ICT head.

At the inner-lip landmarks (midline 62/66 = vertices 5533/5517, and the pairs beside it 61/67, 63/65): every
P, B and M closes (midline gap under 1 mm), no pair passes more than 1 mm through the other, open vowels open
past 8 mm, the front teeth stay behind the lips, and blinks close the eyelids (landmarks 37/41, 43/47)."""

from __future__ import annotations

import json
from pathlib import Path

import bpy
import numpy as np
import pytest

from adamesh_blender.anim import compat
from adamesh_blender.generation import bake_generated_clip
from adamesh_blender.rig_builders.ict_face import EYELID_LANDMARKS, INNER_LIP_PAIRS, ict_face, load_asset
from adamesh_blender.rig_builders.ict_head import build_ict_head
from backend.metrics import CLOSED_MM
from backend.synth.phones import BILABIALS, OPEN_VOWELS, load_timeline

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "assets" / "demo"
FPS = 25
OPEN_MM = 8.0
PENETRATION_MM = 1.0
EVENT_TOLERANCE_S = 0.04  # backend.metrics' window around a phone

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def speech(tmp_path_factory, heldout_corpus) -> list[tuple[str, Path, Path, Path]]:
    """(name, audio, phones, the starter's clip) of two held-out utterances and the demo sentence."""
    import torch

    from backend.checkpoints import load_checkpoint
    from backend.clips import save_clip
    from backend.generate import generate_clip

    folder = tmp_path_factory.mktemp("ict-lips")
    entries = json.loads((heldout_corpus / "index.json").read_text())["utterances"][:2]
    cases = [(Path(e["audio"]).stem, heldout_corpus / e["audio"], heldout_corpus / e["phones"]) for e in entries]
    cases.append(("demo sentence", DEMO / "speech.flac", DEMO / "speech.phones.json"))
    checkpoint = load_checkpoint(None, torch.device("cpu"))
    out = []
    for number, (name, audio, phones) in enumerate(cases):
        clip = folder / f"{number}.npz"
        save_clip(generate_clip(audio, checkpoint, fps=FPS, device="cpu", blinks=True, seed=number), clip)
        out.append((name, audio, phones, clip))
    return out


def head_frame_points(head) -> np.ndarray:
    """[V, 3] evaluated vertices in the head's rest frame (the head bone's motion taken out)."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    evaluated = head.evaluated_get(depsgraph)
    mesh = evaluated.to_mesh()
    try:
        points = np.empty(3 * len(mesh.vertices))
        mesh.vertices.foreach_get("co", points)
    finally:
        evaluated.to_mesh_clear()
    bone = head.parent.pose.bones["head"]
    motion = np.array(bone.matrix @ bone.bone.matrix_local.inverted())
    return (points.reshape(-1, 3) - motion[:3, 3]) @ motion[:3, :3]


def measure(audio: Path, clip: Path) -> dict[str, np.ndarray]:
    """Per frame of the sound: lip gaps at the pairs (mm), front teeth behind the lips (mm), eyelid gaps (mm)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    head = build_ict_head()
    strip = compat.new_sound_strip(scene, "speech", str(audio), channel=1, frame_start=1)
    bake_generated_clip(scene, head.name, strip.name, str(clip), custom=None)
    face = ict_face(load_asset(ROOT / "assets" / "ict-face" / "ict_face.npz"))
    landmarks = face.landmarks68
    teeth = np.concatenate([face.part("teeth_upper"), face.part("teeth_lower")])
    front_teeth = teeth[np.abs(face.vertices[teeth, 0]) < 0.01]
    rows = {"lips": [], "teeth": [], "eyelids": []}
    for frame in range(strip.frame_final_start, strip.frame_final_end):
        scene.frame_set(frame)
        p = head_frame_points(head)
        rows["lips"].append([1000 * (p[landmarks[a], 2] - p[landmarks[b], 2]) for a, b in INNER_LIP_PAIRS])
        lip_front = min(p[landmarks[62], 1], p[landmarks[66], 1])  # -Y is forward
        rows["teeth"].append(1000 * (p[front_teeth, 1].min() - lip_front))
        rows["eyelids"].append([1000 * (p[landmarks[a], 2] - p[landmarks[b], 2]) for a, b in EYELID_LANDMARKS.values()])
    return {key: np.array(value) for key, value in rows.items()}


def frames_near(phone, count: int) -> np.ndarray:
    first = max(0, int(np.floor((phone.start - EVENT_TOLERANCE_S) * FPS)))
    last = min(count - 1, int(np.ceil((phone.end + EVENT_TOLERANCE_S) * FPS)))
    return np.arange(first, last + 1)


def test_lips_meet_on_every_bilabial_open_on_open_vowels_and_never_cross(speech):
    totals = {"closed": 0, "bilabials": 0, "opened": 0, "open_vowels": 0}
    for name, audio, phones_path, clip in speech:
        figures = measure(audio, clip)
        lips, teeth = figures["lips"], figures["teeth"]
        midline = lips[:, 0]
        phones = load_timeline(phones_path)
        closed_at, open_at = [], []
        for phone in phones:
            near = frames_near(phone, len(midline))
            if phone.phone in BILABIALS:
                closed_at.append(int(near[np.argmin(midline[near])]))
            elif phone.phone in OPEN_VOWELS:
                open_at.append(int(near[np.argmax(midline[near])]))
        closed = midline[closed_at] < CLOSED_MM
        opened = midline[open_at] > OPEN_MM
        print(f"{name}: P B M closed {closed.sum()}/{len(closed)} (midline {midline[closed_at].min():.2f}.."
              f"{midline[closed_at].max():.2f} mm); open vowels > {OPEN_MM:g} mm {opened.sum()}/{len(opened)} "
              f"(peaks {midline[open_at].min():.1f}..{midline[open_at].max():.1f} mm); deepest crossing "
              f"{lips.min():.2f} mm; front teeth at least {teeth.min():.1f} mm behind the lips; eyelids "
              f"{figures['eyelids'].min(axis=0).round(2).tolist()} mm at their closest")
        assert lips.min() > -PENETRATION_MM, f"{name}: lips pass {-lips.min():.2f} mm through each other"
        assert teeth[closed_at].min() > 0.0, f"{name}: the front teeth reach the closed lips"
        totals["closed"] += int(closed.sum())
        totals["bilabials"] += len(closed)
        totals["opened"] += int(opened.sum())
        totals["open_vowels"] += len(opened)
        if name == "demo sentence":
            assert figures["eyelids"].min() < 1.0, "no blink closed the eyelids"
    print(totals)
    assert totals["bilabials"] >= 15 and totals["open_vowels"] >= 8
    assert totals["closed"] == totals["bilabials"], totals
    assert totals["opened"] == totals["open_vowels"], totals
