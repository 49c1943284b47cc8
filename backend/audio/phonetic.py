"""The phonetic front end: ARPAbet phone timelines from speech, by pocketsphinx's en-us model (trained on real speech).

Without a transcript, two recognisers (measured on the real LibriSpeech clip by
backend/evaluation/phonetic_benchmark.py; the figures are in backend/audio/phone_error_profile.json):

- "words" (default): words with the default language model and cmudict, then a second pass aligns their phones.
  85% of 25 fps frames right, 9 of 10 bilabials found, no false ones; ~9x real time on one core, ~15x on two
  (`workers=2`, audio over 30 s).
- "allphone": a phone loop under the shipped phone language model, like Rhubarb's fast phonetic mode: ~26x real
  time, but 66% of frames right, 8 of 10 bilabials found and a third of its bilabials false.

With a transcript, `align_phones` forces the words onto the audio (93% of frames, ~26x real time); words missing
from cmudict are recognised phone by phone inside their span. `phone_features` turns a timeline into the model's
per-frame input. pocketsphinx hears espeak-ng's speech badly (phone error rate 0.6-0.7 against 0.17 on the real
clip), Festival's far better (0.06-0.14).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from multiprocessing import get_context

import numpy as np
from pocketsphinx import Decoder, get_model_path

from backend.audio.phone_errors import merge_silences
from backend.core.errors import AdaMeshError, AudioError
from backend.core.phones import CONSONANTS, SILENCE, VOWELS, Phone

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000  # the en-us acoustic model's rate
RECOGNITION_MODES = ("words", "allphone")
DEFAULT_MODE = "words"
# The per-frame feature columns: SIL first, then the 39 ARPAbet phones.
FEATURE_PHONES: tuple[str, ...] = (SILENCE, *sorted(VOWELS | CONSONANTS))

_FRAME_S = 0.01  # pocketsphinx's frame period
_POLL_SECONDS = 0.1  # how often a wait for the recogniser processes lets its thread be stopped
# Long audio is recognised in utterances cut at the quietest 10 ms between these lengths: memory stays bounded,
# and each utterance is long enough for pocketsphinx's per-utterance cepstral mean.
_MIN_UTTERANCE_S = 15.0
_MAX_UTTERANCE_S = 30.0
# Transcript words: letters, digits and apostrophes (cmudict holds "don't"); everything else separates words.
_WORD_PATTERN = re.compile(r"[a-z0-9']+")
_LOOP_PHONES = tuple(sorted(VOWELS | CONSONANTS))


class TranscriptError(AdaMeshError):
    """A transcript is empty, holds an invalid pronunciation, or cannot be aligned with its audio."""

    code = "bad_transcript"


def _checked_wave(wave16k: np.ndarray) -> np.ndarray:
    wave = np.asarray(wave16k, dtype=np.float32)
    if wave.ndim != 1 or wave.size == 0:
        raise AudioError(f"expected mono 16 kHz samples as a non-empty 1-D array, got shape {wave.shape}")
    if not np.all(np.isfinite(wave)):
        raise AudioError("the audio holds NaN or infinite samples; decode it again with load_audio")
    return wave


def _pcm16(wave: np.ndarray) -> bytes:
    """The 16-bit little-endian samples pocketsphinx reads."""
    return (np.clip(wave, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def _decode(decoder: Decoder, pcm: bytes) -> None:
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


# Dither: +-1 LSB of noise (from a fixed seed, so results repeat) keeps digital silence from turning into
# phones: on 2 s of zeros both recognisers otherwise hear an S or a D throughout (CMU Sphinx FAQ, as Rhubarb does).
_COMMON = {"loglevel": "FATAL", "dither": True}


def _word_decoder() -> Decoder:
    # maxhmmpf caps the active HMMs per frame (CMU Sphinx's speed advice): identical phones on the LibriSpeech
    # clip, ~15% faster than the default 30000. No bestpath: its lattice rescoring can leave a word one frame
    # long, which the phone pass then refuses ("impossible duration"; seen on a 17 s utterance of the clip).
    return Decoder(maxhmmpf=3000, bestpath=False, **_COMMON)


def _allphone_decoder() -> Decoder:
    # The CMU Sphinx wiki's settings for phoneme recognition (context-independent phones, lw 2, pip 0.3, wide
    # beams); measured better than pocketsphinx's defaults and Rhubarb's lw 0.8 on the LibriSpeech clip.
    return Decoder(
        **_COMMON,
        allphone=get_model_path("en-us/en-us-phone.lm.bin"),
        allphone_ci=True,
        lw=2.0,
        pip=0.3,
        beam=1e-20,
        pbeam=1e-20,
    )


def _aligned_segments(decoder: Decoder, pcm: bytes) -> list[tuple[str, int, int]]:
    """Second pass after a word decode: the phones of its best hypothesis, as (name, first frame, end frame)."""
    if decoder.hyp() is None:
        return []
    decoder.set_alignment()
    _decode(decoder, pcm)
    return [(p.name, p.start, p.start + p.duration) for p in decoder.get_alignment().phones()]


def _timeline(segments: list[tuple[str, int, int]], offset: float, duration: float, merge_repeats: bool) -> list[Phone]:
    """A contiguous timeline over [offset, offset + duration]: gaps and non-phones (noise, fillers) become SIL."""
    end_time = offset + duration
    phones: list[Phone] = []
    cursor = offset
    for name, first, end in sorted(segments, key=lambda s: s[1]):
        start, stop = offset + first * _FRAME_S, min(offset + end * _FRAME_S, end_time)
        start = max(start, cursor)
        if stop <= start:
            continue
        if start > cursor:
            phones.append(Phone(SILENCE, cursor, start))
        label = name if name in VOWELS or name in CONSONANTS else SILENCE
        previous = phones[-1] if phones else None
        if previous and previous.phone == label and (label == SILENCE or merge_repeats):
            phones[-1] = Phone(label, previous.start, stop)
        else:
            phones.append(Phone(label, start, stop))
        cursor = stop
    if cursor < end_time:
        if phones and phones[-1].phone == SILENCE:
            phones[-1] = Phone(SILENCE, phones[-1].start, end_time)
        else:
            phones.append(Phone(SILENCE, cursor, end_time))
    return phones


def _utterance_spans(wave: np.ndarray) -> list[tuple[int, int]]:
    """Cut long audio at its quietest 10 ms between _MIN_UTTERANCE_S and _MAX_UTTERANCE_S from each cut."""
    hop = int(SAMPLE_RATE * _FRAME_S)
    spans: list[tuple[int, int]] = []
    start = 0
    while len(wave) - start > _MAX_UTTERANCE_S * SAMPLE_RATE:
        lo = start + int(_MIN_UTTERANCE_S * SAMPLE_RATE)
        window = wave[lo : start + int(_MAX_UTTERANCE_S * SAMPLE_RATE)]
        energy = np.square(window[: len(window) // hop * hop].astype(np.float64)).reshape(-1, hop).sum(axis=1)
        cut = lo + int(np.argmin(energy)) * hop
        spans.append((start, cut))
        start = cut
    spans.append((start, len(wave)))
    return spans


def _recognise_utterances(mode: str, utterances: list[tuple[bytes, float, float]]) -> list[Phone]:
    """Recognise (pcm, offset s, duration s) utterances; the phones of all, in order."""
    phones: list[Phone] = []
    for pcm, offset, duration in utterances:
        # a fresh decoder each time: its noise estimate carries over utterances, and the result must not depend
        # on which utterances a worker got before
        segments, loop = None, mode == "allphone"
        if not loop:
            decoder = _word_decoder()
            _decode(decoder, pcm)
            try:
                segments = _aligned_segments(decoder, pcm)
            except RuntimeError:  # pocketsphinx's phone pass found no path through the recognised words
                log.warning(
                    "phone alignment failed at %.1f-%.1f s; recognising that span phone by phone",
                    offset,
                    offset + duration,
                )
                loop = True
        if loop:
            decoder = _allphone_decoder()
            _decode(decoder, pcm)
            segments = [(s.word, s.start_frame, s.end_frame + 1) for s in decoder.seg()]
        # a phone loop splits one long phone into repeats; a word alignment's repeats are two real phones
        phones += _timeline(segments, offset, duration, merge_repeats=loop)
    return phones


def recognise_phones(wave16k: np.ndarray, mode: str = DEFAULT_MODE, workers: int = 1) -> list[Phone]:
    """The phone timeline of speech without a transcript, covering the whole audio (SIL where nothing is said).

    `mode` is "words" (default, more accurate) or "allphone" (~3x faster). Audio longer than 30 s is cut into
    utterances at pauses; `workers` > 1 recognises them in that many processes (same result, less wall time).
    """
    if mode not in RECOGNITION_MODES:
        raise ValueError(f"unknown recognition mode {mode!r}; use one of {RECOGNITION_MODES}")
    wave = _checked_wave(wave16k)
    utterances = [(_pcm16(wave[a:b]), a / SAMPLE_RATE, (b - a) / SAMPLE_RATE) for a, b in _utterance_spans(wave)]
    if workers <= 1 or len(utterances) == 1:
        return merge_silences(_recognise_utterances(mode, utterances))  # utterances cut in a pause meet SIL to SIL
    n = min(workers, len(utterances))
    shares = [utterances[k::n] for k in range(n)]
    # A cancelled worker job is stopped by an exception raised in its thread (backend/worker/jobs.py), which lands
    # only between Python instructions: wait in short slices, and let the pool's exit terminate the recognisers.
    with get_context("spawn").Pool(n) as pool:
        pending = pool.starmap_async(_recognise_utterances, [(mode, share) for share in shares])
        while not pending.ready():
            pending.wait(_POLL_SECONDS)
        results = pending.get()
    return merge_silences(sorted((p for r in results for p in r), key=lambda p: p.start))


def _loop_word(phone: str, index: int) -> str:
    """A phone standing for transcript word `index` (not in cmudict): "_aa_3". Transcript words never hold "_"."""
    return f"_{phone.lower()}_{index}"


def _transcript_decoder(words: list[str], first: int, pronunciations: Mapping[str, str]) -> tuple[Decoder, list[str]]:
    """A decoder forced through `words` (transcript words first, first + 1, ...) in order; also the unknown ones.

    A word missing from the dictionary becomes a loop of one or more phones, each equally likely.
    """
    decoder = _word_decoder()
    for word, phones in pronunciations.items():
        # update=False: no search needs them yet; the grammar below is built from the dictionary as it then is
        decoder.add_word(word, phones, False)
    transitions: list[tuple[int, int, float, str]] = []
    unknown: list[str] = []
    for state, word in enumerate(words):
        if decoder.lookup_word(word) is not None:
            transitions.append((state, state + 1, 1.0, word))
            continue
        unknown.append(word)
        for phone in _LOOP_PHONES:
            name = _loop_word(phone, first + state)
            decoder.add_word(name, phone, False)
            transitions += [
                (state, state + 1, 1.0 / len(_LOOP_PHONES), name),
                (state + 1, state + 1, 0.5 / len(_LOOP_PHONES), name),
            ]
    decoder.add_fsg("transcript", decoder.create_fsg("transcript", 0, len(words), transitions))
    decoder.activate_search("transcript")
    return decoder, unknown


def _transcript_spans(decoder: Decoder, n_words: int, n_samples: int) -> list[tuple[int, int, int, int]]:
    """(first sample, end sample, first word, end word) of utterances of long audio, cut in the longest pause
    (else between two words) that the forced word pass found 15-30 s after the previous cut."""
    hop = int(SAMPLE_RATE * _FRAME_S)
    cuts: list[tuple[int, int, int]] = []  # (frame, words said before it, pause length in frames)
    said = 0
    for segment in decoder.seg():
        name = segment.word
        if name.startswith(("<", "[")):  # silence or noise
            cuts.append(((segment.start_frame + segment.end_frame) // 2, said, segment.end_frame - segment.start_frame))
            continue
        said = int(name.rsplit("_", 1)[1]) + 1 if name.startswith("_") else said + 1
        cuts.append((segment.end_frame + 1, said, 0))
    spans: list[tuple[int, int, int, int]] = []
    start, start_word = 0, 0
    while n_samples - start * hop > _MAX_UTTERANCE_S * SAMPLE_RATE:
        window = [c for c in cuts if _MIN_UTTERANCE_S <= (c[0] - start) * _FRAME_S <= _MAX_UTTERANCE_S]
        if not window:
            break
        frame, said, _ = max(window, key=lambda c: (c[2], c[0]))
        spans.append((start * hop, frame * hop, start_word, said))
        start, start_word = frame, said
    spans.append((start * hop, n_samples, start_word, n_words))
    return spans


def align_phones(wave16k: np.ndarray, transcript: str, pronunciations: Mapping[str, str] | None = None) -> list[Phone]:
    """The phone timeline of speech whose words are known: forced alignment of `transcript` (any case/punctuation).

    `pronunciations` adds or overrides words ({"guenever": "G W EH N IH V ER"}, ARPAbet without stress). Words that
    are still not in cmudict (names, numbers written as digits) are recognised phone by phone within their span,
    and a warning names them. Audio over 30 s is aligned in utterances cut at pauses (the phone pass needs memory
    growing with the square of the length). Raises TranscriptError when the text cannot be aligned with the audio.
    """
    wave = _checked_wave(wave16k)
    words = _WORD_PATTERN.findall(transcript.lower())
    if not words:
        raise TranscriptError(f"the transcript {transcript[:60]!r} holds no words; give the spoken text or none")
    for word, phones in (pronunciations or {}).items():
        if not phones.split() or any(p not in VOWELS and p not in CONSONANTS for p in phones.split()):
            raise TranscriptError(
                f"pronunciation of {word!r} is {phones!r}: use ARPAbet phones without stress marks, e.g. 'M EY IH NG'"
            )
    extra = {word.lower(): phones for word, phones in (pronunciations or {}).items()}
    decoder, unknown = _transcript_decoder(words, 0, extra)
    if unknown:
        names = ", ".join(sorted(set(unknown)))
        log.warning("not in the pronunciation dictionary, recognised phone by phone: %s", names)
    spans = [(0, len(wave), 0, len(words))]
    if len(wave) > _MAX_UTTERANCE_S * SAMPLE_RATE:
        _decode(decoder, _pcm16(wave))  # the word pass is light; it tells where the pauses fall between words
        if decoder.hyp() is None:
            raise _unaligned(len(words), len(wave))
        spans = _transcript_spans(decoder, len(words), len(wave))
    phones: list[Phone] = []
    for start, end, first_word, end_word in spans:
        offset, duration = start / SAMPLE_RATE, (end - start) / SAMPLE_RATE
        if first_word == end_word:
            phones.append(Phone(SILENCE, offset, offset + duration))
            continue
        if len(spans) > 1:
            decoder, _ = _transcript_decoder(words[first_word:end_word], first_word, extra)
        pcm = _pcm16(wave[start:end])
        _decode(decoder, pcm)
        try:
            segments = _aligned_segments(decoder, pcm)
        except RuntimeError:  # pocketsphinx's phone pass found no path through the words
            segments = []
        if not segments:
            raise _unaligned(len(words), len(wave))
        phones += _timeline(segments, offset, duration, merge_repeats=False)
    return merge_silences(phones)


def _unaligned(n_words: int, n_samples: int) -> TranscriptError:
    return TranscriptError(
        f"could not align the transcript ({n_words} words) with {n_samples / SAMPLE_RATE:.1f} s of audio: check "
        "that it is the text spoken in this audio, or leave the transcript empty to recognise the phones"
    )


def phone_features(phones: Sequence[Phone], n_frames: int, fps: float) -> np.ndarray:
    """Per motion frame, the share of its interval [i/fps - 0.5/fps, i/fps + 0.5/fps) each phone covers.

    Returns float32 [n_frames, 40], columns in FEATURE_PHONES order, rows summing to 1 (time outside the timeline
    counts as SIL). Soft overlap rather than a one-hot at the frame instant: at 25 fps a phone is often shorter
    than a frame (bilabial closures of 30-50 ms), and a phone between two instants would vanish from a one-hot.
    """
    if not (fps > 0 and n_frames >= 0):
        raise ValueError(f"need fps > 0 and n_frames >= 0, got fps={fps!r}, n_frames={n_frames!r}")
    column = {p: k for k, p in enumerate(FEATURE_PHONES)}
    edges = (np.arange(n_frames + 1) - 0.5) / fps
    features = np.zeros((n_frames, len(FEATURE_PHONES)), dtype=np.float64)
    for phone in phones:
        first = max(int(np.searchsorted(edges, phone.start, side="right")) - 1, 0)
        last = min(int(np.searchsorted(edges, phone.end, side="left")) - 1, n_frames - 1)
        for k in range(first, last + 1):
            overlap = min(phone.end, edges[k + 1]) - max(phone.start, edges[k])
            if overlap > 0:
                features[k, column[phone.phone]] += overlap * fps
    features[:, column[SILENCE]] += np.clip(1.0 - features.sum(axis=1), 0.0, None)
    return features.astype(np.float32)
