"""The corpus's mouth ground truth: lip-sync rules, speaker styles, the lip-gap contract and the FLAME lift."""

import hashlib

import numpy as np
import pytest

from backend.core.channels import CHANNEL_INDEX, CHANNELS
from backend.core.errors import ClipError, SynthError
from backend.core.lip_gap import JAW_GAP_MM_PER_RAD, LIP_GAP_MM, lip_gap
from backend.core.phones import BILABIALS, CLOSE_VOWELS, CONSONANTS, OPEN_VOWELS, VOWELS, Phone
from backend.synth.articulation import articulate
from backend.synth.flame_lift import FLAME_EXPRESSION_NAMES, flame_lift_matrix, lift_to_flame, lower_from_flame
from backend.synth.speaker_styles import (
    EXPRESSION_KINDS,
    EXPRESSION_PRESETS,
    POSE_KINDS,
    ExpressionStyle,
    PoseStyle,
    sample_speaker_style,
)

FRAME_RATES = (24.0, 25.0, 30.0, 60.0)
CLOSED_MM = 0.3  # "the lips touch": well under a tenth of a millimetre in practice

# Hand-made utterances: ARPAbet with durations in ms, as an aligner would give them for quick speech.
UTTERANCES = {
    "a map on a bob": "AH:60 M:70 AE:110 P:30 AA:90 N:50 AH:45 B:40 AA:100 B:60",
    "the bump": "DH:40 AH:50 B:35 AH:80 M:60 P:30",
    "some fun": "S:90 AH:60 M:45 F:80 AH:70 N:60",
    "upfront": "AH:55 P:30 F:70 R:50 AH:80 N:40 T:50",
    "maybe by bob": "M:50 EY:120 B:30 IY:60 B:35 AY:110 B:40 AA:90 B:70",
    "jump up, mop": "JH:60 AH:70 M:40 P:30 AH:60 P:80 SIL:200 M:60 AA:120 P:90",
    "mom mumbled": "M:80 AA:90 M:50 M:30 AH:50 M:40 B:30 AH:40 L:50 D:40",
    # a 30 ms m after a pause, squeezed by a quick diphthong: shorter than a frame at 24-30 fps
    "(pause) my shy boy... bish": "SIL:200 M:30 AY:50 SH:90 AY:100 B:32 OY:50 SIL:150 B:35 IH:80 SH:70",
}


def timeline(spec: str, lead: float = 0.3, tail: float = 0.3) -> tuple[list[Phone], int]:
    """'AH:60 M:70 ...' (ms) -> phones framed by silence, and the clip's length in seconds."""
    phones, t = [Phone("SIL", 0.0, lead)], lead
    for item in spec.split():
        name, ms = item.split(":")
        phones.append(Phone(name, t, t + float(ms) / 1000.0))
        t += float(ms) / 1000.0
    phones.append(Phone("SIL", t, t + tail))
    return phones, t + tail


def run(phones: list[Phone], seconds: float, fps: float = 25.0, style: ExpressionStyle | None = None, seed: int = 0):
    """(expression, jaw, lip gap, frame times) for a timeline."""
    n_frames = int(seconds * fps)
    expression, jaw = articulate(phones, fps, n_frames, style or ExpressionStyle(), np.random.default_rng(seed))
    return expression, jaw, lip_gap(expression, jaw), np.arange(n_frames) / fps


def near(phone: Phone, times: np.ndarray, margin: float = 0.04) -> np.ndarray:
    return (times >= phone.start - margin) & (times <= phone.end + margin)


def random_speech(rng: np.random.Generator, seconds: float) -> list[Phone]:
    """Syllables of random ARPAbet consonants (30-120 ms) and vowels (50-150 ms), with occasional pauses."""
    consonants, vowels = sorted(CONSONANTS), sorted(VOWELS)
    phones, t = [Phone("SIL", 0.0, 0.3)], 0.3
    while t < seconds - 1.0:  # room for a pause, a syllable and the final silence
        if rng.random() < 0.08:
            pause = rng.uniform(0.05, 0.5)
            phones.append(Phone("SIL", t, t + pause))
            t += pause
        for name, low, high in (
            (consonants[rng.integers(len(consonants))], 0.03, 0.12),
            (vowels[rng.integers(len(vowels))], 0.05, 0.15),
        ):
            duration = rng.uniform(low, high)
            phones.append(Phone(name, t, t + duration))
            t += duration
    phones.append(Phone("SIL", t, seconds))
    return phones


# ---- lip sync rules ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fps", FRAME_RATES)
@pytest.mark.parametrize("kind", ["neutral", "small", "large", "crooked", "happy"])
def test_every_bilabial_closes_the_lips_within_40ms(fps, kind):
    closures, open_peaks = [], []
    for text, spec in UTTERANCES.items():
        phones, seconds = timeline(spec)
        _, _, gap, times = run(phones, seconds, fps, EXPRESSION_PRESETS[kind])
        for phone in phones:
            if phone.phone in BILABIALS:
                closures.append((text, phone, gap[near(phone, times)].min()))
            elif phone.phone in OPEN_VOWELS and phone.duration >= 0.08:
                open_peaks.append(gap[near(phone, times, 0.0)].max())
    unclosed = [(text, p.phone, round(p.start, 3), round(g, 2)) for text, p, g in closures if g > CLOSED_MM]
    assert not unclosed, unclosed
    assert len(closures) == 27  # every bilabial of UTTERANCES
    # and the mouth does open between them, so the closures are events, not a shut mouth
    assert min(open_peaks) > (3.0 if kind == "small" else 5.0)


def test_bilabial_closure_survives_random_timelines():
    rng = np.random.default_rng(7)
    failures, count = [], 0
    for trial in range(100):
        phones = random_speech(rng, 4.0)
        fps, kind = FRAME_RATES[trial % 4], EXPRESSION_KINDS[trial % len(EXPRESSION_KINDS)]
        _, _, gap, times = run(phones, 4.0, fps, EXPRESSION_PRESETS[kind], seed=trial)
        for phone in phones:
            if phone.phone in BILABIALS:
                count += 1
                if gap[near(phone, times)].min() > CLOSED_MM:
                    failures.append((trial, phone))
    assert count > 120 and not failures


def test_open_vowels_open_the_jaw_more_than_twice_as_far_as_close_vowels():
    frames = "B:{} T:70 S:80 {} K:60 D:{} {} N:50"
    opens, closes = sorted(OPEN_VOWELS), sorted(CLOSE_VOWELS)
    for kind in ("small", "neutral", "large"):
        style = EXPRESSION_PRESETS[kind]
        peaks = {}
        for group, vowels in (("open", opens), ("close", closes)):
            values = []
            for v in vowels:
                phones, seconds = timeline(frames.format(60, f"{v}:110", 50, f"{v}:90"))
                _, _, gap, times = run(phones, seconds, 25.0, style)
                values += [gap[near(p, times, 0.0)].max() for p in phones if p.phone == v]
            peaks[group] = np.mean(values)
        assert peaks["open"] > 2.0 * peaks["close"], (kind, peaks)
    phones, seconds = timeline("B:60 AA:130 T:60 AE:120 D:50 AW:150 K:60")
    _, jaw, _, times = run(phones, seconds, 25.0, EXPRESSION_PRESETS["large"])
    for phone in phones:
        if phone.phone in OPEN_VOWELS:
            assert 0.25 <= jaw[near(phone, times, 0.0), 0].max() <= 0.36, phone


def test_rounding_starts_before_the_rounded_vowel():
    pucker = CHANNEL_INDEX["mouthPucker"]
    rounded = {}
    for vowel in ("UW", "IY"):
        phones, seconds = timeline(f"IH:100 Z:80 S:90 T:60 {vowel}:150 D:50", lead=0.4)
        expression, _, _, times = run(phones, seconds)
        s, v = phones[3], phones[5]
        rounded[vowel] = (
            expression[np.argmin(abs(times - s.start)), pucker],  # 150 ms before the vowel, at the "s"
            expression[np.argmin(abs(times - v.start)), pucker],
            expression[near(v, times, 0.0), pucker].max(),
        )
    at_s, at_onset, peak = rounded["UW"]
    assert peak > 0.5
    assert at_onset > 0.6 * peak  # mostly rounded by the time the vowel starts
    assert at_s > 0.15 and rounded["IY"][0] < 0.02  # and already on its way through "st"


@pytest.mark.parametrize("context", ["AA F AA", "IY V IY", "AE F T", "OW V ER"])
def test_f_and_v_tuck_the_lower_lip_with_a_small_jaw(context):
    before, fricative, after = context.split()
    phones, seconds = timeline(f"{before}:120 {fricative}:80 {after}:120")
    expression, jaw, gap, times = run(phones, seconds)
    window = np.flatnonzero(near(phones[2], times))
    tuck = window[np.argmax(expression[window, CHANNEL_INDEX["mouthRollLower"]])]
    assert expression[tuck, CHANNEL_INDEX["mouthRollLower"]] > 0.6
    assert expression[tuck, CHANNEL_INDEX["mouthUpperUpLeft"]] > 0.2
    assert jaw[tuck, 0] < max(0.05, 0.6 * jaw[:, 0].max())  # well below the open vowels around it
    assert gap[tuck] < 4.0  # lower lip against the upper teeth, the upper lip a little above them


def test_postalveolars_funnel_slightly():
    funnel = CHANNEL_INDEX["mouthFunnel"]
    peaks = {}
    for consonant in ("SH", "CH", "JH", "S"):
        phones, seconds = timeline(f"IY:100 {consonant}:100 IY:100")
        expression, _, _, times = run(phones, seconds)
        peaks[consonant] = expression[near(phones[2], times, 0.0), funnel].max()
    for consonant in ("SH", "CH", "JH"):
        assert 0.15 < peaks[consonant] < 0.6 and peaks[consonant] > peaks["S"] + 0.1


@pytest.mark.parametrize("kind", ["neutral", "happy", "crooked", "tense"])
def test_silence_relaxes_to_a_still_closed_mouth_with_only_the_style_bias(kind):
    style = EXPRESSION_PRESETS[kind]
    phones, seconds = timeline("HH:50 AA:150 L:60 OW:200 SIL:1200 W:60 AA:150 T:70")
    expression, jaw, gap, times = run(phones, seconds, 30.0, style)
    pause = phones[5]
    inside = (times > pause.start + 0.25) & (times < pause.end - 0.25)
    assert inside.sum() > 20
    assert gap[inside].max() < 0.1 and jaw[inside, 0].max() < 0.005
    assert np.abs(np.diff(expression[inside], axis=0)).max() < 3e-3  # still (the lips only get ready near the end)
    rest = expression[inside].mean(axis=0)
    smile = rest[CHANNEL_INDEX["mouthSmileLeft"]] + rest[CHANNEL_INDEX["mouthSmileRight"]]
    assert smile == pytest.approx(2 * style.smile, abs=0.02)
    spoken = {"mouthPucker", "mouthFunnel", "mouthLowerDownLeft", "mouthUpperUpLeft", "mouthRollLower", "mouthClose"}
    assert all(rest[CHANNEL_INDEX[name]] < 0.01 for name in spoken)
    assert gap[~inside].max() > 8.0  # the speech around the pause does open the mouth


# ---- styles -------------------------------------------------------------------------------------------------------


def test_styles_change_the_mouth_as_named():
    phones = random_speech(np.random.default_rng(3), 12.0)
    kinds = ("neutral", "happy", "large", "small", "tense")
    out = {kind: run(phones, 12.0, 25.0, EXPRESSION_PRESETS[kind]) for kind in kinds}
    smile = {kind: out[kind][0][:, CHANNEL_INDEX["mouthSmileLeft"]].mean() for kind in out}
    assert smile["happy"] > smile["neutral"] + 0.3
    jaw95 = {kind: np.percentile(out[kind][1][:, 0], 95) for kind in out}
    assert jaw95["large"] > 2.0 * jaw95["small"]
    assert 1.2 < jaw95["large"] / jaw95["neutral"] < 1.6
    press = {kind: out[kind][0][:, CHANNEL_INDEX["mouthPressLeft"]].mean() for kind in out}
    pucker = {kind: out[kind][0][:, CHANNEL_INDEX["mouthPucker"]].max() for kind in out}
    assert press["tense"] > press["neutral"] + 0.1 and pucker["tense"] < pucker["neutral"]


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_crooked_mouth_leans_to_the_style_side_without_changing_the_lip_gap(side):
    phones = random_speech(np.random.default_rng(4), 8.0)
    straight, jaw_straight, gap_straight, _ = run(phones, 8.0)
    crooked, _, gap_crooked, _ = run(phones, 8.0, style=ExpressionStyle(crooked=0.6 * side))

    def lean(expression, left, right):
        return np.mean(expression[:, CHANNEL_INDEX[left]] - expression[:, CHANNEL_INDEX[right]])

    for left, right in (
        ("mouthLeft", "mouthRight"),
        ("mouthSmileLeft", "mouthSmileRight"),
        ("mouthStretchLeft", "mouthStretchRight"),
    ):
        assert side * lean(crooked, left, right) > 0.02
        assert abs(lean(straight, left, right)) < 1e-6
    assert np.abs(gap_crooked - gap_straight).max() < 0.5


def test_speaker_styles_are_distinct_but_keep_their_kind():
    rng = np.random.default_rng(11)
    draws = {kind: [sample_speaker_style(rng, kind, "nodder") for _ in range(40)] for kind in EXPRESSION_KINDS}
    assert all(0.35 < e.smile for e, _ in draws["happy"]) and all(e.smile < 0.25 for e, _ in draws["neutral"])
    assert all(e.amplitude > 1.15 for e, _ in draws["large"]) and all(e.amplitude < 0.75 for e, _ in draws["small"])
    assert all(abs(e.crooked) > 0.35 for e, _ in draws["crooked"])
    assert {np.sign(e.crooked) for e, _ in draws["crooked"]} == {-1.0, 1.0}
    assert all(e.brow_activity > 0.6 for e, _ in draws["brow_active"])
    poses = {kind: [sample_speaker_style(rng, "neutral", kind)[1] for _ in range(40)] for kind in POSE_KINDS}
    assert all(max(p.nod_deg, p.tilt_deg, p.sway_deg) < 0.7 for p in poses["still"])
    assert all(p.loudness_coupling > 0.6 and p.nod_deg > p.tilt_deg for p in poses["nodder"])
    assert all(p.tilt_deg > 2 * max(p.nod_deg, p.sway_deg) for p in poses["tilter"])
    assert all(p.sway_deg > 2 * max(p.nod_deg, p.tilt_deg) for p in poses["swayer"])
    assert all(min(p.nod_deg, p.tilt_deg, p.sway_deg) > 1.2 and p.loudness_coupling > 0.7 for p in poses["energetic"])
    every_pose = [p for kind in POSE_KINDS for p in poses[kind]]
    assert all(abs(p.tilt_hold_deg) >= 3.0 for p in poses["leaner"])
    assert {np.sign(p.tilt_hold_deg) for p in poses["leaner"]} == {-1.0, 1.0}
    assert all(p.tilt_hold_deg == 0.0 for kind in POSE_KINDS if kind != "leaner" for p in poses[kind])
    # the main rhythms cover what people do: 0.5-10 degrees at 0.2-2 Hz
    sizes = [size for p in every_pose for size in (p.nod_deg, p.tilt_deg, p.sway_deg)]
    rates = [p.nod_hz for p in poses["nodder"]] + [p.tilt_hz for p in poses["tilter"]]
    assert min(sizes) < 0.5 and max(sizes) > 8.0 and min(rates) < 0.3 and max(rates) > 1.6
    assert len({(p.nod_deg, p.sway_hz) for p in every_pose}) == len(every_pose)  # no two speakers alike
    expression, pose = draws["crooked"][0]
    assert ExpressionStyle.from_dict(expression.to_dict()) == expression
    assert PoseStyle.from_dict(pose.to_dict()) == pose


def test_unknown_style_kind_and_out_of_range_parameters_are_rejected():
    with pytest.raises(SynthError, match="choose from"):
        sample_speaker_style(np.random.default_rng(0), "grumpy", "still")
    with pytest.raises(SynthError, match="crooked"):
        ExpressionStyle(crooked=1.5)
    with pytest.raises(SynthError, match="no parameter"):
        PoseStyle.from_dict({"nod_deg": 1.0, "wobble": 2.0})


# ---- the contract, inputs, determinism ---------------------------------------------------------------------------


def test_lip_gap_follows_the_documented_contract():
    frames = np.zeros((4, len(CHANNELS)))
    jaw = np.zeros((4, 3))
    jaw[1:, 0] = 0.15
    opening = JAW_GAP_MM_PER_RAD * np.sin(0.15)  # a rigid lever: 11.96 mm
    frames[2, CHANNEL_INDEX["mouthClose"]] = opening / -LIP_GAP_MM["mouthClose"]  # ARKit: cancels what the jaw opens
    frames[3, CHANNEL_INDEX["mouthFunnel"]] = 1.0
    frames[3, CHANNEL_INDEX["mouthRollLower"]] = 1.0
    gap = lip_gap(frames, jaw)
    expected_funnel_roll = opening + LIP_GAP_MM["mouthFunnel"] + LIP_GAP_MM["mouthRollLower"]
    np.testing.assert_allclose(gap, [0.0, opening, 0.0, expected_funnel_roll], atol=1e-9)
    frames[0, CHANNEL_INDEX["mouthPressLeft"]] = 1.0  # pressing closed lips cannot make the gap negative
    assert lip_gap(frames, jaw)[0] == 0.0


def test_articulation_is_deterministic_for_a_seed_and_varies_between_seeds():
    phones = random_speech(np.random.default_rng(5), 5.0)
    first = run(phones, 5.0, seed=42)
    again = run(phones, 5.0, seed=42)
    other = run(phones, 5.0, seed=43)
    assert first[0].dtype == np.float32 and first[1].dtype == np.float32
    assert first[0].shape == (125, len(CHANNELS)) and first[1].shape == (125, 3)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])
    assert np.all(first[0] >= 0.0) and np.all(first[0] <= 1.0) and np.all(first[1][:, 1:] == 0.0)


def test_rounding_seams_and_zero_length_phones_change_nothing():
    phones, seconds = timeline(UTTERANCES["a map on a bob"])
    seamed = [Phone(p.phone, p.start + 0.002 * (i % 2), p.end) for i, p in enumerate(phones)]  # 2 ms gaps
    seamed.insert(4, Phone("T", phones[4].start, phones[4].start))
    clean, seamy = run(phones, seconds), run(seamed, seconds)
    np.testing.assert_allclose(seamy[2], clean[2], atol=0.5)  # lip gap within half a millimetre
    assert np.abs(seamy[1] - clean[1]).max() < 0.01


def test_bad_timelines_raise_synth_errors():
    style, rng = ExpressionStyle(), np.random.default_rng(0)
    with pytest.raises(SynthError, match="unknown phone 'AX'"):
        articulate([Phone("AX", 0.0, 0.1)], 25.0, 10, style, rng)
    with pytest.raises(SynthError, match="invalid interval"):
        articulate([Phone("AA", 0.2, 0.1)], 25.0, 10, style, rng)
    with pytest.raises(SynthError, match="fps"):
        articulate([Phone("AA", 0.0, 0.1)], 0.0, 10, style, rng)


# ---- the FLAME-shaped lift --------------------------------------------------------------------------------------

# sha256 of the lift matrix rounded to 6 decimals. Corpora and checkpoints in Exp1..Exp100 depend on this exact map;
# if it must change, that is a new corpus format, not a test update.
LIFT_SHA256 = "31b6bd5ef3b2fd2ff0dcad1671ef21d78e6ec97f0e5ff2c5a864d0f8206cf8c7"


def test_flame_lift_is_fixed_full_rank_and_inverts_on_its_image():
    lift = flame_lift_matrix()
    assert lift.shape == (100, len(CHANNELS)) and len(FLAME_EXPRESSION_NAMES) == 100
    assert FLAME_EXPRESSION_NAMES[0] == "Exp1" and FLAME_EXPRESSION_NAMES[-1] == "Exp100"
    assert np.linalg.matrix_rank(lift) == len(CHANNELS)
    assert hashlib.sha256(np.round(lift, 6).tobytes()).hexdigest() == LIFT_SHA256

    phones = random_speech(np.random.default_rng(6), 10.0)
    expression, _, _, _ = run(phones, 10.0, style=EXPRESSION_PRESETS["happy"])
    flame = lift_to_flame(expression)
    assert flame.shape == (expression.shape[0], 100) and flame.dtype == np.float32
    np.testing.assert_allclose(lower_from_flame(flame), expression, atol=1e-5)
    magnitude = np.abs(flame)
    assert 0.5 < np.percentile(magnitude, 99) < 3.0 and magnitude.max() < 6.0
    # what the channels cannot explain is what lower_from_flame drops
    off_image = flame + np.linalg.svd(lift)[0][:, -1] * 2.0
    np.testing.assert_allclose(lower_from_flame(off_image), expression, atol=1e-5)


def test_flame_lift_rejects_the_wrong_width():
    with pytest.raises(ClipError, match="100"):
        lower_from_flame(np.zeros((5, 50)))
    with pytest.raises(ClipError, match=str(len(CHANNELS))):
        lift_to_flame(np.zeros((5, 100)))
