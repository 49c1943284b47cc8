"""What the reliability tests share: the add-on enabled in this process, the artist's earlier animation and a
snapshot of every key to compare before and after, and a stand-in for the window manager that drives a job
operator's modal path (the bpy module has no window to run a modal operator in, docs/architecture.md section 2)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from types import SimpleNamespace

import addon_utils
import bpy
import numpy as np
import pytest

from adamesh_blender import preferences
from adamesh_blender.operators.job_operator import JobOperator

from .fcurves import action_fcurves

ADDON = "adamesh_blender"
TIMER = SimpleNamespace(type="TIMER", value="NOTHING")
ESC = SimpleNamespace(type="ESC", value="PRESS")


@pytest.fixture
def addon(empty_scene):
    """The add-on enabled from this checkout, its backend the test venv's Python; disabled (worker stopped) after."""
    addon_utils.enable(ADDON, default_set=True)
    prefs = preferences.addon_preferences(bpy.context)
    prefs.backend_python = sys.executable
    yield prefs
    addon_utils.disable(ADDON, default_set=True)


def operator_refusal(call) -> str | None:
    """Run an operator; the message it refuses with (a poll message or an error report), or None."""
    try:
        call()
    except RuntimeError as error:
        return str(error)
    return None


def add_earlier_animation(head) -> None:
    """The artist's own Actions: one on the head's shape keys, one on its armature's jaw bone."""
    key = head.data.shape_keys
    for frame, value in ((1, 0.0), (100, 1.0)):
        key.key_blocks["mouthClose"].value = value
        key.key_blocks["mouthClose"].keyframe_insert("value", frame=frame)
    key.animation_data.action.name = "Earlier talk"
    jaw = head.parent.pose.bones["jaw"]  # the demo head's bones turn in quaternions
    for frame, angle in ((1, 0.0), (60, 0.3)):
        jaw.rotation_quaternion = (np.cos(angle / 2), np.sin(angle / 2), 0.0, 0.0)
        jaw.keyframe_insert("rotation_quaternion", frame=frame)
    head.parent.animation_data.action.name = "Earlier pose"


def animation_state() -> dict:
    """Every Action's keys and flags, and which Action each animated ID plays: equal before and after means
    nothing was keyed, replaced or dropped."""
    actions = {
        action.name: (
            action.use_fake_user,
            sorted(
                (fcurve.data_path, fcurve.array_index, tuple(point.co[:] for point in fcurve.keyframe_points))
                for fcurve in action_fcurves(action)
            ),
        )
        for action in bpy.data.actions
    }
    ids = [*bpy.data.objects, *bpy.data.shape_keys]
    playing = {
        id_block.name: id_block.animation_data.action.name
        for id_block in ids
        if id_block.animation_data and id_block.animation_data.action
    }
    return {"actions": actions, "playing": playing}


def scratch_files() -> list[Path]:
    """The add-on's files in Blender's temporary folder (clips, references) and the worker's half-written ones."""
    folder = Path(bpy.app.tempdir)
    return sorted([*folder.glob("adamesh-*"), *folder.glob(".adamesh-*")])


def process_alive(pid: int) -> bool:
    """Running (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def processes_mentioning(text: str, settle: float = 2.0) -> list[int]:
    """Live processes whose command line contains `text` (a unique temporary path), after waiting up to `settle`
    s for killed ones to go (a signal is delivered, and an orphan reaped, a moment after it is sent)."""
    deadline = time.monotonic() + settle
    while (pids := _processes_mentioning(text)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pids


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes() and process_alive(int(cmdline.parent.name)):
                pids.append(int(cmdline.parent.name))
        except OSError:
            continue  # it ended while we looked
    return pids


class ModalRun:
    """An operator's own code, run the way Blender's window manager runs it in the UI: started (what invoke does
    when there is a window), then fed TIMER events every 0.1 s, ESC, or dropped (cancel) as Blender does on a file
    load. Its reports are collected in `reports` as (type, message)."""

    def __init__(self, operator_class: type) -> None:
        code = {name: value for name, value in vars(operator_class).items() if callable(value) or name == "job_label"}
        code.pop("poll", None)
        self.operator = type(f"Modal{operator_class.__name__}", (JobOperator,), code)()
        self.operator.report = lambda kinds, message: self.reports.append((next(iter(kinds)), message))
        self.reports: list[tuple[str, str]] = []
        self.outcome: set[str] | None = None

    def start(self):
        self.operator._job = self.operator._begin(bpy.context)
        return self.operator._job

    @property
    def job(self):
        return self.operator._job

    def tick(self) -> set[str]:
        """One timer event; the operator's answer (PASS_THROUGH while the job runs)."""
        answer = self.operator.modal(bpy.context, TIMER)
        if answer != {"PASS_THROUGH"}:
            self.outcome = answer
        return answer

    def press_esc(self) -> None:
        assert self.operator.modal(bpy.context, ESC) == {"RUNNING_MODAL"}

    def until(self, condition, timeout: float) -> None:
        """Tick until `condition()` holds (the job's progress, say); fail after `timeout` s."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.outcome is None, f"the job ended first: {self.reports}"
            assert time.monotonic() < deadline, f"timed out; job message {self.job.message!r}"
            self.tick()
            time.sleep(0.1)

    def finish(self, timeout: float) -> set[str]:
        self.until(lambda: self.outcome is not None, timeout)
        return self.outcome

    def dropped(self) -> None:
        """What Blender does to a running modal operator when it loads a file: calls its cancel()."""
        self.operator.cancel(bpy.context)

    def messages(self, kind: str) -> list[str]:
        return [message for report_kind, message in self.reports if report_kind == kind]
