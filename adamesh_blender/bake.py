"""Batch bake: generate and key speech animation for many sound files, in many styles, headless, in one run.

    blender --background scene.blend --python bake.py -- --object NAME --audio A.wav [--audio B.wav ...]
            [--style S.safetensors ...] [--out OUT.blend]
    python bake.py -- --blend scene.blend --object NAME --audio A.wav ...        (with the bpy module)

Each (audio, style) pair gets its own sound strip, the strips following one another from --frame-start, and its
own Actions, named after its strip: "AdaMesh <audio> (shape keys)", or "AdaMesh <audio> [<style>] (...)". The
last pair's Actions are left assigned; every earlier Action, the artist's included, is kept with a fake user.
The same WorkerClient as the add-on's runs the backend, driven synchronously (timers never fire here).

The file is saved once, after every pair is keyed: to --out, else over the opened .blend (Blender writes a temp
file and renames it). Any failure (a missing object, sound or style file, a worker error) saves nothing and exits
with status 1 and one line "bake: error: ..." on stderr; bad arguments exit with status 2.
"""

from __future__ import annotations

if __name__ == "__main__" and not __package__:
    # Run as a script: import the add-on package this file is part of, so the relative imports below work
    # (PEP 366). Its folder is adamesh_blender/ in a checkout, the extension's folder once installed.
    import importlib
    import sys
    from pathlib import Path

    _folder = Path(__file__).resolve().parent
    sys.path.insert(0, str(_folder.parent))
    __package__ = _folder.name
    importlib.import_module(__package__)

import argparse
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import bpy

from . import bundle
from .anim import compat
from .anim.keyframes import BakeReport
from .client import Job, WorkerClient
from .client.installer import has_requirements, venv_python
from .errors import AddonError
from .generation import bake_generated_clip, generate_request
from .operators.checks import editable_problem, mesh_problem, rig_problem
from .preferences import DEVICES, default_venv

EXIT_FAILED = 1


@dataclass(frozen=True)
class BakePair:
    audio: Path
    style: Path | None  # None: the base model

    @property
    def label(self) -> str:
        return self.audio.stem if self.style is None else f"{self.audio.stem} [{self.style.stem}]"


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """The arguments after `--` (Blender's own come before it)."""
    parser = argparse.ArgumentParser(
        prog="bake.py", description="Key AdaMesh speech animation for many sound files and styles onto one face."
    )
    parser.add_argument("--blend", type=Path, help="the .blend to open (needed with the bpy module)")
    parser.add_argument("--object", required=True, help="the face mesh to animate (a mesh with shape keys)")
    parser.add_argument("--audio", type=Path, action="append", required=True, help="a sound file; repeat for more")
    parser.add_argument(
        "--style",
        type=Path,
        action="append",
        default=[],
        help="a style file from Adapt Style (.safetensors); repeat for more; none: the base model",
    )
    parser.add_argument("--expression-strength", type=float, default=1.0, help="0 = base model, 1 = the style")
    parser.add_argument("--pose-strength", type=float, default=1.0, help="0 = base head motion, 1 = the style's")
    parser.add_argument("--out", type=Path, help="the .blend to write (default: save over the opened file)")
    parser.add_argument("--frame-start", type=int, help="where the first sound strip starts (default: scene start)")
    parser.add_argument("--checkpoint", help="model checkpoint (default: the add-on's setting, else the starter)")
    parser.add_argument(
        "--backend-python",
        help="the backend environment's Python (default: the add-on's setting, "
        "else a checkout's .venv, else the environment Install Backend "
        "made, else this Python when it has the backend's packages)",
    )
    parser.add_argument("--device", choices=[item[0].lower() for item in DEVICES], help="default: the add-on's")
    parser.add_argument("--seed", type=int, default=0, help="head-motion sampling seed")
    return parser.parse_args(argv[argv.index("--") + 1 :] if "--" in argv else argv[1:])


def installed_preferences(context):
    """The preferences of this add-on when it is installed and enabled in this Blender, else None."""
    name = __package__.rpartition(".")[2]
    for addon in context.preferences.addons:
        if addon.module.rpartition(".")[2] == name and addon.preferences is not None:
            return addon.preferences
    return None


def backend_python(args: argparse.Namespace, prefs) -> str:
    if args.backend_python:
        return args.backend_python
    if prefs is not None and prefs.backend_python:
        return bpy.path.abspath(prefs.backend_python)
    # a source checkout after `python build.py setup`: its own environment (an installed extension has no .venv)
    for environment in (bundle.backend_root() / ".venv", default_venv()):
        if venv_python(environment).is_file():
            return str(venv_python(environment))
    if has_requirements(bundle.backend_requirements()):
        return sys.executable
    raise AddonError(
        "no backend Python: pass --backend-python PATH, or press Install Backend in Blender's "
        "Preferences > Add-ons > AdaMesh"
    )


def check_inputs(args: argparse.Namespace) -> list[BakePair]:
    """Everything that can be checked before the worker starts, so a typo costs no generation time."""
    if not compat.can_add_sound_strips():  # before the scene is opened: every pair needs its own sound strip
        raise AddonError(compat.NO_AUDIO_SUPPORT)
    if args.blend is not None:
        if not args.blend.is_file():
            raise AddonError(f"scene {args.blend} does not exist")
        bpy.ops.wm.open_mainfile(filepath=str(args.blend.resolve()))
    elif not bpy.data.filepath:
        raise AddonError(
            "no scene: open one (blender --background scene.blend --python bake.py -- ...) or pass --blend scene.blend"
        )
    obj = bpy.data.objects.get(args.object)
    if obj is None:
        meshes = sorted(o.name for o in bpy.data.objects if mesh_problem(o) is None)
        raise AddonError(
            f"{bpy.data.filepath} has no object '{args.object}'; meshes with shape keys: "
            + (", ".join(meshes) or "none")
        )
    problem = mesh_problem(obj) or editable_problem(obj) or rig_problem(obj, custom=None)
    if problem:  # before any audio is generated for nothing
        raise AddonError(problem)
    for path, what in [*((a, "sound file") for a in args.audio), *((s, "style file") for s in args.style)]:
        if not path.is_file():
            raise AddonError(f"{what} {path} does not exist")
    if args.out is not None and not args.out.resolve().parent.is_dir():
        raise AddonError(f"cannot write {args.out}: folder {args.out.resolve().parent} does not exist")
    return [
        BakePair(audio.resolve(), style.resolve() if style else None)
        for audio in args.audio
        for style in (args.style or [None])
    ]


def bake(args: argparse.Namespace) -> list[BakeReport]:
    """Key every pair, then save; raises AddonError (having saved nothing) at the first failure."""
    pairs = check_inputs(args)
    context = bpy.context
    scene = context.scene
    prefs = installed_preferences(context)
    checkpoint = args.checkpoint or (
        bpy.path.abspath(prefs.default_checkpoint) if prefs and prefs.default_checkpoint else None
    )
    device = args.device or (prefs.device.lower() if prefs else "auto")
    client = WorkerClient(backend_python(args, prefs), bundle.backend_root())
    client.start()
    reports = []
    try:
        with tempfile.TemporaryDirectory(prefix="adamesh-bake-") as folder:
            channel = 1 + max((strip.channel for strip in compat.sound_strips(scene)), default=0)
            frame = scene.frame_start if args.frame_start is None else args.frame_start
            for number, pair in enumerate(pairs, 1):
                step = f"[{number}/{len(pairs)}] {pair.label}"
                strip = compat.new_sound_strip(scene, pair.label, str(pair.audio), channel, frame)
                frame = strip.frame_final_end
                request = generate_request(
                    scene,
                    bpy.data.objects[args.object],
                    strip,
                    pair.audio,
                    Path(folder) / f"{number}.npz",
                    checkpoint=checkpoint,
                    style=pair.style,
                    expression_strength=args.expression_strength,
                    pose_strength=args.pose_strength,
                    device=device,
                )
                try:
                    result = wait_showing_progress(client, client.submit(request.request_type, request.params()), step)
                    report = bake_generated_clip(scene, args.object, strip.name, result["clip"], custom=None)
                except AddonError as error:
                    raise AddonError(f"{step}: {error}") from error
                print(f"bake: {step}: {report.summary()}")
                for note in (*result.get("notes", ()), *report.notes):
                    print(f"bake: note: {note}")
                reports.append(report)
    finally:
        client.stop()
    save(args.out)
    return reports


def wait_showing_progress(client: WorkerClient, job: Job, what: str) -> dict:
    """Pump until the job ends, printing each new step the worker reports; its result, or its error raised."""
    shown = None
    while not job.finished:
        client.pump(0.25)
        if job.message and job.message != shown:
            shown = job.message
            print(f"bake: {what}: {shown} ({100 * (job.fraction or 0):.0f}%)", flush=True)
    return job.outcome()


def save(out: Path | None) -> None:
    done = bpy.ops.wm.save_as_mainfile(filepath=str(out.resolve())) if out is not None else bpy.ops.wm.save_mainfile()
    if done != {"FINISHED"}:
        raise AddonError(f"could not save {out or bpy.data.filepath}")
    print(f"bake: saved {bpy.data.filepath}")


def main(argv: list[str]) -> int:
    args = parse_arguments(argv)
    try:
        bake(args)
    except AddonError as error:
        print(f"bake: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:  # a bug: still a failed run, never a saved half-baked file
        traceback.print_exc()
        print(f"bake: error: internal error {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
