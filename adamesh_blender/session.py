"""This Blender session's one backend worker, and the one job (worker request or install) the UI follows.

The worker starts on first use with the preferences' Backend Python and stays up between jobs (its models stay
loaded). It is stopped when the add-on is disabled (unregister), when Blender quits (atexit), and when its Python
changes (Install backend); if Blender dies instead, the worker sees its stdin close and exits by itself.
Loading another file cancels the running job, whose targets go away with the old file, but keeps the worker; the
count of loads lets the job's operator see that its file is gone, so that a result arriving late is not written
into the next file (an object of the same name there would otherwise take the keys).
"""

from __future__ import annotations

import atexit

import bpy

from . import bundle, preferences
from .client import Job, WorkerClient
from .client.installer import BackendInstall
from .errors import AddonError

_worker: WorkerClient | None = None
_job: Job | BackendInstall | None = None
_file_loads = 0  # files loaded (opened, new, factory settings) in this session


def worker(context) -> WorkerClient:
    """The running worker, started (with its handshake) if there is none."""
    global _worker
    if _worker is not None and _worker.running:
        return _worker
    if _worker is not None:
        _worker.stop()  # it died: reap it before starting another
        _worker = None
    prefs = preferences.addon_preferences(context)
    client = WorkerClient(
        preferences.backend_python(context),
        bundle.backend_root(),
        start_timeout=float(prefs.backend_start_timeout),
        hang_timeout=float(prefs.backend_timeout),
    )
    client.start()
    _worker = client
    return client


def running_worker() -> WorkerClient | None:
    return _worker if _worker is not None and _worker.running else None


def current_worker() -> WorkerClient | None:
    """The worker jobs were sent to, even if it has just died (pumping it is how its jobs learn that)."""
    return _worker


def stop_worker() -> None:
    global _worker, _job
    if isinstance(_job, BackendInstall):
        _job.cancel()
    _job = None
    if _worker is not None:
        _worker.stop()
        _worker = None


def active_job() -> Job | BackendInstall | None:
    return _job if _job is not None and not _job.finished else None


def file_loads() -> int:
    return _file_loads


def busy_reason(context) -> str | None:
    """Why a new job cannot start now, or None."""
    if active_job() is not None:
        return f"AdaMesh is busy ({context.window_manager.adamesh_job.label}): wait, or press Cancel"
    return None


def begin(context, job: Job | BackendInstall, label: str) -> None:
    """Make `job` the one the UI follows."""
    global _job
    if active_job() is not None:
        raise AddonError(busy_reason(context))
    _job = job
    status = context.window_manager.adamesh_job
    status.label, status.progress, status.message = label, 0.0, "Starting"


def update_status(context, job: Job | BackendInstall) -> None:
    status = context.window_manager.adamesh_job
    status.progress = job.fraction or 0.0
    status.message = ("Cancelling: " if job.cancel_requested else "") + job.message


def end(job: Job | BackendInstall) -> None:
    global _job
    if _job is job:
        _job = None


@bpy.app.handlers.persistent
def _cancel_job_on_load(*_args) -> None:
    """The job's targets belong to the file being closed: stop it, and forget it (its operator goes too)."""
    global _job, _file_loads
    _file_loads += 1
    job = active_job()
    if job is not None:
        job.cancel()
    _job = None


def register() -> None:
    bpy.app.handlers.load_pre.append(_cancel_job_on_load)
    atexit.register(stop_worker)


def unregister() -> None:
    atexit.unregister(stop_worker)
    if _cancel_job_on_load in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_cancel_job_on_load)
    stop_worker()
