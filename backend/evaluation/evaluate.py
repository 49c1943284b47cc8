"""`python -m backend eval`: a checkpoint measured on a held-out corpus (`synth --split test`) and on real speech.

Held-out utterances are generated the way the product runs after Adapt Style: the expression style from a
reference (the longest other utterance of the same speaker, ground-truth motion), the pose style retrieved from that
reference's style matrix (top-k blend). Three phonetic paths: "phonetic" (the exact phones corrupted like
pocketsphinx's recognition of real speech, the stand-in used in training: pocketsphinx hears synthetic speech
badly), "exact_phones" (the timeline as it is, what a transcript's forced alignment approaches) and "mel_only".
Real speech (--real AUDIO, with AUDIO's `<stem>.phones.json` beside it, and `<stem>.transcript.txt` when present)
runs the real front end: pocketsphinx recognition ("words"), forced alignment of the transcript ("transcript"; note
that the clip's reference phones are themselves such an alignment), and mel only; the style is the average one.
Measures are defined in backend/evaluation/metrics.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from backend.core.errors import AdaMeshError
from backend.core.files import write_json_atomically
from backend.core.lip_gap import contract_channels, lip_gap
from backend.core.phones import CLOSE_VOWELS, OPEN_VOWELS, Phone
from backend.core.timebase import MODEL_FPS
from backend.evaluation.metrics import (
    BEAT_SIGMA_S,
    CLOSED_MM,
    EVENT_TOLERANCE_S,
    audio_beats,
    beat_alignment,
    closure_rate,
    motion_beats,
    open_close_ratio,
    opening_rate,
    peak_openings,
    pearson,
    pose_diversity_deg,
    usual_opening,
)
from backend.inference.features import mel_frames
from backend.inference.generation import Motion, generate_motion
from backend.inference.pose_styles import pose_style_vector
from backend.models.checkpoint_file import Checkpoint, load_checkpoint
from backend.models.pose_gpt import pool_to_code_rate
from backend.models.pose_vqvae import PoseVQVAE
from backend.models.style_matrix import PoseStyleMatrix, blend_weights, build_style_matrix, retrieve
from backend.training.corpus_data import CorpusError, CorpusFeatures, load_corpus_features, read_index
from backend.training.stages import pose_audio_features

FPS = MODEL_FPS
EVALUATION_PROFILE = "words"  # the recogniser whose errors the synthetic "phonetic" path replays


def evaluate(
    data: str | Path,
    checkpoint: Checkpoint | str | Path | None = None,
    real_audio: str | Path | None = None,
    seed: int = 0,
) -> dict:
    """All measures as a JSON-ready dict (see the module docstring)."""
    from tqdm import tqdm

    from backend.audio.decode import load_audio
    from backend.audio.mel import SAMPLE_RATE
    from backend.audio.phone_errors import corrupt_phones, load_error_profile
    from backend.audio.phonetic import phone_features

    if real_audio is not None:
        real_clip_files(Path(real_audio))  # fail before the long part
    if not isinstance(checkpoint, Checkpoint):
        checkpoint = load_checkpoint(checkpoint)
    data = Path(data)
    features = load_corpus_features(data)
    if not contract_channels(features.channels) or features.channels != checkpoint.channel_names:
        raise CorpusError(f"{data}'s channels are not the checkpoint's demo-head channels; lip measures need them")
    index = read_index(data)
    references = {u: _reference_utterance(features, u) for u in range(features.n_utterances)}
    styles = _ReferenceStyles(checkpoint, features)
    profile = load_error_profile(EVALUATION_PROFILE)
    paths = {"phonetic": [], "exact_phones": [], "mel_only": []}
    truth: list[Motion] = []
    timelines, beats = [], {"generated": [], "ground_truth": []}
    for u in tqdm(range(features.n_utterances), desc="eval", unit="utt", leave=False):
        rows = features.rows(u)
        mel, phones = features.mel[rows], features.phones(u)
        expression_style, pose_style = styles.of(references[u])
        rng = np.random.default_rng([seed, u])
        phonetic = torch.from_numpy(phone_features(corrupt_phones(phones, profile, rng), len(mel), FPS))
        exact = torch.from_numpy(phone_features(phones, len(mel), FPS))
        for name, phonetic_input in (("phonetic", phonetic), ("exact_phones", exact), ("mel_only", None)):
            paths[name].append(generate_motion(checkpoint, mel, phonetic_input, seed, pose_style, expression_style))
        truth.append(Motion(features.expression[rows].numpy(), features.jaw[rows].numpy(), features.head[rows].numpy()))
        timelines.append(phones)
        onsets = audio_beats(load_audio(data / index["utterances"][u]["audio"]), SAMPLE_RATE)
        beats["generated"].append((onsets, motion_beats(paths["phonetic"][-1].head, FPS)))
        beats["ground_truth"].append((onsets, motion_beats(truth[-1].head, FPS)))

    opening = usual_opening([lip_gap(m.expression, m.jaw) for m in truth], timelines, FPS)
    report = {
        "checkpoint_training": {k: checkpoint.training.get(k) for k in ("preset", "seed", "corpus_minutes")},
        "data": str(data),
        "utterances": features.n_utterances,
        "speakers": len(features.speakers),
        "minutes": round(len(features.mel) / FPS / 60, 2),
        "thresholds": {
            "closed_mm": CLOSED_MM,
            "event_tolerance_s": EVENT_TOLERANCE_S,
            "usual_opening_mm": round(opening, 3),
            "beat_sigma_s": BEAT_SIGMA_S,
        },
        "synthetic": {name: motion_measures(motions, truth, timelines, opening) for name, motions in paths.items()},
        "ground_truth": lip_measures(truth, timelines, opening),
        "pose": {
            "diversity_deg": pose_diversity_deg(np.concatenate([m.head for m in paths["phonetic"]])),
            "diversity_deg_ground_truth": pose_diversity_deg(np.concatenate([m.head for m in truth])),
            **{f"beat_alignment_{k}": _pooled_beat_alignment(v) for k, v in beats.items()},
        },
        "style_retrieval": styles.retrieval_accuracy(),
    }
    if real_audio is not None:
        report["real"] = evaluate_real(checkpoint, Path(real_audio), opening, seed)
    return report


def motion_measures(motions: list[Motion], truth: list[Motion], timelines: list[list[Phone]], opening: float) -> dict:
    expression = np.concatenate([m.expression for m in motions])
    target = np.concatenate([m.expression for m in truth])
    return {
        "expression_mae": float(np.abs(expression - target).mean()),
        "expression_l2": float(np.linalg.norm(expression - target, axis=1).mean()),
        "jaw_correlation": pearson(
            np.concatenate([m.jaw[:, 0] for m in motions]), np.concatenate([m.jaw[:, 0] for m in truth])
        ),
        **lip_measures(motions, timelines, opening),
    }


def lip_measures(motions: list[Motion], timelines: list[list[Phone]], opening: float) -> dict:
    """Bilabial closure (all, and M alone), open-vowel opening and the open/close contrast, over all clips."""
    gaps = [lip_gap(m.expression, m.jaw) for m in motions]
    pooled: dict[str, list] = {"bilabial": [], "m": [], "open": [], "open_peaks": [], "close_peaks": []}
    for gap, phones in zip(gaps, timelines):
        for key, (rate, n) in (
            ("bilabial", closure_rate(phones, gap, FPS)),
            ("m", closure_rate(phones, gap, FPS, frozenset({"M"}))),
            ("open", opening_rate(phones, gap, FPS, opening)),
        ):
            if n:
                pooled[key].append((rate * n, n))
        pooled["open_peaks"] += peak_openings(phones, gap, FPS, OPEN_VOWELS)
        pooled["close_peaks"] += peak_openings(phones, gap, FPS, CLOSE_VOWELS)

    def share(key: str) -> float | None:
        n = sum(c for _, c in pooled[key])
        return sum(h for h, _ in pooled[key]) / n if n else None

    return {
        "bilabial_closure": share("bilabial"),
        "m_closure": share("m"),
        "open_vowel_opening": share("open"),
        "open_close_ratio": open_close_ratio(pooled["open_peaks"], pooled["close_peaks"]),
        "n_bilabials": sum(c for _, c in pooled["bilabial"]),
        "n_m": sum(c for _, c in pooled["m"]),
        "n_open_vowels": sum(c for _, c in pooled["open"]),
    }


def evaluate_real(checkpoint: Checkpoint, audio: Path, opening: float, seed: int) -> dict:
    """Lip measures on real speech against its reference phone timeline `<stem>.phones.json`."""
    from backend.audio.decode import load_audio
    from backend.audio.frames import motion_frame_count
    from backend.audio.mel import SAMPLE_RATE
    from backend.audio.phonetic import TranscriptError, align_phones, phone_features, recognise_phones
    from backend.core.phones import load_timeline

    phones_file, transcript_file = real_clip_files(audio)
    reference = load_timeline(phones_file)
    wave = load_audio(audio)
    n = motion_frame_count(len(wave) / SAMPLE_RATE, FPS)
    mel = mel_frames(wave, n)
    front_ends = {"words": lambda: recognise_phones(wave, "words", workers=2)}
    if transcript_file.is_file():
        front_ends["transcript"] = lambda: align_phones(wave, transcript_file.read_text())
    style = pose_style_vector(checkpoint, None)
    result = {"clip": audio.name, "seconds": round(len(wave) / SAMPLE_RATE, 2)}
    for name, recognise in (*front_ends.items(), ("mel_only", None)):
        try:
            phonetic = None if recognise is None else torch.from_numpy(phone_features(recognise(), n, FPS))
        except TranscriptError as error:  # reported in the table: the other paths are still worth measuring
            result[name] = {"error": str(error)}
            continue
        motion = generate_motion(checkpoint, mel, phonetic, seed, style)
        result[name] = lip_measures([motion], [reference], opening)
    return result


def real_clip_files(audio: Path) -> tuple[Path, Path]:
    """The reference timeline `<stem>.phones.json` (required) and transcript `<stem>.transcript.txt` beside audio."""
    stem = audio.name.split(".")[0]
    phones_file, transcript_file = audio.with_name(f"{stem}.phones.json"), audio.with_name(f"{stem}.transcript.txt")
    if not phones_file.is_file():
        raise AdaMeshError(f"{audio}: no reference phone timeline {phones_file} beside it to score against")
    return phones_file, transcript_file


def _reference_utterance(features: CorpusFeatures, utterance: int) -> int:
    """The longest other utterance of the same speaker (the utterance itself if it is the speaker's only one)."""
    mine = features.utterances_of(int(features.speaker[utterance]))
    others = mine[mine != utterance] if len(mine) > 1 else mine
    return int(others[np.argmax(features.n_frames[others])])


class _ReferenceStyles:
    """Expression and pose styles from a reference utterance's ground-truth motion; pose-style retrieval."""

    def __init__(self, checkpoint: Checkpoint, features: CorpusFeatures):
        self.checkpoint, self.features = checkpoint, features
        self.cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    @torch.inference_mode()
    def matrix(self, utterance: int) -> PoseStyleMatrix:
        models, f = self.checkpoint.models, self.features
        vqvae: PoseVQVAE = models.pose_vqvae
        factor = vqvae.config.downsample
        usable = int(f.n_frames[utterance]) // factor * factor
        rows = f.rows(utterance, 0, usable)
        audio = pool_to_code_rate(pose_audio_features(models.expression, f.mel[rows])[None], factor)[0]
        return build_style_matrix(audio, vqvae.encoder_outputs(f.head[rows][None])[0], self.checkpoint.audio_centroids)

    @torch.inference_mode()
    def of(self, utterance: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(expression style [1, S], pose style [1, S']) from the reference `utterance`."""
        if utterance not in self.cache:
            f, models = self.features, self.checkpoint.models
            rows = f.rows(utterance)
            reference = torch.cat((f.expression[rows], f.jaw[rows]), dim=1)[None]
            ids, similarity = retrieve(
                self.matrix(utterance), self.checkpoint.style_bank, models.config.style_matrix.blend_top_k
            )
            pose = models.pose_gpt.blend_styles(ids, blend_weights(similarity))[None]
            self.cache[utterance] = (models.expression.encode_style(reference), pose)
        return self.cache[utterance]

    def retrieval_accuracy(self) -> dict:
        """Per held-out speaker, retrieve the nearest training style from the speaker's longest utterance and
        compare pose kinds."""
        f, bank_kinds = self.features, [s.kind for s in self.checkpoint.pose_styles]
        hits = []
        for k, speaker in enumerate(f.speakers):
            mine = f.utterances_of(k)
            ids, _ = retrieve(self.matrix(int(mine[np.argmax(f.n_frames[mine])])), self.checkpoint.style_bank, 1)
            hits.append(bank_kinds[int(ids[0])] == speaker.pose_kind)
        return {"accuracy": float(np.mean(hits)), "speakers": len(hits), "chance": 1.0 / max(len(set(bank_kinds)), 1)}


def _pooled_beat_alignment(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float | None:
    scored = [beat_alignment(a, m) for a, m in pairs]
    n = sum(c for _, c in scored)
    return sum(s * c for s, c in scored if s is not None) / n if n else None


def format_table(report: dict) -> str:
    """The report as aligned text tables."""
    lines = [
        f"{report['data']}: {report['utterances']} utterances, {report['speakers']} speakers, "
        f"{report['minutes']} min (held out); thresholds {json.dumps(report['thresholds'])}"
    ]
    columns = {**{f"synthetic {k}": v for k, v in report["synthetic"].items()}, "ground truth": report["ground_truth"]}
    if "real" in report:
        columns |= {f"real {k}": v for k, v in report["real"].items() if isinstance(v, dict) and "error" not in v}
    keys = [
        "expression_mae",
        "expression_l2",
        "jaw_correlation",
        "bilabial_closure",
        "m_closure",
        "open_vowel_opening",
        "open_close_ratio",
        "n_bilabials",
        "n_m",
        "n_open_vowels",
    ]
    width = max(len(c) for c in columns) + 2
    lines.append("measure".ljust(20) + "".join(c.rjust(width) for c in columns))
    for key in keys:
        lines.append(key.ljust(20) + "".join(_cell(v.get(key)).rjust(width) for v in columns.values()))
    pose = report["pose"]
    lines.append(
        f"pose diversity {pose['diversity_deg']:.2f} deg (ground truth {pose['diversity_deg_ground_truth']:.2f});"
        f" beat alignment {_cell(pose['beat_alignment_generated'])} (ground truth "
        f"{_cell(pose['beat_alignment_ground_truth'])}, sigma {BEAT_SIGMA_S} s)"
    )
    for name, value in report.get("real", {}).items():
        if isinstance(value, dict) and "error" in value:
            lines.append(f"real {name}: {value['error']}")
    retrieval = report["style_retrieval"]
    lines.append(
        f"pose-style retrieval: {retrieval['accuracy']:.2f} of {retrieval['speakers']} held-out speakers "
        f"(chance {retrieval['chance']:.2f})"
    )
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def write_report(report: dict, path: str | Path) -> None:
    write_json_atomically(Path(path), report)
