"""`python -m backend prepare`: a training corpus from recorded speech and its tracked facial motion.

The corpus is the folder `synth` writes ("adamesh-corpus/1", backend/synth/corpus.py), so `train` and `eval` read
it unchanged:

    index.json                   format, spec, channels, speakers, utterances (files, transcript, phone source)
    audio/<speaker>/<name>.wav   16 kHz mono, cut to the motion's span (frame i is the instant i / 25 s)
    motion/<speaker>/<name>.npz  the motion clip at the models' 25 fps
    phones/<speaker>/<name>.json [{phone, start, end}] from pocketsphinx: forced alignment of <name>.txt when it is
                                 there, else recognition

Input (each SOURCE): a folder of speaker folders, each holding pairs NAME.<audio> + NAME.npz (+ NAME.txt, the
words spoken). A SOURCE holding audio files itself is one speaker, named after the folder. Motion is an AdaMesh
motion clip, or with --tracker a tracker's output (vhap, deca, smirk; for deca also an EMOCA --save_codes folder
NAME/) at the video's --fps. A SOURCE may also be a .csv with the columns speaker, audio, motion and optionally
transcript (paths relative to the .csv).

Everything cheap is checked before the slow phone pass: every motion file has its audio and every audio file its
motion, every clip has the same channels, and audio and motion last the same time (within LENGTH_TOLERANCE_S).
The corpus is written into a hidden folder beside --out and renamed to it at the end: an error or Ctrl-C leaves
nothing behind.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from backend.clips import READERS, MotionClip, load_clip, resample_clip
from backend.core.errors import AdaMeshError, ClipError
from backend.core.files import write_json_atomically
from backend.core.timebase import MODEL_FPS

CORPUS_FORMAT = "adamesh-corpus/1"
SAMPLE_RATE = 16000
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".mp4", ".mov", ".mkv", ".webm")
# Audio and motion of one recording may differ by a few frames (a tracker dropping the last frames, a codec's
# padding); more means the wrong pair of files or a wrong --fps, which would teach lips out of step with speech.
LENGTH_TOLERANCE_S = 0.2
CSV_COLUMNS = ("speaker", "audio", "motion")


class PrepareError(AdaMeshError):
    """Recorded training data is incomplete or inconsistent: unpaired files, mixed channels, mismatched lengths."""

    code = "bad_training_data"


@dataclass(frozen=True)
class Recording:
    speaker: str
    name: str
    audio: Path
    motion: Path
    transcript: Path | None

    @property
    def id(self) -> str:
        return f"{self.speaker}/{self.name}"


@dataclass(frozen=True)
class MotionSource:
    tracker: str | None  # None: AdaMesh motion clips
    fps: float | None  # the tracked video's frame rate (trackers store none)

    def read(self, path: Path) -> MotionClip:
        if self.tracker is None:
            try:
                return load_clip(path)
            except ClipError as error:
                raise ClipError(f"{error} (a tracker's output needs --tracker and --fps)") from None
        return READERS[self.tracker](path, self.fps)


def prepare_corpus(
    sources: list[str | Path],
    out: str | Path,
    tracker: str | None = None,
    fps: float | None = None,
    phonetic: str = "words",
    workers: int = 1,
) -> dict:
    """Write the corpus of the recordings in `sources` into `out` (absent or empty); returns its index."""
    from tqdm import tqdm

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PrepareError(f"{out} is not an empty folder; give a new one so that no existing corpus is overwritten")
    if tracker is not None and tracker not in READERS:
        raise PrepareError(f"unknown tracker {tracker!r}; choose one of {', '.join(READERS)}")
    if (tracker is None) != (fps is None):
        raise PrepareError("--tracker and --fps go together: trackers store no frame rate, motion clips do")
    motion = MotionSource(tracker, fps)
    recordings = find_recordings(sources, tracker)
    started = time.monotonic()
    channels = check_recordings(recordings, motion)
    out.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(building, 0o777 & ~umask)  # mkdtemp's folder is private; the corpus gets the usual mode
        jobs = [(building, recording, motion, phonetic) for recording in recordings]
        with tqdm(total=len(jobs), unit="clip", desc="prepare") as bar:
            if workers <= 1:
                entries = [_counted(write_recording(*job), bar) for job in jobs]
            else:
                with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=get_context("spawn")) as pool:
                    entries = [_counted(entry, bar) for entry in pool.map(write_recording, *zip(*jobs))]
        seconds = sum(entry["duration"] for entry in entries)
        index = {
            "format": CORPUS_FORMAT,
            "spec": {
                "fps": MODEL_FPS,
                "source": "recorded",
                "tracker": tracker,
                "tracker_fps": fps,
                "phonetic": phonetic,
                "sources": [str(Path(s).resolve()) for s in sources],
            },
            "sample_rate": SAMPLE_RATE,
            "channels": list(channels),
            # no style labels: each recorded speaker is its own pose style (backend/training/corpus_data.py)
            "speakers": {speaker: {"recorded": True} for speaker in sorted({r.speaker for r in recordings})},
            "utterances": entries,
            "seconds": round(seconds, 3),
        }
        write_json_atomically(building / "index.json", index)
        if out.exists():
            out.rmdir()  # checked empty above
        os.replace(building, out)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    print(
        f"prepare: {seconds / 60:.1f} min of speech, {len(entries)} clips of {len(index['speakers'])} speakers, "
        f"{len(channels)} channels, in {time.monotonic() - started:.0f} s -> {out}"
    )
    return index


def _counted(entry: dict, bar) -> dict:
    bar.update(1)
    return entry


def find_recordings(sources: list[str | Path], tracker: str | None) -> list[Recording]:
    """The recordings of every source (speaker folders, a speaker folder, or a .csv list), in a stable order."""
    if not sources:
        raise PrepareError("give at least one source folder (or .csv list) of recordings")
    recordings: list[Recording] = []
    for source in map(Path, sources):
        if source.suffix.lower() == ".csv" and source.is_file():
            recordings += _listed_recordings(source)
        elif source.is_dir():
            folders = [source] if _audio_files(source) else sorted(p for p in source.iterdir() if _visible_dir(p))
            for folder in folders:
                recordings += _folder_recordings(folder, tracker)
        else:
            raise PrepareError(f"source {source} is neither a folder nor a .csv file")
    if not recordings:
        raise PrepareError(
            f"no recordings found in {', '.join(map(str, sources))}: expected speaker folders "
            "holding NAME.wav (or another audio file) beside NAME.npz"
        )
    seen: dict[str, Recording] = {}
    for recording in recordings:
        if recording.id in seen:
            raise PrepareError(
                f"two recordings are named {recording.id}: {seen[recording.id].audio} and {recording.audio}; rename one"
            )
        seen[recording.id] = recording
    return recordings


def _visible_dir(path: Path) -> bool:
    return path.is_dir() and not path.name.startswith(".")


def _audio_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith(".")
    )


def _folder_recordings(folder: Path, tracker: str | None) -> list[Recording]:
    """Pairs NAME.<audio> + NAME.npz (or an EMOCA codes folder NAME/ for --tracker deca) in one speaker's folder."""
    audio: dict[str, Path] = {}
    for path in _audio_files(folder):
        if path.stem in audio:
            raise PrepareError(
                f"{folder} holds two audio files for {path.stem}: {audio[path.stem].name} and {path.name}; keep one"
            )
        audio[path.stem] = path
    motion = {p.stem: p for p in folder.glob("*.npz") if not p.name.startswith(".")}
    if tracker == "deca":
        motion |= {p.name: p for p in folder.iterdir() if _visible_dir(p) and p.name in audio}
    unpaired = sorted(set(motion) - set(audio))
    if unpaired:
        raise PrepareError(
            f"{motion[unpaired[0]]} has no audio: expected {folder / unpaired[0]}.wav (or "
            f"{', '.join(AUDIO_SUFFIXES[1:4])}, ...) beside it"
            + (f"; {len(unpaired) - 1} more motion files lack theirs" if len(unpaired) > 1 else "")
        )
    silent = sorted(set(audio) - set(motion))
    if silent:
        raise PrepareError(
            f"{audio[silent[0]]} has no motion: expected {folder / silent[0]}.npz beside it"
            + (f"; {len(silent) - 1} more audio files lack theirs" if len(silent) > 1 else "")
        )
    stray = sorted(p for p in folder.glob("*.txt") if p.stem not in audio)
    if stray:
        raise PrepareError(
            f"transcript {stray[0]} has no recording: expected {stray[0].stem}.wav and {stray[0].stem}.npz beside it"
        )
    return [
        Recording(folder.name, name, audio[name], motion[name], _if_file(folder / f"{name}.txt"))
        for name in sorted(audio)
    ]


def _if_file(path: Path) -> Path | None:
    return path if path.is_file() else None


def _listed_recordings(listing: Path) -> list[Recording]:
    with listing.open(newline="") as file:
        rows = list(csv.DictReader(file))
    missing = [c for c in CSV_COLUMNS if rows and c not in rows[0]] or ([] if rows else list(CSV_COLUMNS))
    if missing:
        raise PrepareError(
            f"{listing} needs a header row with the columns {', '.join(CSV_COLUMNS)} (and optionally "
            f"transcript); missing: {', '.join(missing)}"
        )
    recordings = []
    for line, row in enumerate(rows, start=2):
        empty = [c for c in CSV_COLUMNS if not (row.get(c) or "").strip()]
        if empty:
            raise PrepareError(f"{listing} line {line}: no {empty[0]}")
        paths = {
            c: listing.parent / row[c].strip() for c in (*CSV_COLUMNS[1:], "transcript") if (row.get(c) or "").strip()
        }
        for column, path in paths.items():
            if not path.exists():
                raise PrepareError(f"{listing} line {line}: {column} {path} does not exist")
        speaker = row["speaker"].strip()
        if speaker.startswith(".") or any(sep in speaker for sep in "/\\"):
            raise PrepareError(f"{listing} line {line}: speaker {speaker!r} must be a plain name (it names a folder)")
        recordings.append(
            Recording(speaker, paths["audio"].stem, paths["audio"], paths["motion"], paths.get("transcript"))
        )
    return recordings


def check_recordings(recordings: list[Recording], motion: MotionSource) -> tuple[str, ...]:
    """Read every motion file and measure every audio file (no phones yet); returns the corpus's channels."""
    from tqdm import tqdm

    from backend.audio.decode import audio_duration

    first: tuple[Recording, tuple[str, ...]] | None = None
    for recording in tqdm(recordings, unit="clip", desc="check", leave=False):
        clip = motion.read(recording.motion)
        if first is None:
            first = (recording, clip.expression_names)
        elif clip.expression_names != first[1]:
            raise PrepareError(
                f"{recording.motion} has the channels {_describe(clip.expression_names)} but "
                f"{first[0].motion} has {_describe(first[1])}: every clip of a corpus needs the same "
                "channels (convert them to one rig, e.g. all FLAME Exp1..Exp100)"
            )
        check_lengths(recording, audio_duration(recording.audio), clip)
    return first[1]


def check_lengths(recording: Recording, audio_seconds: float, clip: MotionClip) -> None:
    if abs(audio_seconds - clip.duration) > LENGTH_TOLERANCE_S:
        raise PrepareError(
            f"{recording.audio} lasts {audio_seconds:.2f} s but its motion {recording.motion} {clip.duration:.2f} s "
            f"({clip.n_frames} frames at {clip.fps:g} fps); they must cover the same stretch of time (at most "
            f"{LENGTH_TOLERANCE_S:g} s apart): check the pairing of the files and the frame rate (--fps)"
        )


def _describe(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:3])
    return f"{shown}, ... ({len(names)} in all)" if len(names) > 3 else f"{shown} ({len(names)})"


def write_recording(out: Path, recording: Recording, motion: MotionSource, phonetic: str) -> dict:
    """One recording into the corpus folder `out`: audio cut to the motion, the clip at 25 fps, its phones."""
    import soundfile

    from backend.audio.decode import load_audio
    from backend.audio.frames import motion_frame_count
    from backend.audio.phonetic import TranscriptError, align_phones, recognise_phones
    from backend.clips import save_clip
    from backend.core.phones import save_timeline

    source = motion.read(recording.motion)
    wave = load_audio(recording.audio, SAMPLE_RATE)
    check_lengths(recording, len(wave) / SAMPLE_RATE, source)
    clip = resample_clip(source, MODEL_FPS)
    n_frames = min(clip.n_frames, motion_frame_count(len(wave) / SAMPLE_RATE, MODEL_FPS))
    clip = dataclasses.replace(clip, **{key: array[:n_frames] for key, array in clip.arrays().items()})
    wave = wave[: round(n_frames / MODEL_FPS * SAMPLE_RATE)]
    text = recording.transcript.read_text(encoding="utf-8").strip() if recording.transcript else None
    try:
        phones = align_phones(wave, text) if text else recognise_phones(wave, phonetic)
    except TranscriptError as error:
        raise PrepareError(f"{recording.transcript}: {error}") from None
    paths = {
        kind: f"{kind}/{recording.id}.{suffix}"
        for kind, suffix in (("audio", "wav"), ("motion", "npz"), ("phones", "json"))
    }
    (out / "audio" / recording.speaker).mkdir(parents=True, exist_ok=True)
    for kind in ("motion", "phones"):
        (out / kind / recording.speaker).mkdir(parents=True, exist_ok=True)
    soundfile.write(out / paths["audio"], wave, SAMPLE_RATE, subtype="PCM_16")
    save_clip(clip, out / paths["motion"])
    save_timeline(phones, out / paths["phones"])
    return {
        "id": recording.id,
        "speaker": recording.speaker,
        "text": text,
        "phones_from": "transcript" if text else phonetic,
        "duration": round(len(wave) / SAMPLE_RATE, 4),
        "n_frames": n_frames,
        **paths,
        "source_audio": str(recording.audio.resolve()),
        "source_motion": str(recording.motion.resolve()),
    }
