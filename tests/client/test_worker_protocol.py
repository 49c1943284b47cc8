"""The worker process itself, spoken to line by line over real pipes: what it writes on stdout and when it exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

from adamesh_blender.client import protocol as client_protocol
from backend.worker import protocol as backend_protocol

from .conftest import ROOT, write_wav

ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def run_worker(lines: list[bytes], answers: int, command: list[str] | None = None) -> tuple[list[dict], str, int]:
    """Feed `lines` to a fresh worker, read its events until `answers` final ones (result or error) arrived, close
    its stdin, and return (every stdout event, stderr, exit code)."""
    worker = subprocess.Popen(
        command or [sys.executable, "-m", "backend", "worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=ENV,
    )
    watchdog = threading.Timer(30, worker.kill)  # a bug must fail the test, not hang it
    watchdog.start()
    try:
        worker.stdin.write(b"".join(lines))
        worker.stdin.flush()
        events = [json.loads(worker.stdout.readline())]  # every stdout line is protocol JSON
        while sum(e["event"] in ("result", "error") for e in events) < answers:
            events.append(json.loads(worker.stdout.readline()))
        worker.stdin.close()
        events += [json.loads(line) for line in worker.stdout.read().splitlines()]
        return events, worker.stderr.read().decode(), worker.wait()
    finally:
        watchdog.cancel()
        worker.kill()
        worker.wait()


def request(request_id: str, request_type: str, **params) -> bytes:
    return (json.dumps({"id": request_id, "type": request_type, "params": params}) + "\n").encode()


def test_both_sides_speak_the_same_protocol_version():
    assert client_protocol.PROTOCOL_VERSION == backend_protocol.PROTOCOL_VERSION


def test_hello_first_then_one_final_event_per_request(tmp_path, manifest_version):
    wav = write_wav(tmp_path / "tone.wav", seconds=0.5, rate=8000, channels=1)
    events, _, returncode = run_worker([request("a", "ping"), request("b", "probe_audio", path=str(wav))], 2)
    assert returncode == 0  # stdin closed: a clean exit
    hello = events[0]
    assert hello["event"] == "hello" and hello["protocol"] == backend_protocol.PROTOCOL_VERSION
    assert hello["backend_version"] == manifest_version
    assert {"ping", "cancel", "shutdown", "probe_audio"} <= set(hello["requests"])
    finals = [(e["id"], e["event"]) for e in events if e["event"] in ("result", "error")]
    assert finals == [("a", "result"), ("b", "result")]  # and nothing after them
    assert [e["id"] for e in events if e["event"] == "progress"] == ["b"]
    assert events[-1]["result"]["duration"] == 0.5


def test_malformed_lines_get_an_error_and_the_worker_keeps_serving():
    lines = [
        b"this is not json\n",
        b"[1, 2]\n",
        b'{"type": "ping"}\n',
        b'{"id": "x", "type": "ping", "params": [1]}\n',
        b"\xff\xfe\n",
        request("after", "ping"),
    ]
    events, _, returncode = run_worker(lines, 6)
    errors = [e for e in events if e["event"] == "error"]
    assert [e["code"] for e in errors] == ["malformed_request"] * 5
    assert [e["id"] for e in errors] == [None, None, None, "x", None]  # the id, when one could be read
    assert "not JSON" in errors[0]["message"] and "'this is not json'" in errors[0]["message"]
    assert "needs an 'id'" in errors[2]["message"]
    assert events[-1] == {"event": "result", "id": "after", "result": events[-1]["result"]}
    assert returncode == 0


def test_unknown_request_types_and_bad_parameters_are_errors_not_exits():
    events, _, _ = run_worker(
        [request("g", "render_video"), request("p", "probe_audio"), request("c", "cancel"), request("ok", "ping")], 4
    )
    by_id = {e["id"]: e for e in events if e["event"] in ("result", "error")}
    assert by_id["g"]["code"] == "unknown_request" and "render_video" in by_id["g"]["message"]
    assert "probe_audio" in by_id["g"]["message"]  # says what it does serve
    assert by_id["p"]["code"] == "bad_request" and "'path'" in by_id["p"]["message"]
    assert by_id["c"]["code"] == "bad_request" and "'target'" in by_id["c"]["message"]
    assert by_id["ok"]["event"] == "result"


def test_shutdown_answers_last_and_exits(tmp_path):
    events, _, returncode = run_worker([request("s", "shutdown"), request("never", "ping")], 1)
    assert [e["event"] for e in events] == ["hello", "result"] and events[-1]["id"] == "s"
    assert returncode == 0


def test_stray_output_from_handlers_goes_to_stderr_not_the_protocol():
    command = [
        sys.executable,
        "-c",
        "import sys; from backend.worker.server import main; "
        "sys.exit(main({'noisy': 'tests.client.stray_output_handlers:handle_noisy'}))",
    ]
    events, stderr, returncode = run_worker([request("n", "noisy")], 1, command)
    assert events[-1] == {"event": "result", "id": "n", "result": {"printed": True}}
    assert "stray print from a library" in stderr and "stray write to file descriptor 1" in stderr
    assert returncode == 0


def test_closing_stdin_mid_job_stops_the_worker_promptly(hour_of_audio):
    worker = subprocess.Popen(
        [sys.executable, "-m", "backend", "worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=ENV,
    )
    try:
        assert json.loads(worker.stdout.readline())["event"] == "hello"
        worker.stdin.write(request("long", "probe_audio", path=str(hour_of_audio)))
        worker.stdin.flush()
        assert json.loads(worker.stdout.readline())["event"] == "progress"  # decoding has begun
        closed = time.monotonic()
        worker.stdin.close()
        assert worker.wait(timeout=10) == 0
        assert time.monotonic() - closed < 3.0  # decoding the hour would take ~6 s on this machine
    finally:
        worker.kill()
        worker.wait()


def test_the_worker_greets_without_loading_torch_or_numpy():
    """Cold start stays a fraction of a second: the CLI and the worker import no heavy library before a request."""
    command = [
        sys.executable,
        "-c",
        "import sys; import backend.cli.main, backend.worker.server; "
        "heavy = sorted({'torch', 'numpy', 'librosa', 'av'} & set(sys.modules)); "
        "sys.exit(f'imported at start: {heavy}') if heavy else sys.exit(backend.worker.server.main())",
    ]
    events, stderr, returncode = run_worker([request("p", "ping")], 1, command)
    assert returncode == 0, stderr
    assert [e["event"] for e in events] == ["hello", "result"]
