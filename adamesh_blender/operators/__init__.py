"""Operators: modal jobs (generate, adapt, install), the backend's lifecycle, the style library, the rig mapping."""

from .adapt import ADAMESH_OT_adapt
from .audio import ADAMESH_OT_import_audio
from .backend import (
    ADAMESH_OT_check_backend,
    ADAMESH_OT_install_backend,
    ADAMESH_OT_install_tracker,
    ADAMESH_OT_stop_backend,
)
from .generate import ADAMESH_OT_generate
from .job_operator import ADAMESH_OT_cancel_job
from .rig import ADAMESH_OT_add_channel, ADAMESH_OT_remove_channel
from .styles import ADAMESH_OT_delete_style, ADAMESH_OT_refresh_styles, ADAMESH_OT_rename_style
from .tracked_reference import ADAMESH_OT_key_tracked_reference

CLASSES = (
    ADAMESH_OT_generate,
    ADAMESH_OT_adapt,
    ADAMESH_OT_cancel_job,
    ADAMESH_OT_import_audio,
    ADAMESH_OT_install_backend,
    ADAMESH_OT_install_tracker,
    ADAMESH_OT_check_backend,
    ADAMESH_OT_stop_backend,
    ADAMESH_OT_refresh_styles,
    ADAMESH_OT_rename_style,
    ADAMESH_OT_delete_style,
    ADAMESH_OT_key_tracked_reference,
    ADAMESH_OT_add_channel,
    ADAMESH_OT_remove_channel,
)
