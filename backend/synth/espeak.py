"""Speech with sample-exact phone times from libespeak-ng (Debian `libespeak-ng1`), through ctypes.

The library runs synchronously (`AUDIO_OUTPUT_SYNCHRONOUS`) and hands each buffer of 16-bit audio to our
callback together with its events; with `espeakINITIALIZE_PHONEME_EVENTS` every phoneme gets an event whose
`sample` field is its exact position in the output (`audio_position` is the same in truncated milliseconds).
The audio is what `espeak-ng -w` writes, sample for sample (tests/backend/test_speech_espeak.py checks it).

Three things in how espeak queues its output decide the phone boundaries (read from its synthesize.c and
checked on its output):

- A phoneme's "pre-pause" (the silent closure before a stop, the gap before a word) is generated *before* its
  event, so the event marks the burst, not the closure. The closure is the run of digital silence (exact zero
  samples) just before the event; we move the boundary back to where it starts, so a P or B holds its closure.
- A vowel after a nasal or liquid gets its event after its first spectral frames, so the formant transition out
  of the consonant (15-60 ms) stays with the consonant; for a word-final nasal before a vowel ("spoon at") espeak
  makes the whole nasal inside that vowel start. espeak reports nothing finer, so we leave it.
- A liquid after a vowel and before a consonant or pause ("milk", "Paul would") is made inside the vowel's
  ending: its own event comes with no sound of its own. We share the vowel's time evenly between the two.

Silences are generated as exact zeros only by voice variants without an `echo` setting (with one, a silence
holds the echo of earlier speech); backend/synth/voices.py therefore uses echo-free variants only.
Speeds above 450 words/min go through libsonic after the events are stamped, so rates are kept below that.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from backend.core.errors import SynthError
from backend.core.phones import SILENCE, VOWELS
from backend.synth.speech import Speech, timeline_from_segments

LIBRARY = "libespeak-ng.so.1"
NORMAL_WORDS_PER_MINUTE = 175  # espeakRATE_NORMAL
SEMITONES_PER_PITCH_STEP = 0.2  # measured: espeak's pitch 0..100 moves a voice about -9.7..+10.4 semitones
MAX_WORDS_PER_MINUTE = 450  # above this, libsonic speeds the audio up after the events are stamped

# espeak_AUDIO_OUTPUT, espeak_Initialize options, espeak_EVENT_TYPE, espeak_PARAMETER, espeak_Synth flags
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_EVENT_LIST_TERMINATED, _EVENT_PHONEME = 0, 7
_RATE, _PITCH, _RANGE = 1, 3, 4
_POS_CHARACTER = 1
_CHARS_UTF8, _ENDPAUSE = 1, 0x1000
_EE_OK = 0

log = logging.getLogger(__name__)
_warned: set[tuple[str, str]] = set()  # (table, mnemonic) already reported

# The English voices we can map, each with the phoneme table its language file selects (`phonemes` line;
# gmw/en has none and uses the table "en").
ACCENT_PHONEME_TABLES = {
    "en-us": "en-us",
    "en-us-nyc": "en-us-nyc",
    "en": "en",  # gmw/en, British English (espeak lists it as en-gb but loads it by this name)
    "en-gb-x-rp": "en-rp",
    "en-gb-x-gbclan": "en-n",
    "en-gb-x-gbcwmd": "en-wm",
    "en-gb-scotland": "en-sc",
    "en-029": "en-wi",
}

# Every phoneme of the English tables and the tables they include (base1, base), as General American reads it
# (the CMU dictionary's conventions, which pocketsphinx's model was trained on): lexical sets, not accents.
# A tuple of two splits espeak's one unit evenly (r-coloured vowels, syllabic consonants, triphthongs).
_GENERAL_AMERICAN: dict[str, tuple[str, ...]] = {
    # pauses other than the "_..." ones (see to_arpabet): "||" ends a word, "1" is a code; neither is ever spoken
    "||": (SILENCE,),
    "1": (SILENCE,),
    # vowels: monophthongs
    "a": ("AE",),
    "a2": ("AE",),
    "a#2": ("AE",),
    "a/": ("AE",),
    "aa": ("AE",),  # TRAP, BATH
    "A:": ("AA",),
    "A#": ("AA",),
    "A~": ("AA",),
    "0": ("AA",),
    "0#": ("AA",),  # PALM, LOT
    "O": ("AO",),
    "O2": ("AO",),
    "O:": ("AO",),
    "O~": ("AO",),  # CLOTH, THOUGHT
    "V": ("AH",),
    "02": ("AH",),
    "@": ("AH",),
    "@#": ("AH",),
    "@-": ("AH",),
    "@2": ("AH",),
    "a#": ("AH",),
    "E": ("EH",),
    "E#": ("EH",),
    "E2": ("EH",),
    "e": ("EH",),
    "e#": ("EH",),  # DRESS
    "I": ("IH",),
    "I#": ("IH",),
    "I2": ("IH",),
    "I2#": ("IH",),  # KIT
    "i": ("IY",),
    "i:": ("IY",),  # happY, FLEECE
    "U": ("UH",),
    "@5": ("UH",),  # FOOT; @5 is the vowel of "to" before a vowel
    "u": ("UW",),
    "u:": ("UW",),  # GOOSE
    "3": ("ER",),
    "3:": ("ER",),
    "IR": ("ER",),
    "VR": ("ER",),  # lettER, NURSE
    # diphthongs
    "eI": ("EY",),
    "e:": ("EY",),
    "aI": ("AY",),
    "aI2": ("AY",),
    "OI": ("OY",),
    "aU": ("AW",),
    "oU": ("OW",),
    "oU#": ("OW",),
    "o": ("OW",),
    "o:": ("OW",),
    # r-coloured vowels and triphthongs
    "A@": ("AA", "R"),
    "O@": ("AO", "R"),
    "o@": ("AO", "R"),
    "e@": ("EH", "R"),
    "i@3": ("IH", "R"),
    "U@": ("UH", "R"),
    "i@": ("IY", "AH"),
    "aI@": ("AY", "ER"),
    "aI3": ("AY", "ER"),
    "aU@": ("AW", "ER"),
    # syllabic consonants: a schwa and the consonant, as the CMU dictionary writes "bottle", "button"
    "@L": ("AH", "L"),
    "l-": ("AH", "L"),
    "m-": ("AH", "M"),
    "n-": ("AH", "N"),
    "N-": ("AH", "NG"),
    # stops; the glottal stop and the flap stand for the /t/ they realise ("button", "letter")
    "p": ("P",),
    "b": ("B",),
    "t": ("T",),
    "t2": ("T",),
    "t#": ("T",),
    "t[": ("T",),
    "d#": ("T",),
    "?": ("T",),
    "*": ("T",),
    "d": ("D",),
    "d[": ("D",),
    "k": ("K",),
    "c": ("K",),
    "q": ("K",),
    "g": ("G",),
    "J": ("JH",),
    "tS": ("CH",),
    "tS;": ("CH",),
    "dZ": ("JH",),
    "dZ;": ("JH",),
    # fricatives (devoiced z#, z/2 sound as s)
    "f": ("F",),
    "v": ("V",),
    "v#": ("V",),
    "B": ("B",),
    "T": ("TH",),
    "D": ("DH",),
    "s": ("S",),
    "z#": ("S",),
    "z/2": ("S",),
    "z": ("Z",),
    "S": ("SH",),
    "S;": ("SH",),
    "s.": ("SH",),
    "s;": ("SH",),
    "Z": ("ZH",),
    "Z;": ("ZH",),
    "z.": ("ZH",),
    "z;": ("ZH",),
    "h": ("HH",),
    "C": ("HH",),
    "#X1": ("HH",),
    "x": ("K",),
    "X": ("K",),
    "Q": ("G",),
    "Q^": ("G",),
    "J^": ("Y",),
    # nasals
    "m": ("M",),
    "n": ("N",),
    "n.": ("N",),
    "n^": ("N",),
    "N": ("NG",),
    # liquids and glides ("r-" is the linking r; ";" marks palatalisation)
    "l": ("L",),
    "L": ("L",),
    "L/": ("L",),
    "l/": ("L",),
    "l/2": ("L",),
    "l/3": ("L",),
    "l.": ("L",),
    "l^": ("L",),
    "l#": ("L",),
    "r": ("R",),
    "r-": ("R",),
    "r/": ("R",),
    "r.": ("R",),
    "R": ("R",),
    "R2": ("R",),
    "R3": ("R",),
    'r"': ("R",),
    'Q"': ("R",),
    "**": ("R",),
    "w": ("W",),
    "w#": ("W",),
    "j": ("Y",),
    ";": ("Y",),
}

# Where an accent sounds different from General American (from espeak's own IPA for each table).
_NON_RHOTIC = {
    "3": ("AH",),
    "A@": ("AA",),
    "O@": ("AO",),
    "o@": ("AO",),
    "e@": ("EH", "AH"),
    "i@3": ("IY", "AH"),
    "U@": ("UH", "AH"),
    "aI@": ("AY", "AH"),
    "aI3": ("AY", "AH"),
    "aU@": ("AW", "AH"),
}
_BRITISH = {"A#": ("AE",), "O2": ("AA",)}  # "pasta" with the TRAP vowel, CLOTH with the LOT vowel
_ACCENT_DIFFERENCES: dict[str, dict[str, tuple[str, ...]]] = {
    "en-us": {},
    "en-us-nyc": _NON_RHOTIC,
    "en": _NON_RHOTIC | _BRITISH,
    "en-rp": _NON_RHOTIC | _BRITISH | {"aa": ("AA",), "U@": ("AO",), "e#": ("IH",)},
    "en-n": _NON_RHOTIC | _BRITISH | {"V": ("UH",)},  # northern STRUT
    "en-wm": _NON_RHOTIC | _BRITISH | {"V": ("UH",), "02": ("UH",), "e@": ("ER",), "aI": ("OY",)},
    # Scottish English is rhotic, but espeak writes its r after these vowels as a phoneme of its own
    "en-sc": _BRITISH | {"A@": ("AA",), "O@": ("AO",), "o@": ("OW",), "e@": ("EH",), "i@3": ("IH",)},
    "en-wi": _NON_RHOTIC
    | _BRITISH
    | {"T": ("T",), "D": ("D",), "A@": ("AA", "AH"), "O@": ("AO", "AH"), "o@": ("OW", "AH")},
}
PHONE_MAPS: dict[str, dict[str, tuple[str, ...]]] = {
    table: _GENERAL_AMERICAN | differences for table, differences in _ACCENT_DIFFERENCES.items()
}


class _EventName(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """espeak_EVENT (speak_lib.h)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventName),
    ]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


def _declare(lib: ctypes.CDLL) -> None:
    """The C signatures of the functions we call (speak_lib.h), so ctypes passes every argument at its width."""
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.POINTER(ctypes.c_uint),
        ctypes.c_void_p,
    ]
    lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
    lib.espeak_Info.restype = ctypes.c_char_p


def espeak_parameters(rate: float, pitch: float, pitch_range: float) -> tuple[int, int, int]:
    """espeak's own (words per minute, pitch 0..100, range 0..100) for a rate factor, a pitch shift in semitones
    and a pitch-range factor, each relative to the voice's normal."""
    words_per_minute = round(NORMAL_WORDS_PER_MINUTE * rate)
    if not 80 <= words_per_minute <= MAX_WORDS_PER_MINUTE:
        raise SynthError(
            f"espeak rate {rate} gives {words_per_minute} words/min; keep it within "
            f"80..{MAX_WORDS_PER_MINUTE} (rate 0.46..2.57)"
        )
    pitch_step = round(50 + pitch / SEMITONES_PER_PITCH_STEP)
    range_step = round(50 * pitch_range)
    if not (0 <= pitch_step <= 100 and 0 <= range_step <= 100):
        raise SynthError(
            f"espeak pitch {pitch:+.1f} semitones / range x{pitch_range} is out of espeak's scale; "
            "keep pitch within -10..+10 semitones and range within 0..2"
        )
    return words_per_minute, pitch_step, range_step


class Espeak:
    """The process's access to libespeak-ng; get it with `engine()`.

    The library is one global, non-thread-safe state, and it carries state from one utterance to the next: a
    function-static pitch-flutter phase and libc's `rand()` (breath noise) make a second synthesis of the same
    text differ from the first (measured: lengths off by up to 230 samples). So every utterance gets a freshly
    loaded library with libc's random generator reset, exactly as a fresh `espeak-ng` process has: the output is
    the same whatever came before, and equals `espeak-ng -w`. Loading and initialising costs ~10 ms.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._libc = ctypes.CDLL(None)
        self._libc.dlclose.argtypes = [ctypes.c_void_p]
        self._callback = _SynthCallback(self._receive)  # one object for the process: the library holds its address
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, str]] = []
        with self._lock, self._loaded() as (lib, self.sample_rate):
            data_path = ctypes.c_char_p()
            self.version = lib.espeak_Info(ctypes.byref(data_path)).decode()
            self.data_folder = Path(data_path.value.decode())

    @contextlib.contextmanager
    def _loaded(self) -> Iterator[tuple[ctypes.CDLL, int]]:
        """A fresh, initialised instance of the library and its sample rate (closing the last handle unloads the
        library, its static state with it)."""
        try:
            lib = ctypes.CDLL(LIBRARY)
        except OSError as error:
            raise SynthError(
                f"cannot load {LIBRARY} ({error}); install it (Debian: apt-get install espeak-ng)"
            ) from None
        try:
            _declare(lib)
            sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_PHONEME_EVENTS)
            if sample_rate <= 0:
                raise SynthError(
                    "espeak-ng failed to initialise (is espeak-ng-data installed? apt-get install espeak-ng)"
                )
            try:
                lib.espeak_SetSynthCallback(self._callback)
                yield lib, sample_rate
            finally:
                lib.espeak_Terminate()
        finally:
            self._libc.dlclose(lib._handle)

    def synthesize(
        self,
        text: str,
        voice: str = "en-us",
        variant: str | None = None,
        rate: float = 1.0,
        pitch: float = 0.0,
        pitch_range: float = 1.0,
        strict: bool = False,
    ) -> Speech:
        """Speaks `text` with an English `voice` (a key of ACCENT_PHONEME_TABLES) and optional `variant` ("m3").

        `rate` and `pitch_range` are factors and `pitch` is in semitones, all relative to the voice's normal.
        `strict` makes an espeak phoneme missing from our ARPAbet table an error (tests) instead of a warning.
        """
        if voice not in ACCENT_PHONEME_TABLES:
            raise SynthError(
                f"espeak voice {voice!r} is not one we can map to ARPAbet; choose from {sorted(ACCENT_PHONEME_TABLES)}"
            )
        if variant is not None and not (self.data_folder / "voices" / "!v" / variant).is_file():
            raise SynthError(f"espeak-ng has no voice variant {variant!r} in {self.data_folder}/voices/!v")
        if not text.strip():
            raise SynthError("cannot speak an empty text")
        words_per_minute, pitch_step, range_step = espeak_parameters(rate, pitch, pitch_range)
        encoded = text.encode("utf-8")
        name = voice if variant is None else f"{voice}+{variant}"
        with self._lock:
            self._libc.srand(1)  # libc's state at process start, as the espeak-ng command line has it
            with self._loaded() as (lib, _):
                if lib.espeak_SetVoiceByName(name.encode()) != _EE_OK:
                    raise SynthError(f"espeak-ng cannot load voice {name!r}")
                for parameter, value in ((_RATE, words_per_minute), (_PITCH, pitch_step), (_RANGE, range_step)):
                    lib.espeak_SetParameter(parameter, value, 0)
                self._chunks, self._events = [], []
                status = lib.espeak_Synth(
                    encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None
                )
            if status != _EE_OK:
                raise SynthError(f"espeak-ng failed to synthesise {text[:40]!r} (error {status})")
            samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            events, self._chunks, self._events = self._events, [], []
        segments = _segments(events, samples, ACCENT_PHONEME_TABLES[voice], strict)
        phones = timeline_from_segments(segments, len(samples), self.sample_rate)
        return Speech(samples.astype(np.float32) / 32768.0, self.sample_rate, phones)

    def _receive(self, wav, n_samples: int, events) -> int:
        """The synth callback: keeps the buffer's audio and its phoneme events (sample, mnemonic)."""
        if wav and n_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (n_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            if events[i].type == _EVENT_PHONEME:
                self._events.append((events[i].sample, events[i].id.string.decode("utf-8", "replace")))
            i += 1
        return 0  # continue synthesis


def to_arpabet(mnemonic: str, table: str, strict: bool = False) -> tuple[str, ...]:
    """The ARPAbet phones of an espeak phoneme mnemonic in a phoneme table (a value of ACCENT_PHONEME_TABLES).

    An unknown mnemonic raises SynthError when `strict` (the tests, which keep the table complete); otherwise it
    is read as the listed phoneme it varies (espeak names variants "x2", "x#", "x/") and a warning is logged once.
    """
    if mnemonic.startswith("_"):  # every pause: "_", "_:", "_!", "_|", ... and the control code "_\x01"
        return (SILENCE,)
    phones = PHONE_MAPS[table].get(mnemonic)
    if phones is not None:
        return phones
    if strict:
        raise SynthError(f"espeak phoneme {mnemonic!r} (table {table}) has no ARPAbet mapping in {__name__}")
    stem = mnemonic.rstrip("#/0123456789;.:")
    phones = PHONE_MAPS[table].get(stem, ("AH",))
    if (table, mnemonic) not in _warned:
        _warned.add((table, mnemonic))
        log.warning("espeak phoneme %r (table %s) is not in the ARPAbet table; using %s", mnemonic, table, phones)
    return phones


def _segments(
    events: list[tuple[int, str]], samples: np.ndarray, table: str, strict: bool
) -> list[tuple[tuple[str, ...], int]]:
    """(ARPAbet phones, first sample) per sounding phoneme, each closure moved to the phoneme it belongs to."""
    segments: list[tuple[tuple[str, ...], int]] = []
    for sample, mnemonic in events:
        start = sample
        if segments and segments[-1][0] != (SILENCE,):
            floor = segments[-1][1]
            sounding = np.flatnonzero(samples[floor:sample])
            start = floor + int(sounding[-1]) + 1 if sounding.size else floor
        segments.append((to_arpabet(mnemonic, table, strict), start))
    return _fold_soundless(segments)


def _fold_soundless(segments: list[tuple[tuple[str, ...], int]]) -> list[tuple[tuple[str, ...], int]]:
    """Phones that got no samples of their own (a liquid made inside the vowel before it) join that vowel's
    segment, which is then shared evenly; one with no vowel before it has no time to claim and is dropped."""
    folded: list[tuple[tuple[str, ...], int]] = []
    for k, (phones, start) in enumerate(segments):
        end = segments[k + 1][1] if k + 1 < len(segments) else None
        if start != end or phones == (SILENCE,):
            folded.append((phones, start))
        elif folded and folded[-1][0][-1] in VOWELS:
            folded[-1] = (folded[-1][0] + phones, folded[-1][1])
    return folded


_engine: Espeak | None = None
_engine_lock = threading.Lock()


def engine() -> Espeak:
    """The process's one espeak engine, initialised on first use."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Espeak()
        return _engine


def synthesize(
    text: str,
    voice: str = "en-us",
    variant: str | None = None,
    rate: float = 1.0,
    pitch: float = 0.0,
    pitch_range: float = 1.0,
    strict: bool = False,
) -> Speech:
    """`Espeak.synthesize` on the process's engine."""
    return engine().synthesize(text, voice, variant, rate, pitch, pitch_range, strict)


def espeak_unavailable_reason() -> str | None:
    """Why espeak cannot be used here (library or its data missing), or None when it can."""
    try:
        engine()
    except SynthError as error:
        return str(error)
    return None
