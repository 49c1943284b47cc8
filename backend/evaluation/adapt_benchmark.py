"""`python -m backend bench adapt`: the adaptation ablation on held-out synthetic speakers with distinct styles.

For each chosen speaker of a held-out corpus (`synth --split test`: voices and sentences never trained on), the
reference is the speaker's first utterances joined and cut to 3, 10 and 30 s; the speaker's other utterances are
the new sentences everything is measured on. Rows:

    none     the base model as Generate runs it without a style (average expression style, default pose blend)
    encoder  the base model with the style encoder's reading of the reference (no training)
    molora   Adapt Style: MoLoRA adapters (experts of ranks 2, 4, 8, 16), style vector, early stopping
    lora     one LoRA adapter of rank 30: the same A and B sizes, no gate
    full     fine-tuning every weight of the expression model

Columns: expression error (mean absolute channel error on the new sentences), style distance (backend/adaptation/
statistics.py: smile, asymmetry, articulation, lip press, brows, each in units of their spread across the corpus's
speakers), parameters trained, adaptation time. The pose tables (backend/bench_adapt_pose.py) give each pose stage's
amplitude ratio per axis and rhythm error on new speech, for references carrying habits outside the training bank.
The phonetic input of the synthetic
speech is its exact phones corrupted the way pocketsphinx errs on real speech, as in `eval` (pocketsphinx hears
espeak badly). Finally one whole `adapt` of a 10 s reference from files (pocketsphinx included) is timed.
"""

from __future__ import annotations

import copy
import dataclasses
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from backend.adaptation.adapt_options import AdaptOptions
from backend.adaptation.expression import AdaptationSettings, adapt_expression
from backend.adaptation.pose import adapt_pose
from backend.adaptation.reference import Reference
from backend.adaptation.statistics import EXPRESSION_STATISTICS, expression_statistics, style_distance
from backend.clips import MotionClip
from backend.core.errors import AdaMeshError
from backend.core.timebase import MODEL_FPS
from backend.evaluation.adapt_pose_benchmark import (
    POSE_HABITS,
    format_pose_table,
    new_speech_features,
    pose_stage_rows,
    with_habit,
)
from backend.inference.generation import generate_motion
from backend.inference.pose_styles import pose_style_vector
from backend.models.checkpoint_file import Checkpoint, load_checkpoint
from backend.training.corpus_data import CorpusFeatures, load_corpus_features, read_index

REFERENCE_SECONDS = (3.0, 10.0, 30.0)
TRAINED_METHODS = ("molora", "lora", "full")
NEW_SENTENCES_MIN_S = 8.0  # a speaker needs this much speech beyond the longest reference to be measured on
PARTS = ("expression", "pose")
TIME_LIMIT_S = 60.0  # the product's promise for a 10 s reference on a 2-core CPU
# Speakers are picked for the strongest, most distinct styles first.
_KIND_ORDER = ("crooked", "happy", "large", "small", "tense", "brow_active", "neutral")
_DEFAULT_CORPUS = {"minutes": 6.0, "seed": 1, "speakers": 10}  # as the held-out corpus of `eval`: 3 speakers qualify


@dataclass
class Utterances:
    """Per-frame inputs and ground truth of some utterances, one entry per utterance."""

    mel: list[torch.Tensor]
    phonetic: list[torch.Tensor]
    expression: list[np.ndarray]
    jaw: list[np.ndarray]
    head: list[np.ndarray]


def run_adapt_benchmark(
    data: str | Path | None = None,
    checkpoint: str | Path | None = None,
    lengths: tuple[float, ...] = REFERENCE_SECONDS,
    methods: tuple[str, ...] = TRAINED_METHODS,
    n_speakers: int = 3,
    steps: int | None = None,
    seed: int = 0,
    parts: tuple[str, ...] = PARTS,
    timed_budgets: tuple[int, ...] = (),
) -> dict:
    """Print and return the ablation (see the module docstring); parts: "expression", "pose" or both.

    The whole adaptation is timed with the default step budget (`steps` when given), then with each of
    `timed_budgets` (e.g. an earlier default, to compare on the same machine in the same run)."""
    with tempfile.TemporaryDirectory() as folder:
        if data is None:
            data = _build_heldout_corpus(Path(folder) / "heldout")
        features = load_corpus_features(data)
        loaded = load_checkpoint(checkpoint)
        if features.channels != loaded.channel_names:
            raise AdaMeshError(f"{data}'s channels are not the checkpoint's: the benchmark needs the corpus channels")
        kinds = {name: entry["expression_style"]["kind"] for name, entry in read_index(Path(data))["speakers"].items()}
        scales = _statistic_scales(features)
        speakers = _pick_speakers(features, kinds, max(lengths), n_speakers)
        settings = AdaptationSettings(seed=seed) if steps is None else AdaptationSettings(max_steps=steps, seed=seed)
        rows, pose_rows, labels = [], [], []
        for speaker in speakers:
            reference_pool, new = _split_speaker(features, speaker, max(lengths))
            evaluation = _utterances(features, new, seed + 1)
            truth = expression_statistics(
                np.concatenate(evaluation.expression), np.concatenate(evaluation.jaw), features.channels
            )
            label = f"{features.speakers[speaker].name} ({kinds[features.speakers[speaker].name]})"
            labels.append(label)
            if "pose" in parts:
                new_features = new_speech_features(loaded, torch.cat(evaluation.mel))
                for habit in POSE_HABITS:
                    for seconds in lengths:
                        reference = with_habit(_reference(features, reference_pool, seconds, seed), habit)
                        pose_rows += [
                            row | {"speaker": label, "habit": habit.name, "reference_s": seconds}
                            for row in pose_stage_rows(loaded, reference, new_features, seed)
                        ]
                    print(f"bench adapt: {label}, pose habit {habit.name} done", flush=True)
            if "expression" not in parts:
                continue
            none = _measure(loaded, loaded.models.expression, None, pose_style_vector(loaded, None), evaluation, seed)
            for seconds in lengths:
                reference = _reference(features, reference_pool, seconds, seed)
                measured = {"none": none}
                with torch.no_grad():
                    encoded = loaded.models.expression.encode_style(torch.cat(reference.tensors()[:2], dim=1)[None])
                pose = adapt_pose(loaded, reference, last_stage="retrieval")  # the expression rows' head motion
                measured["encoder"] = _measure(
                    loaded, loaded.models.expression, encoded, pose.vector[None], evaluation, seed
                )
                for method in methods:
                    adapted = adapt_expression(loaded, reference, dataclasses.replace(settings, method=method))
                    measured[method] = _measure(
                        loaded, adapted.model, adapted.style[None], pose.vector[None], evaluation, seed
                    ) | {"summary": adapted.summary}
                for method, result in measured.items():
                    summary = result.get("summary", {})
                    rows.append(
                        {
                            "speaker": label,
                            "reference_s": seconds,
                            "method": method,
                            "expression_error": result["error"],
                            "style_distance": style_distance(result["statistics"], truth, scales),
                            "statistics": result["statistics"],
                            "truth": truth,
                            "trained_parameters": summary.get("trained_parameters", 0),
                            "adapt_seconds": summary.get("seconds", 0.0),
                            "steps": summary.get("steps", 0),
                        }
                    )
                print(f"bench adapt: {label}, {seconds:g} s reference done", flush=True)
        timing = [
            _time_whole_adaptation(Path(data), features, loaded, speakers[0], Path(folder), budget)
            for budget in (steps, *timed_budgets)
        ]
    report = {
        "data": str(data),
        "speakers": labels,
        "scales": scales,
        "rows": rows,
        "pose": pose_rows,
        "adapt_10s": timing,
    }
    print(format_tables(report))
    return report


def _build_heldout_corpus(folder: Path) -> Path:
    from backend.synth.corpus import CorpusSpec, build_corpus

    print(f"bench adapt: no --data given; synthesising a held-out corpus ({_DEFAULT_CORPUS}) in {folder}")
    build_corpus(folder, CorpusSpec(split="test", **_DEFAULT_CORPUS))
    return folder


def _statistic_scales(features: CorpusFeatures) -> dict[str, float]:
    """Spread (standard deviation) of each style statistic across the corpus's speakers' ground truth."""
    per_speaker = []
    for speaker in range(len(features.speakers)):
        rows = np.concatenate(
            [np.arange(features.rows(u).start, features.rows(u).stop) for u in features.utterances_of(speaker)]
        )
        per_speaker.append(
            expression_statistics(features.expression[rows].numpy(), features.jaw[rows].numpy(), features.channels)
        )
    return {k: float(np.std([s[k] for s in per_speaker])) for k in EXPRESSION_STATISTICS}


def _pick_speakers(features: CorpusFeatures, kinds: dict[str, str], longest: float, count: int) -> list[int]:
    """Speakers with enough speech, strongest and most distinct expression styles first."""
    seconds = [features.n_frames[features.utterances_of(k)].sum() / MODEL_FPS for k in range(len(features.speakers))]
    usable = [k for k in range(len(features.speakers)) if seconds[k] >= longest + NEW_SENTENCES_MIN_S]
    if not usable:
        raise AdaMeshError(
            f"no speaker of the corpus has {longest + NEW_SENTENCES_MIN_S:g} s of speech; build a "
            "bigger held-out corpus (`synth --split test --minutes 6`)"
        )

    def rank(k: int) -> tuple[int, float]:
        kind = kinds[features.speakers[k].name]
        return (_KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER), -seconds[k])

    chosen, seen = [], set()
    for k in sorted(usable, key=rank):  # one speaker per kind first, then the rest
        if kinds[features.speakers[k].name] not in seen:
            chosen.append(k)
            seen.add(kinds[features.speakers[k].name])
    chosen += [k for k in sorted(usable, key=rank) if k not in chosen]
    return chosen[:count]


def _split_speaker(features: CorpusFeatures, speaker: int, longest: float) -> tuple[list[int], list[int]]:
    """The speaker's first utterances covering `longest` seconds (the reference pool), and the rest."""
    pool, total = [], 0.0
    utterances = [int(u) for u in features.utterances_of(speaker)]
    for u in utterances:
        if total >= longest:
            break
        pool.append(u)
        total += features.n_frames[u] / MODEL_FPS
    return pool, [u for u in utterances if u not in pool]


def _utterances(features: CorpusFeatures, utterances: list[int], seed: int) -> Utterances:
    """Inputs and ground truth; phones are the exact ones corrupted like pocketsphinx's recognition of real speech."""
    from backend.audio.phone_errors import corrupt_phones, load_error_profile
    from backend.audio.phonetic import phone_features

    profile = load_error_profile("words")
    out = Utterances([], [], [], [], [])
    for u in utterances:
        rows = features.rows(u)
        rng = np.random.default_rng([seed, u])
        out.mel.append(features.mel[rows])
        out.phonetic.append(
            torch.from_numpy(
                phone_features(corrupt_phones(features.phones(u), profile, rng), int(features.n_frames[u]), MODEL_FPS)
            )
        )
        out.expression.append(features.expression[rows].numpy())
        out.jaw.append(features.jaw[rows].numpy())
        out.head.append(features.head[rows].numpy())
    return out


def _reference(features: CorpusFeatures, pool: list[int], seconds: float, seed: int) -> Reference:
    """The pool's utterances joined and cut to `seconds`, as one reference."""
    parts = _utterances(features, pool, seed)
    n = round(seconds * MODEL_FPS)
    clip = MotionClip(
        MODEL_FPS,
        np.concatenate(parts.expression)[:n],
        features.channels,
        np.concatenate(parts.jaw)[:n],
        np.concatenate(parts.head)[:n],
    )
    return Reference(clip, torch.cat(parts.mel)[:n], torch.cat(parts.phonetic)[:n])


def _measure(
    checkpoint: Checkpoint, model, style: torch.Tensor | None, pose: torch.Tensor, evaluation: Utterances, seed: int
) -> dict:
    """Generate every new sentence with `model` and the styles; expression error and statistics."""
    models = copy.deepcopy(checkpoint.models)  # the loaded checkpoint stays as it is
    models.expression = model
    with_model = dataclasses.replace(checkpoint, models=models)
    generated = [
        generate_motion(with_model, mel, phonetic, seed, pose, style)
        for mel, phonetic in zip(evaluation.mel, evaluation.phonetic)
    ]
    expression = np.concatenate([g.expression for g in generated])
    return {
        "error": float(np.abs(expression - np.concatenate(evaluation.expression)).mean()),
        "statistics": expression_statistics(
            expression, np.concatenate([g.jaw for g in generated]), checkpoint.channel_names
        ),
    }


def _time_whole_adaptation(
    data: Path, features: CorpusFeatures, checkpoint: Checkpoint, speaker: int, folder: Path, steps: int | None
) -> dict:
    """`adapt_style` on files, as the CLI and the worker run it: a 10 s reference, pocketsphinx recognition; at
    most `steps` steps (None: the default)."""
    import soundfile

    from backend.adaptation.adapt_style import adapt_style
    from backend.audio.decode import load_audio
    from backend.audio.mel import SAMPLE_RATE
    from backend.clips import save_clip

    index = read_index(data)
    pool, _ = _split_speaker(features, speaker, 10.0)
    wave = np.concatenate([load_audio(data / index["utterances"][u]["audio"]) for u in pool])[: 10 * SAMPLE_RATE]
    reference = _reference(features, pool, 10.0, 0)
    soundfile.write(folder / "reference.wav", wave, SAMPLE_RATE, subtype="PCM_16")
    save_clip(reference.clip, folder / "reference.npz")
    started = time.monotonic()
    style = adapt_style(
        folder / "reference.wav",
        folder / "reference.npz",
        folder / "style.safetensors",
        AdaptOptions(steps=steps),
        checkpoint,
    )
    seconds = time.monotonic() - started
    return {
        "seconds": seconds,
        "threads": torch.get_num_threads(),
        "steps": style.adaptation["steps"],
        "max_steps": style.adaptation["max_steps"],
        "style_file_bytes": (folder / "style.safetensors").stat().st_size,
    }


def format_tables(report: dict) -> str:
    """The ablation as text tables: the mean over speakers per reference length and method, the per-speaker style
    statistics, the pose table and the timing."""
    rows = report["rows"]
    lines = (
        []
        if not rows
        else [
            "",
            "Expression adaptation, mean over speakers (new sentences of the same speakers):",
            f"{'reference':>9}  {'method':<8} {'expr error':>10} {'style dist':>10} {'trained params':>14} "
            f"{'steps':>6} {'adapt s':>8}",
        ]
    )
    keys = sorted(
        {(r["reference_s"], r["method"]) for r in rows},
        key=lambda k: (k[0], ["none", "encoder", *TRAINED_METHODS].index(k[1])),
    )
    for seconds, method in keys:
        group = [r for r in rows if r["reference_s"] == seconds and r["method"] == method]
        lines.append(
            f"{seconds:>8g}s  {method:<8} {np.mean([r['expression_error'] for r in group]):>10.4f} "
            f"{np.mean([r['style_distance'] for r in group]):>10.3f} "
            f"{int(np.mean([r['trained_parameters'] for r in group])):>14,d} "
            f"{np.mean([r['steps'] for r in group]):>6.0f} "
            f"{np.mean([r['adapt_seconds'] for r in group]):>8.1f}"
        )
    if rows:
        lines += ["", "Style statistics per speaker (ground truth, then none / molora at each length):"]
    for speaker in dict.fromkeys(r["speaker"] for r in rows):
        mine = [r for r in rows if r["speaker"] == speaker]
        truth = mine[0]["truth"]
        lines.append(f"  {speaker}: truth " + " ".join(f"{k}={truth[k]:.3f}" for k in EXPRESSION_STATISTICS))
        for r in mine:
            if r["method"] in ("none", "molora") and not (r["method"] == "none" and r is not mine[0]):
                where = "" if r["method"] == "none" else f" {r['reference_s']:g}s"
                lines.append(
                    f"    {r['method']}{where}: "
                    + " ".join(f"{k}={r['statistics'][k]:.3f}" for k in EXPRESSION_STATISTICS)
                )
    if report["pose"]:
        lines.append(format_pose_table(report["pose"]))
    lines.append("")
    for t in report["adapt_10s"]:
        verdict = "within" if t["seconds"] <= TIME_LIMIT_S else "OVER"
        lines.append(
            f"Adapt Style on a 10 s reference from files (pocketsphinx included, {t['threads']} torch "
            f"thread(s), at most {t['max_steps']} steps): {t['seconds']:.1f} s, {t['steps']} steps, style file "
            f"{t['style_file_bytes'] / 1e6:.1f} MB ({verdict} the {TIME_LIMIT_S:g} s limit)"
        )
    lines += [
        "Style-distance scales (spread across speakers): "
        + ", ".join(f"{k} {v:.3f}" for k, v in report["scales"].items()),
    ]
    return "\n".join(lines)
