"""The worker as an operating-system process: start it, send lines, read its events on a thread, end it.

Two reader threads turn its stdout into a queue of events (ending with `ProcessEnded`) and keep the last lines of
its stderr (its log) for error messages; nothing else touches the pipes, so whoever owns the process reads the
queue at its own pace: a modal operator's timer, or a blocking wait in --background.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import WorkerDied, WorkerStartError
from .protocol import Event, parse_event

logger = logging.getLogger("adamesh.worker")

STDERR_LINES_KEPT = 40
_NOISE_LINES_KEPT = 3
# Variables of the parent's Python that must not leak into the worker's (another Python's home or modules).
_PARENT_PYTHON_VARIABLES = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "__PYVENV_LAUNCHER__")


@dataclass(frozen=True)
class ProcessEnded:
    """The worker's stdout closed: the process has exited with `returncode`."""

    returncode: int


def worker_environment(backend_root: Path) -> dict[str, str]:
    """The parent's environment, minus its Python settings, with only the backend on the module path."""
    env = {key: value for key, value in os.environ.items() if key not in _PARENT_PYTHON_VARIABLES}
    env.update(PYTHONPATH=str(backend_root), PYTHONIOENCODING="utf-8", PYTHONUNBUFFERED="1")
    return env


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


class WorkerProcess:
    """`PYTHON -m backend worker` with `backend_root` on PYTHONPATH; its events arrive on `events`."""

    def __init__(self, python: str | os.PathLike, backend_root: Path) -> None:
        self.python = str(python)
        self.backend_root = backend_root
        self.events: queue.Queue[Event | ProcessEnded] = queue.Queue()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_KEPT)
        self._process: subprocess.Popen | None = None
        self._write_lock = threading.Lock()
        self._stderr_reader: threading.Thread | None = None
        self.stdout_noise: list[str] = []  # the first lines on stdout that were not protocol events

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        if not self.python.strip():
            raise WorkerStartError(
                "no backend Python is set: press Install backend in Preferences > Add-ons > AdaMesh, "
                "or set Backend Python to a Python that has the backend's packages"
            )
        executable = shutil.which(self.python)  # a path, or a command name on PATH
        if executable is None:
            raise WorkerStartError(
                f"the backend Python '{self.python}' does not exist or is not executable: press Install backend "
                "in Preferences > Add-ons > AdaMesh, or set Backend Python to a python executable"
            )
        options = {}
        if sys.platform == "win32":
            options["creationflags"] = subprocess.CREATE_NO_WINDOW
        else:
            options["start_new_session"] = True  # Ctrl+C in Blender's terminal is not meant for the worker
        try:
            self._process = subprocess.Popen(
                [executable, "-m", "backend", "worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=self.backend_root,
                env=worker_environment(self.backend_root),
                **options,
            )
        except OSError as error:
            raise WorkerStartError(
                f"cannot run the backend Python '{self.python}': {error.strerror or error}; choose a python "
                "executable in Preferences > Add-ons > AdaMesh (or press Install backend there)"
            ) from error
        self._stderr_reader = threading.Thread(target=self._read_stderr, name="adamesh-worker-log", daemon=True)
        self._stderr_reader.start()
        threading.Thread(target=self._read_stdout, name="adamesh-worker-events", daemon=True).start()

    def send(self, line: bytes) -> None:
        """Write one request line; WorkerDied if the worker no longer reads."""
        with self._write_lock:
            try:
                self._process.stdin.write(line)
                self._process.stdin.flush()
            except (BrokenPipeError, ValueError, OSError) as error:
                raise WorkerDied(f"the AdaMesh backend is no longer running ({error}). {self.log_excerpt()}") from error

    def close_input(self) -> None:
        with self._write_lock:
            try:
                self._process.stdin.close()
            except OSError:
                pass  # already gone: closing is all we wanted

    def poll(self) -> int | None:
        return self._process.poll() if self._process else None

    def wait(self, timeout: float) -> int | None:
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """End the worker and whatever it started (a wrapper script's python, say): on POSIX it leads its own
        session, so its whole process group goes."""
        if self._process is not None and self._process.poll() is None:
            if sys.platform == "win32":
                self._process.kill()
            else:
                try:
                    os.killpg(self._process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # it has just exited by itself
            self._process.wait()

    def log_excerpt(self, lines: int = 8) -> str:
        """The end of the worker's log, for error messages."""
        tail = list(self._stderr_tail)[-lines:]
        return "Its log ends with:\n" + "\n".join(tail) if tail else "It logged nothing."

    def _read_stdout(self) -> None:
        for line in self._process.stdout:
            try:
                self.events.put(parse_event(line))
            except ValueError:  # not an event: keep it for the log so the bug can be found
                text = line.decode("utf-8", errors="replace").rstrip()
                logger.warning("worker printed a non-protocol line on stdout: %s", text)
                self._stderr_tail.append(f"(stdout) {text}")
                if len(self.stdout_noise) < _NOISE_LINES_KEPT:
                    self.stdout_noise.append(text[:200])
        returncode = self._process.wait()
        self._stderr_reader.join(timeout=2.0)  # the log's last lines explain the exit
        self.events.put(ProcessEnded(returncode))

    def _read_stderr(self) -> None:
        for raw in self._process.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip()
            self._stderr_tail.append(line)
            logger.debug("%s", line)
