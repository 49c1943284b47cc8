"""The phonetic front end on real speech (the LibriSpeech clip in assets/real-speech/, evaluation only) and its
features.

Floors are the figures backend/evaluation/phonetic_benchmark.py measured on this clip, minus a margin.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from pocketsphinx import Decoder

from backend.audio import phonetic
from backend.audio.decode import load_audio
from backend.audio.phone_errors import align_timelines, event_scores, frame_accuracy, phones_at
from backend.audio.phonetic import (
    FEATURE_PHONES,
    SAMPLE_RATE,
    TranscriptError,
    align_phones,
    phone_features,
    recognise_phones,
)
from backend.core.errors import AudioError
from backend.core.phones import PHONES, SILENCE, Phone, load_timeline
from backend.evaluation.real_speech import REAL_CLIP, real_speech_dir

pytestmark = pytest.mark.slow  # pocketsphinx recognition of real speech

DATA = real_speech_dir()
CLIP = REAL_CLIP


@pytest.fixture(scope="module")
def clip() -> tuple[np.ndarray, list[Phone], str]:
    if DATA is None:
        pytest.fail("the real LibriSpeech clip is missing from assets/real-speech/")
    wave = load_audio(DATA / f"{CLIP}.ogg", SAMPLE_RATE)
    return wave, load_timeline(DATA / f"{CLIP}.phones.json"), (DATA / f"{CLIP}.transcript.txt").read_text()


def assert_covers(phones: list[Phone], duration: float) -> None:
    assert phones[0].start == 0.0
    assert phones[-1].end == pytest.approx(duration)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(phones, phones[1:]))
    assert all(p.end > p.start and p.phone in PHONES for p in phones)


@pytest.mark.parametrize(
    ("mode", "min_frame_accuracy", "min_bilabials"),
    [("words", 0.80, 0.8), ("allphone", 0.60, 0.7)],  # measured 0.847 / 0.90 and 0.661 / 0.80
)
def test_recognition_without_transcript_finds_the_phones_of_real_speech(clip, mode, min_frame_accuracy, min_bilabials):
    wave, reference, _ = clip
    phones = recognise_phones(wave, mode)
    assert_covers(phones, len(wave) / SAMPLE_RATE)
    assert frame_accuracy(reference, phones, 25.0)["frame_accuracy"] >= min_frame_accuracy
    assert event_scores(reference, phones)["bilabial_detection"] >= min_bilabials


def test_alignment_with_the_transcript_lands_near_the_reference_boundaries(clip, caplog):
    wave, reference, transcript = clip
    with caplog.at_level(logging.WARNING, logger="backend.audio.phonetic"):
        phones = align_phones(wave, transcript)
    # "guenever" and "maying" are not in cmudict: recognised phone by phone in their span, and said so
    assert "guenever, maying" in caplog.text
    assert_covers(phones, len(wave) / SAMPLE_RATE)
    pairs = [s for s in align_timelines(reference, phones) if s.ref is not None and s.hyp is not None]
    assert len(pairs) >= 0.95 * len(reference)
    errors = [abs(phones[s.hyp].start - reference[s.ref].start) for s in pairs]
    assert np.mean(errors) < 0.060
    assert event_scores(reference, phones)["bilabial_detection"] == 1.0


def test_long_audio_is_aligned_in_utterances_cut_at_pauses(clip):
    wave, reference, transcript = clip
    phones = align_phones(np.tile(wave, 2), transcript + " " + transcript)  # ~33 s: past the 30 s utterance limit
    clip_s = len(wave) / SAMPLE_RATE
    assert_covers(phones, 2 * clip_s)
    for copy in range(2):
        part = [
            Phone(p.phone, p.start - copy * clip_s, p.end - copy * clip_s)
            for p in phones
            if copy * clip_s <= p.start < (copy + 1) * clip_s
        ]
        assert frame_accuracy(reference, part, 25.0)["frame_accuracy"] >= 0.88  # measured 0.94, 0.92


def test_given_pronunciations_replace_the_phone_by_phone_fallback(clip, caplog):
    wave, _, transcript = clip
    pronunciations = {"Guenever": "G W EH N IH V ER", "maying": "M EY IH NG"}
    with caplog.at_level(logging.WARNING, logger="backend.audio.phonetic"):
        phones = align_phones(wave, transcript, pronunciations)
    assert "recognised phone by phone" not in caplog.text
    names = " ".join(p.phone for p in phones)
    assert "K W IY N G W EH N IH V ER K AO L D" in names and "AH M EY IH NG IH N T" in names


def test_a_transcript_of_other_words_is_refused(clip):
    wave, _, _ = clip
    with pytest.raises(TranscriptError, match="could not align"):
        align_phones(wave, "the quick brown fox jumps over the lazy dog " * 10)


@pytest.mark.parametrize(
    ("transcript", "pronunciations", "message"),
    [(" ,.!? ", None, "holds no words"), ("hello", {"hello": "HH AH0 L OW"}, "without stress marks")],
)
def test_unusable_transcripts_are_refused(transcript, pronunciations, message):
    with pytest.raises(TranscriptError, match=message):
        align_phones(np.zeros(SAMPLE_RATE, np.float32), transcript, pronunciations)


@pytest.mark.parametrize("mode", ["words", "allphone"])
def test_silence_is_one_silent_phone(mode):
    phones = recognise_phones(np.zeros(2 * SAMPLE_RATE, np.float32), mode)
    assert phones == [Phone(SILENCE, 0.0, 2.0)]


@pytest.mark.parametrize(
    ("wave", "message"),
    [
        (np.zeros((2, 100), np.float32), "1-D"),
        (np.array([], np.float32), "non-empty"),
        (np.array([0.0, np.nan], np.float32), "NaN"),
    ],
)
def test_unusable_audio_is_refused(wave, message):
    with pytest.raises(AudioError, match=message):
        recognise_phones(wave)


def test_long_audio_is_cut_at_pauses_and_workers_do_not_change_the_result(clip):
    wave, reference, _ = clip
    long_wave = np.tile(wave, 3)  # ~50 s: two utterances of 15-30 s
    one = recognise_phones(long_wave, "allphone")
    two = recognise_phones(long_wave, "allphone", workers=2)
    assert one == two
    assert_covers(one, len(long_wave) / SAMPLE_RATE)
    clip_s = len(wave) / SAMPLE_RATE
    for copy in range(3):
        part = [
            Phone(p.phone, p.start - copy * clip_s, p.end - copy * clip_s)
            for p in one
            if copy * clip_s <= p.start < (copy + 1) * clip_s
        ]
        assert frame_accuracy(reference, part, 25.0)["frame_accuracy"] >= 0.55


def test_a_failed_phone_pass_falls_back_to_the_phone_loop(clip, monkeypatch, caplog):
    # A real pocketsphinx failure: with bestpath on, the forced word pass over this 17 s utterance (the clip's last
    # pause into the middle of its next copy) leaves a word one frame long, which the phone pass refuses. The
    # module turns bestpath off; here a decoder with it on stands in for the word recogniser to reach that failure.
    wave, _, transcript = clip
    utterance = np.tile(wave, 3)[307360:575520]
    words = (transcript + " " + transcript + " " + transcript).split()[48:91]

    def decoder_whose_phone_pass_fails() -> Decoder:
        decoder = Decoder(loglevel="FATAL", dither=True, bestpath=True)
        decoder.add_word("guenever", "G W EH N IH V ER", False)
        decoder.add_word("maying", "M EY IH NG", False)
        decoder.set_align_text(" ".join(words))
        return decoder

    monkeypatch.setattr(phonetic, "_word_decoder", decoder_whose_phone_pass_fails)
    with caplog.at_level(logging.WARNING, logger="backend.audio.phonetic"):
        phones = recognise_phones(utterance, "words")
    assert "phone alignment failed at 0.0-16.8 s" in caplog.text
    assert phones == recognise_phones(utterance, "allphone")


def test_features_are_the_share_of_each_frame_interval_a_phone_covers():
    fps = 25.0  # frame i spans [i/25 - 0.02, i/25 + 0.02)
    phones = [Phone(SILENCE, 0.0, 0.10), Phone("AA", 0.10, 0.21), Phone("M", 0.21, 0.235), Phone("AA", 0.235, 0.31)]
    features = phone_features(phones, n_frames=10, fps=fps)
    column = {p: FEATURE_PHONES.index(p) for p in (SILENCE, "AA", "M")}
    assert features.shape == (10, 40) and features.dtype == np.float32
    np.testing.assert_allclose(features.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(features[:, column["AA"]], [0, 0, 0, 1.0, 1.0, 0.75, 0.625, 1.0, 0.25, 0], atol=1e-6)
    # the 25 ms M holds no frame instant (it lies between 0.20 and 0.24 s), yet it is not lost
    np.testing.assert_allclose(features[:, column["M"]], [0, 0, 0, 0, 0, 0.25, 0.375, 0, 0, 0], atol=1e-6)
    # before the timeline (frame 0's first half) and after its end: SIL
    np.testing.assert_allclose(features[[0, 8, 9], column[SILENCE]], [1.0, 0.75, 1.0], atol=1e-6)


def test_features_equal_a_one_hot_where_a_phone_fills_the_frame(clip):
    _, reference, _ = clip
    fps = 30.0
    n_frames = int(reference[-1].end * fps)
    features = phone_features(reference, n_frames, fps)
    labels = phones_at(reference, np.arange(n_frames) / fps)
    full = features.max(axis=1) > 1 - 1e-6
    assert full.mean() > 0.5
    assert all(FEATURE_PHONES[k] == label for k, label in zip(features[full].argmax(axis=1), np.array(labels)[full]))
