"""`python build.py demo`: what the project can show today, step by step, with where each result lands.

So far: a small synthetic corpus (speech with exact phone timing, the matching face motion in several speakers'
styles) and plots of it. Adapt Style, generation and the Blender bake are not built yet; the demo says so at the end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "out" / "demo"


def step(title: str, command: list[str]) -> float:
    print(f"\n== {title}\n   $ {' '.join(command)}", flush=True)
    started = time.monotonic()
    subprocess.run(command, cwd=ROOT, check=True)
    return time.monotonic() - started


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    corpus = OUT / "corpus"
    python = sys.executable
    timings = {
        "synthesise 1 minute of corpus": step(
            "Synthesise a small corpus: 6 speakers, each a voice and a talking style",
            [python, "-m", "backend", "synth", "--out", str(corpus), "--minutes", "1", "--speakers", "6",
             "--seed", "1"],
        )
    }
    index = json.loads((corpus / "index.json").read_text())
    shown = {}
    for utterance in index["utterances"]:
        style = index["speakers"][utterance["speaker"]]["expression_style"]["kind"]
        shown.setdefault(style, utterance)
    plots = []
    started = time.monotonic()
    for style, utterance in sorted(shown.items()):
        png = OUT / f"clip-{style}.png"
        subprocess.run(
            [python, "-m", "backend", "plot", str(corpus / utterance["motion"]), "--audio",
             str(corpus / utterance["audio"]), "--phones", str(corpus / utterance["phones"]), "--title",
             f"{style} speaker: \"{utterance['text']}\"", "--out", str(png)],
            cwd=ROOT, check=True,
        )
        plots.append(png)
    timings["plot one clip per style"] = time.monotonic() - started

    print("\n== Results")
    print(f"   corpus: {corpus} ({len(index['utterances'])} utterances, index.json describes each)")
    for png in plots:
        print(f"   plot:   {png}")
    print("\n== Time per step")
    for name, seconds in timings.items():
        print(f"   {name:34s} {seconds:6.1f} s")
    print(
        "\n== Not built yet: the models and starter checkpoint (issue 3), Adapt Style and the worker (issue 4),"
        "\n   the Blender extension and bake (issue 5), the full demo with a rendered preview (issue 6)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
