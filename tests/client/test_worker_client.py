"""The add-on's client against a real worker process: results, errors, cancellation, and every way a worker fails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from adamesh_blender import bundle
from adamesh_blender.client import (
    BackendError,
    JobCancelled,
    JobState,
    ProbeAudioRequest,
    WorkerDied,
    WorkerStartError,
    WorkerTimeout,
)
from backend.core.version import backend_version

from .conftest import write_wav


def probe(path) -> tuple[str, dict]:
    request = ProbeAudioRequest(str(path))
    return request.request_type, request.params()


def test_handshake_reports_the_version_of_the_one_manifest(worker, manifest_version):
    assert worker.info.backend_version == manifest_version == bundle.addon_version() == backend_version()
    assert worker.info.pid == worker.pid and worker.running
    assert "probe_audio" in worker.info.requests


def test_ping_answers_with_the_backend_state(worker, manifest_version):
    status = worker.request("ping")
    assert status["backend_version"] == manifest_version and status["jobs"] == []


def test_probe_audio_decodes_a_real_file(worker, tmp_path):
    wav = write_wav(tmp_path / "speech.wav", seconds=1.5, rate=22050, channels=2)
    job = worker.submit(*probe(wav))
    result = worker.wait(job, timeout=20)
    assert result["sample_rate"] == 22050 and result["channels"] == 2
    assert result["duration"] == pytest.approx(1.5, abs=1e-3) and result["truncation"] is None
    assert job.state is JobState.SUCCEEDED and job.fraction == 1.0


def test_an_unreadable_file_is_the_backends_audio_error_and_the_worker_keeps_serving(worker, tmp_path):
    fake = tmp_path / "notes.wav"
    fake.write_text("these are meeting notes, not sound")
    with pytest.raises(BackendError) as caught:
        worker.request(*probe(fake), timeout=20)
    assert caught.value.code == "bad_audio" and str(fake) in str(caught.value)
    assert caught.value.traceback is None  # a user's problem, not a bug
    with pytest.raises(BackendError) as unknown:
        worker.request("render_video", {})
    assert unknown.value.code == "unknown_request"
    assert worker.request("ping")["jobs"] == []


def test_cancel_stops_a_long_decode_within_a_second(worker, hour_of_audio, tmp_path):
    job = worker.submit(*probe(hour_of_audio))
    while not job.message:  # the worker's progress event: decoding has started
        worker.pump(0.1)
    time.sleep(0.3)
    cancelled_at = time.monotonic()
    job.cancel()
    with pytest.raises(JobCancelled):
        worker.wait(job, timeout=5)
    assert job.state is JobState.CANCELLED
    assert time.monotonic() - cancelled_at < 1.0
    # the job thread is free again at once: a short file is decoded right away, not after the hour
    short = write_wav(tmp_path / "short.wav", seconds=0.5, rate=16000, channels=1)
    started = time.monotonic()
    assert worker.request(*probe(short), timeout=5)["duration"] == pytest.approx(0.5)
    assert time.monotonic() - started < 1.0


def test_a_worker_killed_mid_job_fails_the_job_with_a_clear_message(worker, hour_of_audio):
    job = worker.submit(*probe(hour_of_audio))
    while not job.message:
        worker.pump(0.1)
    os.kill(worker.pid, signal.SIGKILL)
    with pytest.raises(WorkerDied, match=r"killed by signal SIGKILL while running probe_audio"):
        worker.wait(job, timeout=10)
    assert job.state is JobState.FAILED and not worker.running
    with pytest.raises(WorkerDied):
        worker.submit("ping")


def test_a_hung_worker_times_out_and_is_stopped(start_worker):
    client = start_worker(hang_timeout=1.5)
    os.kill(client.pid, signal.SIGSTOP)  # a real hang: the process no longer runs at all
    started = time.monotonic()
    with pytest.raises(WorkerTimeout, match="stopped answering"):
        client.request("ping")
    assert 1.5 <= time.monotonic() - started < 3.0
    assert not client.running  # killed, so it cannot wake up later and hold resources


def test_a_missing_python_is_named_with_what_to_do(start_worker, tmp_path):
    missing = tmp_path / "no-such-venv" / "bin" / "python"
    with pytest.raises(WorkerStartError, match="does not exist") as caught:
        start_worker(python=str(missing))
    assert str(missing) in str(caught.value) and "Install backend" in str(caught.value)


def test_a_python_without_the_backend_fails_to_start_with_its_reason(start_worker, tmp_path):
    with pytest.raises(WorkerStartError, match="exited with code 1 before it started") as caught:
        start_worker(backend_root=tmp_path)  # no backend package there
    assert "No module named backend" in str(caught.value) and "Install backend" in str(caught.value)


def test_a_python_without_the_backends_packages_says_which_is_missing(start_worker, tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    client = start_worker(python=str(bare / "bin" / "python"))  # the handshake needs only the standard library
    with pytest.raises(BackendError) as caught:
        client.request(*probe(tmp_path / "any.wav"), timeout=20)
    assert caught.value.code == "handler_unavailable" and "No module named" in str(caught.value)
