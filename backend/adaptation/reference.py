"""The reference a style is learnt from: speech and the matching facial motion, at the models' 25 fps.

The motion is an AdaMesh clip or a tracker's file (VHAP, DECA family, SMIRK) in any frame rate; it is resampled to
25 fps (rotations on SO(3)) and cut to the frames the audio covers. Audio and motion must describe the same
stretch of time: a difference above MAX_LENGTH_MISMATCH_S means the wrong pair of files (or a wrong frame rate),
which would teach the model lips that move out of step with the speech.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from backend.clips import READERS, MotionClip, load_clip, resample_clip
from backend.core.errors import AdaMeshError, ClipError
from backend.core.timebase import MODEL_FPS

MAX_LENGTH_MISMATCH_S = 0.5
# Measured with the starter (`bench adapt --methods molora --lengths 1.5 2 3`, 3 held-out speakers): the style
# distance to the speaker falls from 0.95 without adaptation to 0.65 / 0.60 / 0.44 at 1.5 / 2 / 3 s (0.35 at 10 s,
# 0.31 at 30 s). The gain jumps between 2 and 3 s; below 3 s the held-out tail that stops training (20 %) is under
# 0.6 s, less than a phrase.
MIN_REFERENCE_SECONDS = 3.0


class BadReferenceError(AdaMeshError):
    """The reference for Adapt Style is unusable: too short, mismatched audio and motion, unreadable files."""

    code = "bad_reference"


@dataclass(frozen=True)
class Reference:
    """Reference speech and motion, frame for frame at 25 fps."""

    clip: MotionClip  # at MODEL_FPS: expression in the reference's own channels, jaw, head (eyes, eyelids if any)
    mel: Tensor  # [T, 4, 80] log-mel per frame
    phonetic: Tensor | None  # [T, 40] phone features, None for a mel-only reference

    @property
    def n_frames(self) -> int:
        return self.clip.n_frames

    @property
    def seconds(self) -> float:
        return self.clip.n_frames / MODEL_FPS

    @property
    def channel_names(self) -> tuple[str, ...]:
        return self.clip.expression_names

    def tensors(self) -> tuple[Tensor, Tensor, Tensor]:
        """expression [T, C], jaw [T, 3], head [T, 3] as float32 tensors."""
        return tuple(
            torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
            for a in (self.clip.expression, self.clip.jaw, self.clip.head)
        )

    def frames(self, start: int, end: int) -> Reference:
        """Frames start .. end of the reference."""
        return Reference(
            first_frames(self.clip, end, start),
            self.mel[start:end],
            None if self.phonetic is None else self.phonetic[start:end],
        )


def first_frames(clip: MotionClip, end: int, start: int = 0) -> MotionClip:
    """Rows start .. end of every per-frame array of a clip."""
    return dataclasses.replace(clip, **{key: array[start:end] for key, array in clip.arrays().items()})


def read_motion(path: str | Path, tracker: str | None = None, fps: float | None = None) -> MotionClip:
    """An AdaMesh motion clip, or a tracker's output (`tracker` vhap / deca / smirk at the video's `fps`)."""
    if tracker is None:
        return load_clip(path)
    if tracker not in READERS:
        raise BadReferenceError(f"unknown tracker {tracker!r}; use one of {', '.join(READERS)} or none for a clip")
    if fps is None:
        raise BadReferenceError(f"a {tracker} file stores no frame rate: give the tracked video's frame rate")
    return READERS[tracker](path, fps)


def load_reference(
    audio: str | Path,
    motion: str | Path,
    tracker: str | None = None,
    motion_fps: float | None = None,
    audio_start: float = 0.0,
    audio_end: float | None = None,
    phonetic: str = "words",
    transcript: str | None = None,
    use_phonetic: bool = True,
) -> Reference:
    """Read a reference: `audio` from `audio_start` to `audio_end` s (None: its end) and the matching `motion`.

    phonetic: the pocketsphinx mode generation will use ("words", "allphone") or "none"; `use_phonetic` False
    (a mel-only checkpoint) skips recognition.
    """
    from backend.audio.decode import load_audio
    from backend.audio.frames import motion_frame_count
    from backend.audio.mel import SAMPLE_RATE
    from backend.inference.features import mel_frames, phone_frames, speech_phones

    try:
        clip = read_motion(motion, tracker, motion_fps)
    except ClipError as error:
        raise BadReferenceError(f"reference motion: {error}") from None
    wave = load_audio(audio)
    wave = cut_audio(wave, SAMPLE_RATE, audio_start, audio_end, audio)
    audio_seconds = len(wave) / SAMPLE_RATE
    if abs(audio_seconds - clip.duration) > MAX_LENGTH_MISMATCH_S:
        raise BadReferenceError(
            f"the reference audio {Path(audio).name} lasts {audio_seconds:.2f} s but the motion {Path(motion).name} "
            f"{clip.duration:.2f} s ({clip.n_frames} frames at {clip.fps:g} fps); they must cover the same stretch "
            f"of time (at most {MAX_LENGTH_MISMATCH_S} s apart): check the files, the audio range and the frame rate"
        )
    check_reference_length(min(audio_seconds, clip.duration))
    clip = resample_clip(clip, MODEL_FPS)
    n_frames = min(clip.n_frames, motion_frame_count(audio_seconds, MODEL_FPS))
    clip = first_frames(clip, n_frames)
    mel = mel_frames(wave, n_frames)
    features = None
    if phonetic != "none" and use_phonetic:
        features = phone_frames(speech_phones(wave, transcript, phonetic), n_frames)
    return Reference(clip, mel, features)


def cut_audio(wave: np.ndarray, sample_rate: int, start: float, end: float | None, path: str | Path) -> np.ndarray:
    """The samples from `start` to `end` seconds (None: the end of the file)."""
    duration = len(wave) / sample_rate
    end = duration if end is None else end
    if not 0.0 <= start < end or start >= duration:
        raise BadReferenceError(
            f"the reference audio range {start:.2f} .. {end:.2f} s does not lie within "
            f"{Path(path).name} (0 .. {duration:.2f} s)"
        )
    return wave[int(round(start * sample_rate)) : int(round(min(end, duration) * sample_rate))]


def check_reference_length(seconds: float) -> None:
    if seconds < MIN_REFERENCE_SECONDS:
        raise BadReferenceError(
            f"the reference is {seconds:.1f} s long; Adapt Style needs at least {MIN_REFERENCE_SECONDS:g} s of "
            "speech with its motion (about 10 s gives a faithful style)"
        )
