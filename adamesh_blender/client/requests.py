"""The parameters of each job the add-on sends, as typed records; `params()` makes the wire form.

These are the contract with the backend's handlers (backend/worker/server.py registers them by request type): the
option fields of GenerateRequest and AdaptRequest are the backend's GenerateOptions and AdaptOptions, field for
field (tests/backend/core/test_options.py checks), so every option the command line has, the add-on can send. Paths
are absolute; the worker writes its outputs (clip, style) where `out` says, atomically.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ProbeAudioRequest:
    """Decode a sound file; result {"duration" s, "sample_rate", "channels" of the file, "truncation"}."""

    path: str
    request_type = "probe_audio"

    def params(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GenerateRequest:
    """Animate `audio`; result {"clip": the motion clip written to `out`, "frames", "fps", "seconds" of motion,
    "elapsed" s, "channels", "notes": things the artist should know} (backend/worker/generate_handler.py).

    The clip has one row per instant i / `fps` of the file: `fps` is the scene's rate (fps / fps_base), so rows
    land on scene frames. `rig_channels` lists the target rig's shape keys, so the backend can say which of its
    channels the rig lacks; the add-on maps whatever comes back (anim/rigs.py).
    """

    audio: str
    out: str
    fps: float
    rig_channels: tuple[str, ...]
    checkpoint: str | None = None  # None: the starter checkpoint shipped with the extension
    style: str | None = None  # a style file from Adapt Style; None: the base model
    expression_strength: float = 1.0  # 0 = base, 1 = the style, above 1 exaggerates
    pose_strength: float = 1.0
    transcript: str | None = None  # the words spoken, for forced alignment; None: recognise them
    phonetic: str = "words"  # pocketsphinx words, allphone, or none (mel only)
    pose_style: str | None = None  # a training pose style of the checkpoint by name or index; None: the style's
    device: str = "auto"
    blinks: bool = True  # add blinks and eye saccades (at the style's rate)
    seed: int = 0
    request_type = "generate"

    def params(self) -> dict[str, Any]:
        params = asdict(self)
        params["rig_channels"] = list(self.rig_channels)
        return params


@dataclass(frozen=True)
class AdaptRequest:
    """Learn a style from a reference; result {"style": path of the style file written to `out`, "summary", "notes",
    "tracked"}.

    The reference is either `audio` (from `audio_start` to `audio_end` s; None: to its end) and the matching facial
    motion `motion`: an AdaMesh motion clip, or a tracker's file (`tracker` vhap / deca / smirk at `motion_fps`);
    or a `video` of the person talking, whose face the worker tracks (its sound is the speech), keeping the
    tracked motion clip at `tracked` when given.
    """

    out: str
    name: str
    audio: str | None = None
    motion: str | None = None
    video: str | None = None
    tracked: str | None = None
    tracker: str | None = None
    motion_fps: float | None = None
    audio_start: float = 0.0
    audio_end: float | None = None
    checkpoint: str | None = None
    device: str = "auto"
    steps: int | None = None  # None: the backend's default with early stopping
    phonetic: str = "words"  # as Generate will use
    transcript: str | None = None  # the reference's words, for forced alignment
    seed: int = 0
    request_type = "adapt"

    def params(self) -> dict[str, Any]:
        return asdict(self)
