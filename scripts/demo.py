"""`python build.py demo`: the whole product on bundled synthetic speech, step by step, each step a command you can
run yourself, with where each result lands and how long it took.

1. build the demo head: the ICT head (a scanned human face with the 53 ARKit-style shape keys of the ICT-FaceKit,
   teeth, tongue, eyes and an armature)
2. adapt a style from the bundled 10 s reference (assets/demo/: a crooked smile and a nodding head)
3. generate animation for another bundled sentence, without and with that style
4. key both onto two ICT heads side by side, with the speech as a sound strip: out/demo/demo.blend
5. render a preview headless: a contact sheet of lips-closed and mouth-open moments, and a video with sound
6. plot the generated curves
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets" / "demo"
OUT = ROOT / "out" / "demo"
BASE, STYLED = "base model", "crooked smile"


def torch_threads() -> int:
    """As many torch threads as cores left idle: on cores other work keeps busy, two OpenMP threads stall each
    other (Adapt Style measured ~6 s a step on two threads against ~0.4 s on one), while on an idle 2-core machine
    two threads adapt 1.4x faster than one (55 s against 77 s for the bundled reference)."""
    cores = os.cpu_count() or 1
    return max(1, min(cores, round(cores - os.getloadavg()[0])))


ENV = {"OMP_NUM_THREADS": str(torch_threads()), **os.environ}


def step(title: str, command: list[str], quiet: bool = False) -> float:
    """Run one step, showing its command; `quiet` shows only its "demo:" lines (Blender logs every frame it
    renders), or everything if it fails."""
    shown = [
        str(Path(part).relative_to(ROOT)) if Path(part).is_absolute() and Path(part).is_relative_to(ROOT) else part
        for part in command
    ]
    print(f"\n== {title}\n   $ {shlex.join(shown)}", flush=True)
    started = time.monotonic()
    if not quiet:
        subprocess.run(command, cwd=ROOT, env=ENV, check=True)
        return time.monotonic() - started
    done = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout + done.stderr, file=sys.stderr)
        raise subprocess.CalledProcessError(done.returncode, command)
    print("\n".join(line for line in done.stdout.splitlines() if line.startswith("demo:")), flush=True)
    return time.monotonic() - started


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    python = sys.executable
    head, style, blend = OUT / "head.blend", OUT / "crooked-smile.safetensors", OUT / "demo.blend"
    clips = {BASE: OUT / "base-model.npz", STYLED: OUT / "crooked-smile.npz"}
    sheet, video = OUT / "contact-sheet.png", OUT / "preview.mp4"
    speech, phones = ASSETS / "speech.flac", ASSETS / "speech.phones.json"
    timings = {}
    timings["1 build the demo head"] = step(
        "Build the demo head: the ICT head (assets/ict-face/, MIT licence)",
        [python, "build.py", "demo-head", "--out", str(head)],
    )
    timings["2 adapt a style (10 s reference)"] = step(
        "Adapt a style from the bundled reference: 10.7 s of synthetic speech and its motion (crooked smile, nods)",
        [
            python,
            "-m",
            "backend",
            "adapt",
            "--audio",
            str(ASSETS / "reference.flac"),
            "--motion",
            str(ASSETS / "reference.npz"),
            "--transcript",
            (ASSETS / "reference.txt").read_text().strip(),
            "--out",
            str(style),
        ],
    )
    for label, extra in ((BASE, []), (STYLED, ["--style", str(style)])):
        timings[f"3 generate, {label}"] = step(
            f"Generate animation for another sentence ({label})",
            [
                python,
                "-m",
                "backend",
                "generate",
                "--audio",
                str(speech),
                "--transcript",
                str(ASSETS / "speech.txt"),
                *extra,
                "--out",
                str(clips[label]),
            ],
        )
    timings["4 bake both onto two heads"] = step(
        "Key both clips onto two ICT heads side by side (the add-on's bake), speech in the sequencer",
        [
            python,
            "-m",
            "demo",
            "scene",
            "--head",
            str(head),
            "--audio",
            str(speech),
            *(arg for label, clip in clips.items() for arg in ("--clip", f"{label}={clip}")),
            "--out",
            str(blend),
        ],
        quiet=True,
    )
    timings["5 render the contact sheet"] = step(
        "Render the lips-closed and mouth-open moments of the sentence (Workbench, headless)",
        [python, "-m", "demo", "render", "--blend", str(blend), "--phones", str(phones), "--sheet", str(sheet)],
        quiet=True,
    )
    timings["5 render the video"] = step(
        "Render the preview video with the speech",
        [python, "-m", "demo", "render", "--blend", str(blend), "--video", str(video)],
        quiet=True,
    )
    plot = OUT / "curves.png"
    timings["6 plot the curves"] = step(
        "Plot both clips over the speech and its phones (solid: styled, dashed: base model)",
        [
            python,
            "-m",
            "backend",
            "plot",
            str(clips[STYLED]),
            "--label",
            STYLED,
            "--compare",
            str(clips[BASE]),
            "--compare-label",
            BASE,
            "--audio",
            str(speech),
            "--phones",
            str(phones),
            "--title",
            f'"{(ASSETS / "speech.txt").read_text().strip()}"',
            "--out",
            str(plot),
        ],
    )

    print("\n== Results")
    print(f"   style:          {style.relative_to(ROOT)}")
    for label, clip in clips.items():
        print(f"   clip ({label}): {clip.relative_to(ROOT)}")
    print(f"   scene:          {blend.relative_to(ROOT)} (open it in Blender 4.2+ and press play)")
    print(f"   contact sheet:  {sheet.relative_to(ROOT)}")
    print(f"   video:          {video.relative_to(ROOT)}")
    print(f"   curves:         {plot.relative_to(ROOT)}")
    print("\n== Time per step")
    for name, seconds in timings.items():
        print(f"   {name:34s} {seconds:6.1f} s")
    print(f"   {'total':34s} {sum(timings.values()):6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
