"""What a worker request handler sees of its job: progress reporting and cancellation.

Cancellation is cooperative first: long-running handlers call `job.progress(...)` or `job.check_cancelled()` in
their loops, and both raise `Cancelled` once the client asked to cancel. A handler that does not check in time
(for example one long library call such as decoding a whole file) is stopped by force after CANCEL_GRACE_SECONDS:
`Cancelled` is raised asynchronously in its thread (CPython's PyThreadState_SetAsyncExc), which takes effect at
the next Python instruction that thread runs; a single C call that never returns to Python cannot be interrupted.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable

CANCEL_GRACE_SECONDS = 0.4  # a cooperative handler gets this long to notice before it is stopped by force
PROGRESS_INTERVAL_SECONDS = 0.1  # progress events of one job are sent at most this often (messages always)


class Cancelled(BaseException):
    """The client cancelled the job. A BaseException, so a library's `except Exception` cannot swallow it."""


class JobContext:
    """One queued or running job: its id, a cancel flag, and a throttled progress reporter."""

    def __init__(self, request_id: str, request_type: str, emit_progress: Callable[[float | None, str], None]) -> None:
        self.request_id = request_id
        self.request_type = request_type
        self._emit_progress = emit_progress
        self._cancel = threading.Event()
        self._last_progress = (float("-inf"), None, "")  # (time, fraction, message) last sent

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def check_cancelled(self) -> None:
        """Raise Cancelled if the client cancelled this job: call it often (at least twice a second)."""
        if self._cancel.is_set():
            raise Cancelled(self.request_id)

    def progress(self, fraction: float | None, message: str = "") -> None:
        """Report progress (fraction in [0, 1] or None when unknown); also a cancellation point."""
        self.check_cancelled()
        now = time.monotonic()
        last_time, last_fraction, last_message = self._last_progress
        final = fraction is not None and fraction >= 1.0 and last_fraction != fraction
        if message != last_message or final or now - last_time >= PROGRESS_INTERVAL_SECONDS:
            self._last_progress = (now, fraction, message)
            self._emit_progress(fraction, message)


def raise_in_thread(thread_id: int, exception: type[BaseException] | None) -> bool:
    """Make `exception` be raised in the thread `thread_id` at its next Python instruction (None: withdraw a
    pending one). True when the thread exists."""
    target = ctypes.py_object(exception) if exception is not None else None
    return ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), target) == 1
