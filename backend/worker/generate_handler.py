"""The worker's `generate` request: a sound file -> a motion clip file, which the add-on keys onto the rig.

    params {"audio", "out", "fps", "rig_channels"?, + the other GenerateOptions fields}   (GenerateRequest in
           adamesh_blender/client/requests.py)
    result {"clip": out, "frames", "fps", "seconds" (of motion), "elapsed" (s spent), "channels", "notes"}

Notes (result["notes"]) tell the artist what succeeded with a caveat: a truncated sound file (its decodable part is
animated), a silent one (the mouth stays at rest), rig channels the clip names but the rig lacks.

The clip is written atomically to `out`, at the scene's frame rate `fps` (fps / fps_base in Blender), one row per
instant i / fps of the sound file. Problems the artist can fix come back as error events with their AdaMeshError
code (bad_audio, bad_checkpoint, bad_style, bad_request, ...); a cancelled job ends with the error code "cancelled".
The worker keeps the checkpoint loaded between requests (loaded_checkpoint.py); a style is applied to a copy.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.audio.decode import DecodedAudio, decode_audio
from backend.clips import save_clip
from backend.core.errors import AudioError
from backend.core.options import from_params
from backend.inference.checkpoint_cache import loaded_checkpoint
from backend.inference.generate_options import GenerateOptions
from backend.inference.generation import generate_clip
from backend.inference.style_files import load_style
from backend.worker.jobs import JobContext
from backend.worker.protocol import RequestError, require_param

REQUEST = "generate"
CLIP_SUFFIX = ".npz"
SILENCE_PEAK = 10 ** (-60 / 20)  # a sound that never rises above -60 dBFS holds no speech to animate


@dataclass(frozen=True)
class GenerateRequest:
    """A generate request, checked before any work starts: the files, the rig's channels and the options."""

    audio: Path
    out: Path
    options: GenerateOptions
    rig_channels: tuple[str, ...] = ()  # the target rig's shape keys, to say which clip channels it lacks

    @classmethod
    def parse(cls, params: Mapping[str, Any]) -> GenerateRequest:
        """RequestError (or OptionError) names the first parameter that is missing or wrong, and what it needs."""
        audio = Path(require_param(REQUEST, params, "audio", str))
        if not audio.is_file():
            raise AudioError(
                f"sound file {audio} does not exist: check the path (and that its drive is mounted)"
                if not audio.exists()
                else f"{audio} is not a file: choose a sound or video file"
            )
        out = Path(require_param(REQUEST, params, "out", str))
        if out.suffix != CLIP_SUFFIX:
            raise RequestError(f"{REQUEST}: 'out' must name a {CLIP_SUFFIX} motion clip, got {out}")
        if not out.parent.is_dir():
            raise RequestError(f"{REQUEST}: cannot write {out}: folder {out.parent} does not exist")
        require_param(REQUEST, params, "fps", float)  # the scene's rate: no default here
        options = from_params(GenerateOptions, params, REQUEST)
        if options.fps <= 0:
            raise RequestError(f"{REQUEST}: 'fps' must be a positive frame rate, got {options.fps}")
        channels = params.get("rig_channels", [])
        if not isinstance(channels, list) or not all(isinstance(name, str) for name in channels):
            raise RequestError(f"{REQUEST} needs 'rig_channels' as a list of shape-key names, got {channels!r}")
        transcript = (options.transcript or "").strip() or None
        return cls(audio, out, dataclasses.replace(options, transcript=transcript), tuple(channels))


def handle_generate(params: Mapping[str, Any], job: JobContext) -> dict[str, Any]:
    """Generate the clip for `params` (see the module docstring), reporting progress; cancellable at each chunk."""
    request = GenerateRequest.parse(params)
    options = request.options
    job.progress(0.0, "loading the model")
    checkpoint = loaded_checkpoint(options.checkpoint, options.device)
    started = time.monotonic()
    style = None if options.style is None else load_style(options.style, checkpoint)  # a bad one fails before decoding
    job.progress(0.0, "decoding audio")
    sound = decode_audio(request.audio)
    clip = generate_clip(
        request.audio,
        options,
        checkpoint,
        style=style,
        wave=sound.samples,
        progress=job.progress,
        cancel=lambda: job.cancelled,
    )
    job.progress(1.0, "writing the clip")
    save_clip(clip, request.out)
    return {
        "clip": str(request.out),
        "frames": clip.n_frames,
        "fps": clip.fps,
        "seconds": clip.duration,
        "elapsed": time.monotonic() - started,
        "channels": list(clip.expression_names),
        "notes": sound_notes(request.audio, sound) + channel_notes(clip.expression_names, request.rig_channels),
    }


def sound_notes(path: Path, sound: DecodedAudio) -> list[str]:
    """What the artist should know about the sound itself: a truncated file, or no sound above silence."""
    notes = []
    if sound.truncation is not None:
        notes.append(
            f"{path.name} looks truncated ({sound.truncation}): the clip covers the {sound.duration:.2f} s "
            "that decode; copy or export the file again for the rest"
        )
    peak = max(float(sound.samples.max(initial=0.0)), -float(sound.samples.min(initial=0.0)))  # no |x| copy
    if peak < SILENCE_PEAK:
        notes.append(
            f"{path.name} is silent (peak {_decibels(peak)} dBFS): the mouth stays at rest; check the sound "
            "strip's file if you expected speech"
        )
    return notes


def _decibels(amplitude: float) -> str:
    return "-inf" if amplitude == 0.0 else f"{20 * math.log10(amplitude):.0f}"


def channel_notes(clip_channels: tuple[str, ...], rig_channels: tuple[str, ...]) -> list[str]:
    """What the artist should know before keying: clip channels the rig has no shape key for."""
    available = set(rig_channels)
    missing = [name for name in clip_channels if name not in available] if available else []
    if not missing:
        return []
    shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
    return [
        f"the rig has no shape key for {len(missing)} of the clip's {len(clip_channels)} channels ({shown}): "
        "map them with a custom mapping, or adapt a style to this rig's channels"
    ]
