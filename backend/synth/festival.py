"""Speech with phone times from Festival (Debian `festival`), one process per batch of sentences.

Festival's start-up (loading the lexicon and a voice) costs more than speaking a sentence, so a batch is one
Scheme script run by `festival -b`: for each text it synthesises an utterance, saves its wave and prints every
item of the utterance's `Segment` relation with its name and end time. The phones are Festival's "radio" set,
mapped here to ARPAbet. The diphone voices (kal, ked) stretch their diphones to these segment times and the HTS
voice (slt) writes back the durations it generated, so the times follow the waveform (to within a pitch period
or an HTS frame, not to the sample as espeak's do); tests/backend/test_speech_festival.py checks that every stop
closure falls inside its stop.
"""

from __future__ import annotations

import functools
import logging
import math
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile

from backend.core.errors import SynthError
from backend.core.phones import SILENCE
from backend.synth.speech import Speech, timeline_from_segments

FESTIVAL = "festival"
# voice -> (Debian package, kind): the kind decides how rate and pitch are set. Festival's HTS module passes
# only the model (-m) and the speed (-r) on to hts_engine, so the HTS voice keeps its own pitch.
VOICES = {
    "kal_diphone": ("festvox-kallpc16k", "diphone"),
    "ked_diphone": ("festvox-kdlpc16k", "diphone"),
    "cmu_us_slt_arctic_hts": ("festvox-us-slt-hts", "hts"),
}
_SEGMENT_MARK, _UTTERANCE_MARK = "adamesh-segment", "adamesh-utterance"

# Festival's "radio" phone set (radio_phones.scm) in ARPAbet; the syllabic ones as in backend/synth/espeak.py.
RADIO_TO_ARPABET: dict[str, tuple[str, ...]] = {
    **{
        phone: (phone.upper(),)
        for phone in (
            "aa ae ah ao aw ay b ch d dh eh er ey f g hh ih iy jh k l m n ng ow oy p r s sh t th uh uw v w y z zh"
        ).split()
    },
    "ax": ("AH",),
    "axr": ("ER",),
    "hv": ("HH",),
    "dx": ("T",),  # the flap of "butter", written T as the CMU dictionary does
    "nx": ("N",),  # the nasal flap of "winner"
    "el": ("AH", "L"),
    "em": ("AH", "M"),
    "en": ("AH", "N"),
    "pau": (SILENCE,),
    "h#": (SILENCE,),
    "brth": (SILENCE,),
}

log = logging.getLogger(__name__)
_warned: set[str] = set()


@functools.cache
def _installed_voices() -> frozenset[str] | str:
    """The voices Festival lists, or why Festival cannot be run."""
    if shutil.which(FESTIVAL) is None:
        return "festival is not installed (Debian: apt-get install festival)"
    try:
        done = subprocess.run(
            [FESTIVAL, "--pipe"], input="(print (voice.list))\n", capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"festival does not run: {error}"
    if done.returncode != 0:
        return f"festival failed: {done.stderr.strip()[-300:]}"
    return frozenset(done.stdout.replace("(", " ").replace(")", " ").split())


def festival_unavailable_reason(voice: str | None = None) -> str | None:
    """Why Festival (with `voice`, or with any of VOICES when None) cannot be used here, or None when it can."""
    installed = _installed_voices()
    if isinstance(installed, str):
        return installed
    wanted = [voice] if voice is not None else list(VOICES)
    for name in wanted:
        if name not in VOICES:
            return f"unknown Festival voice {name!r}; choose from {sorted(VOICES)}"
        if name in installed:
            return None
    packages = " ".join(VOICES[name][0] for name in wanted)
    return f"Festival has no voice {' or '.join(wanted)} (Debian: apt-get install {packages})"


def shifts_pitch(voice: str) -> bool:
    """Whether `synthesize_batch` can move this voice's pitch (the diphone voices can, the HTS one cannot)."""
    return VOICES[voice][1] == "diphone"


def synthesize_batch(
    texts: Sequence[str], voice: str, rate: float = 1.0, pitch: float = 0.0, strict: bool = False
) -> list[Speech]:
    """Speaks every text with one Festival process and `voice` (a key of VOICES).

    `rate` is a speed factor and `pitch` a shift in semitones, both relative to the voice's normal. `strict`
    makes a phone missing from our ARPAbet table an error (tests) instead of a warning.
    """
    reason = festival_unavailable_reason(voice)
    if reason:
        raise SynthError(reason)
    if not 0.5 <= rate <= 2.0 or not -12.0 <= pitch <= 12.0:
        raise SynthError(
            f"Festival rate {rate} / pitch {pitch:+} semitones out of range; keep rate in 0.5..2 and pitch in -12..+12"
        )
    if pitch and not shifts_pitch(voice):
        raise SynthError(f"Festival voice {voice} cannot change its pitch; give pitch 0")
    if not texts:
        return []
    with tempfile.TemporaryDirectory(prefix="adamesh-festival-") as folder:
        waves = [Path(folder) / f"{i}.wav" for i in range(len(texts))]
        script = Path(folder) / "batch.scm"
        script.write_text(_script(texts, waves, voice, rate, pitch))
        try:
            done = subprocess.run(
                [FESTIVAL, "-b", str(script)], capture_output=True, text=True, timeout=60 + 10 * len(texts)
            )
        except subprocess.TimeoutExpired:
            raise SynthError(f"festival ({voice}) did not finish {len(texts)} sentences in time") from None
        segments = _parse_segments(done.stdout)
        if done.returncode != 0 or len(segments) != len(texts) or not all(w.is_file() for w in waves):
            raise SynthError(
                f"festival ({voice}) failed after {len(segments)} of {len(texts)} sentences: "
                f"{(done.stderr or done.stdout).strip()[-400:]}"
            )
        return [_speech(wave, ends, strict) for wave, ends in zip(waves, segments)]


def _scheme_string(text: str) -> str:
    """`text` as a Scheme string literal; only printable ASCII is accepted (Festival's English front end)."""
    if not text.strip() or not text.isascii() or not text.isprintable():
        raise SynthError(f"Festival speaks printable ASCII text only, got {text[:60]!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _script(texts: Sequence[str], waves: Sequence[Path], voice: str, rate: float, pitch: float) -> str:
    """The batch's Scheme: select the voice, set its speed and pitch, then speak and report each text."""
    kind = VOICES[voice][1]
    if kind == "hts":  # hts_engine's own speed
        setup = f'(set! hts_engine_params (append hts_engine_params (list (list "-r" {rate}))))'
    else:  # diphone voices: duration stretch and the linear-regression intonation targets
        factor = 2.0 ** (pitch / 12.0)
        setup = f"""
(Parameter.set 'Duration_Stretch (/ (or (Parameter.get 'Duration_Stretch) 1.0) {rate}))
(set! int_lr_params
  (mapcar (lambda (p) (if (member (car p) '(target_f0_mean target_f0_std)) (list (car p) (* {factor} (cadr p))) p))
          int_lr_params))"""
    lines = [
        f"(voice_{voice})",
        setup,
        f"""(define (adamesh_say index text wavefile)
  (let ((utt (utt.synth (eval (list 'Utterance 'Text text)))))
    (utt.save.wave utt wavefile 'riff)
    (format t "{_UTTERANCE_MARK} %d\\n" index)
    (mapcar (lambda (s) (format t "{_SEGMENT_MARK} %s %f\\n" (item.name s) (item.feat s "end")))
            (utt.relation.items utt 'Segment))
    t))""",
    ]
    for i, (text, wave) in enumerate(zip(texts, waves)):
        lines.append(f"(adamesh_say {i} {_scheme_string(text)} {_scheme_string(str(wave))})")
    return "\n".join(lines) + "\n"


def _parse_segments(stdout: str) -> list[list[tuple[str, float]]]:
    """Each utterance's (phone, end time) list from the script's report lines (other output is ignored)."""
    utterances: list[list[tuple[str, float]]] = []
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] == _UTTERANCE_MARK:
            utterances.append([])
        elif len(fields) == 3 and fields[0] == _SEGMENT_MARK and utterances:
            end = float(fields[2])
            if not math.isfinite(end):
                raise SynthError(f"festival reported a bad segment end: {line!r}")
            utterances[-1].append((fields[1], end))
    return utterances


def _speech(wave: Path, ends: list[tuple[str, float]], strict: bool) -> Speech:
    audio, sample_rate = soundfile.read(wave, dtype="float32")
    if audio.ndim != 1:
        raise SynthError(f"festival wrote {audio.shape[1]} channels, expected mono")
    # Each segment starts where the previous one ends; the wave may run a little past the last end (a diphone
    # voice's final window) or stop just short of it, so the times are clipped to the audio.
    starts = np.round(np.array([0.0] + [end for _, end in ends[:-1]]) * sample_rate).astype(int)
    starts = np.maximum.accumulate(np.clip(starts, 0, len(audio)))
    segments = [(to_arpabet(phone, strict), int(start)) for (phone, _), start in zip(ends, starts)]
    return Speech(audio, int(sample_rate), timeline_from_segments(segments, len(audio), int(sample_rate)))


def to_arpabet(phone: str, strict: bool = False) -> tuple[str, ...]:
    """The ARPAbet phones of a Festival radio phone; an unknown one is an error when `strict`, else AH (warned once)."""
    phones = RADIO_TO_ARPABET.get(phone)
    if phones is not None:
        return phones
    if strict:
        raise SynthError(f"Festival phone {phone!r} has no ARPAbet mapping in {__name__}")
    if phone not in _warned:
        _warned.add(phone)
        log.warning("Festival phone %r is not in the ARPAbet table; using AH", phone)
    return ("AH",)
