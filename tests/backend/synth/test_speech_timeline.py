"""The Speech type and the timeline every engine's segments become."""

import numpy as np
import pytest

from backend.core.errors import SynthError
from backend.core.phones import Phone
from backend.synth.speech import Speech, check_timeline, timeline_from_segments

RATE = 100  # samples per second: boundaries in hundredths


def test_segments_become_a_contiguous_timeline_with_leading_silence():
    phones = timeline_from_segments([(("M",), 10), (("AE",), 30), (("P",), 60)], 80, RATE)
    assert phones == [Phone("SIL", 0.0, 0.1), Phone("M", 0.1, 0.3), Phone("AE", 0.3, 0.6), Phone("P", 0.6, 0.8)]


def test_a_unit_of_several_phones_is_split_evenly_and_silences_merge():
    phones = timeline_from_segments([(("SIL",), 0), (("SIL",), 5), (("AA", "R"), 10), (("SIL",), 30)], 40, RATE)
    assert phones == [Phone("SIL", 0.0, 0.1), Phone("AA", 0.1, 0.2), Phone("R", 0.2, 0.3), Phone("SIL", 0.3, 0.4)]


def test_empty_segments_vanish():
    phones = timeline_from_segments([(("B",), 0), (("L",), 20), (("AA",), 20)], 50, RATE)
    assert [p.phone for p in phones] == ["B", "AA"]


@pytest.mark.parametrize("segments", [[(("M",), 30), (("AE",), 20)], [(("M",), 0), (("AE",), 90)]])
def test_times_out_of_order_or_past_the_audio_are_engine_failures(segments):
    with pytest.raises(SynthError, match="out of order or past the audio"):
        timeline_from_segments(segments, 50, RATE)


def test_speech_checks_its_timeline_against_its_audio():
    audio = np.zeros(50, np.float32)
    Speech(audio, RATE, [Phone("SIL", 0.0, 0.2), Phone("AA", 0.2, 0.5)])
    with pytest.raises(ValueError, match="spans"):
        Speech(audio, RATE, [Phone("SIL", 0.0, 0.2), Phone("AA", 0.2, 0.4)])
    with pytest.raises(ValueError, match="gap or overlap"):
        Speech(audio, RATE, [Phone("SIL", 0.0, 0.2), Phone("AA", 0.25, 0.5)])
    with pytest.raises(ValueError, match="bad phone"):
        Speech(audio, RATE, [Phone("SIL", 0.0, 0.2), Phone("AX", 0.2, 0.5)])
    with pytest.raises(ValueError, match="float32"):
        Speech(audio.astype(np.float64), RATE, [Phone("SIL", 0.0, 0.5)])
    check_timeline([], 0.0)
