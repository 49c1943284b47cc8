"""The backend's lifecycle from the preferences: install its environment, check it answers, stop it."""

from __future__ import annotations

import bpy

from .. import bundle, preferences, session
from ..client.installer import BackendInstall
from ..errors import AddonError
from . import checks
from .job_operator import JobOperator


def install_disabled_reason(context) -> str | None:
    if not bpy.app.online_access:
        return "Online access is off: allow it in Preferences > System > Network to download the backend's packages"
    return session.busy_reason(context)


class ADAMESH_OT_install_backend(JobOperator, bpy.types.Operator):
    bl_idname = "adamesh.install_backend"
    bl_label = "Install Backend"
    bl_description = (
        "Create a Python environment beside your Blender configuration and download the backend's pinned "
        "packages into it (PyTorch: about a gigabyte)"
    )
    job_label = preferences.INSTALL_LABEL
    writes_into_file = False  # its result is a preference

    @classmethod
    def poll(cls, context) -> bool:
        return checks.allowed(cls, install_disabled_reason(context))

    def start_job(self, context) -> BackendInstall:
        install = BackendInstall(preferences.base_python(), preferences.default_venv(), bundle.backend_requirements())
        install.start()
        return install

    def job_succeeded(self, context, job: BackendInstall) -> set[str]:
        session.stop_worker()  # the next job starts a worker on the new environment
        prefs = preferences.addon_preferences(context)
        prefs.backend_python = str(job.python)
        self.report({"INFO"}, f"Backend installed: {job.python}")
        return {"FINISHED"}


def install_tracker_disabled_reason(context) -> str | None:
    if not preferences.backend_python(context):
        return "Install the backend first (Install Backend), then the video tracker into it"
    return install_disabled_reason(context)


class ADAMESH_OT_install_tracker(JobOperator, bpy.types.Operator):
    bl_idname = "adamesh.install_tracker"
    bl_label = "Install Video Tracker"
    bl_description = (
        "Download the video face tracker (MediaPipe, about 90 MB) into the backend's environment: "
        "Adapt Style from a video file needs it"
    )
    job_label = preferences.INSTALL_TRACKER_LABEL
    writes_into_file = False

    @classmethod
    def poll(cls, context) -> bool:
        return checks.allowed(cls, install_tracker_disabled_reason(context))

    def start_job(self, context) -> BackendInstall:
        install = BackendInstall.extra(preferences.backend_python(context), bundle.tracker_requirements())
        install.start()
        return install

    def job_succeeded(self, context, job: BackendInstall) -> set[str]:
        session.stop_worker()  # a running worker may have looked for the tracker already
        self.report({"INFO"}, f"Video tracker installed for {job.python}")
        return {"FINISHED"}


class ADAMESH_OT_check_backend(bpy.types.Operator):
    bl_idname = "adamesh.check_backend"
    bl_label = "Check Backend"
    bl_description = "Start the backend if needed and check that it answers"

    def execute(self, context) -> set[str]:
        try:
            worker = session.worker(context)
            status = worker.request("ping", timeout=10)
        except AddonError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        info = worker.info
        self.report(
            {"INFO"},
            f"Backend {status['backend_version']} answers (Python {info.python}, pid {info.pid}); "
            f"it serves: {', '.join(info.requests)}",
        )
        return {"FINISHED"}


class ADAMESH_OT_stop_backend(bpy.types.Operator):
    bl_idname = "adamesh.stop_backend"
    bl_label = "Stop Backend"
    bl_description = "Stop the backend process (it starts again on the next job), freeing its memory"

    @classmethod
    def poll(cls, context) -> bool:
        if session.running_worker() is None:
            cls.poll_message_set("The backend is not running")
            return False
        return True

    def execute(self, context) -> set[str]:
        session.stop_worker()
        return {"FINISHED"}
