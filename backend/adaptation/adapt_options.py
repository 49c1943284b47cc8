"""What Adapt Style can be asked for: the same options from `python -m backend adapt` and from the add-on's `adapt`
request (adamesh_blender/client/requests.py AdaptRequest carries these fields)."""

from __future__ import annotations

from dataclasses import dataclass

from backend.core.options import option
from backend.core.phones import PHONETIC_MODES
from backend.core.trackers import TRACKERS
from backend.models.devices import DEVICES


@dataclass(frozen=True)
class AdaptOptions:
    name: str = option("", "the style's name (default: the style file's)")
    tracker: str | None = option(
        None, "the motion is this tracker's output (default: an AdaMesh motion clip)", choices=TRACKERS
    )
    motion_fps: float | None = option(None, "frame rate of the tracked video (trackers store none)")
    audio_start: float = option(0.0, "where the reference starts in the audio (s)")
    audio_end: float | None = option(None, "where it ends (s); default: the end of the file")
    phonetic: str = option("words", "phone recognition, as you will generate with", choices=PHONETIC_MODES)
    transcript: str | None = option(None, "the reference's words, for forced alignment")
    steps: int | None = option(None, "most adaptation steps (default 320; early stopping ends sooner)")
    seed: int = option(0, "adaptation seed (batches, the held-out split)")
    checkpoint: str | None = option(None, "checkpoint (.safetensors); default: the starter")
    device: str = option("auto", "where the models run", choices=DEVICES)
