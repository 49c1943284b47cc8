"""Install the backend's environment: a virtual environment and its pinned packages, in the background; or an
optional extra (the video face tracker) into an environment that exists.

Each step is a subprocess whose output a thread reads into a queue: `BASE -m venv DIR`, then
`DIR/python -m pip install -r requirements` (an extra: only `PYTHON -m pip install --no-deps -r extra`, because
its pins are exactly what it needs at run time and its declared dependencies would pull in far more).
`poll()` (from a modal timer) or `wait()` (from --background) turns the output into a progress fraction and the
line pip is on. Cancel ends the running step.
"""

from __future__ import annotations

import collections
import importlib.metadata
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from .errors import InstallError, JobCancelled
from .jobs import JobState

PIP_OPTIONS = ("--disable-pip-version-check", "--progress-bar", "off")
_OUTPUT_LINES_KEPT = 15
# Share of the bar per stage. pip names each distribution it collects (dependencies included, which the
# requirements file does not list), so collection is counted against an estimate of DEPENDENCIES_PER_PIN each.
_VENV_DONE, _COLLECTED, _INSTALLING = 0.05, 0.8, 0.85
DEPENDENCIES_PER_PIN = 3


def venv_python(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def has_requirements(requirements: Path) -> bool:
    """Whether this interpreter has every distribution the requirements file pins (so it can run the backend)."""
    for line in requirements.read_text().splitlines():
        name = re.split(r"[=<>!~;\[ @]", line.strip(), maxsplit=1)[0]
        if not name or name.startswith(("#", "-")):
            continue
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            return False
    return True


def pinned_requirements(requirements: Path) -> int:
    lines = requirements.read_text().splitlines()
    return sum(1 for line in lines if line.strip() and not line.lstrip().startswith(("#", "-")))


class BackendInstall:
    """Create `venv_dir` with `base_python` and pip-install `requirements` into it."""

    def __init__(
        self, base_python: str, venv_dir: Path, requirements: Path, pip_options: Sequence[str] = PIP_OPTIONS
    ) -> None:
        self.venv_dir = Path(venv_dir)
        self.python = venv_python(self.venv_dir)
        self._steps = [
            ("Creating the environment", [base_python, "-m", "venv", str(self.venv_dir)]),
            ("Installing packages", [str(self.python), "-m", "pip", "install", *pip_options, "-r", str(requirements)]),
        ]
        self._start_state(requirements, "Install Backend")

    @classmethod
    def extra(cls, python: str, requirements: Path, pip_options: Sequence[str] = PIP_OPTIONS) -> BackendInstall:
        """Install an optional extra's pinned `requirements` (without their declared dependencies) into the
        environment whose interpreter is `python`."""
        install = cls.__new__(cls)
        install.python = Path(python)
        install.venv_dir = install.python.parent.parent
        command = [python, "-m", "pip", "install", *pip_options, "--no-deps", "-r", str(requirements)]
        install._steps = [("Installing packages", command)]
        install._start_state(requirements, "Install Video Tracker")
        return install

    def _start_state(self, requirements: Path, button: str) -> None:
        self._button = button  # what the artist presses to try again
        self._expected = max(pinned_requirements(requirements) * DEPENDENCIES_PER_PIN, 1)
        self._collected = 0
        self._output: queue.Queue[tuple[str, object]] = queue.Queue()
        self._tail: collections.deque[str] = collections.deque(maxlen=_OUTPUT_LINES_KEPT)
        self._cancel = threading.Event()
        self._process: subprocess.Popen | None = None
        self._process_lock = threading.Lock()
        self.state = JobState.ACTIVE
        self.fraction = 0.0
        self._step = self.message = self._steps[0][0]
        self.error: Exception | None = None

    @property
    def finished(self) -> bool:
        return self.state is not JobState.ACTIVE

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def output_tail(self) -> list[str]:
        """The last lines the install printed."""
        return list(self._tail)

    def start(self) -> None:
        threading.Thread(target=self._run_steps, name="adamesh-install", daemon=True).start()

    def cancel(self) -> None:
        self._cancel.set()
        with self._process_lock:
            if self._process is not None and self._process.poll() is None:
                self._process.terminate()

    def poll(self, timeout: float = 0.0) -> None:
        """Apply the output that has arrived, waiting up to `timeout` s for the first line."""
        block = timeout > 0
        while not self.finished:
            try:
                kind, value = self._output.get(block=block, timeout=timeout if block else None)
            except queue.Empty:
                return
            block = False
            if kind == "line":
                self._read_line(value)
            elif kind == "step":
                self._step = self.message = value
            else:
                self._finish(value)

    def wait(self) -> None:
        """Poll until the install ends; raise its error (InstallError, or JobCancelled)."""
        while not self.finished:
            self.poll(0.25)
        if self.error is not None:
            raise self.error

    def _run_steps(self) -> None:
        for title, command in self._steps:
            self._output.put(("step", title))
            try:
                with self._process_lock:
                    if self._cancel.is_set():
                        break
                    self._process = subprocess.Popen(
                        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                    )
            except OSError as error:
                self._output.put(("end", InstallError(f"{title} failed: cannot run {command[0]} ({error})")))
                return
            for raw in self._process.stdout:
                self._output.put(("line", raw.decode("utf-8", errors="replace").rstrip()))
            returncode = self._process.wait()
            if self._cancel.is_set():
                break
            if returncode != 0:
                self._output.put(("end", returncode))
                return
            if command[1:3] == ["-m", "venv"]:
                self._output.put(("line", f"created {self.venv_dir}"))
        self._output.put(("end", None))

    def _read_line(self, line: str) -> None:
        if not line.strip():
            return
        self._tail.append(line)
        text = line.strip()
        if text.startswith("created "):
            self.fraction = _VENV_DONE
        elif text.startswith("Collecting "):
            self._collected += 1
            self.fraction = _VENV_DONE + (_COLLECTED - _VENV_DONE) * min(self._collected / self._expected, 1.0)
        elif text.startswith("Installing collected packages"):
            self.fraction = _INSTALLING
            text = "Installing collected packages (torch takes a while)"
        self.message = text[:120]

    def _finish(self, outcome: object) -> None:
        if self._cancel.is_set():
            self.state, self.error = JobState.CANCELLED, JobCancelled("the backend install was cancelled")
        elif outcome is None:
            self.state, self.fraction, self.message = JobState.SUCCEEDED, 1.0, f"Installed in {self.venv_dir}"
        elif isinstance(outcome, Exception):
            self.state, self.error = JobState.FAILED, outcome
        else:
            output = "\n".join(self._tail)
            self.state = JobState.FAILED
            self.error = InstallError(
                f"{self._step} failed (exit code {outcome}). Check the network and the disk "
                f"space, then press {self._button} again. The output ends with:\n{output}"
            )
