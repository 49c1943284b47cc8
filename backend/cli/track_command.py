"""The tracker's commands: `python -m backend track VIDEO --out REF.npz [--plot PNG]`, and the video reference of
`python -m backend adapt --video REF.mp4 --out STYLE.safetensors`."""

from __future__ import annotations

import argparse
import sys


def _show(what: str):
    def show(fraction: float, message: str) -> None:
        print(f"\r{what} {fraction:4.0%} {message:<70}", end="", file=sys.stderr, flush=True)

    return show


def run_track(args: argparse.Namespace) -> None:
    from backend.tracking.track import track_video
    from backend.tracking.video import probe_video

    try:
        tracked = track_video(args.video, None, progress=_show("track"))
    finally:
        print(file=sys.stderr)
    if args.plot:
        from backend.tracking.plot import plot_tracking

        plot_tracking(probe_video(args.video), tracked, args.plot)
        print(f"wrote {args.plot}")
    from backend.clips import save_clip

    save_clip(tracked.clip, args.out)
    clip = tracked.clip
    print(
        f"wrote {args.out}: {clip.n_frames} frames at {clip.fps:g} fps ({tracked.start:.2f}-{tracked.stop:.2f} s of "
        f"the video), {len(clip.expression_names)} channels, jaw and head"
    )
    for note in tracked.notes:
        print(f"note: {note}")
    if not tracked.has_audio:
        print("note: the video has no sound: fine for tracking, but Adapt Style needs the speech too")


def add_track_command(commands: argparse._SubParsersAction) -> None:
    track = commands.add_parser("track", help="a video of a person talking -> motion clip (face tracker, offline)")
    track.add_argument("video", help="video file (mp4, mov, mkv, webm, ...), one person facing the camera")
    track.add_argument("--out", required=True, help="motion clip to write (.npz)")
    track.add_argument("--plot", help="also draw landmarks on a few frames beside the recovered curves (.png)")
    track.set_defaults(run=run_track)
