"""What enabling the add-on installs into Blender, and takes out again on disabling: classes, properties, the
worker session's handlers. unregister() leaves nothing behind, the worker process included."""

from __future__ import annotations

import bpy

from . import operators, preferences, properties, session, ui

CLASSES = (*properties.CLASSES, preferences.AdaMeshPreferences, *operators.CLASSES, *ui.CLASSES)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    properties.attach()
    session.register()


def unregister() -> None:
    session.unregister()
    properties.detach()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
