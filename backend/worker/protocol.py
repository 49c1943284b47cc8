"""The worker's wire format: one JSON object per line, requests on stdin, events on stdout (docs/architecture.md
section 2).

    worker -> client, first:  {"event": "hello", "protocol": 1, "backend_version": "0.1.0", "python": "3.11.2",
                               "pid": 4242, "requests": ["cancel", "ping", "probe_audio", "shutdown"]}
    client -> worker:         {"id": "7", "type": "probe_audio", "params": {"path": "/speech.wav"}}
    worker -> client:         {"event": "progress", "id": "7", "fraction": 0.4, "message": "decoding"}
                              {"event": "result", "id": "7", "result": {...}}
                              {"event": "error", "id": "7", "code": "bad_audio", "message": "...", "traceback": null}

Every request gets exactly one final event, a result or an error, tagged with its id; progress events (fraction
in [0, 1], or null when unknown) may come before it. A line that is not a request gets an error with the id it
carried, if any could be read, else null. `traceback` is set only for bugs (code "internal_error"): problems the
user can fix (an AdaMeshError) carry just their code and message.

Control requests, answered at once even while a job runs:
    ping                          -> {"backend_version", "uptime", "jobs": [ids queued or running]}
    cancel {"target": id}         -> {"target": id, "found": bool}; the target then ends with error "cancelled"
    shutdown                      -> {} after every job has ended; then the worker exits
Jobs (probe_audio, adapt, generate) run one at a time, in order, on the worker's job thread: a job sent while
another is queued or running gets a progress event (fraction null, "waiting for 1 earlier job to finish (...)")
and starts when those have ended; cancel removes it from the queue.
Closing stdin is a shutdown without an answer.

The add-on has its own reader of this format (adamesh_blender/client/protocol.py); PROTOCOL_VERSION changes
whenever a message changes shape, and both sides must agree on it (the handshake checks, a test compares).
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.core.errors import AdaMeshError

PROTOCOL_VERSION = 1
CONTROL_REQUESTS = ("cancel", "ping", "shutdown")

# error codes of the protocol itself (handlers add their AdaMeshError codes: bad_audio, bad_clip, ...)
MALFORMED_REQUEST = "malformed_request"
UNKNOWN_REQUEST = "unknown_request"
BAD_REQUEST = "bad_request"
DUPLICATE_ID = "duplicate_id"
CANCELLED = "cancelled"
HANDLER_UNAVAILABLE = "handler_unavailable"
INTERNAL_ERROR = "internal_error"
OUT_OF_MEMORY = "out_of_memory"  # a job's allocation failed; the worker freed the job's memory and serves on


class ProtocolError(AdaMeshError):
    """A line that is not a well-formed request; `request_id` is its id when one could be read."""

    code = MALFORMED_REQUEST

    def __init__(self, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class RequestError(AdaMeshError):
    """A well-formed request whose parameters are missing or of the wrong kind."""

    code = BAD_REQUEST


@dataclass(frozen=True)
class Request:
    id: str
    type: str
    params: Mapping[str, Any] = field(default_factory=dict)


def parse_request(line: bytes) -> Request:
    """One line from stdin -> Request; ProtocolError says what is wrong with it."""
    try:
        message = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ProtocolError(f"request line is not UTF-8 text ({error})") from error
    except json.JSONDecodeError as error:
        raise ProtocolError(
            f"request line is not JSON ({error.msg} at column {error.colno}): {_excerpt(line)}"
        ) from error
    except RecursionError:  # json recurses once per nesting level: "[[[[..." must not end the worker
        raise ProtocolError(f"request line nests too deeply to be a request: {_excerpt(line)}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"a request is a JSON object, got {type(message).__name__}: {_excerpt(line)}")
    request_id = message.get("id")
    if not isinstance(request_id, str) or not request_id:
        raise ProtocolError(f"a request needs an 'id' (a non-empty string), got {request_id!r}")
    request_type = message.get("type")
    if not isinstance(request_type, str) or not request_type:
        raise ProtocolError(f"request {request_id} needs a 'type' (a string), got {request_type!r}", request_id)
    params = message.get("params", {})
    if not isinstance(params, dict):
        raise ProtocolError(
            f"request {request_id}: 'params' must be an object, got {type(params).__name__}", request_id
        )
    return Request(request_id, request_type, params)


def require_param(request_type: str, params: Mapping[str, Any], name: str, kind: type) -> Any:
    """params[name], checked to be of `kind`; RequestError names the request, the parameter and what it needs."""
    value = params.get(name)
    accepted = (int, float) if kind is float else kind  # JSON writes 2.0 as 2
    if not isinstance(value, accepted) or isinstance(value, bool) and kind is not bool:
        raise RequestError(f"{request_type} needs '{name}' ({kind.__name__}), got {value!r}")
    return value


def hello_event(backend_version: str, requests: Iterable[str]) -> dict[str, Any]:
    return {
        "event": "hello",
        "protocol": PROTOCOL_VERSION,
        "backend_version": backend_version,
        "python": platform.python_version(),
        "pid": os.getpid(),
        "requests": sorted(requests),
    }


def progress_event(request_id: str, fraction: float | None, message: str) -> dict[str, Any]:
    if fraction is not None:
        fraction = min(max(float(fraction), 0.0), 1.0)
    return {"event": "progress", "id": request_id, "fraction": fraction, "message": message}


def result_event(request_id: str, result: Mapping[str, Any]) -> dict[str, Any]:
    return {"event": "result", "id": request_id, "result": dict(result)}


def error_event(request_id: str | None, code: str, message: str, traceback: str | None = None) -> dict[str, Any]:
    return {"event": "error", "id": request_id, "code": code, "message": message, "traceback": traceback}


def encode_event(event: Mapping[str, Any]) -> bytes:
    """One line of UTF-8 JSON; ValueError for NaN or infinity, which JSON cannot carry."""
    return (json.dumps(event, allow_nan=False, ensure_ascii=False) + "\n").encode("utf-8")


def _excerpt(line: bytes, limit: int = 80) -> str:
    text = line.decode("utf-8", errors="replace").strip()
    return repr(text if len(text) <= limit else text[:limit] + "...")
