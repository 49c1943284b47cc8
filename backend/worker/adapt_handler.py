"""The worker's `adapt` request: a reference (speech + facial motion, or a video of the person talking) -> a style
file.

    params {"audio", "motion", "out", + the AdaptOptions fields}   (AdaptRequest in adamesh_blender/client/requests.py)
        or {"video", "out", "tracked" (optional: where to keep the tracked motion clip), + the AdaptOptions fields}
    result {"style": out, "summary", "channels", "reference_seconds", "adaptation", "retrieval", "eyes", "notes",
            "tracked": the clip written to `tracked` or null}

A video is tracked here, in the job (docs/tracking.md), with its progress and cancel; a backend without the
optional tracker answers `tracker_missing` before loading anything.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backend.adaptation.adapt_options import AdaptOptions
from backend.adaptation.adapt_style import adapt_style, describe
from backend.core.options import from_params
from backend.inference.checkpoint_cache import loaded_checkpoint
from backend.worker.jobs import JobContext
from backend.worker.protocol import RequestError, require_param

REQUEST = "adapt"
STYLE_SUFFIX = ".safetensors"
CLIP_SUFFIX = ".npz"


def handle_adapt(params: Mapping[str, Any], job: JobContext) -> dict[str, Any]:
    out = Path(require_param(REQUEST, params, "out", str))
    if out.suffix != STYLE_SUFFIX:
        raise RequestError(f"{REQUEST}: 'out' must name a {STYLE_SUFFIX} style file, got {out}")
    options = from_params(AdaptOptions, params, REQUEST)
    notes: tuple[str, ...] = ()
    tracked_out = None
    if params.get("video") is not None:
        if params.get("audio") is not None or params.get("motion") is not None:
            raise RequestError(f"{REQUEST}: give either 'video' or 'audio' with 'motion', not both")
        video = require_param(REQUEST, params, "video", str)
        if params.get("tracked") is not None:
            tracked_out = Path(require_param(REQUEST, params, "tracked", str))
            if tracked_out.suffix != CLIP_SUFFIX:
                raise RequestError(f"{REQUEST}: 'tracked' must name a {CLIP_SUFFIX} motion clip, got {tracked_out}")
        from backend.tracking.adapt_video import adapt_from_video, check_video_reference

        check_video_reference(video)  # a missing tracker or a silent video is said before the model loads
        job.progress(0.0, "loading the model")
        checkpoint = loaded_checkpoint(options.checkpoint, options.device)
        style, tracked = adapt_from_video(
            video,
            out,
            options,
            checkpoint,
            progress=job.progress,
            cancel=lambda: job.cancelled,
            tracked_out=tracked_out,
        )
        notes = tracked.notes
    else:
        audio = require_param(REQUEST, params, "audio", str)
        motion = require_param(REQUEST, params, "motion", str)
        job.progress(0.0, "loading the model")
        checkpoint = loaded_checkpoint(options.checkpoint, options.device)
        style = adapt_style(
            audio, motion, out, options, checkpoint, progress=job.progress, cancel=lambda: job.cancelled
        )
    return {
        "style": str(out),
        "summary": describe(style),
        "channels": list(style.channel_names),
        "reference_seconds": style.reference_seconds,
        "adaptation": style.adaptation,
        "retrieval": style.retrieval,
        "eyes": dataclasses.asdict(style.eyes),
        "notes": list(notes),
        "tracked": str(tracked_out) if tracked_out is not None else None,
    }
