"""Regenerate assets/demo/: the demo's synthetic reference and its second clip, deterministic for a seed.

    python scripts/make_demo_assets.py [--seed 6] [--out assets/demo]

One synthetic speaker (an espeak-ng voice, a crooked smile, a nodding head) says two sentences through the corpus's
own pipeline (backend/synth/corpus.py render_job: speech with exact phones, articulation, brows, blinks, head
pose), without augmentation:

    reference.flac + reference.npz + reference.txt    ~10 s of speech and its motion clip: what Adapt Style learns from
    speech.flac + speech.phones.json + speech.txt     another sentence, and its exact phone timeline, to animate

The motion of the second sentence is not kept: the demo generates it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import soundfile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.synth.augment import CLEAN  # noqa: E402
from backend.synth.corpus import Job, Speaker, UtterancePlan, render_job  # noqa: E402
from backend.synth.speaker_styles import EXPRESSION_PRESETS, POSE_PRESETS  # noqa: E402
from backend.synth.voices import VoiceSpec  # noqa: E402

FPS = 25.0
# A crooked smile: the crooked preset's sideways pull with the happy preset's smile; the nodder's head rhythm.
EXPRESSION_STYLE = replace(EXPRESSION_PRESETS["crooked"], smile=EXPRESSION_PRESETS["happy"].smile)
POSE_STYLE = POSE_PRESETS["nodder"]
VOICE = VoiceSpec("espeak", "en-us", "m3", rate=0.85)
# Written for the mouth: many p, b, m (lips must close) and open vowels (the jaw must open).
TEXTS = {
    "reference": "My brother Bob painted a purple map of the park, and Pam bought a big basket of mangoes "
    "for the picnic by the palm trees. Mom played a happy march on the old piano.",
    "speech": "Maybe Mabel can bring back a bottle of apple juice from the farm, but Paul wants a cup of hot coffee.",
}


def make_assets(out: Path, seed: int) -> list[Path]:
    speaker = Speaker("demo", VOICE, "crooked smile", EXPRESSION_STYLE, "nodder", POSE_STYLE)
    plans = tuple(UtterancePlan(name, text, CLEAN, seed + number) for number, (name, text) in enumerate(TEXTS.items()))
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="adamesh-demo-assets-") as folder:
        work = Path(folder)
        for kind in ("audio", "phones", "motion", "flame"):
            (work / kind).mkdir()
        render_job(Job(work, FPS, speaker, plans))
        written = [
            flac(work / "audio" / "reference.wav", out / "reference.flac"),
            Path(shutil.copy(work / "motion" / "reference.npz", out / "reference.npz")),
            flac(work / "audio" / "speech.wav", out / "speech.flac"),
            Path(shutil.copy(work / "phones" / "speech.json", out / "speech.phones.json")),
        ]
    for name, text in TEXTS.items():
        (out / f"{name}.txt").write_text(text + "\n")
        written.append(out / f"{name}.txt")
    return written


def flac(wav: Path, out: Path) -> Path:
    """The 16 kHz 16-bit speech, losslessly at about half the size."""
    audio, rate = soundfile.read(wav, dtype="int16")
    soundfile.write(out, audio, rate, format="FLAC", subtype="PCM_16")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=6, help="motion sampling seed (blinks, head rhythm phases)")
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "demo")
    args = parser.parse_args()
    for path in make_assets(args.out, args.seed):
        print(f"wrote {path} ({path.stat().st_size / 1000:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
