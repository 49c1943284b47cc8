"""A real worker subprocess (the repository's backend, the test venv's Python) and real sound files."""

from __future__ import annotations

import io
import math
import sys
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from adamesh_blender import bundle
from adamesh_blender.client import WorkerClient

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
