"""Festival in batches: every voice speaks, its phones map to ARPAbet and sit over the sounds, rate and pitch work."""

import subprocess

import numpy as np
import pytest

from backend.core.errors import SynthError
from backend.core.phones import PHONES, SILENCE, VOWELS
from backend.synth import festival
from backend.synth.speech import check_timeline

pytestmark = pytest.mark.skipif(
    festival.festival_unavailable_reason() is not None, reason=str(festival.festival_unavailable_reason())
)

VOICES = [voice for voice in festival.VOICES if festival.festival_unavailable_reason(voice) is None]


def words(speech) -> list[str]:
    return [p.phone for p in speech.phones if p.phone != SILENCE]


def envelope(speech, window_s: float = 0.01) -> np.ndarray:
    """RMS over a sliding window, one value per sample."""
    n = max(1, int(window_s * speech.sample_rate))
    return np.sqrt(np.convolve(speech.audio.astype(np.float64) ** 2, np.ones(n) / n, mode="same"))


def median_f0(speech) -> float:
    import librosa

    f0, voiced, _ = librosa.pyin(speech.audio, fmin=60, fmax=400, sr=speech.sample_rate, frame_length=2048)
    return float(np.nanmedian(f0[voiced]))


@pytest.fixture(scope="module", params=VOICES)
def spoken(request):
    """One batch per voice: one Festival process for all of these."""
    texts = ["Map.", "Bob.", 'She said "pop" \\ and "bye".', "Happy puppy, pop the paper map and the pipe."]
    return request.param, texts, festival.synthesize_batch(texts, request.param, strict=True)


def test_batch_speaks_every_text_with_a_complete_timeline(spoken):
    voice, texts, speeches = spoken
    assert len(speeches) == len(texts)
    for speech in speeches:
        assert speech.sample_rate in (16000, 32000) and speech.duration > 0.3
        check_timeline(speech.phones, speech.duration)
        assert {p.phone for p in speech.phones} <= PHONES
        assert speech.phones[0].phone == SILENCE and speech.phones[-1].phone == SILENCE


def test_bilabials_are_where_the_words_put_them(spoken):
    _, _, speeches = spoken
    assert words(speeches[0]) == ["M", "AE", "P"]
    assert words(speeches[1]) == ["B", "AA", "B"]


def test_quotes_and_backslashes_are_spoken_not_parsed(spoken):
    _, _, speeches = spoken
    said = " ".join(words(speeches[2]))
    assert said == "SH IY S EH D P AA P B AE K S L AE SH AE N D B AY"  # "she said pop backslash and bye"


def test_stop_closures_fall_inside_the_stops(spoken):
    """Each P after a vowel holds a quiet stretch (its closure) far below the vowel before it."""
    _, _, speeches = spoken
    speech = speeches[3]
    rate, level = speech.sample_rate, envelope(speech)
    checked = 0
    for previous, stop in zip(speech.phones, speech.phones[1:]):
        if stop.phone == "P" and previous.phone in VOWELS:
            closure = level[round(stop.start * rate) : round(stop.end * rate)].min()
            vowel = level[round(previous.start * rate) : round(previous.end * rate)].mean()
            assert closure < 0.2 * vowel, stop
            checked += 1
    assert checked >= 4


TEXT = "Maybe my mother will move the blue boat to the far harbor before noon."


@pytest.mark.parametrize("voice", VOICES)
def test_rate_changes_the_speed_not_the_words(voice):
    normal, fast = festival.synthesize_batch([TEXT], voice), festival.synthesize_batch([TEXT], voice, rate=1.25)
    assert fast[0].duration == pytest.approx(normal[0].duration / 1.25, rel=0.15)
    assert words(fast[0]) == words(normal[0])


@pytest.mark.parametrize("voice", [voice for voice in VOICES if festival.shifts_pitch(voice)])
def test_pitch_shifts_the_diphone_voices(voice):
    normal, high = festival.synthesize_batch([TEXT], voice)[0], festival.synthesize_batch([TEXT], voice, pitch=4.0)[0]
    semitones = 12 * np.log2(median_f0(high) / median_f0(normal))
    assert semitones == pytest.approx(4.0, abs=1.5)


def test_the_hts_voice_refuses_a_pitch_it_cannot_make():
    with pytest.raises(SynthError, match="cannot change its pitch"):
        festival.synthesize_batch([TEXT], "cmu_us_slt_arctic_hts", pitch=2.0)


def test_every_radio_phone_is_mapped():
    """Festival's own list of its "radio" phone set, the one all three voices use."""
    script = (
        "(require 'radio_phones)\n(PhoneSet.select 'radio)\n"
        "(print (mapcar car (car (cdr (assoc 'phones (PhoneSet.description '(phones)))))))\n"
    )
    listed = subprocess.run(["festival", "--pipe"], input=script, capture_output=True, text=True, check=True)
    phones = listed.stdout.strip().strip("()").split()
    assert len(phones) > 40
    for phone in phones:
        assert set(festival.to_arpabet(phone, strict=True)) <= PHONES


def test_bad_requests_raise_synth_errors():
    with pytest.raises(SynthError, match="unknown Festival voice"):
        festival.synthesize_batch(["Hello."], "nobody_diphone")
    with pytest.raises(SynthError, match="printable ASCII"):
        festival.synthesize_batch(["Caf\u00e9 au lait."], VOICES[0])
    with pytest.raises(SynthError, match="printable ASCII"):
        festival.synthesize_batch(["two\nlines"], VOICES[0])
    with pytest.raises(SynthError, match="out of range"):
        festival.synthesize_batch(["Hello."], VOICES[0], rate=5.0)
    assert festival.synthesize_batch([], VOICES[0]) == []
