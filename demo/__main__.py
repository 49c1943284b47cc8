"""`python -m demo scene ...` and `python -m demo render ...`: the demo's Blender steps, each in its own process.

scene   --head head.blend --audio speech.flac --clip LABEL=clip.npz [--clip ...] --out demo.blend
render  --blend demo.blend --phones speech.phones.json [--sheet sheet.png] [--video preview.mp4]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import bpy

from adamesh_blender.errors import AddonError
from backend.core.phones import load_timeline

from . import render, scene
from .moments import pick_moments


def labelled_clip(text: str) -> tuple[str, Path]:
    label, separator, path = text.partition("=")
    if not separator or not label:
        raise argparse.ArgumentTypeError(f"expected LABEL=clip.npz, got {text!r}")
    return label, Path(path)


def run_scene(args: argparse.Namespace) -> None:
    reports = scene.assemble(args.head, args.audio, args.clip, args.out)
    for label, report in reports.items():
        print(f"demo: {label}: {report.summary()}")
    print(f"demo: saved {args.out}")


def run_render(args: argparse.Namespace) -> None:
    bpy.ops.wm.open_mainfile(filepath=str(args.blend))
    current = bpy.context.scene
    heads = scene.demo_heads(current)
    if args.sheet:
        started = time.monotonic()
        shots = render.shots(current, heads, pick_moments(load_timeline(args.phones)), scene.FRAME_START)
        captions = [head.name for head in heads]
        render.contact_sheet(current, shots, captions, args.sheet)
        seconds = time.monotonic() - started
        print(
            f"demo: contact sheet {args.sheet}: {len(shots)} frames of {render.TILE_SIZE[0]}x{render.TILE_SIZE[1]} "
            f"in {seconds:.1f} s ({seconds / len(shots):.2f} s a frame, Workbench)"
        )
        for shot in shots:
            print(f"demo:   {shot.label()}")
    if args.video:
        started = time.monotonic()
        render.render_video(current, args.video)
        frames = current.frame_end - current.frame_start + 1
        seconds = time.monotonic() - started
        print(
            f"demo: video {args.video}: {frames} frames of {render.VIDEO_SIZE[0]}x{render.VIDEO_SIZE[1]} at "
            f"{scene.FPS} fps with the speech in {seconds:.1f} s ({seconds / frames:.2f} s a frame, Workbench)"
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("scene", help="key each clip onto its own demo head and save the scene")
    make.add_argument("--head", type=Path, required=True, help="the demo head's .blend (python build.py demo-head)")
    make.add_argument("--audio", type=Path, required=True, help="the speech the clips were generated from")
    make.add_argument("--clip", type=labelled_clip, action="append", required=True, help="LABEL=clip.npz, repeated")
    make.add_argument("--out", type=Path, required=True, help="the .blend to write")
    make.set_defaults(run=run_scene)
    preview = commands.add_parser("render", help="contact sheet and video of a saved demo scene")
    preview.add_argument("--blend", type=Path, required=True)
    preview.add_argument("--phones", type=Path, help="the speech's phone timeline (.json), for the contact sheet")
    preview.add_argument("--sheet", type=Path, help="contact sheet to write (.png)")
    preview.add_argument("--video", type=Path, help="video to write (.mp4)")
    preview.set_defaults(run=run_render)
    args = parser.parse_args(argv)
    if args.command == "render" and args.sheet and not args.phones:
        parser.error("--sheet needs --phones")
    try:
        args.run(args)
    except AddonError as error:
        print(f"demo: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
