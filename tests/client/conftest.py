"""A real worker subprocess (the repository's backend, the test venv's Python) and real sound files; for the
reliability tests, a worker shared by a module with a temp folder of its own, and checks that a job left nothing
behind (no file in the output or temp folder, no child process)."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import wave
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile

from adamesh_blender import bundle
from adamesh_blender.client import AdaptRequest, GenerateRequest, WorkerClient
from backend.audio.decode import load_audio
from backend.clips import MotionClip, load_clip, save_clip
from backend.core.channels import CHANNELS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def start_worker():
    """Start WorkerClients on the real backend; every one is stopped after the test."""
    clients = []

    def start(python: str = sys.executable, backend_root: Path = ROOT, **timeouts) -> WorkerClient:
        client = WorkerClient(python, backend_root, **timeouts)
        clients.append(client)
        client.start()
        return client

    yield start
    for client in clients:
        client.stop()


@pytest.fixture
def worker(start_worker) -> WorkerClient:
    return start_worker()


def write_wav(path: Path, seconds: float, rate: int, channels: int) -> Path:
    """A 220 Hz tone as 16-bit PCM."""
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.3 * 32767 * np.sin(2 * math.pi * 220 * t)).astype(np.int16)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.repeat(tone, channels).tobytes())
    return path


def write_long_mp2(path: Path, minutes: float) -> Path:
    """An MPEG-1 Layer II file of `minutes` (decoding an hour takes ~6 s here): 10 s encoded once and repeated,
    which is a valid stream because Layer II frames are independent of each other."""
    rate, seconds = 44100, 10
    encoded = io.BytesIO()
    with av.open(encoded, "w", format="mp2") as container:
        stream = container.add_stream("mp2", rate=rate, layout="mono")
        stream.bit_rate = 64000
        t = np.arange(rate * seconds) / rate
        samples = (0.3 * 32767 * np.sin(2 * math.pi * 220 * t)).astype(np.int16)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    chunk = encoded.getvalue()
    with path.open("wb") as file:
        for _ in range(round(minutes * 60 / seconds)):
            file.write(chunk)
    return path


@pytest.fixture(scope="session")
def hour_of_audio(tmp_path_factory) -> Path:
    return write_long_mp2(tmp_path_factory.mktemp("long") / "hour.mp2", minutes=60)


@pytest.fixture
def manifest_version() -> str:
    import tomllib

    with (ROOT / bundle.MANIFEST_NAME).open("rb") as file:
        return tomllib.load(file)["version"]


@pytest.fixture(scope="module")
def worker_temp_dir(tmp_path_factory) -> Path:
    """The temp folder (TMPDIR) of module_worker: anything the worker or its children leave there is a leak."""
    return tmp_path_factory.mktemp("worker-tmp")


@pytest.fixture(scope="module")
def module_worker(worker_temp_dir):
    """One real worker for a whole test module (torch and the checkpoint load once), with TMPDIR = worker_temp_dir."""
    previous = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(worker_temp_dir)  # the client passes its environment on to the worker
    client = WorkerClient(sys.executable, ROOT)
    try:
        client.start()
    finally:
        if previous is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = previous
    yield client
    client.stop()


def progress_messages(worker: WorkerClient, job) -> list[str]:
    """Serve `job` to its end; the distinct progress messages it showed, in order."""
    messages = []
    while not job.finished:
        worker.pump(0.05)
        if job.message and job.message not in messages:
            messages.append(job.message)
    return messages


def generate_request(**fields) -> tuple[str, dict]:
    """A generate request as the add-on sends it (for the demo head's channels unless told otherwise)."""
    request = GenerateRequest(**{"rig_channels": CHANNELS, **fields})
    return request.request_type, request.params()


class CodeOnLoad:
    """Unpickling this creates `marker`: proof that a file's pickle was run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
    """`python -m backend ARGUMENTS` in a fresh process, as an artist or a script runs it."""
    return subprocess.run(
        [sys.executable, "-m", "backend", *arguments],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=300,
    )


def assert_one_line_error(run: subprocess.CompletedProcess, words: str) -> None:
    """A user's problem on the command line: exit code 2 and one line `error: ...` holding `words`, no traceback."""
    assert run.returncode == 2, run.stderr[-2000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and words in errors[0] and "Traceback" not in run.stderr, run.stderr[-2000:]


def adapt_request(**fields) -> tuple[str, dict]:
    """An adapt request as the add-on sends it (on the CPU, named "test style" unless told otherwise)."""
    request = AdaptRequest(**{"name": "test style", "device": "cpu", **fields})
    return request.request_type, request.params()


def child_processes(pid: int) -> list[str]:
    """'pid name: command line' of every live process whose parent is `pid` (Linux /proc), except multiprocessing's
    resource tracker: one per worker, started with its first recogniser pool, holding no work and ending with it."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            arguments = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # it ended while we looked
            continue
        command, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            if "multiprocessing.resource_tracker" not in arguments:
                children.append(f"{entry.name} {command}: {arguments[:200]}")
    return children


def assert_nothing_left(worker: WorkerClient, temp_dir: Path, folder: Path, expected: set[str]) -> None:
    """After a job: `folder` holds exactly `expected` (file names), temp_dir is empty, the worker has no children."""
    assert {p.name for p in folder.iterdir()} == expected
    assert list(temp_dir.iterdir()) == []
    assert child_processes(worker.pid) == []


@pytest.fixture(scope="module")
def reference(heldout_corpus, tmp_path_factory) -> tuple[Path, Path]:
    """One held-out speaker's utterances joined into a reference of at least 6 s: (audio, motion clip)."""
    index = json.loads((heldout_corpus / "index.json").read_text())
    speaker = index["utterances"][0]["speaker"]
    entries = [u for u in index["utterances"] if u["speaker"] == speaker]
    chosen, seconds = [], 0.0
    for entry in entries:
        chosen.append(entry)
        seconds += entry["duration"]
        if seconds >= 6.0:
            break
    clips = [load_clip(heldout_corpus / e["motion"]) for e in chosen]
    folder = tmp_path_factory.mktemp("reference")
    speech = np.concatenate([load_audio(heldout_corpus / e["audio"]) for e in chosen])
    soundfile.write(folder / "reference.wav", speech, 16000, subtype="PCM_16")
    save_clip(
        MotionClip(
            25.0,
            np.concatenate([c.expression for c in clips]),
            clips[0].expression_names,
            np.concatenate([c.jaw for c in clips]),
            np.concatenate([c.head for c in clips]),
        ),
        folder / "reference.npz",
    )
    return folder / "reference.wav", folder / "reference.npz"
