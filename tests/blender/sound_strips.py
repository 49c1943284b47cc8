"""Sound strips for the tests on every Blender line, including one built without Audaspace.

The bpy 4.2 wheel cannot add a sound strip (`new_sound` raises "Blender compiled without Audaspace support"; the
released 4.2 application can). There the strip is copied, with the sequencer's own copy and paste, from
data/sound-strip.blend (written by bpy 4.2, see scripts/make_sound_strip_blend.py) and pointed at the test's
sound; its length is set from the file, which Blender without Audaspace cannot read. Everything the add-on
reads from a strip (its sound's file, start, offset, channel) is then as a real strip's.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import soundfile

FIXTURE = Path(__file__).resolve().parent / "data" / "sound-strip.blend"
FIXTURE_SCENE = "Sound strip"
WHY = (
    f"bpy {bpy.app.version_string} is built without Audaspace, so the tests' sound strips are copies of the one in "
    f"tests/blender/data/{FIXTURE.name}"
)


def can_add_sound_strips() -> bool:
    return bool(bpy.app.build_options.audaspace)


def add_sound_strip(scene, name: str, filepath: str, channel: int, frame_start: int):
    """Sequences.new_sound where this Blender can add sound strips, else a copy of the fixture's strip."""
    if can_add_sound_strips():
        scene.sequence_editor_create()
        return _strips(scene).new_sound(name, filepath, channel, frame_start)
    strip = _paste_fixture_strip(scene)
    silence = strip.sound
    strip.sound = bpy.data.sounds.load(filepath, check_existing=False)
    if silence.users == 0:
        bpy.data.sounds.remove(silence)
    strip.name, strip.channel, strip.frame_start = name, channel, frame_start
    try:
        seconds = soundfile.info(filepath).duration
    except (RuntimeError, soundfile.LibsndfileError):  # not a sound (the tests of bad files): keep the length
        return strip
    strip.frame_final_duration = max(1, round(seconds * scene.render.fps / scene.render.fps_base))
    return strip


# The add-on's compat module is not used here: the installed-extension scenarios import this file without it.
def _strips(scene, all_levels: bool = False):
    editor = scene.sequence_editor
    if hasattr(editor, "strips"):
        return editor.strips_all if all_levels else editor.strips
    return editor.sequences_all if all_levels else editor.sequences


def _sound_strips(scene) -> list:
    return [strip for strip in _strips(scene, all_levels=True) if strip.type == "SOUND"]


def _paste_fixture_strip(scene):
    with bpy.data.libraries.load(str(FIXTURE)) as (source, loaded):
        loaded.scenes = [FIXTURE_SCENE]
    fixture = loaded.scenes[0]
    window = bpy.context.window
    before = {strip.as_pointer() for strip in _sound_strips(scene)} if scene.sequence_editor else set()
    try:
        window.scene = fixture  # copy works on the window's scene
        for strip in _sound_strips(fixture):
            strip.select = True
        bpy.ops.sequencer.copy()
        window.scene = scene
        scene.sequence_editor_create()
        area = window.screen.areas[0]  # paste needs a sequencer editor to run in: lend it an area
        kind = area.type
        area.type = "SEQUENCE_EDITOR"
        try:
            region = next(region for region in area.regions if region.type == "WINDOW")
            with bpy.context.temp_override(window=window, area=area, region=region):
                bpy.ops.sequencer.paste()
        finally:
            area.type = kind
    finally:
        window.scene = scene
        bpy.data.scenes.remove(fixture)
    (pasted,) = [strip for strip in _sound_strips(scene) if strip.as_pointer() not in before]
    return pasted
