"""Faults around the worker, met from Blender: the real add-on in the bpy module, the real worker subprocess doing
real work (Generate on two minutes of sound, Adapt Style on the tiny checkpoint), and real external conditions
(a signal, a Python that prints junk, one without torch). Each ends in a message that says what to do, nothing
keyed, no process left behind that should not be, and no scratch file left in Blender's temporary folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import bpy
import pytest

from adamesh_blender import session
from adamesh_blender.client import JobCancelled, JobState
from adamesh_blender.operators.adapt import ADAMESH_OT_adapt
from adamesh_blender.operators.generate import ADAMESH_OT_generate
from adamesh_blender.rig_builders.demo_head import build_demo_head
from tests.client.conftest import write_wav

from .reliability import (
    ModalRun,
    add_earlier_animation,
    addon,  # noqa: F401  (a fixture)
    animation_state,
    operator_refusal,
    process_alive,
    processes_mentioning,
    scratch_files,
)
from .sound_strips import add_sound_strip

pytestmark = pytest.mark.slow  # the real worker on a trained checkpoint

WORKING = lambda job: job.message not in ("", "loading the model")  # noqa: E731  (past start-up: real work)


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory) -> Path:
    """Two minutes of sound: Generate works on it for tens of seconds, long enough to be interrupted."""
    return write_wav(tmp_path_factory.mktemp("long") / "long.wav", seconds=120, rate=16000, channels=1)


@pytest.fixture
def rigged(addon, tiny_checkpoint, long_speech):
    """The demo head with the artist's earlier Actions, selected, over a sound strip of the long sound."""
    addon.default_checkpoint = str(tiny_checkpoint)
    bpy.context.scene.render.fps = 24
    head = build_demo_head()
    add_earlier_animation(head)
    bpy.context.view_layer.objects.active = head
    add_sound_strip(bpy.context.scene, "long", str(long_speech), channel=1, frame_start=1)
    return head


def started_generate() -> ModalRun:
    run = ModalRun(ADAMESH_OT_generate)
    run.start()
    run.until(lambda: WORKING(run.job), timeout=60)
    return run


def test_a_worker_killed_mid_generate_is_reported_and_the_next_job_gets_a_new_one(rigged):
    before = animation_state()
    run = started_generate()
    pid = session.running_worker().pid
    os.kill(pid, signal.SIGKILL)
    assert run.finish(timeout=10) == {"CANCELLED"}
    (error,) = run.messages("ERROR")
    assert error.startswith(
        f"the AdaMesh backend stopped unexpectedly: pid {pid} was killed by signal SIGKILL "
        "while running generate. Try again (a new backend starts)."
    )
    assert animation_state() == before and scratch_files() == []
    assert session.running_worker() is None and session.active_job() is None
    bpy.ops.adamesh.check_backend()  # the next job starts a new worker
    assert session.running_worker().pid != pid and not process_alive(pid)


def test_a_hung_worker_times_out_with_a_message_and_is_killed(rigged, addon):
    addon.backend_timeout = 2  # the preference's smallest value; 30 s by default
    before = animation_state()
    run = started_generate()
    pid = session.running_worker().pid
    os.kill(pid, signal.SIGSTOP)  # a real hang: the process does not run at all
    assert run.finish(timeout=10) == {"CANCELLED"}
    (error,) = run.messages("ERROR")
    assert f"the AdaMesh backend (pid {pid}) stopped answering: nothing for 2." in error
    assert "raise the backend timeout in the preferences" in error
    assert not process_alive(pid)
    assert animation_state() == before and scratch_files() == []


def test_esc_cancels_generate_nothing_is_keyed_and_the_worker_serves_on(rigged):
    before = animation_state()
    run = started_generate()
    pid = session.running_worker().pid
    run.press_esc()
    assert run.finish(timeout=10) == {"CANCELLED"}
    assert run.messages("WARNING") == ["Generating animation: cancelled"] and run.messages("ERROR") == []
    assert animation_state() == before and scratch_files() == []
    worker = session.running_worker()
    assert worker.pid == pid and worker.request("ping", timeout=10)["jobs"] == []


def test_a_second_job_is_refused_while_one_runs(rigged):
    """Policy: one job at a time, no queue; both buttons say why they are disabled, and Cancel is offered."""
    settings = bpy.context.scene.adamesh
    settings.style_name, settings.reference_frame_start, settings.reference_frame_end = "second", 1, 150
    assert bpy.ops.adamesh.adapt.poll()  # ready, before the first job starts
    run = started_generate()
    busy = "AdaMesh is busy (Generating animation): wait, or press Cancel"
    assert busy in operator_refusal(lambda: bpy.ops.adamesh.generate())
    assert busy in operator_refusal(lambda: bpy.ops.adamesh.adapt())
    bpy.ops.adamesh.cancel_job()  # the Cancel button
    assert "Cancelling already" in operator_refusal(lambda: bpy.ops.adamesh.cancel_job())
    assert run.finish(timeout=10) == {"CANCELLED"}
    assert bpy.ops.adamesh.generate.poll()  # free again


def test_the_cancel_button_stops_adapt_and_no_style_is_written(rigged, addon):
    """Adapt Style from the rig's own animation (frames 1-150 over the long sound): the reference clip the
    operator writes for the worker goes with the job."""
    settings = bpy.context.scene.adamesh
    settings.style_name, settings.reference_source = "half learnt", "RIG"
    settings.reference_frame_start, settings.reference_frame_end = 1, 150
    library = Path(addon.style_library or bpy.utils.user_resource("DATAFILES", path="adamesh/styles"))
    styles_before = set(library.glob("*"))
    before = animation_state()
    run = ModalRun(ADAMESH_OT_adapt)
    run.start()
    assert [path.name.startswith("adamesh-reference-") for path in scratch_files()] == [True]
    run.until(lambda: "step" in run.job.message, timeout=60)  # training has begun
    bpy.ops.adamesh.cancel_job()
    assert run.finish(timeout=10) == {"CANCELLED"}
    assert run.messages("WARNING") == ["Adapting style: cancelled"]
    assert set(library.glob("*")) == styles_before and scratch_files() == []
    assert animation_state() == before
    assert session.running_worker().request("ping", timeout=10)["jobs"] == []


def test_a_result_that_arrives_after_another_file_was_opened_is_not_keyed_into_it(
    addon, tiny_checkpoint, heldout_speech
):
    """The worker finishes just as the artist opens another file: its answer is still on the way when the load
    handler cancels the job. The new file has a head of the same name; nothing is keyed into it."""
    addon.default_checkpoint = str(tiny_checkpoint)
    bpy.context.view_layer.objects.active = build_demo_head()
    add_sound_strip(bpy.context.scene, "speech", str(heldout_speech[0]), channel=1, frame_start=1)
    run = ModalRun(ADAMESH_OT_generate)
    run.start()
    pid = session.running_worker().pid
    clip = run.operator._clip
    deadline = time.monotonic() + 60
    while not clip.exists():  # the worker writes the clip, then sends its result: not read yet
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.3)
    bpy.ops.wm.read_homefile(use_empty=True)
    head = build_demo_head()
    bpy.context.view_layer.objects.active = head
    assert run.job.cancel_requested and session.active_job() is None
    assert run.finish(timeout=10) == {"CANCELLED"}
    assert run.job.state is JobState.SUCCEEDED  # the answer was a result, and it was dropped
    assert run.messages("WARNING") == [
        "Generating animation: stopped because another file was opened while it ran; nothing was written "
        "(open the file again and start it there)"
    ]
    assert head.data.shape_keys.animation_data is None and len(bpy.data.actions) == 0
    assert scratch_files() == []
    worker = session.running_worker()  # the worker is kept, and free
    assert worker.pid == pid and worker.request("ping", timeout=10)["jobs"] == []


def test_a_modal_job_dropped_by_blender_on_file_load_cleans_up(rigged):
    run = started_generate()
    pid = session.running_worker().pid
    bpy.ops.wm.read_homefile(use_empty=True)
    run.dropped()  # what Blender does to a running modal operator when it loads a file
    assert session.active_job() is None and scratch_files() == []
    worker = session.running_worker()
    with pytest.raises(JobCancelled):
        worker.wait(run.job, timeout=10)  # the worker stops the job it was asked to cancel
    assert worker.pid == pid and worker.request("ping", timeout=10)["jobs"] == []


def test_factory_settings_mid_job_stop_the_worker_with_the_addon(rigged):
    """read_factory_settings resets the preferences, which disables the add-on: its worker and job go with it."""
    run = started_generate()
    pid = session.running_worker().pid
    bpy.ops.wm.read_factory_settings(use_empty=True)
    assert not hasattr(bpy.types.Scene, "adamesh")  # the add-on is disabled
    assert not process_alive(pid) and session.current_worker() is None
    assert run.job.finished and scratch_files() == []


def test_saving_mid_job_keeps_the_job_and_keys_the_same_file(addon, tiny_checkpoint, heldout_speech, tmp_path):
    addon.default_checkpoint = str(tiny_checkpoint)
    head = build_demo_head()
    bpy.context.view_layer.objects.active = head
    add_sound_strip(bpy.context.scene, "speech", str(heldout_speech[0]), channel=1, frame_start=1)
    run = ModalRun(ADAMESH_OT_generate)
    run.start()
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "saved.blend"))
    assert run.finish(timeout=60) == {"FINISHED"}, run.reports
    assert head.data.shape_keys.animation_data.action.name == "AdaMesh speech (shape keys)"
    for clip in scratch_files():  # the finished clip stays for the artist (docs/blender.md)
        clip.unlink()


def _wrapper(folder: Path, body: str) -> Path:
    """An executable that Backend Python can point at: a shell script standing in front of a real program."""
    script = folder / "python-wrapper"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


def test_junk_instead_of_a_handshake_is_quoted_and_the_process_ended(rigged, addon, tmp_path):
    addon.backend_start_timeout = 2
    # the wrapper starts a program that never says hello, and does not exec it: both must be ended
    waits = f'{sys.executable} -c "import time; time.sleep(60)" {tmp_path}'
    addon.backend_python = str(_wrapper(tmp_path, f"echo 'Welcome to the lab machine!'\n{waits}"))
    before = animation_state()
    refusal = operator_refusal(lambda: bpy.ops.adamesh.generate())
    assert "did not start within 2 s: instead of the AdaMesh handshake it printed " in refusal
    assert "'Welcome to the lab machine!'" in refusal and "set Backend Python to the backend's environment" in refusal
    assert processes_mentioning(str(tmp_path)) == [] and session.current_worker() is None
    assert animation_state() == before and scratch_files() == []


def test_junk_before_the_handshake_is_logged_and_the_worker_serves(addon, tmp_path):
    addon.backend_python = str(_wrapper(tmp_path, f"echo 'sitecustomize: hello'\nexec {sys.executable} \"$@\""))
    bpy.ops.adamesh.check_backend()
    worker = session.running_worker()
    assert worker._process.stdout_noise == ["sitecustomize: hello"]
    assert worker.request("ping", timeout=10)["jobs"] == []


def test_a_python_without_torch_says_install_backend(rigged, addon, tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    addon.backend_python = str(bare / "bin" / "python")
    before = animation_state()
    refusal = operator_refusal(lambda: bpy.ops.adamesh.generate())
    assert "No module named" in refusal and "press Install Backend in Preferences > Add-ons > AdaMesh" in refusal
    assert animation_state() == before and scratch_files() == []
    assert session.running_worker().request("ping", timeout=10)["jobs"] == []  # it serves what it can
