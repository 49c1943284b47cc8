"""The bilabial closure guarantee: hand-made motion closed where a P, B, M was fed and left alone elsewhere, and the
generated motion of a real (tiny) checkpoint closing on every bilabial, at 25 fps and resampled."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.audio.phonetic import FEATURE_PHONES, phone_features
from backend.clips import MotionClip, resample_clip
from backend.core.channels import CHANNEL_INDEX, CHANNELS
from backend.core.lip_gap import lip_gap, lip_separation
from backend.core.phones import Phone
from backend.evaluation.metrics import closure_rate
from backend.inference.lip_closure import MARGIN_MM, WINDOW_S, close_bilabials
from backend.synth.flame_lift import FLAME_EXPRESSION_NAMES

FPS = 25.0
N_FRAMES = 40
# A "p" of 30 ms between two frame instants (0.44 s and 0.48 s) and a long "m", in an open "a" at 12 mm.
PHONES = [
    Phone("SIL", 0.0, 0.1),
    Phone("AA", 0.1, 0.445),
    Phone("P", 0.445, 0.475),
    Phone("AA", 0.475, 0.8),
    Phone("M", 0.8, 0.9),
    Phone("AA", 0.9, 1.3),
    Phone("SIL", 1.3, 1.6),
]
P_FRAMES = (11, 12)  # the frames whose interval the "p" overlaps


def _open_motion(jaw_x: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    expression = np.zeros((N_FRAMES, len(CHANNELS)), np.float32)
    jaw = np.zeros((N_FRAMES, 3), np.float32)
    jaw[3:33, 0] = jaw_x  # 80 mm/rad * sin(0.15) = 12 mm apart through the speech
    return expression, jaw


def _features(phones=PHONES) -> np.ndarray:
    return phone_features(phones, N_FRAMES, FPS)


def _resampled_gap(expression: np.ndarray, jaw: np.ndarray, fps: float) -> np.ndarray:
    clip = MotionClip(
        fps=FPS, expression=expression, expression_names=CHANNELS, jaw=jaw, head=np.zeros((len(jaw), 3), np.float32)
    )
    resampled = resample_clip(clip, fps)
    return lip_gap(resampled.expression, resampled.jaw)


@pytest.mark.parametrize("fps", [FPS, 24.0, 30.0])
def test_closes_open_bilabials_also_after_resampling(fps):
    expression, jaw = _open_motion()
    assert closure_rate(PHONES, lip_gap(expression, jaw), FPS) == (0.0, 2)
    closed_expression, closed_jaw = close_bilabials(expression, jaw, _features(), CHANNELS, FPS)
    assert closure_rate(PHONES, _resampled_gap(closed_expression, closed_jaw, fps), fps) == (1.0, 2)
    assert lip_separation(closed_expression, closed_jaw).min() >= -MARGIN_MM - 1e-4  # pressed, not squashed
    assert not expression.any() and (jaw[3:33, 0] == np.float32(0.15)).all()  # the inputs are untouched


def test_correction_is_a_smooth_local_closing():
    expression, jaw = _open_motion()
    closed_expression, closed_jaw = close_bilabials(expression, jaw, _features(), CHANNELS, FPS)
    removed = lip_separation(expression, jaw) - lip_separation(closed_expression, closed_jaw)
    assert (removed >= -1e-4).all()  # only ever closes
    changed = np.flatnonzero(removed > 1e-4)
    for event in (P_FRAMES, range(20, 23)):  # the "p" and the "m" (0.8-0.9 s)
        assert np.isin(event, changed).any()
    # frames farther from a bilabial than the window (plus the neighbour frame) are untouched
    bilabial = np.flatnonzero(_features()[:, [FEATURE_PHONES.index(p) for p in "BMP"]].sum(axis=1) > 0)
    times = np.arange(N_FRAMES) / FPS
    near = np.abs(times[:, None] - times[None, bilabial]).min(axis=1) <= WINDOW_S + 1 / FPS + 1e-9
    assert not removed[~near].any() and (~near).sum() > 20
    # only the closing channels move, and mouthClose alone suffices here
    others = [k for name, k in CHANNEL_INDEX.items() if name not in ("mouthClose", "mouthPressLeft", "mouthPressRight")]
    assert not closed_expression[:, others].any() and np.array_equal(closed_jaw, jaw)  # mouthClose sufficed
    # no pop: every corrected stretch ramps in and out over more than one frame, through values in between
    for stretch in np.split(changed, np.flatnonzero(np.diff(changed) > 1) + 1):
        profile = removed[stretch]
        assert len(stretch) >= 3 and profile[0] < profile.max() and profile[-1] < profile.max()
        peak = int(np.argmax(profile))
        assert (np.diff(profile[: peak + 1]) >= -1e-4).all() and (np.diff(profile[peak:]) <= 1e-4).all()
    assert ((closed_expression >= 0) & (closed_expression <= 1)).all()


def test_leaves_closed_bilabials_and_other_phones_alone():
    expression, jaw = _open_motion()
    expression[10:25, CHANNEL_INDEX["mouthClose"]] = 0.5  # 12.5 mm of closing on 12 mm of jaw: pressed 0.5 mm
    closed_expression, closed_jaw = close_bilabials(expression, jaw, _features(), CHANNELS, FPS)
    assert np.array_equal(closed_expression, expression) and np.array_equal(closed_jaw, jaw)
    no_bilabials = [Phone("AA", 0.1, 1.3)]
    expression, jaw = _open_motion()
    closed_expression, closed_jaw = close_bilabials(expression, jaw, _features(no_bilabials), CHANNELS, FPS)
    assert np.array_equal(closed_expression, expression) and np.array_equal(closed_jaw, jaw)


def test_a_short_vowel_between_two_bilabials_keeps_its_opening():
    # "p a p": the 60 ms vowel shares frame 11 with the first "p" and frame 12 with the second; the lips are closed
    # on both, open 12 mm on the vowel's two frames, which hold no bilabial of their own to close
    phones = [
        Phone("SIL", 0.0, 0.3),
        Phone("P", 0.3, 0.43),
        Phone("AA", 0.43, 0.49),
        Phone("P", 0.49, 0.6),
        Phone("SIL", 0.6, 1.6),
    ]
    expression, jaw = _open_motion()
    expression[:, CHANNEL_INDEX["mouthClose"]] = 0.5
    expression[11:13, CHANNEL_INDEX["mouthClose"]] = 0.0
    assert closure_rate(phones, lip_gap(expression, jaw), FPS) == (1.0, 2)
    closed_expression, closed_jaw = close_bilabials(expression, jaw, _features(phones), CHANNELS, FPS)
    assert np.array_equal(closed_expression, expression) and np.array_equal(closed_jaw, jaw)


def test_lowers_the_jaw_only_for_what_the_channels_cannot_close():
    expression, jaw = _open_motion(jaw_x=0.45)  # 35 mm: mouthClose and the press pair at full close 27 mm
    expression[:, CHANNEL_INDEX["mouthClose"]] = 0.9
    closed_expression, closed_jaw = close_bilabials(expression, jaw, _features(), CHANNELS, FPS)
    assert closure_rate(PHONES, lip_gap(closed_expression, closed_jaw), FPS) == (1.0, 2)
    assert closed_expression.max() <= 1.0 and closed_jaw[:, 0].min() >= 0.0
    lowered = np.flatnonzero(closed_jaw[:, 0] < jaw[:, 0])
    assert len(lowered) and (closed_expression[lowered, CHANNEL_INDEX["mouthClose"]] >= 1.0 - 1e-6).all()
    assert (closed_expression[lowered, CHANNEL_INDEX["mouthPressLeft"]] >= 1.0 - 1e-6).all()


def test_other_channel_sets_are_returned_unchanged():
    expression = np.random.default_rng(0).normal(size=(N_FRAMES, len(FLAME_EXPRESSION_NAMES))).astype(np.float32)
    jaw = np.full((N_FRAMES, 3), 0.2, np.float32)
    closed_expression, closed_jaw = close_bilabials(expression, jaw, _features(), FLAME_EXPRESSION_NAMES, FPS)
    assert closed_expression is expression and closed_jaw is jaw


def test_generated_motion_closes_on_every_bilabial_fed_in(tiny_checkpoint, heldout_corpus):
    from backend.inference.generation import generate_motion, pose_style_vector
    from backend.models.checkpoint_file import load_checkpoint
    from backend.training.corpus_data import load_corpus_features

    checkpoint = load_checkpoint(tiny_checkpoint)
    assert checkpoint.config.expression.use_phonetic and checkpoint.channel_names == CHANNELS
    features = load_corpus_features(heldout_corpus)
    style = pose_style_vector(checkpoint, None)
    counted = 0
    for utterance in range(features.n_utterances):
        mel, phones = features.mel[features.rows(utterance)], features.phones(utterance)
        phonetic = torch.from_numpy(phone_features(phones, len(mel), FPS))
        motion = generate_motion(checkpoint, mel, phonetic, 0, style)
        for fps in (FPS, 24.0, 30.0):
            rate, n = closure_rate(phones, _resampled_gap(motion.expression, motion.jaw, fps), fps)
            assert n == 0 or rate == 1.0, (utterance, fps)
        counted += n
    assert counted >= 5  # bilabials were there to close
