"""The real-speech evaluation clip: 16.7 s of LibriSpeech (CC-BY 4.0, attribution beside it in assets/real-speech/),
with its transcript and pocketsphinx-aligned phones. For evaluation only, never training.

It lives in the repository (assets/real-speech/), so eval, the benchmarks and the tests read nothing from outside
the checkout; an installed extension does not carry it, and then the real-speech measures are skipped.
"""

from __future__ import annotations

from pathlib import Path

REAL_CLIP = "librispeech-3436-172162-0000"
REAL_SPEECH_DIR = Path(__file__).resolve().parents[2] / "assets" / "real-speech"


def real_speech_dir() -> Path | None:
    """The folder holding the clip's audio and phones, or None when this installation does not carry it."""
    if (REAL_SPEECH_DIR / f"{REAL_CLIP}.ogg").is_file() and (REAL_SPEECH_DIR / f"{REAL_CLIP}.phones.json").is_file():
        return REAL_SPEECH_DIR
    return None
