"""Progress reporting and cancellation for long jobs (generation, Adapt Style), shared by the command line and the
worker: a callback gets (fraction done in [0, 1], what is happening), and a cancel() callback stops the job."""

from __future__ import annotations

import time
from collections.abc import Callable

from backend.core.errors import AdaMeshError

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], what is happening)


class ProgressReporter:
    """Forwards progress and turns a cancellation request into `cancelled` (GenerationCancelled by default)."""

    def __init__(
        self, progress: Progress | None, cancel: Callable[[], bool] | None, cancelled: type[AdaMeshError], what: str
    ):
        self.progress, self.cancel, self.cancelled, self.what = progress, cancel, cancelled, what
        self.started = time.monotonic()

    def __call__(self, fraction: float, message: str) -> None:
        if self.cancel is not None and self.cancel():
            raise self.cancelled(f"{self.what} was cancelled")
        if self.progress is not None:
            self.progress(min(max(fraction, 0.0), 1.0), message)
