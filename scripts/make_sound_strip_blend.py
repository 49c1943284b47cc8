"""Write tests/blender/data/sound-strip.blend: a scene "Sound strip" holding one sound strip, which the Blender-side
tests copy into their scenes on a Blender built without Audaspace (the bpy 4.2 wheel cannot add sound strips).

    .venv-blender-4.5/bin/python scripts/make_sound_strip_blend.py    adds the strip (needs Audaspace)
    .venv-blender-4.2/bin/python scripts/make_sound_strip_blend.py    opens the file and saves it again

The second step leaves a file written by the oldest line the tests run, so that line reads its own format. The
strip plays one second of silence (//silence.wav, not kept: the tests point each copied strip at their sound).
"""

from __future__ import annotations

import sys
import tempfile
import wave
from pathlib import Path

import bpy

OUT = Path(__file__).resolve().parents[1] / "tests" / "blender" / "data" / "sound-strip.blend"
SCENE = "Sound strip"


def add_strip(folder: Path) -> None:
    silence = folder / "silence.wav"
    with wave.open(str(silence), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(bytes(2 * 16000))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.name = SCENE
    scene.render.fps = 24
    scene.sequence_editor_create()
    editor = scene.sequence_editor
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    strips.new_sound("speech", str(silence), 1, 1)


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        if bpy.app.build_options.audaspace:
            add_strip(Path(folder))
        else:
            bpy.ops.wm.open_mainfile(filepath=str(OUT))
        OUT.parent.mkdir(parents=True, exist_ok=True)
        bpy.context.preferences.filepaths.save_version = 0  # no .blend1 beside it
        if bpy.ops.wm.save_as_mainfile(filepath=str(OUT), compress=True, relative_remap=False) != {"FINISHED"}:
            return 1
    print(f"wrote {OUT} with Blender {bpy.app.version_string}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
