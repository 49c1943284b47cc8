"""Measure the phonetic front end and write the recogniser's error profile (a benchmark, not a test).

    .venv/bin/python -m backend.evaluation.phonetic_benchmark [--data assets/real-speech] [--repeats 3] [--out P.json]

(from the repository root, so `backend` imports).

On the real LibriSpeech clip (evaluation only, never training), against its phones.json, for recognition in
"words" and "allphone" mode and for forced alignment with the transcript: speed (x real time, best of
--repeats), frame-level phone accuracy at 25 fps, bilabial / m / open-vowel detection within +-40 ms, and the error
profile that `corrupt_phones` replays on the corpus's exact phones. Then the same recognisers on espeak-ng and
Festival speech, scored by phone error rate against cmudict's phones of the known text, and for Festival, which
gives exact phone times, by boundary error against them.
The output is written to backend/audio/phone_error_profile.json unless --out says otherwise.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np
from pocketsphinx import Decoder

from backend.audio.decode import load_audio
from backend.audio.phone_errors import (
    CLASSES,
    PROFILE_PATH,
    event_scores,
    frame_accuracy,
    measure_error_profile,
    save_profile,
)
from backend.audio.phonetic import DEFAULT_MODE, RECOGNITION_MODES, SAMPLE_RATE, align_phones, recognise_phones
from backend.core.phones import BILABIALS, SILENCE, Phone, load_timeline
from backend.evaluation.real_speech import REAL_CLIP, real_speech_dir
from backend.synth.festival import synthesize_batch

ROOT = Path(__file__).resolve().parents[1]

CLIP = REAL_CLIP
FPS = 25.0
SENTENCES = (
    "the quick brown fox jumps over the lazy dog",
    "maybe we should buy more bread before the market closes",
    "my mother made a pumpkin pie for the family picnic",
    "she sells sea shells by the sea shore",
    "a big black bear sat on a big black rug",
)
ESPEAK_VOICES = ("en-us", "en-us+f3", "en+m3")
FESTIVAL_VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")


def timed(repeats: int, run, *args, **kwargs) -> tuple[list[Phone], float]:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        result = run(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return result, best


def missed_by_instants(reference: list[Phone], fps: float, wanted: frozenset[str] | None = None) -> float:
    """Share of (wanted) reference phones that hold no frame instant i/fps: a one-hot at the instants loses them."""
    phones = [p for p in reference if wanted is None or p.phone in wanted]
    return sum(math.floor(p.end * fps - 1e-9) < math.ceil(p.start * fps) for p in phones) / len(phones)


def sequence_scores(reference: list[str], hypothesis: list[str]) -> tuple[float, float]:
    """Phone error rate (Levenshtein over the spoken phones, timing ignored) and the share of reference bilabials
    the minimum edit alignment pairs with a recognised bilabial. Needs no timing, so it also scores speech that
    pocketsphinx cannot even force-align (espeak's)."""
    ref = [p for p in reference if p != SILENCE]
    hyp = [p for p in hypothesis if p != SILENCE]
    cost = np.zeros((len(ref) + 1, len(hyp) + 1), dtype=np.int64)
    cost[:, 0], cost[0, :] = np.arange(len(ref) + 1), np.arange(len(hyp) + 1)
    for i in range(1, len(ref) + 1):
        for j in range(1, len(hyp) + 1):
            cost[i, j] = min(cost[i - 1, j] + 1, cost[i, j - 1] + 1, cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]))
    found, i, j = 0, len(ref), len(hyp)
    while i > 0 and j > 0:
        if cost[i, j] == cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            found += ref[i - 1] in BILABIALS and hyp[j - 1] in BILABIALS
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    n_bilabials = sum(p in BILABIALS for p in ref)
    return float(cost[-1, -1] / max(len(ref), 1)), found / n_bilabials if n_bilabials else float("nan")


def measure_real_clip(data: Path, repeats: int) -> tuple[dict, dict]:
    wave = load_audio(data / f"{CLIP}.ogg", SAMPLE_RATE)
    duration = len(wave) / SAMPLE_RATE
    reference = load_timeline(data / f"{CLIP}.phones.json")
    transcript = (data / f"{CLIP}.transcript.txt").read_text()
    runs = {mode: timed(repeats, recognise_phones, wave, mode) for mode in RECOGNITION_MODES}
    runs["aligned"] = timed(repeats, align_phones, wave, transcript)
    modes = {}
    for mode, (phones, seconds) in runs.items():
        modes[mode] = {
            "speed_x_realtime": duration / seconds,
            **frame_accuracy(reference, phones, FPS),
            **event_scores(reference, phones),
            **dict(
                zip(
                    ("phone_error_rate", "sequence_bilabial_recall"),
                    sequence_scores([p.phone for p in reference], [p.phone for p in phones]),
                )
            ),
            "n_phones": len(phones),
            "profile": measure_error_profile([(reference, phones)]),
        }
    clip = {
        "clip": CLIP,
        "duration_s": duration,
        "n_reference_phones": len(reference),
        "n_reference_bilabials": sum(p.phone in BILABIALS for p in reference),
        "n_reference_m": sum(p.phone == "M" for p in reference),
        "reference_phones_without_frame_instant": missed_by_instants(reference, FPS),
        "reference_bilabials_without_frame_instant": missed_by_instants(reference, FPS, BILABIALS),
    }
    return clip, modes


def measure_long_audio(data: Path, copies: int = 4) -> dict:
    """Speed (x real time) on the clip repeated `copies` times (~67 s): one process vs two worker processes."""
    wave = np.tile(load_audio(data / f"{CLIP}.ogg", SAMPLE_RATE), copies)
    duration = len(wave) / SAMPLE_RATE
    return {
        "duration_s": duration,
        **{
            f"{mode} workers={workers}": duration / timed(1, recognise_phones, wave, mode, workers)[1]
            for mode in RECOGNITION_MODES
            for workers in (1, 2)
        },
    }


def espeak_wave(voice: str, text: str, folder: Path) -> np.ndarray:
    path = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True)
    return load_audio(path, SAMPLE_RATE)  # espeak-ng writes 22.05 kHz


def measure_synthetic() -> dict:
    """Per engine and voice, each recogniser's phone error rate and bilabial recall against cmudict's phones of
    the known text (no timing: forced alignment fails on some espeak sentences). Festival also gives its exact
    phone times, so for it the boundary errors of each recogniser and of forced alignment against the truth."""
    dictionary = Decoder(loglevel="FATAL")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as folder:
        for voice in (*ESPEAK_VOICES, *FESTIVAL_VOICES):
            if voice in ESPEAK_VOICES:
                label, exact = f"espeak-ng {voice}", None
                waves = [espeak_wave(voice, text, Path(folder)) for text in SENTENCES]
            else:
                label, speech = f"festival {voice}", synthesize_batch(SENTENCES, voice)
                waves = [librosa.resample(s.audio, orig_sr=s.sample_rate, target_sr=SAMPLE_RATE) for s in speech]
                exact = [s.phones for s in speech]
            results[label] = {}
            for mode in (*RECOGNITION_MODES, "aligned"):
                if mode == "aligned" and exact is None:
                    continue
                phones = [
                    align_phones(w, t) if mode == "aligned" else recognise_phones(w, mode)
                    for w, t in zip(waves, SENTENCES)
                ]
                scores = [
                    sequence_scores(
                        [p for word in text.split() for p in dictionary.lookup_word(word).split()],
                        [p.phone for p in recognised],
                    )
                    for text, recognised in zip(SENTENCES, phones)
                ]
                result = {
                    "phone_error_rate": float(np.mean([s[0] for s in scores])),
                    "sequence_bilabial_recall": float(np.mean([s[1] for s in scores])),
                }
                if exact is not None:
                    jitter = measure_error_profile(zip(exact, phones))["boundary_jitter_ms"]
                    result["frame_accuracy_vs_exact"] = float(
                        np.mean([frame_accuracy(e, p, FPS)["frame_accuracy"] for e, p in zip(exact, phones)])
                    )
                    result["boundary_jitter_vs_exact_ms"] = jitter
                results[label][mode] = result
            print(
                f"  {label:32s} "
                + "  ".join(
                    f"{m}: PER {r['phone_error_rate']:.2f} bilabials {r['sequence_bilabial_recall']:.2f}"
                    + (
                        f" boundaries {r['boundary_jitter_vs_exact_ms']['mean']:+.0f}+-"
                        f"{r['boundary_jitter_vs_exact_ms']['std']:.0f} ms"
                        if "boundary_jitter_vs_exact_ms" in r
                        else ""
                    )
                    for m, r in results[label].items()
                ),
                flush=True,
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=real_speech_dir())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=PROFILE_PATH)
    args = parser.parse_args()

    print(f"real speech: {CLIP}", flush=True)
    clip, modes = measure_real_clip(args.data, args.repeats)
    for mode, m in modes.items():
        jitter = m["profile"]["boundary_jitter_ms"]
        print(
            f"  {mode:8s} {m['speed_x_realtime']:5.1f}x real time  frames {m['frame_accuracy']:.3f} "
            f"(speech {m['frame_accuracy_speech']:.3f}, class {m['frame_class_accuracy']:.3f})  "
            f"PER {m['phone_error_rate']:.2f} (bilabials in sequence {m['sequence_bilabial_recall']:.2f})  "
            f"bilabials {m['bilabial_detection']:.2f} m {m['m_detection']:.2f} "
            f"open vowels {m['open_vowel_detection']:.2f} false bilabials {m['bilabial_false_share']:.2f}  "
            f"del {m['profile']['deletion_rate']:.2f} ins {m['profile']['insertion_rate']:.2f}  "
            f"jitter {jitter['mean']:+.0f}+-{jitter['std']:.0f} ms"
        )
    print(
        f"  reference phones with no 25 fps frame instant: {clip['reference_phones_without_frame_instant']:.2f} "
        f"(bilabials {clip['reference_bilabials_without_frame_instant']:.2f})"
    )
    long_audio = measure_long_audio(args.data)
    print(
        f"  {long_audio['duration_s']:.0f} s of audio: "
        + "  ".join(f"{k} {v:.1f}x" for k, v in long_audio.items() if k != "duration_s"),
        flush=True,
    )
    print("synthetic speech (reference: cmudict phones of the known text; Festival: also its exact times)", flush=True)
    synthetic = measure_synthetic()
    save_profile(
        {
            "about": "pocketsphinx 5.1.1 (en-us) against the LibriSpeech clip's phones.json, by "
            "backend/evaluation/phonetic_benchmark.py. The reference is itself a pocketsphinx forced alignment "
            "(about +-50 ms "
            "from the true boundaries), so boundary errors here are relative to it, and 'words' (whose phones come "
            "from the same aligner) looks better timed than it is against the truth. 'profile' is what "
            "corrupt_phones replays; matrices are indexed by 'classes' (rows: reference). 'synthetic_speech' scores "
            "the recognisers against cmudict's phones of known sentences (no timing: forced alignment fails on "
            "some espeak sentences), and for Festival also against its exact phone times (true boundaries; its "
            "lexicon differs a little from cmudict).",
            "fps": FPS,
            "classes": list(CLASSES),
            "default_mode": DEFAULT_MODE,
            "real_clip": clip,
            "modes": modes,
            "long_audio_speed_x_realtime": long_audio,
            "synthetic_speech": synthetic,
        },
        args.out,
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
