"""Add-on preferences: where the backend's Python is (or Install backend), the device, checkpoint, style library."""

import sys
from pathlib import Path

import bpy
from bpy.props import EnumProperty, IntProperty, StringProperty

from .client.installer import BackendInstall, venv_python
from .client.worker_client import HANG_TIMEOUT, START_TIMEOUT

INSTALL_LABEL = "Installing backend"
INSTALL_TRACKER_LABEL = "Installing video tracker"
ADDON_ID = __package__  # "bl_ext.<repository>.adamesh" once installed as an extension
DEVICES = (
    ("AUTO", "Automatic", "CUDA when present, then Apple's MPS, else the CPU"),
    ("CPU", "CPU", "Always the CPU"),
    ("CUDA", "CUDA", "An NVIDIA GPU (the backend's torch must be a CUDA build)"),
    ("MPS", "Apple GPU", "Metal Performance Shaders on Apple silicon"),
)


class AdaMeshPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    backend_python: StringProperty(
        name="Backend Python",
        subtype="FILE_PATH",
        description="The Python of the backend's environment (torch and friends). "
        "Empty: the environment that Install backend creates",
    )
    device: EnumProperty(name="Device", items=DEVICES, description="Where the backend runs its models")
    default_checkpoint: StringProperty(
        name="Checkpoint",
        subtype="FILE_PATH",
        description="Model checkpoint (.safetensors) to generate and adapt with. Empty: the starter checkpoint "
        "shipped with the extension",
    )
    style_library: StringProperty(
        name="Style Library",
        subtype="DIR_PATH",
        description="Folder of style files made by Adapt Style. Empty: a folder in Blender's user data",
    )
    backend_start_timeout: IntProperty(
        name="Backend Start Timeout",
        default=int(START_TIMEOUT),
        min=2,
        max=600,
        subtype="TIME_ABSOLUTE",
        description="Seconds the backend may take to start and say hello (the first start after installing "
        "compiles its code) before it counts as broken",
    )
    backend_timeout: IntProperty(
        name="Backend Timeout",
        default=int(HANG_TIMEOUT),
        min=2,
        max=600,
        subtype="TIME_ABSOLUTE",
        description="Seconds the backend may stay silent (not even answering a ping) before it counts as hung",
    )

    def draw(self, context) -> None:
        from . import session  # here, not at the top: session imports this module

        layout = self.layout
        layout.use_property_split = True
        box = layout.box()
        box.prop(self, "backend_python")
        python = backend_python(context)
        box.label(text=f"Using: {python}" if python else "No backend yet: press Install Backend", icon="INFO")
        status = context.window_manager.adamesh_job
        row = box.row(align=True)
        if isinstance(session.active_job(), BackendInstall):
            row.progress(factor=status.progress, type="BAR", text=status.message or INSTALL_LABEL)
            row.operator("adamesh.cancel_job", text="", icon="CANCEL")
        else:
            row.operator("adamesh.install_backend", icon="IMPORT")
            row.operator("adamesh.install_tracker", icon="FILE_MOVIE")
        row = box.row(align=True)
        row.operator("adamesh.check_backend", icon="CHECKMARK")
        row.operator("adamesh.stop_backend", icon="X")
        layout.prop(self, "device")
        layout.prop(self, "default_checkpoint")
        layout.prop(self, "style_library")
        layout.prop(self, "backend_start_timeout")
        layout.prop(self, "backend_timeout")


def addon_preferences(context) -> AdaMeshPreferences:
    return context.preferences.addons[ADDON_ID].preferences


def default_venv() -> Path:
    """Where Install backend puts the backend's environment: beside the user's Blender config folder, so it
    survives reinstalling the extension (and follows BLENDER_USER_RESOURCES)."""
    return Path(bpy.utils.user_resource("CONFIG")).parent / "adamesh-backend"


def backend_python(context) -> str:
    """The Python to run the worker with: the preference, else the installed environment's, else ''."""
    chosen = addon_preferences(context).backend_python
    if chosen:
        return bpy.path.abspath(chosen)
    installed = venv_python(default_venv())
    return str(installed) if installed.is_file() else ""


def style_library_folder(context) -> Path:
    chosen = addon_preferences(context).style_library
    if chosen:
        return Path(bpy.path.abspath(chosen))
    if ADDON_ID.startswith("bl_ext."):
        return Path(bpy.utils.extension_path_user(ADDON_ID, path="styles", create=True))
    return Path(bpy.utils.user_resource("DATAFILES", path="adamesh/styles", create=True))


def base_python() -> str:
    """The Python that creates the backend's environment: Blender's own (sys.executable in Blender 2.91+)."""
    return sys.executable
