"""`python -m backend synth`: the synthetic training and evaluation corpus (docs/architecture.md section 6).

Layout of a corpus folder:

    index.json               format, spec, channels, speakers (voice + styles), utterances (files, text, augmentation)
    audio/<id>.wav           16 kHz mono, augmented
    phones/<id>.json         [{phone, start, end}] ARPAbet, exact (from the engine, rescaled by any tempo change)
    motion/<id>.npz          motion clip in the demo head's channels (ARKit subset) at spec.fps
    flame/<id>.npz           the same motion lifted to Exp1..Exp100 (backend/synth/flame_lift.py)

Everything is planned in the parent process from one seeded generator (speakers, sentences, augmentation draws,
per-utterance seeds), and rendered by worker processes: the corpus is identical for a seed whatever the number of
workers. `index.json` is written last and atomically: a folder without it is an interrupted run.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backend.core.channels import CHANNELS
from backend.core.errors import SynthError
from backend.core.files import write_json_atomically
from backend.synth.augment import Augmentation, sample_augmentation
from backend.synth.sentences import generate_sentence
from backend.synth.speaker_styles import EXPRESSION_KINDS, POSE_KINDS, ExpressionStyle, PoseStyle, sample_speaker_style
from backend.synth.voices import VoiceSpec, sample_voice

CORPUS_FORMAT = "adamesh-corpus/1"
SAMPLE_RATE = 16000
UTTERANCES_PER_JOB = 4  # one Festival process per job: its start-up is paid once for several sentences
JOBS_PER_ROUND = 4  # fixed, not tied to --workers, so the corpus is the same whatever the number of workers
TYPICAL_UTTERANCE_S = 3.5  # sizes the last rounds so the corpus overshoots --minutes by little


@dataclass(frozen=True)
class CorpusSpec:
    minutes: float
    seed: int = 0
    speakers: int = 12
    fps: float = 25.0
    split: str = "train"
    engines: tuple[str, ...] = ("espeak", "festival")


@dataclass(frozen=True)
class Speaker:
    id: str
    voice: VoiceSpec
    expression_kind: str  # the preset the style was drawn around (EXPRESSION_KINDS), the label evaluation uses
    expression: ExpressionStyle
    pose_kind: str  # POSE_KINDS
    pose: PoseStyle

    def to_dict(self) -> dict:
        return {
            "voice": self.voice.to_dict(),
            "expression_style": {"kind": self.expression_kind, **self.expression.to_dict()},
            "pose_style": {"kind": self.pose_kind, **self.pose.to_dict()},
        }


@dataclass(frozen=True)
class UtterancePlan:
    id: str
    text: str
    augmentation: Augmentation
    seed: int


@dataclass(frozen=True)
class Job:
    """Several utterances of one speaker, rendered by one worker call."""

    out: Path
    fps: float
    speaker: Speaker
    utterances: tuple[UtterancePlan, ...] = field(default_factory=tuple)


def build_corpus(out: str | Path, spec: CorpusSpec, workers: int = 2) -> dict:
    """Synthesise `spec.minutes` of speech with its motion into `out`; returns the index (also written)."""
    from tqdm import tqdm

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise SynthError(f"{out} is not empty; give a new folder so an existing corpus is never mixed or overwritten")
    if spec.minutes <= 0:
        raise SynthError(f"--minutes must be positive, got {spec.minutes}")
    engines = available_engines(spec.engines)
    for folder in ("audio", "phones", "motion", "flame"):
        (out / folder).mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng(spec.seed)
    speakers = plan_speakers(rng, spec, engines)
    target_s = spec.minutes * 60.0
    utterances: list[dict] = []
    total_s, started = 0.0, time.monotonic()
    with _job_runner(workers) as run, tqdm(total=round(target_s), unit="s speech", desc="synth") as bar:
        while total_s < target_s:
            remaining_jobs = math.ceil((target_s - total_s) / (UTTERANCES_PER_JOB * TYPICAL_UTTERANCE_S))
            jobs = plan_jobs(rng, out, spec, speakers, len(utterances), count=min(JOBS_PER_ROUND, remaining_jobs))
            for rendered in run(render_job, jobs):
                for utterance in rendered:
                    utterances.append(utterance)
                    total_s += utterance["duration"]
                    bar.update(round(utterance["duration"]))
    wall = time.monotonic() - started
    index = {
        "format": CORPUS_FORMAT,
        "spec": {
            "minutes": spec.minutes,
            "seed": spec.seed,
            "speakers": spec.speakers,
            "fps": spec.fps,
            "split": spec.split,
            "engines": list(engines),
        },
        "sample_rate": SAMPLE_RATE,
        "channels": list(CHANNELS),
        "speakers": {speaker.id: speaker.to_dict() for speaker in speakers},
        "utterances": utterances,
        "seconds": round(total_s, 3),
        "synthesis_wall_seconds": round(wall, 1),
    }
    write_json_atomically(out / "index.json", index)
    print(
        f"synth: {total_s / 60:.1f} min of speech, {len(utterances)} utterances in {wall:.0f} s "
        f"({total_s / wall:.1f}x real time) -> {out}"
    )
    return index


@contextlib.contextmanager
def _job_runner(workers: int) -> Iterator[Callable]:
    """map() over render jobs: in this process for one worker (no process start-up; also where a spawned process
    cannot start, as in the bpy module, whose Python is not a plain interpreter), else a pool of fresh processes."""
    if workers <= 1:
        yield map
        return
    context = multiprocessing.get_context("spawn")  # libespeak-ng is process-global state: never fork it
    with context.Pool(workers) as pool:
        yield pool.imap


def available_engines(requested: tuple[str, ...]) -> tuple[str, ...]:
    from backend.synth.espeak import espeak_unavailable_reason
    from backend.synth.festival import festival_unavailable_reason

    unknown = set(requested) - {"espeak", "festival"}
    if unknown:
        raise SynthError(f"unknown engine(s) {sorted(unknown)}; choose from espeak, festival")
    usable = []
    for engine in requested:
        reason = espeak_unavailable_reason() if engine == "espeak" else festival_unavailable_reason(None)
        if reason:
            print(f"synth: skipping {engine}: {reason}")
        else:
            usable.append(engine)
    if not usable:
        raise SynthError("no speech engine is available; install espeak-ng (Debian: apt-get install espeak-ng)")
    return tuple(usable)


def plan_speakers(rng: np.random.Generator, spec: CorpusSpec, engines: tuple[str, ...]) -> list[Speaker]:
    """Every expression kind and pose kind appears (cycled, offset so that the pairs vary)."""
    speakers = []
    for k in range(spec.speakers):
        expression_kind = EXPRESSION_KINDS[k % len(EXPRESSION_KINDS)]
        pose_kind = POSE_KINDS[(k + k // len(EXPRESSION_KINDS)) % len(POSE_KINDS)]
        expression, pose = sample_speaker_style(rng, expression_kind, pose_kind)
        voice = sample_voice(rng, spec.split, engines)
        speakers.append(Speaker(f"{spec.split}-s{k:02d}", voice, expression_kind, expression, pose_kind, pose))
    return speakers


def plan_jobs(
    rng: np.random.Generator, out: Path, spec: CorpusSpec, speakers: list[Speaker], first_index: int, count: int
) -> list[Job]:
    jobs = []
    for j in range(count):
        speaker = speakers[int(rng.integers(len(speakers)))]
        plans = []
        for u in range(UTTERANCES_PER_JOB):
            number = first_index + j * UTTERANCES_PER_JOB + u
            plans.append(
                UtterancePlan(
                    id=f"{spec.split}-{number:05d}",
                    text=generate_sentence(rng, spec.split),
                    augmentation=sample_augmentation(rng),
                    seed=int(rng.integers(2**31)),
                )
            )
        jobs.append(Job(out, spec.fps, speaker, tuple(plans)))
    return jobs


def render_job(job: Job) -> list[dict]:
    """Worker side: speech for the job's sentences, then each utterance's files; returns their index entries."""
    from backend.synth.voices import synthesize

    speeches = synthesize(job.speaker.voice, [plan.text for plan in job.utterances])
    return [render_utterance(job, plan, speech) for plan, speech in zip(job.utterances, speeches)]


def render_utterance(job: Job, plan: UtterancePlan, speech) -> dict:
    import librosa
    import soundfile

    from backend.audio.frames import motion_frame_count
    from backend.audio.prosody import frame_loudness_db, frame_pitch_hz
    from backend.clips import MotionClip, save_clip
    from backend.core.phones import save_timeline
    from backend.eyes.blinks import add_blinks
    from backend.synth.articulation import articulate
    from backend.synth.augment import apply_channel, perturb_speech
    from backend.synth.brows import add_brow_raises
    from backend.synth.flame_lift import FLAME_EXPRESSION_NAMES, lift_to_flame
    from backend.synth.head_pose import head_motion

    rng = np.random.default_rng(plan.seed)
    audio = speech.audio
    if speech.sample_rate != SAMPLE_RATE:
        audio = librosa.resample(audio, orig_sr=speech.sample_rate, target_sr=SAMPLE_RATE, res_type="soxr_hq")
    phones = pin_timeline_end(speech.phones, len(audio) / SAMPLE_RATE)
    audio, phones = perturb_speech(audio, SAMPLE_RATE, phones, plan.augmentation)
    duration = len(audio) / SAMPLE_RATE
    n_frames = motion_frame_count(duration, job.fps)
    loudness = frame_loudness_db(audio, SAMPLE_RATE, job.fps, n_frames)
    pitch = frame_pitch_hz(audio, SAMPLE_RATE, job.fps, n_frames)
    expression, jaw = articulate(phones, job.fps, n_frames, job.speaker.expression, rng)
    expression = add_brow_raises(expression, job.fps, loudness, pitch, job.speaker.expression, rng)
    expression = add_blinks(expression, job.fps, job.speaker.expression, rng, phones)
    head = head_motion(n_frames, job.fps, loudness, pitch, job.speaker.pose, rng)
    audio = apply_channel(audio, SAMPLE_RATE, plan.augmentation, rng)

    names = {kind: f"{kind}/{plan.id}" for kind in ("audio", "phones", "motion", "flame")}
    paths = {
        "audio": names["audio"] + ".wav",
        "phones": names["phones"] + ".json",
        "motion": names["motion"] + ".npz",
        "flame": names["flame"] + ".npz",
    }
    soundfile.write(job.out / paths["audio"], audio, SAMPLE_RATE, subtype="PCM_16")
    save_timeline(phones, job.out / paths["phones"])
    save_clip(
        MotionClip(fps=job.fps, expression=expression, expression_names=CHANNELS, jaw=jaw, head=head),
        job.out / paths["motion"],
    )
    save_clip(
        MotionClip(
            fps=job.fps,
            expression=lift_to_flame(expression),
            expression_names=FLAME_EXPRESSION_NAMES,
            jaw=jaw,
            head=head,
        ),
        job.out / paths["flame"],
    )
    return {
        "id": plan.id,
        "speaker": job.speaker.id,
        "text": plan.text,
        "engine": job.speaker.voice.engine,
        "duration": round(duration, 4),
        "n_frames": n_frames,
        **paths,
        "augmentation": plan.augmentation.to_dict(),
    }


def pin_timeline_end(phones, duration: float):
    """Engines end their timeline within a few samples of the audio; pin the last phone to the audio's true end."""
    from backend.core.phones import Phone

    last = phones[-1]
    return [*phones[:-1], Phone(last.phone, last.start, max(duration, last.start + 1e-3))]
