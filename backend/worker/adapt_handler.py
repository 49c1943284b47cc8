"""The worker's `adapt` request: a reference (speech + facial motion) -> a style file.

    params {"audio", "motion", "out", + the AdaptOptions fields}   (AdaptRequest in adamesh_blender/client/requests.py)
    result {"style": out, "summary", "channels", "reference_seconds", "adaptation", "retrieval", "eyes"}
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


def handle_adapt(params: Mapping[str, Any], job: JobContext) -> dict[str, Any]:
    audio = require_param(REQUEST, params, "audio", str)
    motion = require_param(REQUEST, params, "motion", str)
    out = Path(require_param(REQUEST, params, "out", str))
    if out.suffix != STYLE_SUFFIX:
        raise RequestError(f"{REQUEST}: 'out' must name a {STYLE_SUFFIX} style file, got {out}")
    options = from_params(AdaptOptions, params, REQUEST)
    job.progress(0.0, "loading the model")
    checkpoint = loaded_checkpoint(options.checkpoint, options.device)
    style = adapt_style(audio, motion, out, options, checkpoint, progress=job.progress, cancel=lambda: job.cancelled)
    return {"style": str(out), "summary": describe(style), "channels": list(style.channel_names),
            "reference_seconds": style.reference_seconds, "adaptation": style.adaptation,
            "retrieval": style.retrieval, "eyes": dataclasses.asdict(style.eyes)}
