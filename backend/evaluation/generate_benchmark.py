"""`python -m backend bench generate`: generation speed (x real time) on 60 s of speech, and peak memory on long audio.

Speed is timed in this process after a warm-up (model loaded, librosa compiled), best of two runs, for each
phonetic path: none (the neural path alone), allphone and words (pocketsphinx recognition). Peak memory is the
maximum resident set size of a fresh `python -m backend generate` process on `peak_memory_minutes` of audio (and on
one minute, to show what grows with length), read by that process from getrusage at its end.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from backend.audio.mel import SAMPLE_RATE
from backend.inference.generate_options import GenerateOptions

_RSS_SNIPPET = (
    "import resource, sys; from backend.cli.main import main; code = main(sys.argv[1:]); "
    "print('peak_rss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(code)"
)


def run_generation_benchmark(checkpoint: str | None, audio: str | None, peak_memory_minutes: float = 30.0) -> dict:
    import soundfile

    from backend.inference.generation import generate_clip
    from backend.models.checkpoint_file import DEFAULT_CHECKPOINT, load_checkpoint

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        if checkpoint is None and not DEFAULT_CHECKPOINT.is_file():
            checkpoint = str(_untrained_starter(folder / "untrained-starter.safetensors"))
            print("bench: no starter checkpoint installed; timing an untrained starter-sized model (same cost)")
        loaded = load_checkpoint(checkpoint)
        speech = _speech(audio)
        minute = folder / "speech-60s.wav"
        soundfile.write(minute, _tiled(speech, 60.0), SAMPLE_RATE, subtype="PCM_16")
        figures: dict[str, float] = {}
        generate_clip(minute, GenerateOptions(phonetic="none", blinks=False), loaded)  # warm-up
        for mode in ("none", "allphone", "words"):
            best = min(
                _timed(lambda mode=mode: generate_clip(minute, GenerateOptions(phonetic=mode, blinks=False), loaded))
                for _ in range(2)
            )
            figures[f"x_realtime_{mode}"] = 60.0 / best
            label = "neural path (no phonetic input)" if mode == "none" else f"with pocketsphinx {mode}"
            print(f"generate 60 s, {label}: {best:.2f} s = {60.0 / best:.0f}x real time")
        ckpt_arg = checkpoint or str(DEFAULT_CHECKPOINT)
        for minutes in (1.0, peak_memory_minutes):
            long = folder / f"speech-{minutes:g}min.wav"
            soundfile.write(long, _tiled(speech, minutes * 60), SAMPLE_RATE, subtype="PCM_16")
            started = time.perf_counter()
            rss_kb = _peak_rss_kb(
                [
                    "generate",
                    "--audio",
                    str(long),
                    "--checkpoint",
                    ckpt_arg,
                    "--phonetic",
                    "none",
                    "--out",
                    str(folder / "out.npz"),
                ]
            )
            wall = time.perf_counter() - started
            figures[f"peak_rss_mb_{minutes:g}min"] = rss_kb / 1024
            print(
                f"generate {minutes:g} min (neural path, fresh process): peak RSS {rss_kb / 1024:.0f} MB, "
                f"{wall:.1f} s wall including start-up ({minutes * 60 / wall:.0f}x real time)"
            )
            long.unlink()
    return figures


def _timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _peak_rss_kb(arguments: list[str]) -> float:
    result = subprocess.run(
        [sys.executable, "-c", _RSS_SNIPPET, *arguments],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if result.returncode != 0:
        raise RuntimeError(f"generate failed in the memory run: {result.stderr.strip()[-500:]}")
    line = next(line for line in result.stdout.splitlines() if line.startswith("peak_rss_kb"))
    return float(line.split()[1])


def _speech(audio: str | None) -> np.ndarray:
    """The given speech, else the real LibriSpeech clip when present, else a few synthetic sentences (espeak)."""
    from backend.audio.decode import load_audio
    from backend.evaluation.real_speech import REAL_CLIP, real_speech_dir

    folder = real_speech_dir()
    if audio is None and folder is not None:
        audio = folder / f"{REAL_CLIP}.ogg"
    if audio is not None:
        print(f"bench: speech from {audio}, repeated to length")
        return load_audio(audio)
    import librosa

    from backend.synth.sentences import generate_sentence
    from backend.synth.voices import sample_voice, synthesize

    rng = np.random.default_rng(0)
    voice = sample_voice(rng, "test", ("espeak",))
    speeches = synthesize(voice, [generate_sentence(rng, "test") for _ in range(8)])
    return np.concatenate(
        [
            librosa.resample(s.audio, orig_sr=s.sample_rate, target_sr=SAMPLE_RATE)
            if s.sample_rate != SAMPLE_RATE
            else s.audio
            for s in speeches
        ]
    )


def _tiled(wave: np.ndarray, seconds: float) -> np.ndarray:
    n = int(seconds * SAMPLE_RATE)
    return np.resize(wave, n).astype(np.float32)


def _untrained_starter(path: Path) -> Path:
    """A starter-sized checkpoint with random weights: generation costs the same as the trained one's."""
    import torch

    from backend.core.channels import CHANNELS
    from backend.models.adamesh import AdaMeshModels
    from backend.models.checkpoint_file import Checkpoint, PoseStyleEntry, save_checkpoint
    from backend.models.config import ModelConfig
    from backend.models.style_matrix import PoseStyleMatrix

    torch.manual_seed(0)
    config = ModelConfig.starter()
    models = AdaMeshModels(config)
    styles = config.pose_gpt.n_styles
    clusters = config.style_matrix.n_clusters
    bank = PoseStyleMatrix(torch.zeros(styles, clusters, config.pose_vqvae.code_dim), torch.zeros(styles, clusters))
    save_checkpoint(
        path,
        Checkpoint(
            models,
            CHANNELS,
            tuple(PoseStyleEntry(f"style{k}", "unknown") for k in range(styles)),
            bank,
            torch.randn(clusters, config.expression.d_model),
            "untrained",
        ),
    )
    return path
