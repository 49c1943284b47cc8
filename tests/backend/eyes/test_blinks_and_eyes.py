"""Blinks and saccades at generation: the blink style read from a reference, where blinks and gaze go in a clip,
seeds, pauses, and the generate switch."""

from __future__ import annotations

import numpy as np
import pytest

from backend.clips import MotionClip
from backend.core.channels import CHANNELS
from backend.core.phones import SILENCE, Phone
from backend.eyes.blinks import PAUSE_HAZARD, add_blinks, blink_onsets
from backend.eyes.eye_motion import BLINK_CHANNELS, EyeStyle, add_eye_motion, eye_style_from_clip, pause_timeline
from backend.inference.generate_options import GenerateOptions
from backend.synth.flame_lift import FLAME_EXPRESSION_NAMES
from backend.synth.speaker_styles import ExpressionStyle


def still_clip(names: tuple[str, ...], seconds: float, fps: float = 25.0) -> MotionClip:
    n = round(seconds * fps)
    return MotionClip(
        fps, np.zeros((n, len(names)), np.float32), names, np.zeros((n, 3), np.float32), np.zeros((n, 3), np.float32)
    )


@pytest.mark.parametrize("fps", [25.0, 60.0])
@pytest.mark.parametrize("rate, duration", [(10.0, 0.15), (20.0, 0.25), (30.0, 0.4)])
def test_blink_rate_and_duration_are_read_back_from_a_reference(fps, rate, duration):
    clip = still_clip(CHANNELS, 180.0, fps)
    style = ExpressionStyle(blink_rate=rate, blink_duration=duration)
    clip.expression = add_blinks(clip.expression, fps, style, np.random.default_rng(1))
    onsets = blink_onsets(clip.duration, style, np.random.default_rng(1))  # the same draws: the blinks' times
    read = eye_style_from_clip(clip)
    assert read.source == "reference"
    assert read.blink_rate == pytest.approx(len(onsets) / 3.0)
    assert read.blink_duration == pytest.approx(duration, rel=0.12)


def test_a_reference_without_eyelids_keeps_the_natural_default():
    assert eye_style_from_clip(still_clip(FLAME_EXPRESSION_NAMES, 20.0)) == EyeStyle()
    assert EyeStyle().blink_rate == ExpressionStyle().blink_rate and EyeStyle().source == "default"


def test_blinks_go_into_the_blink_channels_or_the_eyelids():
    style = EyeStyle(blink_rate=30.0)
    arkit = add_eye_motion(still_clip(CHANNELS, 60.0), style, seed=0, pauses=[])
    columns = [CHANNELS.index(name) for name in BLINK_CHANNELS]
    assert arkit.eyelids is None and arkit.expression[:, columns].max() > 0.85
    others = np.delete(arkit.expression, columns, axis=1)
    assert not others.any()  # nothing but the lids moves
    flame = add_eye_motion(still_clip(FLAME_EXPRESSION_NAMES, 60.0), style, seed=0, pauses=[])
    assert not flame.expression.any() and flame.eyelids.shape == (1500, 2)
    np.testing.assert_array_equal(flame.eyelids, arkit.expression[:, columns])  # the same blinks either way
    blinks = np.flatnonzero(np.diff((flame.eyelids.mean(axis=1) > 0.5).astype(int)) == 1)
    assert 20 <= len(blinks) <= 40  # 30 per minute, a Poisson count


def test_the_seed_decides_and_saccades_are_small_conjugate_jumps():
    clip = still_clip(CHANNELS, 30.0)
    style = EyeStyle(gaze_spread_deg=2.0)
    a, b, c = (add_eye_motion(clip, style, seed, []) for seed in (1, 1, 2))
    np.testing.assert_array_equal(a.eyes, b.eyes)
    np.testing.assert_array_equal(a.expression, b.expression)
    assert not np.array_equal(a.eyes, c.eyes)
    np.testing.assert_array_equal(a.eyes[:, :3], a.eyes[:, 3:])  # both eyes turn together
    degrees = np.degrees(a.eyes[:, :2])
    assert 0.5 < degrees[:, 1].std() < 4.0 and np.abs(degrees).max() < 10.0 and not a.eyes[:, 2].any()
    moving = np.abs(np.diff(degrees, axis=0)).max(axis=1) > 0.01
    saccades = np.flatnonzero(np.diff(moving.astype(int)) == 1)
    assert 15 <= len(saccades) <= 60  # a fixation lasts 0.3-2 s: a few dozen saccades in 30 s
    assert moving.sum() <= 2 * len(saccades) + 2  # each over within two frames


def test_blinks_come_more_often_at_pauses():
    """Pauses of 0.6 s every 3 s: their first 0.6 s hold 20 % of the time, with 4x the hazard."""
    pauses = [Phone(SILENCE, start, start + 0.6) for start in np.arange(1.0, 600.0, 3.0)]
    clip = add_eye_motion(still_clip(FLAME_EXPRESSION_NAMES, 600.0), EyeStyle(blink_rate=20.0), 0, pauses)
    starts = np.flatnonzero(np.diff((clip.eyelids[:, 0] > 0.05).astype(int)) == 1) / 25.0
    in_pause = np.mean([any(p.start - 0.1 <= t < p.end for p in pauses) for t in starts])
    time_share = 0.7 / 3.0
    expected = PAUSE_HAZARD * time_share / (PAUSE_HAZARD * time_share + 1 - time_share)
    assert in_pause > 0.5 * (time_share + expected)  # well above the pauses' share of the time


def test_pauses_are_found_in_the_sound():
    rate, fps = 16000, 25.0
    t = np.arange(rate * 3) / rate
    wave = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    wave[rate : int(1.5 * rate)] = 0.0  # half a second of silence after 1 s
    wave[int(2.5 * rate) : int(2.6 * rate)] = 0.0  # a 0.1 s gap is a stop, not a pause
    (pause,) = pause_timeline(wave, rate, 75, fps)
    assert pause.phone == SILENCE and pause.start == pytest.approx(1.0, abs=0.05)
    assert pause.end == pytest.approx(1.5, abs=0.05)


def test_generate_adds_eyes_only_when_asked(tiny_checkpoint, heldout_speech):
    from backend.inference.generation import generate_clip
    from backend.models.checkpoint_file import load_checkpoint

    checkpoint = load_checkpoint(tiny_checkpoint)
    audio, _ = heldout_speech
    plain = generate_clip(audio, GenerateOptions(phonetic="none", blinks=False), checkpoint)
    eyes = generate_clip(audio, GenerateOptions(phonetic="none", blinks=True, fps=30.0), checkpoint)
    assert plain.eyes is None and plain.eyelids is None
    assert eyes.eyes.shape == (eyes.n_frames, 6) and eyes.eyelids is None
    at_25 = generate_clip(audio, GenerateOptions(phonetic="none", blinks=True), checkpoint)
    columns = [CHANNELS.index(name) for name in BLINK_CHANNELS]
    others = [k for k in range(len(CHANNELS)) if k not in columns]
    np.testing.assert_array_equal(at_25.expression[:, others], plain.expression[:, others])
    assert (at_25.expression[:, columns] >= plain.expression[:, columns]).all()
