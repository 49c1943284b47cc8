"""The data commands of `python -m backend`: synth, convert, prepare, plot. None of them loads torch."""

from __future__ import annotations

import argparse
from pathlib import Path

from backend.core.trackers import TRACKERS


def run_synth(args: argparse.Namespace) -> None:
    from backend.synth.corpus import CorpusSpec, build_corpus

    spec = CorpusSpec(
        minutes=args.minutes,
        seed=args.seed,
        speakers=args.speakers,
        fps=args.fps,
        split=args.split,
        engines=tuple(args.engines.split(",")),
    )
    build_corpus(args.out, spec, workers=args.workers)


def run_convert(args: argparse.Namespace) -> None:
    from backend.clips.trackers import convert_tracker_file

    clip = convert_tracker_file(args.tracker, args.input, args.out, fps=args.fps)
    print(f"wrote {args.out}: {clip.n_frames} frames at {clip.fps:g} fps, {len(clip.expression_names)} channels")


def run_prepare(args: argparse.Namespace) -> None:
    from backend.training.prepare_corpus import prepare_corpus

    prepare_corpus(
        args.sources, args.out, tracker=args.tracker, fps=args.fps, phonetic=args.phonetic, workers=args.workers
    )


def run_plot(args: argparse.Namespace) -> None:
    from backend.clips import load_clip
    from backend.core.phones import load_timeline
    from backend.evaluation.plot import plot_clip

    audio = None
    if args.audio:
        from backend.audio.decode import load_audio

        audio = load_audio(args.audio)
    phones = load_timeline(args.phones) if args.phones else None
    compare = (args.compare_label or Path(args.compare).stem, load_clip(args.compare)) if args.compare else None
    out = plot_clip(
        load_clip(args.clip),
        args.out,
        audio=audio,
        phones=phones,
        title=args.title,
        compare=compare,
        label=args.label or Path(args.clip).stem,
    )
    print(f"wrote {out}")


def add_data_commands(commands: argparse._SubParsersAction) -> None:
    synth = commands.add_parser("synth", help="build a synthetic corpus: speech, phone timelines, motion clips")
    synth.add_argument("--out", required=True, help="corpus folder (created; must be empty or absent)")
    synth.add_argument("--minutes", type=float, required=True, help="minutes of speech to generate")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--speakers", type=int, default=12, help="synthetic speakers, each a voice and a style")
    synth.add_argument("--fps", type=float, default=25.0, help="frame rate of the motion clips (models use 25)")
    synth.add_argument(
        "--split",
        choices=("train", "test"),
        default="train",
        help="test draws voices and sentences disjoint from train, for held-out evaluation",
    )
    synth.add_argument("--engines", default="espeak,festival", help="comma-separated: espeak, festival")
    synth.add_argument("--workers", type=int, default=2, help="parallel processes")
    synth.set_defaults(run=run_synth)

    convert = commands.add_parser("convert", help="turn a face tracker's output into a motion clip")
    convert.add_argument(
        "--from",
        dest="tracker",
        required=True,
        choices=TRACKERS,
        help="vhap: tracked_flame_params*.npz; deca: DECA/EMOCA/SPECTRE exp+pose; smirk: SMIRK outputs",
    )
    convert.add_argument("input", help="the tracker's file (or folder of per-frame files)")
    convert.add_argument("--out", required=True, help="motion clip to write (.npz)")
    convert.add_argument("--fps", type=float, required=True, help="frame rate of the tracked video")
    convert.set_defaults(run=run_convert)

    prepare = commands.add_parser(
        "prepare",
        help="a training corpus from recorded speech and its tracked facial motion (for train, eval)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Build a corpus that `train` and `eval` read from recordings: audio with the facial motion "
        "tracked from the same video.",
        epilog="""input layout (each SOURCE):
  data/                       a folder of speaker folders (one speaker per folder: its pose style)
    alice/take01.wav          speech: wav, flac, ogg, mp3, m4a, or the audio track of mp4 / mov / mkv / webm
    alice/take01.npz          its motion: an AdaMesh motion clip, or with --tracker the tracker's file
    alice/take01.txt          optional: the words spoken (forced alignment instead of recognition)
    bob/...
  A SOURCE that holds audio files itself is one speaker, named after the folder. With --tracker deca, an EMOCA
  --save_codes folder take01/ may stand for take01.npz. A SOURCE may also be a .csv with a header row
  speaker,audio,motion[,transcript] (paths relative to the .csv).

checks (before the slow part): every audio file has its motion and every motion file its audio; all clips have
the same channels (e.g. all Exp1..Exp100); audio and motion last the same time (within 0.2 s).
output: DIR/index.json, audio/ (16 kHz wav), motion/ (clips at 25 fps), phones/ (pocketsphinx timelines).
then:   python -m backend train --data DIR --out model.safetensors""",
    )
    prepare.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="folder of speaker folders, a speaker folder, or a .csv list"
    )
    prepare.add_argument("--out", required=True, help="corpus folder to write (must be empty or absent)")
    prepare.add_argument(
        "--tracker",
        choices=TRACKERS,
        help="the motion files are this tracker's output (vhap: tracked_flame_params .npz; deca: "
        "DECA/EMOCA/SPECTRE exp+pose; smirk: SMIRK outputs); default: AdaMesh motion clips",
    )
    prepare.add_argument(
        "--fps",
        type=float,
        help="frame rate of the tracked videos (with --tracker; trackers store "
        "none); motion is resampled to the models' 25 fps",
    )
    prepare.add_argument(
        "--phonetic",
        default="words",
        choices=("words", "allphone"),
        help="pocketsphinx recogniser for clips without a transcript: words (accurate), allphone (~3x faster)",
    )
    prepare.add_argument("--workers", type=int, default=2, help="parallel processes for the phone pass")
    prepare.set_defaults(run=run_prepare)

    plot = commands.add_parser("plot", help="draw a motion clip over its audio and phones")
    plot.add_argument("clip", help="motion clip (.npz)")
    plot.add_argument("--audio", help="the clip's audio, drawn as a waveform")
    plot.add_argument("--phones", help="phone timeline (.json, [{phone, start, end}])")
    plot.add_argument("--title")
    plot.add_argument("--label", help="the clip's name in the legend (default: its file name)")
    plot.add_argument("--compare", help="a second clip of the same speech, drawn dashed over the first")
    plot.add_argument("--compare-label", help="its name in the legend (default: its file name)")
    plot.add_argument("--out", required=True, help="image to write (.png)")
    plot.set_defaults(run=run_plot)
