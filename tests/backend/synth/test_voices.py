"""The voice pool: train and test voices never coincide, every voice is usable, sampling is reproducible."""

import re

import numpy as np
import pytest

from backend.core.errors import SynthError
from backend.core.phones import SILENCE
from backend.synth import espeak, festival, voices
from backend.synth.voices import VoiceSpec, espeak_voices, sample_voice, synthesize

needs_espeak = pytest.mark.skipif(
    espeak.espeak_unavailable_reason() is not None, reason=str(espeak.espeak_unavailable_reason())
)


def test_test_voices_differ_from_every_training_voice_in_accent_or_variant():
    train, test = espeak_voices("train"), espeak_voices("test")
    assert len(train) >= 200 and len(test) >= 100
    assert not set(train) & set(test)
    for accent, variant in train:
        assert accent not in voices.TEST_ACCENTS and variant not in voices.TEST_VARIANTS
    for accent, variant in test:
        assert accent in voices.TEST_ACCENTS or variant in voices.TEST_VARIANTS
    assert not set(voices.TRAIN_FESTIVAL_VOICES) & set(voices.TEST_FESTIVAL_VOICES)
    assert set(voices.TRAIN_FESTIVAL_VOICES) | set(voices.TEST_FESTIVAL_VOICES) == set(festival.VOICES)


def test_sampling_is_reproducible_and_keeps_to_the_split_and_engines():
    first = [sample_voice(np.random.default_rng(7), "train") for _ in range(3)]
    assert first == [sample_voice(np.random.default_rng(7), "train") for _ in range(3)]
    rng = np.random.default_rng(1)
    drawn = [sample_voice(rng, "test") for _ in range(300)]
    engines = {voice.engine for voice in drawn}
    assert engines == {"espeak", "festival"}
    for voice in drawn:
        if voice.engine == "festival":
            assert voice.name in voices.TEST_FESTIVAL_VOICES
        else:
            assert (voice.name, voice.variant) in espeak_voices("test")
            assert voices.RATE_RANGE[0] <= voice.rate <= voices.RATE_RANGE[1]
    only_espeak = [sample_voice(rng, "train", ("espeak",)) for _ in range(50)]
    assert {voice.engine for voice in only_espeak} == {"espeak"}
    assert all(
        voice.name in voices.TRAIN_FESTIVAL_VOICES
        for voice in (sample_voice(rng, "train", ("festival",)) for _ in range(20))
    )


def test_voice_specs_round_trip_and_reject_impossible_voices():
    spec = VoiceSpec("espeak", "en-gb-x-rp", "m3", rate=1.1, pitch=-2.0, pitch_range=0.8)
    assert VoiceSpec(**spec.to_dict()) == spec
    with pytest.raises(SynthError, match="unknown espeak accent"):
        VoiceSpec("espeak", "de", "m3")
    with pytest.raises(SynthError, match="no variant"):
        VoiceSpec("festival", "kal_diphone", "m3")
    with pytest.raises(SynthError, match="keeps its own pitch"):
        VoiceSpec("festival", "cmu_us_slt_arctic_hts", pitch=2.0)
    with pytest.raises(SynthError, match="unknown speech engine"):
        VoiceSpec("mbrola", "us1")
    with pytest.raises(ValueError, match="split"):
        sample_voice(np.random.default_rng(0), "validation")


@needs_espeak
@pytest.mark.parametrize("variant", voices.TRAIN_VARIANTS + voices.TEST_VARIANTS)
def test_every_variant_exists_and_leaves_silence_digital(variant):
    """An echo would fill pauses and closures with sound, and closures are found as exact zeros (espeak.py)."""
    speech = espeak.synthesize("Pop.", "en-us", variant, strict=True)
    assert [p.phone for p in speech.phones if p.phone != SILENCE] == ["P", "AA", "P"]
    assert not speech.audio[-int(0.05 * speech.sample_rate) :].any()
    for phone in speech.phones:
        if phone.phone == SILENCE:
            rate = speech.sample_rate
            assert not speech.audio[round(phone.start * rate) : round(phone.end * rate)].any()


@needs_espeak
def test_accents_use_the_phoneme_tables_their_language_files_name():
    folder = espeak.engine().data_folder / "lang" / "gmw"
    files = {path.name.lower(): path for path in folder.iterdir()}
    for accent, table in espeak.ACCENT_PHONEME_TABLES.items():
        match = re.search(r"^phonemes\s+(\S+)", files[accent].read_text(), re.MULTILINE)
        assert (match.group(1) if match else "en") == table, accent


@needs_espeak
def test_synthesize_renders_a_voice_spec_with_its_engine():
    spec = VoiceSpec("espeak", "en-029", "m4", rate=1.2, pitch=2.0, pitch_range=1.4)
    speeches = synthesize(spec, ["Bob moved the map.", "Who found five violins?"])
    direct = espeak.synthesize("Who found five violins?", "en-029", "m4", 1.2, 2.0, 1.4)
    assert len(speeches) == 2
    np.testing.assert_array_equal(speeches[1].audio, direct.audio)
    assert speeches[1].phones == direct.phones


@pytest.mark.skipif(festival.festival_unavailable_reason("kal_diphone") is not None, reason="no Festival kal voice")
def test_synthesize_sends_a_festival_voice_one_batch():
    speeches = synthesize(VoiceSpec("festival", "kal_diphone", rate=0.9, pitch=1.0), ["Map.", "Bob."])
    assert [[p.phone for p in s.phones if p.phone != SILENCE] for s in speeches] == [["M", "AE", "P"], ["B", "AA", "B"]]
