"""What can go wrong talking to the backend, each with a message the artist can act on."""

from __future__ import annotations

from ..errors import AddonError


class BackendError(AddonError):
    """The worker answered a request with an error event: its code, message and (for bugs) traceback."""

    def __init__(self, code: str, message: str, traceback: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.traceback = traceback


class WorkerStartError(AddonError):
    """The backend could not be started: no such Python, missing packages, or a worker of another version."""

    code = "worker_start_failed"


class WorkerDied(AddonError):
    """The worker process ended while requests were still waiting for an answer."""

    code = "worker_died"


class WorkerTimeout(AddonError):
    """The worker stopped answering (it is hung or stopped); it has been killed."""

    code = "worker_timeout"


class JobCancelled(AddonError):
    """The job was cancelled (by the artist, or because the worker shut down) before it finished."""

    code = "cancelled"


class InstallError(AddonError):
    """Creating the backend's environment or installing its packages failed."""

    code = "install_failed"
