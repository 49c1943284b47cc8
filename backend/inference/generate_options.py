"""What a Generate can be asked for: the same options from `python -m backend generate` and from the add-on's
`generate` request (adamesh_blender/client/requests.py GenerateRequest carries these fields)."""

from __future__ import annotations

from dataclasses import dataclass

from backend.core.options import option
from backend.core.phones import PHONETIC_MODES
from backend.models.devices import DEVICES


@dataclass(frozen=True)
class GenerateOptions:
    fps: float = option(25.0, "frame rate of the clip (e.g. 24, 29.97, 60); one row per instant i / fps")
    seed: int = option(0, "head-motion, blink and gaze sampling seed")
    transcript: str | None = option(
        None,
        "the spoken text, for forced alignment (more exact phones than "
        "recognition); on the command line also a .txt file holding it",
    )
    phonetic: str = option(
        "words", "phone recognition: words (accurate), allphone (faster), none (mel only)", choices=PHONETIC_MODES
    )
    pose_style: str | None = option(
        None, "a training pose style's name or index; default: the style's, or all training styles blended"
    )
    style: str | None = option(None, "style file from Adapt Style (.safetensors); default: the base model")
    expression_strength: float = option(1.0, "0 = base, 1 = the style, above 1 exaggerates (up to 3)")
    pose_strength: float = option(1.0, "head-motion style: 0 = the default blend, 1 = the style's, above 1 exaggerates")
    blinks: bool = option(True, "blinks and eye saccades (at the style's blink rate)")
    checkpoint: str | None = option(None, "checkpoint (.safetensors); default: the starter")
    device: str = option("auto", "where the models run", choices=DEVICES)
