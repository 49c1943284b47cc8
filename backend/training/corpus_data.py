"""A synthetic corpus (backend/synth/corpus.py) as training tensors, computed once and cached beside its index.

Per utterance, at the models' 25 fps: log-mel sampled for each motion frame [T, 4, 80] (backend/audio/frames.py),
the motion (expression channels [T, C], jaw and head axis-angle [T, 3]), the exact phone timeline, and the speaker.
All utterances are concatenated along time; `frame_offsets[u]` .. `frame_offsets[u + 1]` are utterance u's rows.
The cache (`training-features.safetensors`) is keyed on the SHA-256 of `index.json`, so a rebuilt corpus is never
read with stale features.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from backend.core.errors import AdaMeshError
from backend.core.phones import BILABIALS, Phone
from backend.core.timebase import MODEL_FPS
from backend.models.tensor_files import read_tensors, write_tensors

FEATURES_FILE = "training-features.safetensors"
FEATURES_FORMAT = "adamesh-features/1"
CORPUS_FORMAT = "adamesh-corpus/1"


class CorpusError(AdaMeshError):
    """A training or evaluation corpus is missing, incomplete or not usable by the models."""

    code = "bad_corpus"


@dataclass(frozen=True)
class SpeakerInfo:
    name: str  # the corpus's speaker id
    pose_kind: (
        str  # the pose style preset it was drawn from (backend/synth/speaker_styles.py POSE_PRESETS), or its own name
    )


@dataclass
class CorpusFeatures:
    mel: torch.Tensor  # [N, 4, 80] float32 log-mel per motion frame
    expression: torch.Tensor  # [N, C]
    jaw: torch.Tensor  # [N, 3]
    head: torch.Tensor  # [N, 3]
    frame_offsets: np.ndarray  # [U + 1] int64
    speaker: np.ndarray  # [U] int64 index into `speakers`
    phone_offsets: np.ndarray  # [U + 1] int64 into the phone arrays
    phone_names: tuple[str, ...]  # [P] exact phones, utterance after utterance
    phone_times: np.ndarray  # [P, 2] float64 start, end (s, from the utterance's start)
    utterance_ids: tuple[str, ...]
    speakers: tuple[SpeakerInfo, ...]
    channels: tuple[str, ...]
    corpus_hash: str  # SHA-256 of index.json

    @property
    def n_utterances(self) -> int:
        return len(self.utterance_ids)

    @property
    def n_frames(self) -> np.ndarray:
        """[U] frames per utterance."""
        return np.diff(self.frame_offsets)

    def rows(self, utterance: int, start: int = 0, length: int | None = None) -> slice:
        """The rows of frames start .. start + length of an utterance (all of it by default)."""
        first = int(self.frame_offsets[utterance])
        stop = int(self.frame_offsets[utterance + 1]) if length is None else first + start + length
        return slice(first + start, stop)

    def phones(self, utterance: int) -> list[Phone]:
        a, b = int(self.phone_offsets[utterance]), int(self.phone_offsets[utterance + 1])
        return [Phone(self.phone_names[k], *map(float, self.phone_times[k])) for k in range(a, b)]

    def bilabial_frames(self) -> torch.Tensor:
        """[N] True where a frame's interval overlaps a P, B or M phone of the exact timeline."""
        from backend.audio.phonetic import FEATURE_PHONES, phone_features

        columns = [FEATURE_PHONES.index(p) for p in sorted(BILABIALS)]
        masks = [
            phone_features(self.phones(u), int(n), MODEL_FPS)[:, columns].sum(axis=1) > 0
            for u, n in enumerate(self.n_frames)
        ]
        return torch.from_numpy(np.concatenate(masks))

    def mel_statistics(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-bin mean and standard deviation [80] over every mel row of the corpus (float64 sums)."""
        flat = self.mel.reshape(-1, self.mel.shape[-1]).double()
        return flat.mean(0).float(), flat.std(0).float()

    def utterances_of(self, speaker: int) -> np.ndarray:
        return np.flatnonzero(self.speaker == speaker)


def corpus_hash(corpus: Path) -> str:
    return hashlib.sha256(_index_path(corpus).read_bytes()).hexdigest()


def load_corpus_features(corpus: str | Path, build: bool = True) -> CorpusFeatures:
    """The corpus's features from its cache, computing and caching them first if needed (when `build`)."""
    corpus = Path(corpus)
    digest = corpus_hash(corpus)
    cache = corpus / FEATURES_FILE
    if cache.is_file():
        tensors, metadata = read_tensors(cache, "feature cache", CorpusError)
        if metadata.get("format") == FEATURES_FORMAT and metadata.get("corpus_hash") == digest:
            return _from_tensors(tensors, metadata)
    if not build:
        raise CorpusError(f"{cache} is missing or stale; it is built by the first process of a training run")
    features = compute_corpus_features(corpus)
    tensors, metadata = _to_tensors(features)
    write_tensors(cache, tensors, metadata)
    return features


def read_index(corpus: Path) -> dict:
    path = _index_path(corpus)
    try:
        index = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CorpusError(f"{path} is not valid JSON ({error}); build the corpus again") from None
    if index.get("format") != CORPUS_FORMAT:
        raise CorpusError(
            f"{path} is not an AdaMesh corpus index (format {index.get('format')!r}, expected {CORPUS_FORMAT!r})"
        )
    fps = float(index["spec"]["fps"])
    if fps != MODEL_FPS:
        raise CorpusError(
            f"{corpus} holds motion at {fps:g} fps; the models train at {MODEL_FPS:g} fps: "
            f"build it with `python -m backend synth --fps {MODEL_FPS:g}`"
        )
    if not index["utterances"]:
        raise CorpusError(f"{corpus} holds no utterances")
    return index


def compute_corpus_features(corpus: Path) -> CorpusFeatures:
    """Read every utterance of the corpus (audio, motion, phones) into training tensors."""
    from tqdm import tqdm

    from backend.audio.decode import load_audio
    from backend.audio.frames import features_per_motion_frame
    from backend.audio.mel import log_mel
    from backend.clips import load_clip
    from backend.core.phones import load_timeline

    index = read_index(corpus)
    channels = tuple(index["channels"])
    # speakers without an utterance (possible in a small corpus) would be styles nothing was learnt from
    speaker_names = sorted({entry["speaker"] for entry in index["utterances"]})
    speaker_of = {name: k for k, name in enumerate(speaker_names)}
    mels, expressions, jaws, heads, lengths, phone_lists, speakers = [], [], [], [], [], [], []
    for entry in tqdm(index["utterances"], desc="features", unit="utt", leave=False):
        clip = load_clip(corpus / entry["motion"])
        if clip.expression_names != channels:
            raise CorpusError(f"{entry['motion']}: channels differ from the corpus index's")
        n = clip.n_frames
        mels.append(features_per_motion_frame(log_mel(load_audio(corpus / entry["audio"])), n, MODEL_FPS))
        expressions.append(clip.expression)
        jaws.append(clip.jaw)
        heads.append(clip.head)
        lengths.append(n)
        phone_lists.append(load_timeline(corpus / entry["phones"]))
        speakers.append(speaker_of[entry["speaker"]])
    phones = [p for timeline in phone_lists for p in timeline]
    return CorpusFeatures(
        mel=torch.from_numpy(np.concatenate(mels)),
        expression=torch.from_numpy(np.concatenate(expressions)),
        jaw=torch.from_numpy(np.concatenate(jaws)),
        head=torch.from_numpy(np.concatenate(heads)),
        frame_offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        speaker=np.asarray(speakers, dtype=np.int64),
        phone_offsets=np.concatenate([[0], np.cumsum([len(t) for t in phone_lists])]).astype(np.int64),
        phone_names=tuple(p.phone for p in phones),
        phone_times=np.array([(p.start, p.end) for p in phones], dtype=np.float64).reshape(-1, 2),
        utterance_ids=tuple(entry["id"] for entry in index["utterances"]),
        speakers=tuple(SpeakerInfo(name, pose_kind(name, index["speakers"][name])) for name in speaker_names),
        channels=channels,
        corpus_hash=corpus_hash(corpus),
    )


def pose_kind(speaker: str, entry: dict) -> str:
    """The pose style preset a corpus speaker was drawn from (its label for style retrieval); a recorded speaker
    (`python -m backend prepare`) has no preset: its head motion is a style of its own, labelled by its name."""
    if entry.get("recorded"):
        return speaker
    try:
        return str(entry["pose_style"]["kind"])
    except KeyError:
        raise CorpusError(
            f"speaker {speaker} has no pose style kind: the corpus was built by an older backend; "
            "build it again with `python -m backend synth`"
        ) from None


def _index_path(corpus: Path) -> Path:
    path = Path(corpus) / "index.json"
    if not path.is_file():
        raise CorpusError(
            f"{corpus} is not a corpus folder (no index.json); build one with "
            "`python -m backend synth --out DIR --minutes M` or from recordings with "
            "`python -m backend prepare --out DIR SOURCE`"
        )
    return path


def _to_tensors(f: CorpusFeatures) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    phone_ids = {name: k for k, name in enumerate(sorted(set(f.phone_names)))}
    tensors = {
        "mel": f.mel,
        "expression": f.expression,
        "jaw": f.jaw,
        "head": f.head,
        "frame_offsets": torch.from_numpy(f.frame_offsets),
        "speaker": torch.from_numpy(f.speaker),
        "phone_offsets": torch.from_numpy(f.phone_offsets),
        "phone_ids": torch.tensor([phone_ids[p] for p in f.phone_names], dtype=torch.int64),
        "phone_times": torch.from_numpy(f.phone_times),
    }
    metadata = {
        "format": FEATURES_FORMAT,
        "corpus_hash": f.corpus_hash,
        "phone_vocabulary": json.dumps(sorted(phone_ids)),
        "utterance_ids": json.dumps(f.utterance_ids),
        "speakers": json.dumps([[s.name, s.pose_kind] for s in f.speakers]),
        "channels": json.dumps(f.channels),
    }
    return tensors, metadata


def _from_tensors(t: dict[str, torch.Tensor], metadata: dict[str, str]) -> CorpusFeatures:
    vocabulary = json.loads(metadata["phone_vocabulary"])
    return CorpusFeatures(
        mel=t["mel"],
        expression=t["expression"],
        jaw=t["jaw"],
        head=t["head"],
        frame_offsets=t["frame_offsets"].numpy(),
        speaker=t["speaker"].numpy(),
        phone_offsets=t["phone_offsets"].numpy(),
        phone_names=tuple(vocabulary[k] for k in t["phone_ids"].tolist()),
        phone_times=t["phone_times"].numpy(),
        utterance_ids=tuple(json.loads(metadata["utterance_ids"])),
        speakers=tuple(SpeakerInfo(name, kind) for name, kind in json.loads(metadata["speakers"])),
        channels=tuple(json.loads(metadata["channels"])),
        corpus_hash=metadata["corpus_hash"],
    )
