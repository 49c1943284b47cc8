"""The corpus's non-mouth ground truth: head motion, brow raises and blinks, driven by speech timing and prosody."""

import numpy as np
import pytest

from backend.core.channels import CHANNEL_INDEX, CHANNELS
from backend.core.errors import SynthError
from backend.core.phones import VOWELS, Phone
from backend.eyes.blinks import add_blinks
from backend.synth.brows import add_brow_raises
from backend.synth.head_pose import head_motion
from backend.synth.speaker_styles import EXPRESSION_PRESETS, POSE_KINDS, POSE_PRESETS, ExpressionStyle, PoseStyle
from tests.backend.synth.test_articulation import random_speech

FPS = 25.0


def speech_prosody(phones: list[Phone], fps: float, seed: int = 0):
    """Per-frame loudness (dB) and pitch (Hz) as a prosody analysis would report them, plus stressed-vowel onsets.

    A third of the vowels are stressed: 8 dB louder and 4 semitones higher; consonants are quiet, pauses silent.
    """
    rng = np.random.default_rng(seed)
    n_frames = int(round(phones[-1].end * fps))
    times = np.arange(n_frames) / fps
    loudness, pitch, stressed = np.full(n_frames, -80.0), np.zeros(n_frames), []
    for phone in phones:
        inside = (times >= phone.start) & (times < phone.end)
        if phone.phone in VOWELS:
            accent = rng.random() < 0.33
            loudness[inside] = -8.0 if accent else -16.0
            pitch[inside] = 150.0 if accent else 119.0
            if accent:
                stressed.append(phone.start)
        elif phone.phone != "SIL":
            loudness[inside] = -28.0
    kernel = np.exp(-0.5 * (np.arange(-3, 4) / 1.0) ** 2)  # a frame analysis blurs edges by ~a frame
    loudness = np.convolve(np.pad(loudness, 3, mode="edge"), kernel / kernel.sum(), mode="valid")
    return loudness, pitch, np.array(stressed)


def high_frequency_share(signal: np.ndarray, fps: float, above_hz: float = 8.0) -> float:
    """Share of the signal's (mean-removed, Hann-windowed against leakage) energy above a frequency."""
    spectrum = np.abs(np.fft.rfft((signal - signal.mean()) * np.hanning(signal.size))) ** 2
    frequencies = np.fft.rfftfreq(signal.size, 1.0 / fps)
    return float(spectrum[frequencies > above_hz].sum() / spectrum.sum())


@pytest.fixture(scope="module")
def minute():
    phones = random_speech(np.random.default_rng(21), 60.0)
    return phones, speech_prosody(phones, FPS)


# ---- head motion --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", POSE_KINDS)
def test_head_motion_stays_in_a_realistic_range(minute, kind):
    phones, (loudness, pitch, _) = minute
    head = head_motion(loudness.size, FPS, loudness, pitch, POSE_PRESETS[kind], np.random.default_rng(1))
    assert head.shape == (loudness.size, 3) and head.dtype == np.float32
    peak_deg = np.degrees(np.abs(head)).max(axis=0)
    if kind == "still":
        assert peak_deg.max() < 3.0
    else:
        assert 2.0 < peak_deg.max() < 15.0
    spread_deg = np.degrees(head.astype(np.float64)).std(axis=0)
    main_axis = {"nodder": 0, "swayer": 1, "tilter": 2}.get(kind)  # x nod, y turn, z tilt
    if main_axis is not None:
        assert spread_deg[main_axis] > 1.8 * np.delete(spread_deg, main_axis).max()


@pytest.mark.parametrize("fps", [24.0, 25.0, 30.0, 60.0])
def test_head_motion_is_smooth_at_any_frame_rate(fps):
    phones = random_speech(np.random.default_rng(22), 30.0)
    loudness, pitch, _ = speech_prosody(phones, fps)
    head = head_motion(loudness.size, fps, loudness, pitch, POSE_PRESETS["energetic"], np.random.default_rng(2))
    for axis in range(3):
        assert high_frequency_share(head[:, axis].astype(np.float64), fps) < 1e-4
    # no frame-to-frame jumps: at most ~60 deg/s even for the energetic style
    assert np.degrees(np.abs(np.diff(head, axis=0))).max() * fps < 60.0


def test_nods_follow_accented_loud_onsets(minute):
    phones, (loudness, pitch, stressed) = minute
    # the accents as a signal: 1 for 200 ms from each stressed syllable's onset, the window of its nod
    accents = np.zeros(loudness.size)
    for onset in (stressed * FPS).astype(int):
        accents[onset : onset + int(0.2 * FPS)] = 1.0

    def nod_velocity_correlation(style):
        nod = head_motion(loudness.size, FPS, loudness, pitch, style, np.random.default_rng(3))[:, 0]
        return np.corrcoef(accents, np.gradient(nod.astype(np.float64)))[0, 1]

    nodder = POSE_PRESETS["nodder"]
    coupled = nod_velocity_correlation(nodder)
    uncoupled = nod_velocity_correlation(PoseStyle(**{**nodder.to_dict(), "loudness_coupling": 0.0}))
    assert coupled > 0.3 and coupled > uncoupled + 0.25, (coupled, uncoupled)


def test_chin_rises_with_pitch():
    n = int(8 * FPS)
    loudness = np.full(n, -10.0)
    pitch = np.where(np.arange(n) < n // 2, 120.0, 160.0)  # a 5-semitone step up
    only_pitch = PoseStyle(
        nod_deg=0.0, tilt_deg=0.0, sway_deg=0.0, loudness_coupling=0.0, pitch_coupling=1.0, idle_drift_deg=0.0
    )
    nod_deg = np.degrees(head_motion(n, FPS, loudness, pitch, only_pitch, np.random.default_rng(4))[:, 0])
    low, high = nod_deg[int(1 * FPS) : int(3 * FPS)].mean(), nod_deg[int(5 * FPS) : int(7 * FPS)].mean()
    assert -4.0 < high - low < -1.5  # +x is chin down, so a higher voice lifts the chin: x falls


def test_silence_leaves_only_a_slow_small_drift(minute):
    phones, (loudness, pitch, _) = minute
    n = loudness.size
    style = POSE_PRESETS["nodder"]
    quiet = head_motion(n, FPS, np.full(n, -90.0), np.zeros(n), style, np.random.default_rng(5))
    talking = head_motion(n, FPS, loudness, pitch, style, np.random.default_rng(5))
    quiet_deg = np.degrees(quiet.astype(np.float64))
    assert quiet_deg.std(axis=0).max() < 1.5 * (style.idle_drift_deg + 0.3 * style.nod_deg)
    assert np.degrees(talking[:, 0]).std() > 1.5 * quiet_deg[:, 0].std()
    speed = np.abs(np.diff(quiet_deg, axis=0)).max() * FPS
    assert speed < 10.0  # deg/s: a drift, not a movement


def test_a_leaner_holds_the_tilt_to_one_side(minute):
    phones, (loudness, pitch, _) = minute
    for side in (-1.0, 1.0):
        style = PoseStyle(**{**POSE_PRESETS["leaner"].to_dict(), "tilt_hold_deg": 6.0 * side})
        tilt_deg = np.degrees(head_motion(loudness.size, FPS, loudness, pitch, style, np.random.default_rng(8))[:, 2])
        assert 4.5 < side * tilt_deg.mean() < 7.5
        assert (side * tilt_deg > 0).mean() > 0.95  # held, not swinging through the middle


def test_pause_coupling_ends_phrases_on_a_nod():
    n = int(12 * FPS)
    loudness = np.where((np.arange(n) // int(2 * FPS)) % 2 == 0, -10.0, -90.0)  # 2 s phrases, 2 s pauses
    pitch = np.where(loudness > -50, 120.0, 0.0)
    ends = [int(k * FPS) for k in (2.0, 6.0, 10.0)]

    def mean_nod_after_phrases(coupling):
        style = PoseStyle(
            nod_deg=0.0,
            tilt_deg=0.0,
            sway_deg=0.0,
            loudness_coupling=0.0,
            pitch_coupling=0.0,
            idle_drift_deg=0.0,
            pause_coupling=coupling,
        )
        nod = np.degrees(head_motion(n, FPS, loudness, pitch, style, np.random.default_rng(9))[:, 0])
        return np.mean([nod[e : e + int(0.5 * FPS)].max() for e in ends])

    assert mean_nod_after_phrases(0.0) < 0.05
    assert 1.0 < mean_nod_after_phrases(1.0) < 2.5  # chin down (+x) as the voice stops


def test_head_motion_is_deterministic_and_checks_its_inputs(minute):
    phones, (loudness, pitch, _) = minute
    style = POSE_PRESETS["energetic"]
    first = head_motion(loudness.size, FPS, loudness, pitch, style, np.random.default_rng(6))
    np.testing.assert_array_equal(
        first, head_motion(loudness.size, FPS, loudness, pitch, style, np.random.default_rng(6))
    )
    assert not np.array_equal(first, head_motion(loudness.size, FPS, loudness, pitch, style, np.random.default_rng(7)))
    with pytest.raises(SynthError, match="compute it at the clip's fps"):
        head_motion(loudness.size + 3, FPS, loudness, pitch, style, np.random.default_rng(6))
    with pytest.raises(SynthError, match="pitch_hz"):
        head_motion(loudness.size, FPS, loudness, pitch[:-1], style, np.random.default_rng(6))


# ---- brows --------------------------------------------------------------------------------------------------------


def test_brows_rise_on_accented_syllables_as_often_as_the_style_says(minute):
    phones, (loudness, pitch, stressed) = minute
    silent_face = np.zeros((loudness.size, len(CHANNELS)), np.float32)
    inner = CHANNEL_INDEX["browInnerUp"]
    raised = {}
    for kind in ("brow_active", "neutral", "small"):
        out = add_brow_raises(silent_face, FPS, loudness, pitch, EXPRESSION_PRESETS[kind], np.random.default_rng(8))
        raised[kind] = out[:, inner]
    assert not silent_face.any()  # a copy
    assert raised["brow_active"].mean() > 3.0 * raised["neutral"].mean() > 0.0
    assert raised["neutral"].mean() > raised["small"].mean()
    starts = np.flatnonzero((raised["brow_active"][1:] > 0.05) & (raised["brow_active"][:-1] <= 0.05)) / FPS
    assert len(starts) > 20
    on_accent = [np.any((start - stressed > -0.1) & (start - stressed < 0.25)) for start in starts]
    assert np.mean(on_accent) > 0.9


# ---- blinks -------------------------------------------------------------------------------------------------------


def blink_starts(lid: np.ndarray, fps: float) -> np.ndarray:
    return np.flatnonzero((lid[1:] >= 0.5) & (lid[:-1] < 0.5)) / fps


@pytest.mark.parametrize("rate", [10.0, 24.0])
def test_blink_rate_matches_the_style_and_prefers_pauses(rate):
    seconds = 600.0
    phones = random_speech(np.random.default_rng(23), seconds)
    face = np.zeros((int(seconds * FPS), len(CHANNELS)), np.float32)
    out = add_blinks(face, FPS, ExpressionStyle(blink_rate=rate), np.random.default_rng(9), phones)
    starts = blink_starts(out[:, CHANNEL_INDEX["eyeBlinkLeft"]], FPS)
    assert len(starts) == pytest.approx(rate * seconds / 60.0, rel=0.2)
    pauses = [p for p in phones if p.phone == "SIL" and p.duration >= 0.15]
    near_pause = np.zeros(face.shape[0], bool)
    times = np.arange(face.shape[0]) / FPS
    for pause in pauses:
        near_pause |= (times >= pause.start - 0.1) & (times < min(pause.end, pause.start + 0.6))
    frames = (starts * FPS).astype(int)
    density_near = near_pause[frames].sum() / near_pause.sum()
    density_elsewhere = (~near_pause[frames]).sum() / (~near_pause).sum()
    assert density_near > 2.0 * density_elsewhere


def test_blinks_close_fast_open_slowly_and_differ_slightly_between_eyes():
    fps, seconds = 60.0, 120.0
    face = np.zeros((int(seconds * fps), len(CHANNELS)), np.float32)
    style = ExpressionStyle(blink_rate=20.0, blink_duration=0.2)
    out = add_blinks(face, fps, style, np.random.default_rng(10))
    left, right = out[:, CHANNEL_INDEX["eyeBlinkLeft"]], out[:, CHANNEL_INDEX["eyeBlinkRight"]]
    assert not face.any()  # a copy
    starts = blink_starts(left, fps)
    assert len(starts) > 25
    for start in starts[1:-1]:
        i = int(start * fps)
        blink = left[i - int(0.1 * fps) : i + int(0.3 * fps)]
        peak = int(np.argmax(blink))
        assert blink[peak] > 0.85
        closing = peak - np.flatnonzero(blink[:peak] < 0.1)[-1]
        opening = np.flatnonzero(blink[peak:] < 0.1)[0]
        assert closing < opening  # a fast close, a slower opening
        assert 0.05 < (blink > 0.5).sum() / fps < 0.16  # lid mostly shut for ~100 ms
    assert 0.9 < np.corrcoef(left, right)[0, 1] < 1.0 and not np.array_equal(left, right)


@pytest.mark.parametrize("fps", [24.0, 25.0, 30.0])
def test_every_blink_shows_a_closed_frame(fps):
    seconds = 60.0
    face = np.zeros((int(seconds * fps), len(CHANNELS)), np.float32)
    style = ExpressionStyle(blink_rate=25.0, blink_duration=0.15)
    lid = add_blinks(face, fps, style, np.random.default_rng(11))[:, CHANNEL_INDEX["eyeBlinkLeft"]]
    starts = np.flatnonzero((lid[1:] > 0.05) & (lid[:-1] <= 0.05))
    assert len(starts) > 15
    for start in starts:
        assert lid[start : start + int(0.2 * fps) + 1].max() > 0.85


def test_blinks_are_deterministic_for_a_seed():
    face = np.zeros((500, len(CHANNELS)), np.float32)
    style = ExpressionStyle(blink_rate=30.0)
    first = add_blinks(face, FPS, style, np.random.default_rng(12))
    np.testing.assert_array_equal(first, add_blinks(face, FPS, style, np.random.default_rng(12)))
    assert not np.array_equal(first, add_blinks(face, FPS, style, np.random.default_rng(13)))
