"""Reliability, faults at the worker: out of memory, cancelling Adapt Style and Generate Animation in the middle, two
jobs at once, and garbage on the worker's input. The worker is always real; the memory limit is a real rlimit put on
its process (Linux prlimit), so allocations fail as they would on a full machine."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from adamesh_blender.client import BackendError, JobCancelled, JobState
from backend.clips import load_clip

from .conftest import adapt_request, assert_nothing_left, child_processes, generate_request
from .test_worker_protocol import request, run_worker

pytestmark = pytest.mark.slow  # the real worker under faults


@pytest.fixture(scope="module")
def long_speech(heldout_corpus, tmp_path_factory) -> Path:
    """Every held-out utterance twice over in one file (~50 s): long enough for recognition in two processes."""
    waves = [soundfile.read(path, dtype="float32")[0] for path in sorted((heldout_corpus / "audio").iterdir())]
    path = tmp_path_factory.mktemp("long") / "long speech.wav"
    soundfile.write(path, np.tile(np.concatenate(waves), 2), 16000, subtype="PCM_16")
    assert soundfile.info(path).duration > 35  # recognise_phones splits audio over 30 s across processes
    return path


def _virtual_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1])
    raise KeyError("VmSize")


def test_out_of_memory_is_reported_and_the_worker_serves_on(
    start_worker, tiny_checkpoint, heldout_speech, tmp_path, worker_temp_dir
):
    worker = start_worker()
    audio, _ = heldout_speech
    warm = tmp_path / "warm.npz"  # torch, librosa, pocketsphinx and the model loaded: what every job needs
    worker.request(
        *generate_request(audio=str(audio), out=str(warm), fps=25.0, checkpoint=str(tiny_checkpoint)), timeout=120
    )
    ten_minutes = tmp_path / "ten minutes.wav"
    soundfile.write(
        ten_minutes, np.tile(soundfile.read(audio, dtype="float32")[0], 300)[: 600 * 16000], 16000, subtype="PCM_16"
    )
    # 16 MB of address space to spare: less than the ten minutes' samples at 16 kHz (38 MB), more than a sentence needs
    limit = (_virtual_kb(worker.pid) + 16 * 1024) * 1024
    resource.prlimit(worker.pid, resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    out = tmp_path / "long.npz"
    with pytest.raises(BackendError) as caught:
        worker.request(
            *generate_request(audio=str(ten_minutes), out=str(out), fps=25.0, checkpoint=str(tiny_checkpoint)),
            timeout=120,
        )
    assert caught.value.code == "out_of_memory" and caught.value.traceback is None
    assert str(caught.value).startswith("generate ran out of memory (")
    assert "split long audio into shorter files" in str(caught.value) and "the backend is still running" in str(
        caught.value
    )
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
    assert worker.running and worker.request("ping")["jobs"] == []
    # Memory back (the artist closed something): the same process generates again. Under the limit it could not:
    # pocketsphinx, a C library, exits the process when its own allocation fails (the client then reports the
    # backend stopped, with the log's "ran out of memory" line), so the limit is lifted first.
    resource.prlimit(worker.pid, resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    worker.request(
        *generate_request(audio=str(audio), out=str(out), fps=25.0, checkpoint=str(tiny_checkpoint)), timeout=120
    )
    assert load_clip(out).n_frames > 0


def test_cancel_during_recognition_in_two_processes_stops_them(
    module_worker, worker_temp_dir, tiny_checkpoint, long_speech, tmp_path
):
    out = tmp_path / "long.npz"
    job = module_worker.submit(
        *generate_request(audio=str(long_speech), out=str(out), fps=25.0, checkpoint=str(tiny_checkpoint))
    )
    while job.message != "recognising phones":
        module_worker.pump(0.05)
    deadline = time.monotonic() + 20
    while not child_processes(module_worker.pid) and time.monotonic() < deadline:  # the recognisers have started
        time.sleep(0.05)
    assert child_processes(module_worker.pid)
    cancelled_at = time.monotonic()
    job.cancel()
    with pytest.raises(JobCancelled):
        module_worker.wait(job, timeout=30)
    assert time.monotonic() - cancelled_at < 2.0 and job.state is JobState.CANCELLED
    assert_nothing_left(module_worker, worker_temp_dir, tmp_path, set())  # no clip, no temp file, no recogniser


def test_cancel_while_adapt_reads_the_reference_leaves_nothing(
    module_worker, worker_temp_dir, tiny_checkpoint, reference, tmp_path
):
    """Cancelling in training is test_worker_adapt.py's; here it comes while the phones are being recognised."""
    audio, motion = reference
    out = tmp_path / "style.safetensors"
    job = module_worker.submit(
        *adapt_request(audio=str(audio), motion=str(motion), out=str(out), checkpoint=str(tiny_checkpoint), steps=5000)
    )
    while not job.message.startswith("reading the reference"):
        module_worker.pump(0.02)
    job.cancel()
    with pytest.raises(JobCancelled):
        module_worker.wait(job, timeout=5)
    assert not job.message.startswith("step ")  # stopped before training
    assert_nothing_left(module_worker, worker_temp_dir, tmp_path, set())


def test_a_second_job_waits_for_the_first_and_says_so(module_worker, tiny_checkpoint, heldout_speech, tmp_path):
    audio, _ = heldout_speech
    jobs = [
        module_worker.submit(
            *generate_request(
                audio=str(audio), out=str(tmp_path / f"{name}.npz"), fps=25.0, checkpoint=str(tiny_checkpoint)
            )
        )
        for name in ("first", "second", "third")
    ]
    first, second, third = jobs
    deadline = time.monotonic() + 20  # the waiting notices come at once; a loaded machine may delay them
    while not (second.message and third.message) and time.monotonic() < deadline:
        module_worker.pump(0.05)
    assert second.message == f"waiting for 1 earlier job to finish (generate {first.id} first)"
    assert third.message == f"waiting for 2 earlier jobs to finish (generate {first.id} first)"
    assert module_worker.request("ping")["jobs"] == [first.id, second.id, third.id]
    third.cancel()  # a queued job is dropped at once, without waiting for its turn
    with pytest.raises(JobCancelled, match="cancelled before it started"):
        module_worker.wait(third, timeout=2)
    finished = []
    while len(finished) < 2:
        module_worker.pump(0.05)
        finished += [job for job in (first, second) if job.finished and job not in finished]
    assert finished == [first, second] and all(job.state is JobState.SUCCEEDED for job in finished)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.npz", "second.npz"]


GARBAGE = [
    b"[" * 200_000 + b"\n",  # nested past Python's recursion limit
    b"\x00" * 1000 + b"\n",
    b"x" * 2_000_000 + b"\n",  # 2 MB of one line
    b'{"id": 7, "type": "ping"}\n',
    b'{"id": "n", "type": "generate", "params": null}\n',
    b'{"id": "s", "type": "probe_audio", "params": {"path": ["a.wav"]}}\n',
]


def test_garbage_lines_get_errors_and_the_worker_serves_on():
    events, stderr, returncode = run_worker([*GARBAGE, request("after", "ping")], len(GARBAGE) + 1)
    errors = [e for e in events if e["event"] == "error"]  # and every stdout line was protocol JSON
    assert [e["code"] for e in errors] == ["malformed_request"] * 5 + ["bad_request"], stderr[-2000:]
    assert "nests too deeply" in errors[0]["message"] and len(errors[2]["message"]) < 300
    assert "needs an 'id'" in errors[3]["message"] and "'params' must be an object" in errors[4]["message"]
    assert "probe_audio needs 'path' (str), got ['a.wav']" in errors[5]["message"]
    assert [e["event"] for e in events if e.get("id") == "after"] == ["result"] and returncode == 0
