"""The worker's `probe_audio` request: decode a file as generation would and say what it holds."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backend.audio.decode import decode_audio
from backend.worker.jobs import JobContext
from backend.worker.protocol import require_param


def handle_probe_audio(params: Mapping[str, Any], job: JobContext) -> dict[str, Any]:
    """params {"path"} -> {"path", "duration" (s, decoded), "sample_rate" and "channels" (of the file's audio
    track), "truncation" (why it looks truncated, or null)}; a file that cannot be used is an AudioError."""
    path = require_param("probe_audio", params, "path", str)
    job.progress(None, f"decoding {Path(path).name}")
    decoded = decode_audio(path)
    return {
        "path": path,
        "duration": decoded.duration,
        "sample_rate": decoded.source_sample_rate,
        "channels": decoded.source_channels,
        "truncation": decoded.truncation,
    }
