"""A request in flight, as the add-on sees it: progress, then a result, an error, or a cancellation."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import AddonError


class JobState(enum.Enum):
    ACTIVE = "active"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(eq=False)
class Job:
    """One request to the worker. Updated only by its client's `pump`, in the thread that pumps."""

    id: str
    type: str
    _request_cancel: Callable[[Job], None] = field(repr=False)
    state: JobState = JobState.ACTIVE
    fraction: float | None = None  # progress in [0, 1], None while unknown
    message: str = ""  # what the worker says it is doing
    result: dict[str, Any] | None = None
    error: AddonError | None = None  # why it failed or was cancelled
    cancel_requested: bool = False

    @property
    def finished(self) -> bool:
        return self.state is not JobState.ACTIVE

    def cancel(self) -> None:
        """Ask the worker to stop this job; it ends as CANCELLED within about a second (or finishes first)."""
        if not self.finished and not self.cancel_requested:
            self.cancel_requested = True
            self._request_cancel(self)

    def outcome(self) -> dict[str, Any]:
        """The result of a finished job; raises its error if it failed or was cancelled."""
        if self.state is JobState.SUCCEEDED:
            return self.result
        if self.error is None:
            raise RuntimeError(f"job {self.id} ({self.type}) has not finished")
        raise self.error
