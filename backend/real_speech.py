"""Where the real-speech evaluation clip lives (../shared/data: LibriSpeech, CC-BY 4.0; evaluation only, never
training). A clone may sit anywhere, so the folder is looked up rather than assumed; None when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

REAL_CLIP = "librispeech-3436-172162-0000"
_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "shared" / "data",  # the workplace layout: <root>/main and <root>/shared
    Path("/work/shared/data"),
)


def real_speech_dir() -> Path | None:
    """$ADAMESH_REAL_SPEECH_DIR if set, else the first candidate folder holding the clip's audio and phones."""
    candidates = [Path(os.environ["ADAMESH_REAL_SPEECH_DIR"])] if "ADAMESH_REAL_SPEECH_DIR" in os.environ else []
    for folder in [*candidates, *_CANDIDATES]:
        if (folder / f"{REAL_CLIP}.ogg").is_file() and (folder / f"{REAL_CLIP}.phones.json").is_file():
            return folder
    return None
