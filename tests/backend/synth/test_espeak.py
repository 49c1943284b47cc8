"""libespeak-ng through ctypes: the audio is the command line's, the phones are ARPAbet and sit where the sounds are."""

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from backend.core.errors import SynthError
from backend.core.phones import PHONES, SILENCE, VOWELS
from backend.synth import espeak
from backend.synth.sentences import generate_sentence
from backend.synth.speech import check_timeline

pytestmark = pytest.mark.skipif(
    espeak.espeak_unavailable_reason() is not None, reason=str(espeak.espeak_unavailable_reason())
)


def words(speech) -> list[str]:
    return [p.phone for p in speech.phones if p.phone != SILENCE]


def samples_of(speech, phone) -> np.ndarray:
    rate = speech.sample_rate
    return speech.audio[round(phone.start * rate) : round(phone.end * rate)]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="the espeak-ng command line is not installed")
@pytest.mark.parametrize(
    "voice, variant, rate, pitch",
    [
        ("en-us", "m3", 1.0, 0.0),
        ("en", "f1", 1.2, 2.0),
        ("en-gb-x-rp", "klatt4", 0.9, -3.0),
        ("en-029", "grandma", 1.1, 1.0),
    ],
)
def test_audio_equals_the_command_line_whatever_was_spoken_before(tmp_path, voice, variant, rate, pitch):
    text = "Maybe Bob moved the big vase, Pam?"
    espeak.synthesize("Something else first, to leave state behind.", "en-us", "f1", 1.3, 3.0)
    speech = espeak.synthesize(text, voice, variant, rate, pitch)
    words_per_minute, pitch_step, range_step = espeak.espeak_parameters(rate, pitch, 1.0)
    assert range_step == 50  # the command line has no range option: it keeps the default
    wav = tmp_path / "cli.wav"
    subprocess.run(
        [
            "espeak-ng",
            "-v",
            f"{voice}+{variant}",
            "-s",
            str(words_per_minute),
            "-p",
            str(pitch_step),
            "-w",
            str(wav),
            text,
        ],
        check=True,
    )
    cli, rate_hz = soundfile.read(wav, dtype="int16")
    assert rate_hz == speech.sample_rate == 22050
    np.testing.assert_array_equal(np.round(speech.audio * 32768).astype(np.int16), cli)


def test_same_request_gives_identical_speech():
    first = espeak.synthesize("Pop the purple bubble.", "en-us", "f1")
    espeak.synthesize("Why did Vera move the map?", "en", "klatt2", 1.2, 2.0)
    again = espeak.synthesize("Pop the purple bubble.", "en-us", "f1")
    np.testing.assert_array_equal(first.audio, again.audio)
    assert first.phones == again.phones


@pytest.mark.parametrize("voice", sorted(espeak.ACCENT_PHONEME_TABLES))
def test_bilabials_are_where_the_words_put_them(voice):
    assert words(espeak.synthesize("Map.", voice, "m3", strict=True)) == ["M", "AE", "P"]
    assert words(espeak.synthesize("Bob.", voice, "m3", strict=True)) == ["B", "AA", "B"]


def test_timeline_covers_the_audio_exactly():
    speech = espeak.synthesize("Paul baked a pumpkin pie, and Mabel fixed five violins.", "en-us", "m5", strict=True)
    check_timeline(speech.phones, speech.duration)
    assert speech.phones[0].phone == SILENCE and speech.phones[-1].phone == SILENCE
    assert speech.phones[-1].end == len(speech.audio) / speech.sample_rate
    rate = speech.sample_rate
    for phone in speech.phones:  # every boundary falls on a sample
        assert phone.start * rate == pytest.approx(round(phone.start * rate), abs=1e-6)


def test_stop_closures_are_silent_and_belong_to_the_stop():
    """espeak stamps a stop at its burst; the closure before it must be inside the stop, not the vowel."""
    speech = espeak.synthesize("Happy puppy, pop the paper map.", "en-us", "m1", strict=True)
    phones = speech.phones
    checked = 0
    for previous, stop in zip(phones, phones[1:]):
        if stop.phone == "P" and previous.phone in VOWELS:
            closure = samples_of(speech, stop)[: int(0.02 * speech.sample_rate)]
            assert not closure.any(), f"{stop} should open with its silent closure"
            tail = samples_of(speech, previous)[-int(0.005 * speech.sample_rate) :]
            assert tail.any(), f"{previous} should not end in the closure of the next stop"
            checked += 1
    assert checked >= 4


@pytest.mark.parametrize("voice, variant", [("en-gb-x-rp", "f1"), ("en-us", "m3")])
def test_bilabial_closures_are_quieter_than_their_vowels_and_pauses_are_silent(voice, variant):
    speech = espeak.synthesize(
        "Bob, maybe a baby mob? Bubble me a ball. My mum made bombs.", voice, variant, strict=True
    )
    phones = speech.phones
    closures = 0
    for phone, following in zip(phones, phones[1:]):
        if phone.phone in {"B", "M"} and following.phone in VOWELS:
            # the first half: closure or murmur (the second may hold the vowel's onset, see espeak.py)
            held = samples_of(speech, phone)[: len(samples_of(speech, phone)) // 2]
            assert rms(held) < 0.6 * rms(samples_of(speech, following)), phone
            closures += 1
        if phone.phone == SILENCE:
            assert not samples_of(speech, phone).any(), f"pause {phone} holds sound"
        if phone.phone in VOWELS:
            assert rms(samples_of(speech, phone)) > 0.01, phone
    assert closures >= 12


def test_liquid_made_inside_the_vowel_shares_its_time():
    """In "milk" espeak makes the l as the vowel's ending; its own event has no sound. Both get time."""
    speech = espeak.synthesize("milk", "en-us", "m3", strict=True)
    assert words(speech) == ["M", "IH", "L", "K"]
    vowel, liquid = (next(p for p in speech.phones if p.phone == name) for name in ("IH", "L"))
    assert vowel.end == liquid.start
    assert vowel.duration == pytest.approx(liquid.duration, abs=1 / speech.sample_rate)


def test_generated_sentences_in_every_accent_map_completely():
    rng = np.random.default_rng(3)
    texts = [generate_sentence(rng, split) for split in ("train", "test") for _ in range(6)]
    for voice in espeak.ACCENT_PHONEME_TABLES:
        for text in texts:
            speech = espeak.synthesize(text, voice, "m6", strict=True)  # raises on an unmapped phoneme
            assert len(words(speech)) >= len(text.split())


def _phoneme_tables(phontab: Path) -> dict[str, tuple[int, list[tuple[str, int]]]]:
    """espeak-ng-data/phontab: table name -> (index of the table it includes, 1-based or 0; [(mnemonic, type)])."""
    data = phontab.read_bytes()
    (count,) = struct.unpack_from("<i", data, 0)
    offset, tables = 4, {}
    for _ in range(count):
        n_phonemes, includes = data[offset], data[offset + 1]
        name = data[offset + 4 : offset + 36].split(b"\0")[0].decode()
        offset += 36
        phonemes = []
        for _ in range(n_phonemes):
            mnemonic, _, _, _, kind = struct.unpack_from("<IIHBB", data, offset)
            offset += 16  # sizeof(PHONEME_TAB)
            phonemes.append((mnemonic.to_bytes(4, "little").rstrip(b"\0").decode("latin-1"), kind))
        tables[name] = (includes, phonemes)
    return tables


def test_every_phoneme_of_the_english_tables_is_mapped():
    """Read espeak's compiled phoneme tables: each English table with the tables it includes, later ones winning."""
    tables = _phoneme_tables(espeak.engine().data_folder / "phontab")
    names = list(tables)
    stress, virtual = 1, 9  # phoneme types that never reach a phoneme event
    for table in set(espeak.ACCENT_PHONEME_TABLES.values()):
        chain, name = [], table
        while True:
            chain.append(name)
            includes = tables[name][0]
            if not includes:
                break
            name = names[includes - 1]
        kinds: dict[str, int] = {}
        for name in reversed(chain):
            kinds.update((m, k) for m, k in tables[name][1] if m)
        spoken = [m for m, k in kinds.items() if k not in (stress, virtual)]
        assert len(spoken) > 100
        for mnemonic in spoken:
            phones = espeak.to_arpabet(mnemonic, table, strict=True)
            assert phones and set(phones) <= PHONES, (table, mnemonic)


def test_unknown_phoneme_is_an_error_when_strict_and_a_warning_once_otherwise(caplog):
    with pytest.raises(SynthError, match="no ARPAbet mapping"):
        espeak.to_arpabet("zq9", "en-us", strict=True)
    assert espeak.to_arpabet("aI9", "en-us") == ("AY",)  # a variant mark on a known phoneme
    assert espeak.to_arpabet("_7", "en-us") == (SILENCE,)
    espeak.to_arpabet("aI9", "en-us")
    assert sum("aI9" in record.message for record in caplog.records) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"voice": "fr"}, "not one we can map"),
        ({"variant": "nonexistent"}, "no voice variant"),
        ({"text": "   "}, "empty text"),
        ({"rate": 3.0}, "words/min"),
        ({"pitch": 15.0}, "semitones"),
    ],
)
def test_bad_requests_raise_synth_errors(kwargs, message):
    request = {"text": "Hello.", "voice": "en-us", "variant": None, "rate": 1.0, "pitch": 0.0} | kwargs
    with pytest.raises(SynthError, match=message):
        espeak.synthesize(**request)
