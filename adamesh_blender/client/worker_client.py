"""Talk to one backend worker: start it, check its handshake, submit jobs, route its events to them.

Two ways to drive it, same code underneath:
- in Blender's UI, a modal operator's timer calls `pump()` (never blocks) and reads the Job it holds;
- in --background, the bpy module and tests, where timers never fire (docs/architecture.md section 2), `wait(job)` pumps
  in a blocking loop until the job ends.
All methods are meant for one thread (Blender's main thread); the process's reader threads only fill a queue.

A hung worker is noticed while jobs are waiting: after `hang_timeout / 3` without a word from it the client
pings (the worker answers pings even while a job runs); after `hang_timeout` of silence the jobs fail with
WorkerTimeout and the process is killed.
"""

from __future__ import annotations

import itertools
import os
import queue
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BackendError, JobCancelled, WorkerDied, WorkerStartError, WorkerTimeout
from .jobs import Job, JobState
from .process import ProcessEnded, WorkerProcess, describe_exit
from .protocol import CANCELLED, HANDLER_UNAVAILABLE, PROTOCOL_VERSION, TRACKER_MISSING, Event, encode_request

START_TIMEOUT = 60.0  # s until the hello; the first start after installing compiles bytecode for a while
HANG_TIMEOUT = 30.0  # s of silence, with jobs waiting and a ping unanswered, before the worker counts as hung
STOP_TIMEOUT = 5.0  # s a shutdown may take before the process is killed
_WAIT_SLICE = 0.25  # s: a blocking wait wakes this often to check for a hang


@dataclass(frozen=True)
class WorkerInfo:
    """What the worker said in its handshake."""

    protocol: int
    backend_version: str
    python: str
    pid: int
    requests: tuple[str, ...]


class WorkerClient:
    def __init__(
        self,
        python: str | os.PathLike,
        backend_root: Path,
        *,
        start_timeout: float = START_TIMEOUT,
        hang_timeout: float = HANG_TIMEOUT,
    ) -> None:
        self._process = WorkerProcess(python, backend_root)
        self._start_timeout = start_timeout
        self._hang_timeout = hang_timeout
        self._ids = itertools.count(1)
        self._jobs: dict[str, Job] = {}  # waiting for their final event
        self._pings: set[str] = set()  # liveness pings sent and not answered
        self._last_heard = time.monotonic()
        self._failure: str | None = None  # why the worker is gone, once it is
        self.info: WorkerInfo | None = None

    @property
    def running(self) -> bool:
        return self.info is not None and self._failure is None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def start(self) -> WorkerInfo:
        """Start the worker and wait for its handshake; WorkerStartError says why it cannot run."""
        self._process.start()
        try:
            first = self._process.events.get(timeout=self._start_timeout)
        except queue.Empty:
            self._process.kill()
            raise WorkerStartError(
                f"the AdaMesh backend ({self._process.python}) did not start within {self._start_timeout:g} s"
                f"{self._noise_hint()}. If it is only slow, raise Backend Start Timeout in Preferences > Add-ons > "
                f"AdaMesh. {self._process.log_excerpt()}"
            ) from None
        if isinstance(first, ProcessEnded):
            raise WorkerStartError(self._start_failure(first.returncode))
        if first.kind != "hello":
            self._process.kill()
            raise WorkerStartError(
                f"'{self._process.python} -m backend worker' is not an AdaMesh worker: it began with {first.fields}"
            )
        protocol = first.fields.get("protocol")
        if protocol != PROTOCOL_VERSION:
            self.stop()
            raise WorkerStartError(
                f"the backend speaks worker protocol {protocol} but this add-on speaks {PROTOCOL_VERSION}: "
                "the extension's files are mixed from two versions; reinstall the extension"
            )
        fields = first.fields
        self.info = WorkerInfo(
            protocol,
            str(fields.get("backend_version")),
            str(fields.get("python")),
            int(fields.get("pid", 0)),
            tuple(fields.get("requests", ())),
        )
        self._last_heard = time.monotonic()
        return self.info

    def _noise_hint(self) -> str:
        noise = self._process.stdout_noise
        if not noise:
            return ""
        return (
            f": instead of the AdaMesh handshake it printed {' | '.join(repr(line) for line in noise)} on its "
            "standard output. Something in that Python (a sitecustomize, a wrapper script) prints text, or it is "
            "not a Python with the AdaMesh backend: set Backend Python to the backend's environment"
        )

    def _start_failure(self, returncode: int) -> str:
        log = self._process.log_excerpt()
        hint = ""
        if "ModuleNotFoundError" in log or "No module named" in log:
            hint = " The backend's packages are missing from that Python: press Install backend in the preferences."
        return f"the backend Python '{self._process.python}' {describe_exit(returncode)} before it started.{hint} {log}"

    # --- jobs -----------------------------------------------------------------------------------------------

    def submit(self, request_type: str, params: dict[str, Any] | None = None) -> Job:
        """Send a request; the returned Job fills in as events arrive (see pump / wait)."""
        self._raise_if_gone()
        job = Job(str(next(self._ids)), request_type, self._send_cancel)
        if not self._jobs:
            self._last_heard = time.monotonic()  # silence counts from now, not from the last job
        self._jobs[job.id] = job
        try:
            self._process.send(encode_request(job.id, request_type, params or {}))
        except WorkerDied as error:
            self._fail_all(error)
            raise
        return job

    def request(self, request_type: str, params: dict[str, Any] | None = None, timeout: float | None = None) -> dict:
        """Submit and wait: the result, or the job's error raised."""
        return self.wait(self.submit(request_type, params), timeout)

    def wait(self, job: Job, timeout: float | None = None) -> dict[str, Any]:
        """Pump until `job` ends (or `timeout` s pass: WorkerTimeout); return its result or raise its error."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not job.finished:
            remaining = _WAIT_SLICE if deadline is None else min(_WAIT_SLICE, deadline - time.monotonic())
            if remaining <= 0:
                raise WorkerTimeout(f"{job.type} did not finish within {timeout:g} s (it is still running)")
            self.pump(remaining)
        return job.outcome()

    def pump(self, timeout: float = 0.0) -> None:
        """Apply every event that has arrived, waiting up to `timeout` s for the first; then check for a hang."""
        block = timeout > 0
        while True:
            try:
                item = self._process.events.get(block=block, timeout=timeout if block else None)
            except queue.Empty:
                break
            block = False
            self._last_heard = time.monotonic()
            if isinstance(item, ProcessEnded):
                self._worker_ended(item.returncode)
                return
            self._apply(item)
        self._check_alive()

    def _apply(self, event: Event) -> None:
        if event.request_id in self._pings:
            self._pings.discard(event.request_id)
            return
        job = self._jobs.get(event.request_id) if event.request_id else None
        if job is None:
            return  # an answer to a cancel request, or to a job already failed by a timeout: nothing waits for it
        fields = event.fields
        if event.kind == "progress":
            job.fraction = fields.get("fraction")
            job.message = str(fields.get("message", ""))
        elif event.kind == "result":
            job.result, job.state, job.fraction = fields.get("result") or {}, JobState.SUCCEEDED, 1.0
            del self._jobs[job.id]
        elif event.kind == "error":
            code, message = str(fields.get("code")), str(fields.get("message"))
            if code == CANCELLED:
                job.state, job.error = JobState.CANCELLED, JobCancelled(message)
            else:
                if code == HANDLER_UNAVAILABLE and "Install Backend" not in message:
                    message += (
                        ". The backend's Python lacks packages this needs: press Install Backend in Preferences > "
                        "Add-ons > AdaMesh (or set Backend Python to an environment that has them)"
                    )
                elif code == TRACKER_MISSING:  # the backend's own advice names pip: the artist has a button
                    message = (
                        "Adapt Style from a video needs the video face tracker, an optional part of the backend "
                        "(about 90 MB): press Install Video Tracker in Preferences > Add-ons > AdaMesh, then Adapt "
                        f"Style again. (The backend said: {message})"
                    )
                job.state, job.error = JobState.FAILED, BackendError(code, message, fields.get("traceback"))
            del self._jobs[job.id]

    def _send_cancel(self, job: Job) -> None:
        if self._failure is not None:
            return
        try:
            self._process.send(encode_request(f"cancel-{job.id}", "cancel", {"target": job.id}))
        except WorkerDied as error:
            self._fail_all(error)

    # --- liveness -------------------------------------------------------------------------------------------

    def _check_alive(self) -> None:
        if not self._jobs or self._failure is not None:
            return
        silence = time.monotonic() - self._last_heard
        if silence >= self._hang_timeout:
            self._process.kill()
            self._fail_all(
                WorkerTimeout(
                    f"the AdaMesh backend (pid {self._process.pid}) stopped answering: nothing for "
                    f"{silence:.1f} s, not even to a ping, so it was stopped. Try again; if it happens again, "
                    f"raise the backend timeout in the preferences. {self._process.log_excerpt()}"
                )
            )
        elif silence >= self._hang_timeout / 3 and not self._pings:
            ping_id = f"ping-{next(self._ids)}"
            self._pings.add(ping_id)
            try:
                self._process.send(encode_request(ping_id, "ping", {}))
            except WorkerDied as error:
                self._fail_all(error)

    def _worker_ended(self, returncode: int) -> None:
        waiting = ", ".join(sorted({job.type for job in self._jobs.values()}))
        during = f" while running {waiting}" if waiting else ""
        self._fail_all(
            WorkerDied(
                f"the AdaMesh backend stopped unexpectedly: pid {self._process.pid} {describe_exit(returncode)}"
                f"{during}. Try again (a new backend starts). {self._process.log_excerpt()}"
            )
        )

    def _fail_all(self, error: Exception) -> None:
        self._failure = str(error)
        for job in self._jobs.values():
            job.state, job.error = JobState.FAILED, error
        self._jobs.clear()

    def _raise_if_gone(self) -> None:
        if self.info is None:
            raise WorkerStartError("the backend worker has not been started")
        if self._failure is not None:
            raise WorkerDied(self._failure)
        returncode = self._process.poll()
        if returncode is not None:
            self._worker_ended(returncode)
            raise WorkerDied(self._failure)

    # --- ending ---------------------------------------------------------------------------------------------

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Ask the worker to shut down (cancelling its jobs), wait up to `timeout` s, then kill it."""
        if self._process.pid is None:
            return
        if self._process.poll() is None:
            try:
                self._process.send(encode_request("shutdown", "shutdown", {}))
            except WorkerDied:
                pass  # already gone: nothing to ask
            self._process.close_input()
            if self._process.wait(timeout) is None:
                self._process.kill()
        if self._failure is None:
            self._fail_all(JobCancelled("the AdaMesh backend was stopped"))
