"""Why an AdaMesh button cannot run, in one sentence the artist can act on.

Each `*_problem` function returns that sentence or None: polls feed it to poll_message_set (the disabled
button's tooltip says it), and the matching getter raises it as an AddonError when the operator runs anyway.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import bpy

from .. import preferences
from ..anim import compat
from ..anim.rigs import describe_rig, find_armature, preflight_rig
from ..errors import AddonError, RigError


def allowed(operator_class, reason: str | None) -> bool:
    """A poll's answer: True when there is no reason against, else False with the reason as the button's tooltip."""
    if reason:
        operator_class.poll_message_set(reason)
    return reason is None


def mesh_problem(obj) -> str | None:
    if obj is None:
        return "Select the face mesh (a mesh object with shape keys)"
    if obj.type != "MESH":
        kind = obj.type.lower().replace("_", " ")
        return f"'{obj.name}' is {'an' if kind[0] in 'aeiou' else 'a'} {kind}: select the face mesh instead"
    if obj.data.shape_keys is None:
        return f"'{obj.name}' has no shape keys: AdaMesh animates a face through its shape keys"
    return None


def editable_problem(obj) -> str | None:
    """Why the mesh or its armature cannot take new Actions: linked from a library, keys written to it would not
    be saved (Blender writes only a link to the library's data)."""
    for id_block in (obj, obj.data.shape_keys, find_armature(obj)):
        if id_block is not None and not id_block.is_editable:
            library = id_block.library.filepath if id_block.library else "another file"
            return (
                f"'{id_block.name}' is linked from {library} and cannot be animated here: make it local "
                "(Object > Relations > Make Local) or add a library override, then generate again"
            )
    return None


def rig_problem(obj, custom) -> str | None:
    """What the rig lacks whatever the clip holds (bones, a custom mapping's keys), found before the worker runs."""
    try:
        preflight_rig(describe_rig(obj), custom)
    except RigError as error:
        return str(error)
    return None


def target_mesh(context):
    obj = context.active_object
    problem = mesh_problem(obj)
    if problem:
        raise AddonError(problem)
    return obj


def sound_strip_problem(scene) -> str | None:
    strips = compat.sound_strips(scene)
    if not strips:
        return "The scene has no sound strip: press Import Audio (or add one in the Video Sequencer)"
    name = scene.adamesh.sound_strip
    if not name:
        return None if len(strips) == 1 else "Choose the sound strip to animate from"
    if name not in {strip.name for strip in strips}:
        return f"There is no sound strip '{name}' any more: choose another"
    return None


def muted_strip_note(strip) -> str | None:
    """A muted strip still says where the speech plays, so it is animated from; the artist hears nothing, though."""
    if strip.mute:
        return f"sound strip '{strip.name}' is muted: the animation follows it, but unmute it to hear the speech"
    return None


def sound_strip(scene):
    """The chosen sound strip (or the scene's only one when none is chosen)."""
    problem = sound_strip_problem(scene)
    if problem:
        raise AddonError(problem)
    name = scene.adamesh.sound_strip
    strips = compat.sound_strips(scene)
    return next(strip for strip in strips if strip.name == name) if name else strips[0]


def backend_problem(context) -> str | None:
    python = preferences.backend_python(context)
    if not python:
        return "No backend yet: press Install Backend in Preferences > Add-ons > AdaMesh (or set Backend Python)"
    if shutil.which(python) is None:
        return (
            f"Backend Python {python} does not exist or cannot run: press Install Backend in Preferences > "
            "Add-ons > AdaMesh, or set Backend Python to a python executable"
        )
    return None


def sound_file(strip) -> Path:
    """The file a sound strip plays; a packed sound is written out to Blender's temporary folder first."""
    sound = strip.sound
    if sound is None:
        raise AddonError(f"sound strip '{strip.name}' has no sound")
    if sound.packed_file is not None:
        path = Path(bpy.app.tempdir) / f"adamesh-packed-{bpy.path.clean_name(sound.name)}{Path(sound.filepath).suffix}"
        path.write_bytes(sound.packed_file.data)
        return path
    path = Path(bpy.path.abspath(sound.filepath, library=sound.library))
    if not path.is_file():
        raise AddonError(f"the sound file of strip '{strip.name}' is missing: {path}")
    return path


def existing_file(setting: str, label: str) -> Path:
    """An absolute path from a FILE_PATH setting, which must name an existing file."""
    if not setting:
        raise AddonError(f"Choose the {label}")
    path = Path(bpy.path.abspath(setting))
    if not path.is_file():
        raise AddonError(f"the {label} {path} does not exist")
    return path
