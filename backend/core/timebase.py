"""Frame timing shared by the motion synthesisers: frame i is the instant i / fps.

Also the checks on per-frame input series and the two smoothing tools every motion layer uses, so that all of
them agree on what "smooth at any frame rate" means.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter1d

from backend.core.errors import SynthError
from backend.core.phones import PHONES, Phone

# The models' own frame rate: features, training windows and generation run at 25 fps; clips are resampled to and
# from it at the edges.
MODEL_FPS = 25.0
PAUSE_MIN_S = 0.15  # a silence at least this long is a pause (a phrase boundary), not a stop closure or a breath


def check_timing(fps: float, n_frames: int) -> None:
    if not (math.isfinite(fps) and fps > 0):
        raise SynthError(f"fps must be a positive number, got {fps!r}")
    if int(n_frames) != n_frames or n_frames < 1:
        raise SynthError(f"n_frames must be a positive whole number, got {n_frames!r}")


def frame_series(name: str, values: np.ndarray, n_frames: int) -> np.ndarray:
    """A per-frame input (loudness, pitch) as float64 [n_frames]; a wrong length means a different fps was used."""
    series = np.asarray(values, dtype=np.float64)
    if series.shape != (n_frames,):
        raise SynthError(
            f"{name} has shape {series.shape} but the clip has {n_frames} frames; compute it at the clip's fps"
        )
    if np.isnan(series).any():
        raise SynthError(f"{name} contains NaN; the prosody analysis failed on this audio")
    return series


def check_timeline(phones: list[Phone]) -> list[Phone]:
    """The timeline sorted by start; unknown phone names or reversed / non-finite intervals raise SynthError.

    Zero-length phones (aligners emit them) are allowed and simply have no effect.
    """
    for phone in phones:
        if phone.phone not in PHONES:
            raise SynthError(
                f"unknown phone {phone.phone!r} at {phone.start:.3f} s; use ARPAbet without stress marks (or SIL)"
            )
        if not (math.isfinite(phone.start) and math.isfinite(phone.end) and phone.end >= phone.start):
            raise SynthError(
                f"phone {phone.phone} has an invalid interval [{phone.start}, {phone.end}]: "
                "it must end at or after its start"
            )
    return sorted(phones, key=lambda p: p.start)


def frame_times(n_frames: int, fps: float) -> np.ndarray:
    return np.arange(n_frames, dtype=np.float64) / fps


def smooth(values: np.ndarray, fps: float, sigma_s: float) -> np.ndarray:
    """Gaussian low-pass along time (axis 0) with a width in seconds, so the result is the same at any fps."""
    return gaussian_filter1d(np.asarray(values, dtype=np.float64), sigma_s * fps, axis=0, mode="nearest")


def smooth_noise(rng: np.random.Generator, n_frames: int, fps: float, sigma_s: float) -> np.ndarray:
    """Slowly varying Gaussian noise with unit standard deviation and a correlation time of about sigma_s.

    White noise through a Gaussian kernel of width s frames has variance 1 / (2 sqrt(pi) s); dividing by its
    square root makes the amplitude independent of fps and of the clip's length.
    """
    sigma_frames = max(sigma_s * fps, 1e-3)
    white = rng.standard_normal(n_frames)
    return gaussian_filter1d(white, sigma_frames, mode="reflect") * math.sqrt(2.0 * math.sqrt(math.pi) * sigma_frames)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 -> 1 on [0, 1] with zero slope at both ends (callers clip x to [0, 1])."""
    return x * x * (3.0 - 2.0 * x)
