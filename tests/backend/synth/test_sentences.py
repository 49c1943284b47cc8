"""Generated sentences: varied, reproducible, never shared between train and test, and rich in every phone class."""

import collections
import re

import numpy as np
import pytest

from backend.core.phones import BILABIALS, CONSONANTS, LABIODENTALS, OPEN_VOWELS, PHONES, ROUNDED, SILENCE, VOWELS
from backend.synth import espeak
from backend.synth.sentences import MAX_WORDS, MIN_WORDS, generate_sentence, vocabulary


def sentences(seed: int, split: str, count: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [generate_sentence(rng, split) for _ in range(count)]


def test_same_generator_state_gives_the_same_sentences():
    assert sentences(11, "train", 20) == sentences(11, "train", 20)
    assert sentences(11, "train", 20) != sentences(12, "train", 20)


def test_sentences_are_statements_and_questions_of_every_allowed_length():
    drawn = sentences(0, "train", 2000)
    lengths = collections.Counter(len(s.split()) for s in drawn)
    assert set(lengths) == set(range(MIN_WORDS, MAX_WORDS + 1))
    assert min(lengths.values()) > 40  # every length is common
    questions = sum(s.endswith("?") for s in drawn)
    assert 0.25 < questions / len(drawn) < 0.55
    for sentence in drawn:
        assert re.fullmatch(r"[A-Z][a-z]*( [A-Za-z]+)*[.?]", sentence), sentence
        assert sentence.count("?") + sentence.count(".") == 1


def content_words(split: str) -> set[str]:
    words = vocabulary(split)
    verb_forms = {form for pair in words.verbs for form in pair}
    return set(words.names) | set(words.nouns) | set(words.adjectives) | set(words.adverbs) | verb_forms


def test_train_and_test_share_no_content_word_and_no_sentence():
    train_words, test_words = content_words("train"), content_words("test")
    assert len(test_words) > 60 and not train_words & test_words
    test_verbs = {form for pair in vocabulary("test").verbs for form in pair}
    train_sentences, test_sentences = set(sentences(1, "train", 3000)), set(sentences(1, "test", 3000))
    assert not train_sentences & test_sentences
    for sentence in test_sentences:  # why: every sentence has a verb, and test's verbs are its own
        assert test_verbs & set(sentence.rstrip(".?").split()), sentence
    for sentence in train_sentences:
        assert not test_words & set(sentence.rstrip(".?").split()), sentence
    with pytest.raises(ValueError, match="split"):
        generate_sentence(np.random.default_rng(0), "dev")


@pytest.mark.skipif(espeak.espeak_unavailable_reason() is not None, reason=str(espeak.espeak_unavailable_reason()))
@pytest.mark.parametrize("split", ["train", "test"])
def test_every_phone_class_is_well_represented(split):
    """Speak a sample with espeak and count phones by time: the mouth's classes must all be frequent."""
    seconds: collections.Counter = collections.Counter()
    for sentence in sentences(5, split, 60):
        for phone in espeak.synthesize(sentence, "en-us", "m3", strict=True).phones:
            seconds[phone.phone] += phone.duration
    speech = sum(t for phone, t in seconds.items() if phone != SILENCE)
    assert not PHONES - set(seconds)

    def share(phones) -> float:
        return sum(seconds[p] for p in phones) / speech

    # A 14 s LibriSpeech clip (assets/real-speech/) has 13% bilabials and 8% labiodentals in its consonant time, 25%
    # open and 24% rounded in its vowel time.
    assert share(BILABIALS) > 0.16 * share(CONSONANTS)
    assert share(LABIODENTALS) > 0.07 * share(CONSONANTS)
    assert share(OPEN_VOWELS) > 0.27 * share(VOWELS)
    assert share(ROUNDED & VOWELS) > 0.22 * share(VOWELS)
