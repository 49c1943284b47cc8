"""Scenarios run against the AdaMesh extension installed from its built zip, each in a fresh Python process.

    BLENDER_USER_RESOURCES=EMPTY_DIR python extension_scenarios.py ZIP SCENARIO RESULT.json

Blender reads BLENDER_USER_RESOURCES once, when bpy is imported, so an install into a throwaway user folder needs
a process of its own (test_extension.py starts it). Each scenario records what it observed in RESULT.json and the
test asserts on it; an exception fails the process with its traceback.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import wave
from pathlib import Path

import bpy
from fcurves import assigned_fcurves, key_frames
from rna_layout import draw_panel
from sound_strips import add_sound_strip, can_add_sound_strips

ADDON = "bl_ext.user_default.adamesh"


def install(zip_path: str) -> None:
    """Install and enable the extension, then start from an empty scene (no default cube)."""
    assert os.environ["BLENDER_USER_RESOURCES"] in bpy.utils.resource_path("USER")
    bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    if ADDON not in bpy.context.preferences.addons:
        raise SystemExit(f"{zip_path} did not install as {ADDON}")
    bpy.ops.wm.read_homefile(use_empty=True)


def import_audio(path: str) -> None:
    """The Import Audio button; on a Blender without Audaspace (which refuses it) the tests' fixture strip, chosen
    for Generate as the button does."""
    if can_add_sound_strips():
        bpy.ops.adamesh.import_audio(filepath=path)
        return
    scene = bpy.context.scene
    strip = add_sound_strip(scene, Path(path).stem, path, channel=1, frame_start=scene.frame_current)
    scene.adamesh.sound_strip = strip.name


def addon_module(name: str):
    return sys.modules[f"{ADDON}.{name}"]


def snapshot() -> dict:
    """What registering the add-on can leave in Blender or this process."""
    addon = sys.modules.get(f"{ADDON}.addon")
    return {
        "registered_classes": sorted(cls.__name__ for cls in addon.CLASSES if cls.is_registered) if addon else [],
        "types": sorted(
            name for name in dir(bpy.types) if name.startswith(("ADAMESH_", "VIEW3D_PT_adamesh", "AdaMesh"))
        ),
        "operators": sorted(dir(bpy.ops.adamesh)),
        "scene_property": hasattr(bpy.types.Scene, "adamesh"),
        "window_manager_property": hasattr(bpy.types.WindowManager, "adamesh_job"),
        "load_pre_handlers": len(bpy.app.handlers.load_pre),
    }


def process_alive(pid: int) -> bool:
    """Running (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


class ExitProbe:
    """Planted as the session's worker after the add-on is disabled: if the add-on's atexit callback were still
    registered, it would stop this "worker" when the process exits, and this file would appear."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def stop(self) -> None:
        self.path.write_text("the disabled add-on's atexit callback ran")


def use_this_python_as_backend() -> None:
    """The test venv's Python has the backend's packages; the code it runs is the zip's bundled backend."""
    bpy.context.preferences.addons[ADDON].preferences.backend_python = sys.executable


def write_wav(path: Path, seconds: float = 1.0) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(bytes(2 * int(16000 * seconds)))
    return path


def operator_error(call) -> str | None:
    """Run an operator; its poll message or error report (Blender raises them as RuntimeError), or None."""
    try:
        call()
    except RuntimeError as error:
        return str(error)
    return None


def registration_cycle(zip_path: str, work: Path) -> dict:
    before = snapshot()
    install(zip_path)
    installed = snapshot()
    use_this_python_as_backend()
    bpy.ops.adamesh.check_backend()
    worker = addon_module("session").running_worker()
    handshake = {"pid": worker.pid, "backend_version": worker.info.backend_version, "cwd": str(worker_cwd(worker.pid))}
    version = addon_module("bundle").addon_version()
    extension_dir = str(Path(sys.modules[ADDON].__file__).parent)
    bpy.ops.preferences.addon_disable(module=ADDON)
    disabled = snapshot()
    worker_alive_after_disable = process_alive(handshake["pid"])
    bpy.ops.preferences.addon_enable(module=ADDON)
    enabled_again = snapshot()
    bpy.ops.preferences.addon_disable(module=ADDON)
    addon_module("session")._worker = ExitProbe(work / "atexit-ran.txt")
    return {
        "before": before,
        "installed": installed,
        "disabled": disabled,
        "enabled_again": enabled_again,
        "disabled_again": snapshot(),
        "handshake": handshake,
        "addon_version": version,
        "extension_dir": extension_dir,
        "worker_alive_after_disable": worker_alive_after_disable,
    }


def worker_cwd(pid: int) -> Path:
    return Path(os.readlink(f"/proc/{pid}/cwd"))


def quit_with_worker(zip_path: str, work: Path) -> dict:
    """Leave Python (as quitting Blender does) with the add-on enabled and its worker running."""
    install(zip_path)
    use_this_python_as_backend()
    bpy.ops.adamesh.check_backend()
    return {"pid": addon_module("session").running_worker().pid}


def operators(zip_path: str, work: Path) -> dict:
    install(zip_path)
    demo_head = importlib.import_module(f"{ADDON}.rig_builders.demo_head")
    scene = bpy.context.scene
    view_layer = bpy.context.view_layer
    generate = lambda: bpy.ops.adamesh.generate()  # noqa: E731
    messages = {"nothing selected": operator_error(generate)}
    head = demo_head.build_demo_head()
    view_layer.objects.active = head.parent
    messages["armature selected"] = operator_error(generate)
    cube = bpy.data.objects.new("Cube", bpy.data.meshes.new("Cube"))
    scene.collection.objects.link(cube)
    view_layer.objects.active = cube
    messages["mesh without shape keys"] = operator_error(generate)
    view_layer.objects.active = head
    messages["no sound strip"] = operator_error(generate)
    import_audio(str(write_wav(work / "speech.wav")))
    strip_chosen = scene.adamesh.sound_strip
    messages["no backend"] = operator_error(generate)
    messages["install offline"] = operator_error(lambda: bpy.ops.adamesh.install_backend())
    messages["cancel without a job"] = operator_error(lambda: bpy.ops.adamesh.cancel_job())
    use_this_python_as_backend()
    generate_poll = bpy.ops.adamesh.generate.poll()
    # the whole path up to the worker: the request is sent and the worker's answer becomes the report
    bpy.context.preferences.addons[ADDON].preferences.default_checkpoint = str(work / "missing.safetensors")
    messages["generate sent"] = operator_error(generate)
    scene.adamesh.reference_source = "FILES"
    messages["adapt without files"] = operator_error(lambda: bpy.ops.adamesh.adapt())
    scene.adamesh.reference_motion = str(work / "missing.npz")
    scene.adamesh.reference_audio = str(work / "speech.wav")
    messages["adapt with a missing motion file"] = operator_error(lambda: bpy.ops.adamesh.adapt())
    worker_pid = addon_module("session").running_worker().pid
    bpy.ops.preferences.addon_disable(module=ADDON)
    return {
        "messages": messages,
        "strip_chosen": strip_chosen,
        "generate_poll": generate_poll,
        "worker_alive_after_disable": process_alive(worker_pid),
    }


def style_library(zip_path: str, work: Path) -> dict:
    install(zip_path)
    context = bpy.context
    folder = addon_module("preferences").style_library_folder(context)
    for name in ("calm", "lively"):
        (folder / f"{name}.safetensors").write_bytes(b"style bytes")
    bpy.ops.adamesh.refresh_styles()
    settings = context.scene.adamesh
    listed = [item.name for item in settings.styles]
    settings.style_index = listed.index("lively")
    settings.styles["lively"].expression_strength = 1.4
    bpy.ops.adamesh.rename_style(new_name="lively 2")
    renamed = {item.name: round(item.expression_strength, 3) for item in settings.styles}
    clash = operator_error(lambda: bpy.ops.adamesh.rename_style(new_name="calm"))
    bad_name = operator_error(lambda: bpy.ops.adamesh.rename_style(new_name="a/b"))
    bpy.ops.adamesh.delete_style()
    return {
        "folder": str(folder),
        "listed": listed,
        "renamed": renamed,
        "clash": clash,
        "bad_name": bad_name,
        "files_left": sorted(p.name for p in folder.iterdir()),
        "listed_after_delete": [i.name for i in settings.styles],
    }


def panels(zip_path: str, work: Path) -> dict:
    install(zip_path)
    ui = addon_module("ui")
    demo_head = importlib.import_module(f"{ADDON}.rig_builders.demo_head")
    context = bpy.context
    results = {"empty scene": {}, "rigged scene": {}}
    for panel in ui.CLASSES[2:]:
        results["empty scene"][panel.__name__] = draw_panel(panel, context)
    head = demo_head.build_demo_head()
    context.view_layer.objects.active = head
    import_audio(str(write_wav(work / "speech.wav")))
    folder = addon_module("preferences").style_library_folder(context)
    (folder / "calm.safetensors").write_bytes(b"style bytes")
    bpy.ops.adamesh.refresh_styles()
    settings = context.scene.adamesh
    settings.use_custom_mapping = True
    bpy.ops.adamesh.add_channel()
    settings.channel_map[0].channel, settings.channel_map[0].shape_key = "jawOpen", "mouthClose"
    settings.reference_source = "FILES"
    settings.reference_tracker = "VHAP"
    for panel in ui.CLASSES[2:]:
        results["rigged scene"][panel.__name__] = draw_panel(panel, context)
    prefs_class = addon_module("preferences").AdaMeshPreferences
    results["preferences"] = draw_panel(prefs_class, context, context.preferences.addons[ADDON].preferences)
    return results


def generate_at_frame_37(zip_path: str, work: Path) -> dict:
    """Generate Animation through the real worker onto the demo head, from a sound strip at frame 37, at 24 and
    29.97 fps, over an earlier Action; then undo it. Then once more in a style. Inputs (inputs.json): the
    checkpoint, the speech file and the style file."""
    inputs = json.loads((work / "inputs.json").read_text())
    install(zip_path)
    use_this_python_as_backend()
    bpy.context.preferences.addons[ADDON].preferences.default_checkpoint = inputs["checkpoint"]
    demo_head = importlib.import_module(f"{ADDON}.rig_builders.demo_head")
    head_mesh = importlib.import_module(f"{ADDON}.rig_builders.head_mesh")
    runs = {}
    for label, fps, fps_base in (("24", 24, 1.0), ("29.97", 30, 1.001)):
        bpy.ops.wm.read_homefile(use_empty=True)
        scene = bpy.context.scene
        scene.render.fps, scene.render.fps_base = fps, fps_base
        head = demo_head.build_demo_head()
        bpy.context.view_layer.objects.active = head
        key = head.data.shape_keys
        for frame, value in ((1, 0.0), (100, 1.0)):  # the artist's earlier animation
            key.key_blocks["mouthClose"].value = value
            key.key_blocks["mouthClose"].keyframe_insert("value", frame=frame)
        key.animation_data.action.name = "Earlier talk"
        scene.frame_set(37)
        import_audio(inputs["audio"])
        clips_before = set(Path(bpy.app.tempdir).glob("adamesh-*.npz"))
        bpy.ops.ed.undo_push(message="before Generate Animation")
        outcome = sorted(bpy.ops.adamesh.generate())
        (clip,) = set(Path(bpy.app.tempdir).glob("adamesh-*.npz")) - clips_before
        clip = shutil.copy(clip, work / f"clip-{label}.npz")  # Blender's temporary folder goes when it quits
        fcurves = assigned_fcurves(key)
        keyed = [key_frames(fcurve) for fcurve in fcurves]
        first, last = int(min(k[0] for k in keyed)), int(max(k[-1] for k in keyed))
        frames = list(range(30, last + 4))
        lip_mm = [head_mesh.lip_separation_mm(head, depsgraph_at(scene, frame)) for frame in frames]
        after = {
            "actions": {action.name: action.use_fake_user for action in bpy.data.actions},
            "key_action": key.animation_data.action.name,
            "pose_action": head.parent.animation_data.action.name,
            "slider_min": min(block.slider_min for block in key.key_blocks),
        }
        # what Blender's UI does around an operator with the UNDO option (the bpy module does not do it itself)
        name = head.name
        bpy.ops.ed.undo_push(message="Generate Animation")
        bpy.ops.ed.undo()
        head = bpy.data.objects[name]  # undo reloads the data: references from before it are gone
        undone = {
            "actions": {action.name: action.use_fake_user for action in bpy.data.actions},
            "key_action": head.data.shape_keys.animation_data.action.name,
            "pose_action": head.parent.animation_data.action.name if head.parent.animation_data else None,
            "slider_min": min(block.slider_min for block in head.data.shape_keys.key_blocks),
        }
        runs[label] = {
            "outcome": outcome,
            "clip": str(clip),
            "first_key": first,
            "last_key": last,
            "curves": len(fcurves),
            "frames": frames,
            "lip_mm": lip_mm,
            "after": after,
            "undone": undone,
        }
    runs["24 styled"] = generate_in_a_style(inputs["audio"], Path(inputs["style"]), work)
    return {"runs": runs}


def generate_in_a_style(audio: str, style_file: Path, work: Path) -> dict:
    """Generate again at 24 fps with a style chosen in the panel's library."""
    bpy.ops.wm.read_homefile(use_empty=True)
    context = bpy.context
    context.scene.render.fps = 24
    context.view_layer.objects.active = importlib.import_module(f"{ADDON}.rig_builders.demo_head").build_demo_head()
    import_audio(audio)
    shutil.copy(style_file, addon_module("preferences").style_library_folder(context) / style_file.name)
    bpy.ops.adamesh.refresh_styles()
    context.scene.adamesh.styles[style_file.stem].expression_strength = 1.5
    clips_before = set(Path(bpy.app.tempdir).glob("adamesh-*.npz"))
    outcome = sorted(bpy.ops.adamesh.generate())
    (clip,) = set(Path(bpy.app.tempdir).glob("adamesh-*.npz")) - clips_before
    return {"outcome": outcome, "clip": str(shutil.copy(clip, work / "clip-24 styled.npz"))}


def depsgraph_at(scene, frame: int):
    scene.frame_set(frame)
    return bpy.context.evaluated_depsgraph_get()


def ict_head(zip_path: str, work: Path) -> dict:
    """Build the ICT head from the installed extension's own asset."""
    install(zip_path)
    head = importlib.import_module(f"{ADDON}.rig_builders.ict_head").build_ict_head()
    asset = addon_module("bundle").ict_face_asset()
    rigs = addon_module("anim.rigs")
    return {
        "asset": str(asset),
        "extension_dir": str(Path(addon_module("bundle").ADDON_DIR)),
        "vertices": len(head.data.vertices),
        "shape_keys": len(head.data.shape_keys.key_blocks) - 1,
        "kind": rigs.detect_rig_kind(rigs.describe_rig(head)).value,
    }


SCENARIOS = {
    f.__name__: f
    for f in (registration_cycle, quit_with_worker, operators, style_library, panels, generate_at_frame_37, ict_head)
}

if __name__ == "__main__":
    zip_path, scenario, result_path = sys.argv[1:4]
    result = SCENARIOS[scenario](zip_path, Path(result_path).parent)
    Path(result_path).write_text(json.dumps(result, indent=1))
