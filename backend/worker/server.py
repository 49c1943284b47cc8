"""`python -m backend worker`: the process the Blender add-on talks to, JSON lines on stdin and stdout.

The wire format is in protocol.py. The main thread reads requests and answers control requests (ping, cancel,
shutdown) at once; jobs run one at a time on a job thread, so a ping or a cancel is served while a job runs.
Handlers are imported on first use, so the worker greets in a fraction of a second without loading torch, and
models that a handler module caches stay loaded between requests.

stdout carries protocol lines and nothing else: at start the worker keeps a private copy of file descriptor 1 for
them and points descriptor 1 and sys.stdout at stderr, so a stray print (from any library, Python or C) lands in
the log instead of corrupting the stream. Logs go to stderr.
"""

from __future__ import annotations

import importlib
import logging
import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

from backend.core.errors import AdaMeshError
from backend.core.version import backend_version
from backend.worker import protocol
from backend.worker.jobs import CANCEL_GRACE_SECONDS, Cancelled, JobContext, raise_in_thread

logger = logging.getLogger("backend.worker.server")

# Request type -> "module:function" of its handler, `handler(params, job: JobContext) -> dict` (JSON values).
# Adding a request is one line here; the module is imported when the first such request arrives.
HANDLERS: dict[str, str] = {
    "probe_audio": "backend.worker.probe_audio_handler:handle_probe_audio",
    "generate": "backend.worker.generate_handler:handle_generate",
    "adapt": "backend.worker.adapt_handler:handle_adapt",
}

Handler = Callable[[Mapping[str, Any], JobContext], dict]

SHUTDOWN_WAIT_SECONDS = 2.0  # how long shutdown waits for a cancelled job to stop before exiting anyway


class Worker:
    """Serves requests from `stdin` until shutdown or end of input, writing events to `out`."""

    def __init__(self, out: BinaryIO, handlers: Mapping[str, str] = HANDLERS) -> None:
        self._out = out
        self._handler_paths = dict(handlers)
        self._handlers: dict[str, Handler] = {}
        self._write_lock = threading.Lock()
        self._jobs_lock = threading.Lock()  # guards _jobs and _running
        self._jobs: dict[str, JobContext] = {}  # queued or running, by request id
        self._running: tuple[JobContext, int] | None = None  # the job in its handler, and the job thread's id
        self._queue: queue.Queue[tuple[JobContext, Mapping[str, Any]] | None] = queue.Queue()
        self._job_thread = threading.Thread(target=self._run_jobs, name="adamesh-jobs", daemon=True)
        self._started = time.monotonic()

    def serve(self, stdin: BinaryIO) -> int:
        self._emit(protocol.hello_event(backend_version(), [*protocol.CONTROL_REQUESTS, *self._handler_paths]))
        self._job_thread.start()
        for line in stdin:
            if line.strip() and not self._handle_line(line):
                return 0
        logger.info("stdin closed: stopping")
        self._stop_jobs()
        return 0

    # --- requests -------------------------------------------------------------------------------------------

    def _handle_line(self, line: bytes) -> bool:
        """Act on one line; False once a shutdown has been served."""
        try:
            request = protocol.parse_request(line)
        except protocol.ProtocolError as error:
            self._emit(protocol.error_event(error.request_id, error.code, str(error)))
            return True
        if request.type == "shutdown":
            self._stop_jobs()
            self._emit(protocol.result_event(request.id, {}))
            return False
        if request.type == "ping":
            self._emit(protocol.result_event(request.id, self._status()))
        elif request.type == "cancel":
            self._cancel(request)
        elif request.type in self._handler_paths:
            self._enqueue(request)
        else:
            known = ", ".join(sorted([*protocol.CONTROL_REQUESTS, *self._handler_paths]))
            message = f"this backend ({backend_version()}) has no request '{request.type}'; it serves: {known}"
            self._emit(protocol.error_event(request.id, protocol.UNKNOWN_REQUEST, message))
        return True

    def _status(self) -> dict[str, Any]:
        with self._jobs_lock:
            jobs = list(self._jobs)
        return {"backend_version": backend_version(), "uptime": time.monotonic() - self._started, "jobs": jobs}

    def _enqueue(self, request: protocol.Request) -> None:
        def emit_progress(fraction: float | None, message: str) -> None:
            self._emit(protocol.progress_event(request.id, fraction, message))

        with self._jobs_lock:
            duplicate = request.id in self._jobs
            ahead = list(self._jobs.values())
            if not duplicate:
                job = JobContext(request.id, request.type, emit_progress)
                self._jobs[request.id] = job
        if duplicate:
            message = f"request id {request.id} is already in use by a job that has not ended; use a new id"
            self._emit(protocol.error_event(request.id, protocol.DUPLICATE_ID, message))
            return
        if ahead:  # jobs run one at a time (a second model run would double memory): say why this one waits
            emit_progress(
                None,
                f"waiting for {len(ahead)} earlier job{'s' if len(ahead) > 1 else ''} to finish "
                f"({ahead[0].request_type} {ahead[0].request_id} first)",
            )
        self._queue.put((job, request.params))

    def _cancel(self, request: protocol.Request) -> None:
        try:
            target = protocol.require_param("cancel", request.params, "target", str)
        except protocol.RequestError as error:
            self._emit(protocol.error_event(request.id, error.code, str(error)))
            return
        with self._jobs_lock:
            job = self._jobs.get(target)
            queued = job is not None and (self._running is None or self._running[0] is not job)
            if queued:  # it never starts: the job thread skips a job no longer in _jobs
                del self._jobs[target]
        if job is not None:
            job.cancel()
        if queued:
            message = f"{job.request_type} was cancelled before it started"
            self._emit(protocol.error_event(target, protocol.CANCELLED, message))
        elif job is not None:
            threading.Thread(target=self._force_cancel, args=(job,), name="adamesh-cancel", daemon=True).start()
        self._emit(protocol.result_event(request.id, {"target": target, "found": job is not None}))

    def _force_cancel(self, job: JobContext) -> None:
        """Stop a cancelled job that has not noticed by itself within the grace period (see worker_jobs).

        Once only: a job thread must never receive a second stop after it has handled the first, or the stop
        could land while it sends the job's final event. (A job still queued was answered by _cancel at once.)
        """
        while True:
            time.sleep(CANCEL_GRACE_SECONDS)
            with self._jobs_lock:
                if self._jobs.get(job.request_id) is not job:
                    return
                if self._running is not None and self._running[0] is job:
                    logger.info("job %s did not stop by itself: stopping it", job.request_id)
                    raise_in_thread(self._running[1], Cancelled)
                    return

    def _stop_jobs(self) -> None:
        """Cancel every job and let the job thread end (waiting at most SHUTDOWN_WAIT_SECONDS)."""
        with self._jobs_lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel()
            threading.Thread(target=self._force_cancel, args=(job,), daemon=True).start()
        self._queue.put(None)
        self._job_thread.join(SHUTDOWN_WAIT_SECONDS)

    # --- the job thread ---------------------------------------------------------------------------------------

    def _run_jobs(self) -> None:
        while True:
            try:
                item = self._queue.get()
                if item is None:
                    return
                self._run(*item)
            except Cancelled:
                continue  # a forced stop that arrived just after its job ended: nothing is left to stop

    def _run(self, job: JobContext, params: Mapping[str, Any]) -> None:
        with self._jobs_lock:
            if self._jobs.get(job.request_id) is not job:
                return  # cancelled while queued: its answer has been sent
            self._running = (job, threading.get_ident())  # from here a cancel stops it (by force if need be)
        try:
            try:
                job.check_cancelled()  # at shutdown every queued job is cancelled but still comes through here
                result = self._handler(job.request_type)(params, job)
            finally:
                with self._jobs_lock:
                    self._running = None
                    raise_in_thread(threading.get_ident(), None)  # withdraw a forced stop that came too late
            if not isinstance(result, dict):
                raise TypeError(f"handler of {job.request_type} returned {type(result).__name__}, not a dict")
            event = protocol.result_event(job.request_id, result)
            protocol.encode_event(event)  # a result JSON cannot carry is a bug: report it as one
        except Cancelled:
            event = protocol.error_event(job.request_id, protocol.CANCELLED, f"{job.request_type} was cancelled")
        except AdaMeshError as error:
            event = protocol.error_event(job.request_id, error.code, str(error))
        except _HandlerUnavailable as error:
            event = protocol.error_event(job.request_id, protocol.HANDLER_UNAVAILABLE, str(error), error.details)
        except Exception as error:
            event = self._failure_event(job, error)
        finally:
            with self._jobs_lock:
                if self._jobs.get(job.request_id) is job:
                    del self._jobs[job.request_id]
                self._running = None
        self._emit(event)

    def _failure_event(self, job: JobContext, error: Exception) -> dict[str, Any]:
        """Out of memory (the job's frames, and the memory they held, go when this returns), or a bug: either way
        the worker keeps serving; for a bug the add-on shows the traceback's gist."""
        if is_out_of_memory(error):
            logger.warning("request %s (%s) ran out of memory: %s", job.request_id, job.request_type, error)
            return protocol.error_event(job.request_id, protocol.OUT_OF_MEMORY, out_of_memory_message(job, error))
        logger.exception("request %s (%s) failed", job.request_id, job.request_type)
        message = f"{job.request_type} failed: {type(error).__name__}: {error}"
        return protocol.error_event(job.request_id, protocol.INTERNAL_ERROR, message, traceback.format_exc())

    def _handler(self, request_type: str) -> Handler:
        if request_type not in self._handlers:
            module_name, _, function = self._handler_paths[request_type].partition(":")
            try:
                self._handlers[request_type] = getattr(importlib.import_module(module_name), function)
            except (ImportError, AttributeError) as error:
                raise _HandlerUnavailable(
                    f"this backend cannot serve '{request_type}': {error}", traceback.format_exc()
                ) from error
        return self._handlers[request_type]

    # --- output ---------------------------------------------------------------------------------------------

    def _emit(self, event: Mapping[str, Any]) -> None:
        line = protocol.encode_event(event)
        with self._write_lock:
            try:
                self._out.write(line)
                self._out.flush()
            except (BrokenPipeError, ValueError):  # the client is gone (closed pipe or file): stdin ends soon
                logger.warning("cannot send %s event: the client closed the connection", event.get("event"))


def is_out_of_memory(error: BaseException) -> bool:
    """True for an allocation that failed: Python's and numpy's MemoryError, torch's CPU and GPU allocators."""
    if isinstance(error, MemoryError):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text.lower())


def out_of_memory_message(job: JobContext, error: BaseException) -> str:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (
        f"{job.request_type} ran out of memory ({detail[:200]}). Close other programs, split long audio into "
        "shorter files, or choose the CPU device if a GPU ran out; the backend is still running and its memory "
        "was released"
    )


class _HandlerUnavailable(Exception):
    def __init__(self, message: str, details: str) -> None:
        super().__init__(message)
        self.details = details


def main(handlers: Mapping[str, str] = HANDLERS) -> int:
    """Entry point of `python -m backend worker`: protect stdout, set up logging on stderr, serve stdin."""
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="adamesh-worker %(levelname)s %(name)s: %(message)s"
    )
    return Worker(protocol_out, handlers).serve(sys.stdin.buffer)
