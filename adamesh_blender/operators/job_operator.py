"""The shape every AdaMesh job operator shares, and the Cancel button.

In the UI the operator is modal: a 0.1 s timer pumps the job's events, the progress bar follows, ESC or Cancel
stops the job, and every other event passes through, so Blender stays usable. From scripts, --background and the
bpy module, where timers never fire (docs/architecture.md section 2), execute() drives the same job synchronously.
Problems the artist can fix (AddonError, the worker's error events included) become one report with the message.
Only one job runs at a time: a second is refused while one runs (its button is disabled, saying so); there is no queue.
A job whose file was closed (another file opened) writes nothing into the next file: its result is dropped.
Files a job made for itself (scratch_files) are deleted when it ends, however it ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import bpy

from .. import session
from ..client import Job, JobState
from ..client.installer import BackendInstall
from ..errors import AddonError

TIMER_SECONDS = 0.1
_REDRAWN_AREAS = {"VIEW_3D", "PREFERENCES", "SEQUENCE_EDITOR"}


class JobOperator:
    """Mixin for a bpy Operator: subclasses define job_label, start_job() and job_succeeded()."""

    job_label: ClassVar[str]
    writes_into_file: ClassVar[bool] = True  # its result goes into the open .blend: dropped if another is opened

    def start_job(self, context) -> Job | BackendInstall:
        raise NotImplementedError

    def job_succeeded(self, context, job: Job | BackendInstall) -> set[str]:
        raise NotImplementedError

    def scratch_files(self, job: Job | BackendInstall | None) -> tuple[Path, ...]:
        """Files start_job made that must not outlive the job (`job` None: it never started)."""
        return ()

    def execute(self, context) -> set[str]:
        try:
            job = self._begin(context)
        except AddonError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        try:
            while not job.finished:
                _pump(job, timeout=0.25)
            return self._conclude(context, job)
        finally:
            if not job.finished:  # interrupted (Ctrl+C in a script): the worker must not go on for nothing
                job.cancel()
            self._end(job)

    def invoke(self, context, event) -> set[str]:
        if bpy.app.background or context.window is None:  # no UI to keep alive, and timers would never fire
            return self.execute(context)
        try:
            self._job = self._begin(context)
        except AddonError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        window_manager = context.window_manager
        self._timer = window_manager.event_timer_add(TIMER_SECONDS, window=context.window)
        window_manager.modal_handler_add(self)
        _redraw(context)
        return {"RUNNING_MODAL"}

    def modal(self, context, event) -> set[str]:
        job = self._job
        if event.type == "ESC" and event.value == "PRESS":
            job.cancel()
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        _pump(job, timeout=0.0)
        session.update_status(context, job)
        _redraw(context)
        if not job.finished:
            return {"PASS_THROUGH"}
        self._stop_timer(context)
        try:
            return self._conclude(context, job)
        finally:
            self._end(job)

    def cancel(self, context) -> None:
        """Blender drops the operator (a file is loaded, or Blender quits): stop the job with it."""
        self._job.cancel()
        self._stop_timer(context)
        self._end(self._job)

    def _begin(self, context) -> Job | BackendInstall:
        reason = session.busy_reason(context)
        if reason:
            raise AddonError(reason)
        self._file_loads = session.file_loads()
        try:
            job = self.start_job(context)
        except BaseException:
            _remove(self.scratch_files(None))
            raise
        session.begin(context, job, self.job_label)
        return job

    def _end(self, job: Job | BackendInstall) -> None:
        session.end(job)
        _remove(self.scratch_files(job))

    def _stop_timer(self, context) -> None:
        if getattr(self, "_timer", None) is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None

    def _conclude(self, context, job: Job | BackendInstall) -> set[str]:
        _redraw(context)
        if self.writes_into_file and session.file_loads() != self._file_loads:
            self.report(
                {"WARNING"},
                f"{self.job_label}: stopped because another file was opened while it ran; nothing was written "
                "(open the file again and start it there)",
            )
            return {"CANCELLED"}
        if job.state is JobState.SUCCEEDED:
            try:
                return self.job_succeeded(context, job)
            except AddonError as error:
                self.report({"ERROR"}, str(error))
                return {"CANCELLED"}
        if job.state is JobState.CANCELLED:
            self.report({"WARNING"}, f"{self.job_label}: cancelled")
        else:
            self.report({"ERROR"}, str(job.error))
        return {"CANCELLED"}


def _pump(job: Job | BackendInstall, timeout: float) -> None:
    if isinstance(job, BackendInstall):
        job.poll(timeout)
        return
    worker = session.current_worker()
    if worker is not None:  # None: the worker was stopped, and stopping it ended its jobs
        worker.pump(timeout)


def _remove(paths) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _redraw(context) -> None:
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type in _REDRAWN_AREAS:
                area.tag_redraw()


class ADAMESH_OT_cancel_job(bpy.types.Operator):
    bl_idname = "adamesh.cancel_job"
    bl_label = "Cancel"
    bl_description = "Stop the running AdaMesh job (ESC does the same)"

    @classmethod
    def poll(cls, context) -> bool:
        job = session.active_job()
        if job is None:
            cls.poll_message_set("No AdaMesh job is running")
        elif job.cancel_requested:
            cls.poll_message_set("Cancelling already")
        return job is not None and not job.cancel_requested

    def execute(self, context) -> set[str]:
        session.active_job().cancel()
        return {"FINISHED"}
