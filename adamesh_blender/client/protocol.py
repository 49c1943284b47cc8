"""The add-on's side of the worker's wire format (backend/worker/protocol.py holds the full description).

Requests go out as one JSON object per line; events come back the same way. The add-on cannot import the backend
(it runs in Blender's Python, the backend in its own), so this small reader mirrors it; tests/client checks that
both sides agree on PROTOCOL_VERSION.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PROTOCOL_VERSION = 1
CANCELLED = "cancelled"  # the error code of a job that ended because it was cancelled
HANDLER_UNAVAILABLE = "handler_unavailable"  # the error code of a request whose packages the backend lacks
TRACKER_MISSING = "tracker_missing"  # a video reference, but the backend lacks the optional face tracker


@dataclass(frozen=True)
class Event:
    """One line from the worker: `kind` is hello, progress, result or error; `fields` the whole object."""

    kind: str
    request_id: str | None
    fields: dict[str, Any]


def encode_request(request_id: str, request_type: str, params: dict[str, Any]) -> bytes:
    message = {"id": request_id, "type": request_type, "params": params}
    return (json.dumps(message, allow_nan=False, ensure_ascii=False) + "\n").encode("utf-8")


def parse_event(line: bytes) -> Event:
    """ValueError when the line is not an event object (the worker never sends one; a bug if it does)."""
    message = json.loads(line.decode("utf-8"))
    if not isinstance(message, dict) or not isinstance(message.get("event"), str):
        raise ValueError(f"not a worker event: {line[:120]!r}")
    request_id = message.get("id")
    return Event(message["event"], request_id if isinstance(request_id, str) else None, message)
