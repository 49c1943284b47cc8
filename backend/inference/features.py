"""What the models read of speech, per 25 fps frame: log-mel, and phones from pocketsphinx as per-frame features."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from backend.core.phones import Phone
from backend.core.timebase import MODEL_FPS

# Recogniser processes (measured on 60 s of LibriSpeech, 2 cores): words runs ~6.6x real time in one process and
# ~11x in two; allphone ~26x in one, and a second process's start-up (~1-2 s) costs more than it saves.
_RECOGNITION_WORKERS = {"words": 2, "allphone": 1}


def mel_frames(wave: np.ndarray, n_frames: int) -> Tensor:
    """Log-mel [T, 4, 80] for the first `n_frames` 25 fps frames of a 16 kHz wave."""
    from backend.audio.frames import features_per_motion_frame
    from backend.audio.mel import log_mel

    return torch.from_numpy(features_per_motion_frame(log_mel(wave), n_frames, MODEL_FPS))


def speech_phones(wave: np.ndarray, transcript: str | None, mode: str) -> list[Phone]:
    """The phone timeline from pocketsphinx: forced alignment with a transcript, else recognition in `mode`."""
    from backend.audio.phonetic import align_phones, recognise_phones

    return (
        align_phones(wave, transcript)
        if transcript
        else recognise_phones(wave, mode, workers=_RECOGNITION_WORKERS[mode])
    )


def phone_frames(phones: list[Phone], n_frames: int) -> Tensor:
    """Per-frame phone features [T, 40] at the models' 25 fps."""
    from backend.audio.phonetic import phone_features

    return torch.from_numpy(phone_features(phones, n_frames, MODEL_FPS))
