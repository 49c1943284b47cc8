"""The models' commands of `python -m backend`: train, generate, adapt, export-flame, eval, bench.

Torch loads only when one runs."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from backend.adaptation.adapt_options import AdaptOptions
from backend.core.errors import AdaMeshError
from backend.core.options import add_arguments, from_arguments
from backend.inference.generate_options import GenerateOptions


def run_train(args: argparse.Namespace) -> None:
    from backend.training.train import train

    stop = threading.Event()

    def request_stop(signum, frame) -> None:
        if stop.is_set():  # a second Ctrl-C: stop now, without saving
            raise KeyboardInterrupt
        print(
            "\ntrain: stopping after this step and saving the state for --resume (Ctrl-C again to quit now)",
            file=sys.stderr,
        )
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    result = train(
        args.data,
        args.preset,
        args.out,
        device=args.device,
        max_minutes=args.max_minutes,
        seed=args.seed,
        resume=args.resume,
        should_stop=stop.is_set,
        threads=args.threads,
        stages=args.stages,
        base=args.base,
    )
    if result is None:
        print("train: stopped; continue with the same command and --resume", file=sys.stderr)
        sys.exit(130)  # interrupted: a following `&& eval` must not run on a missing checkpoint


def run_generate(args: argparse.Namespace) -> None:
    from backend.audio.decode import decode_audio
    from backend.clips import save_clip
    from backend.inference.generate_options import GenerateOptions
    from backend.inference.generation import generate_clip
    from backend.worker.generate_handler import sound_notes

    transcript = args.transcript
    if transcript is not None and Path(transcript).is_file():
        transcript = Path(transcript).read_text()
    options = from_arguments(GenerateOptions, args, transcript=transcript)
    started = time.perf_counter()
    sound = decode_audio(args.audio)
    clip = generate_clip(args.audio, options, wave=sound.samples)
    seconds = time.perf_counter() - started
    save_clip(clip, args.out)
    print(
        f"wrote {args.out}: {clip.n_frames} frames at {clip.fps:g} fps ({clip.duration:.1f} s of motion in "
        f"{seconds:.1f} s, {clip.duration / seconds:.0f}x real time)"
    )
    for note in sound_notes(Path(args.audio), sound):
        print(f"note: {note}")


def run_eval(args: argparse.Namespace) -> None:
    from backend.evaluation.evaluate import evaluate, format_table, write_report
    from backend.evaluation.real_speech import REAL_CLIP, real_speech_dir

    real = args.real
    if real is None and not args.no_real:
        folder = real_speech_dir()
        real = folder / f"{REAL_CLIP}.ogg" if folder else None
        if real is None:
            print(
                "eval: the real-speech clip (assets/real-speech/) is not in this installation; synthetic measures only",
                file=sys.stderr,
            )
    report = evaluate(args.data, args.checkpoint, real_audio=real, seed=args.seed)
    print(format_table(report))
    if args.json:
        write_report(report, args.json)
        print(f"wrote {args.json}")


def run_adapt(args: argparse.Namespace) -> None:
    from backend.adaptation.adapt_options import AdaptOptions
    from backend.adaptation.adapt_style import adapt_style, describe

    def show(fraction: float, message: str) -> None:
        print(f"\radapt {fraction:4.0%} {message:<70}", end="", file=sys.stderr, flush=True)

    if args.video and (args.audio or args.motion):
        raise AdaMeshError("give either --video or --audio with --motion, not both")
    if not args.video and not (args.audio and args.motion):
        raise AdaMeshError("adapt needs --audio and --motion (speech and its facial motion), or --video")
    notes: tuple[str, ...] = ()
    try:
        if args.video:
            from backend.tracking.adapt_video import adapt_from_video

            style, tracked = adapt_from_video(args.video, args.out, from_arguments(AdaptOptions, args), progress=show)
            notes = tracked.notes
        else:
            style = adapt_style(args.audio, args.motion, args.out, from_arguments(AdaptOptions, args), progress=show)
    finally:
        print(file=sys.stderr)  # end the progress line, so an error starts a line of its own
    print(f"wrote {args.out}: {describe(style)}")
    for note in notes:
        print(f"note: {note}")


def run_export_flame(args: argparse.Namespace) -> None:
    from backend.clips import load_clip
    from backend.clips.flame_export import export_flame

    arrays = export_flame(load_clip(args.clip), args.out, fps=args.fps)
    print(
        f"wrote {args.out}: {len(arrays['expr'])} frames, {arrays['expr'].shape[1]} expression coefficients, "
        f"jaw, neck, global rotation (VHAP keys) at {float(arrays['fps']):g} fps"
    )


def run_bench(args: argparse.Namespace) -> None:
    if args.target == "adapt":
        from backend.evaluation.adapt_benchmark import run_adapt_benchmark

        run_adapt_benchmark(
            args.data,
            args.checkpoint,
            lengths=tuple(args.lengths),
            methods=tuple(args.methods),
            n_speakers=args.speakers,
            steps=args.steps,
            parts=tuple(args.parts),
            timed_budgets=tuple(args.time_budgets),
        )
        return
    from backend.evaluation.generate_benchmark import run_generation_benchmark

    run_generation_benchmark(args.checkpoint, args.audio, peak_memory_minutes=args.memory_minutes)


def add_model_commands(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a checkpoint on a corpus (torchrun for several processes)")
    train.add_argument("--data", required=True, help="corpus folder from `synth` or `prepare`")
    train.add_argument("--preset", default="starter", help="tiny, starter, or a preset .toml file")
    train.add_argument("--out", required=True, help="checkpoint to write (.safetensors)")
    train.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    train.add_argument("--max-minutes", type=float, help="wall-time budget, shared by the stages as the preset says")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--resume", action="store_true", help="continue from the training state beside --out")
    train.add_argument(
        "--threads",
        type=int,
        help="CPU threads per process (default: all cores, shared under "
        "torchrun); 1 runs best on a machine busy with other work",
    )
    train.add_argument(
        "--stages",
        default="all",
        choices=("all", "pose"),
        help="pose: retrain only the pose VQ-VAE, PoseGPT and style bank, keeping --from's expression "
        "model bit for bit",
    )
    train.add_argument(
        "--from",
        dest="base",
        metavar="CHECKPOINT",
        help="with --stages pose: the checkpoint whose expression model is kept",
    )
    train.set_defaults(run=run_train)

    generate = commands.add_parser("generate", help="speech -> motion clip (expression, jaw, head)")
    generate.add_argument("--audio", required=True, help="audio or video file with speech")
    add_arguments(generate, GenerateOptions)
    generate.add_argument("--out", required=True, help="motion clip to write (.npz)")
    generate.set_defaults(run=run_generate)

    adapt = commands.add_parser("adapt", help="learn a talking style from a reference (speech + facial motion)")
    adapt.add_argument("--audio", help="the reference's speech (audio or video file)")
    adapt.add_argument("--motion", help="its facial motion: a motion clip (.npz) or a tracker file")
    adapt.add_argument(
        "--video",
        help="instead of --audio and --motion: a video of the person talking (the face is "
        "tracked offline, the speech is its sound track)",
    )
    add_arguments(adapt, AdaptOptions)
    adapt.add_argument("--out", required=True, help="style file to write (.safetensors)")
    adapt.set_defaults(run=run_adapt)

    export = commands.add_parser("export-flame", help="a motion clip in FLAME parameters (VHAP keys), for other tools")
    export.add_argument("clip", help="motion clip in FLAME channels Exp1..ExpN (.npz)")
    export.add_argument("--fps", type=float, help="resample to this frame rate; default: the clip's")
    export.add_argument("--out", required=True, help="FLAME parameter file to write (.npz)")
    export.set_defaults(run=run_export_flame)

    evaluate = commands.add_parser("eval", help="measure a checkpoint on a held-out corpus (and real speech)")
    evaluate.add_argument("--data", required=True, help="held-out corpus from `synth --split test`")
    evaluate.add_argument("--checkpoint", help="default: the starter")
    evaluate.add_argument(
        "--real",
        help="real speech to score too, with <stem>.phones.json beside it; default: the "
        "LibriSpeech evaluation clip when present (backend/evaluation/real_speech.py)",
    )
    evaluate.add_argument("--no-real", action="store_true", help="synthetic measures only")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--json", help="write the measures here")
    evaluate.set_defaults(run=run_eval)

    bench = commands.add_parser("bench", help="benchmarks that print figures")
    bench.add_argument(
        "target",
        choices=("generate", "adapt"),
        help="generate: speed (x real time) and peak memory; adapt: the adaptation ablation",
    )
    bench.add_argument("--checkpoint", help="default: the starter (an untrained starter-sized model if absent)")
    bench.add_argument(
        "--audio",
        help="speech to repeat into the test audio; default: the real LibriSpeech clip "
        "when present, else synthesised sentences",
    )
    bench.add_argument("--memory-minutes", type=float, default=30.0, help="audio length for the peak-memory run")
    bench.add_argument("--data", help="adapt: held-out corpus (`synth --split test`); default: synthesise one")
    bench.add_argument("--lengths", type=float, nargs="+", default=[3.0, 10.0, 30.0], help="adapt: reference seconds")
    bench.add_argument(
        "--methods",
        nargs="+",
        default=["molora", "lora", "full"],
        choices=("molora", "lora", "full"),
        help="adapt: methods to train",
    )
    bench.add_argument("--speakers", type=int, default=3, help="adapt: held-out speakers to measure")
    bench.add_argument("--steps", type=int, help="adapt: most adaptation steps (default: as `adapt`)")
    bench.add_argument(
        "--time-budgets",
        type=int,
        nargs="*",
        default=[],
        help="adapt: also time the whole 10 s adaptation with these step budgets (e.g. an earlier default)",
    )
    bench.add_argument(
        "--parts",
        nargs="+",
        default=["expression", "pose"],
        choices=("expression", "pose"),
        help="adapt: the expression ablation, the pose stages, or both",
    )
    bench.set_defaults(run=run_bench)
