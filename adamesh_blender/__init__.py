"""AdaMesh for Blender: talking-head animation from speech, in a person's style (arXiv 2310.07236).

Importing this package does nothing but define register() and unregister(): the bpy-free parts (client/, the rig
logic in anim/) are imported by the backend's tests and tools without pulling in bpy, so the Blender side is only
imported when Blender registers the add-on.
"""


def register() -> None:
    from . import addon

    addon.register()


def unregister() -> None:
    from . import addon

    addon.unregister()
