"""The last, explicit step of pose adaptation: per-axis amplitude, offset and rhythm, measured against the learnt part.

After retrieval and fitting have chosen PoseGPT's style vector, the learnt model generates head motion on the
reference's own speech (CALIBRATION_SEEDS draws), and per axis a is compared with the reference:

- rhythm: on the reference's dominant rhythm axis (pose_rhythm.py), a zero-phase peak filter (Gaussian,
  PEAK_WIDTH_HZ) at the reference's rhythm boosts it until its power leads the generated spectrum's strongest other
  frequency by PEAK_MARGIN (at most MAX_BOOST in amplitude); where the learnt part's own rhythm already leads by
  that much there is no boost. Every other frequency and axis passes unchanged, held axes aside;
- held axes: an axis whose reference mean lies more than HELD_RATIO of its standard deviations from zero is held
  (a head kept tilted to one side). The learnt part renders such a hold as a slow wander between held and upright
  (a prior trained on centred motion has no code sequence that keeps it), which the reference does not do and which
  differs from draw to draw, so a gain measured on it misjudges the motion about the hold (a held tilt came back
  at 0.5-2x its spread on new speech). On a held axis the filter removes the generated motion below the head-rhythm
  band (the mean and the drift) and the offset alone supplies the hold;
- amplitude: gain[a] = std(reference[a]) / std(filtered generated[a]), clipped to GAIN_RANGE;
- offset[a] = mean(reference[a]) - gain[a] * mean(filtered generated[a]), radians: a held habit, which no code
  sequence of a prior trained on centred motion keeps.

- spread[a] = std(reference[a]), radians: the target of each generated clip. The gain is right on average over
  draws, but one take on new speech varies by about 20-25 % per axis from seed to seed, so generation also rescales
  each clip's calibrated motion about its mean towards this spread (a bounded, length-weighted clip factor).

Generation then outputs gain * filter(head) + offset on every axis, the motion about the clip's mean rescaled by the
clip factor (backend/inference/pose_calibration.py). The learnt part supplies the motion itself (its timing against
the speech, its shapes); this step corrects its amplitude, mean and spectral balance. `bench adapt` reports each
pose stage with and without it, so what it adds is measured rather than assumed.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from backend.adaptation.pose_rhythm import dominant_axis, dominant_rhythm
from backend.inference.pose_calibration import (
    RESPONSE_BINS,
    RESPONSE_STEP_HZ,
    RHYTHM_BAND_HZ,
    PoseCalibration,
    rhythm_filter,
)

CALIBRATION_SEEDS = 4  # generations on the reference's speech averaged: one draw's spread and spectrum are noisy
GAIN_RANGE = (0.2, 5.0)  # beyond this the learnt part is too far from the reference for a gain to be a correction
PEAK_WIDTH_HZ = 0.08  # standard deviation of the boost: narrower than a 10 s reference can place its rhythm
PEAK_MARGIN = 8.0  # the boosted rhythm's power over the strongest other frequency of the generated motion (on new
# speech the draw differs: 2 and 4 left the learnt rhythm ahead in 2-3 of 10 synthetic cases, 8 in none)
MAX_BOOST = 12.0  # amplitude: beyond this the learnt part has next to nothing at that rhythm to bring out
SMOOTHING_HZ = 0.05  # of the generated spectrum, finer than a 10 s reference resolves (0.1 Hz)
HELD_RATIO = 2.0  # |mean| / std of a held axis: the bench's held tilt has 6-10, an upright head's axes under 1


def _band_power(head: np.ndarray, fps: float) -> np.ndarray:
    """Smoothed power spectrum [3, RESPONSE_BINS] of each axis on the response grid (trend removed, Hann window)."""
    x = np.asarray(head, np.float64)
    t = np.arange(len(x))
    x = x - np.stack([np.polyval(np.polyfit(t, x[:, a], 1), t) for a in range(3)], axis=1)
    window = np.hanning(len(x))[:, None]
    n_fft = max(len(x), int(np.ceil(fps / RESPONSE_STEP_HZ)))
    power = np.abs(np.fft.rfft(x * window, n_fft, axis=0)) ** 2
    frequencies = np.fft.rfftfreq(n_fft, 1.0 / fps)
    smoothed = gaussian_filter1d(power, SMOOTHING_HZ / (frequencies[1] - frequencies[0]), axis=0, mode="nearest")
    grid = np.arange(RESPONSE_BINS) * RESPONSE_STEP_HZ
    return np.stack([np.interp(grid, frequencies, smoothed[:, a]) for a in range(3)])


def rhythm_response(generated: list[np.ndarray], reference: np.ndarray, fps: float) -> np.ndarray:
    """The rhythm filter's response [3, RESPONSE_BINS]: ones, and a peak at the reference's dominant rhythm on its
    axis as far as the generated motion lacks it (see the module docstring)."""
    response = np.ones((3, RESPONSE_BINS))
    axis = dominant_axis(reference, fps)
    target_hz = dominant_rhythm(reference[:, axis], fps)[0]
    grid = np.arange(RESPONSE_BINS) * RESPONSE_STEP_HZ
    band = grid >= RHYTHM_BAND_HZ[0]
    power = np.mean([_band_power(g, fps)[axis] for g in generated], axis=0)
    own = np.interp(target_hz, grid, power)
    others = power[band & (np.abs(grid - target_hz) > 2 * PEAK_WIDTH_HZ)].max()
    boost = float(np.clip(np.sqrt(PEAK_MARGIN * others / max(own, 1e-12)), 1.0, MAX_BOOST))
    response[axis] = 1.0 + (boost - 1.0) * np.exp(-0.5 * ((grid - target_hz) / PEAK_WIDTH_HZ) ** 2)
    return response


def held_axes(reference: np.ndarray) -> np.ndarray:
    """Mask [3] of the axes the reference holds away from upright (see the module docstring)."""
    return np.abs(reference.mean(axis=0)) > HELD_RATIO * reference.std(axis=0)


def measure_calibration(
    generated: list[np.ndarray], reference: np.ndarray, fps: float, rhythm: bool = True
) -> PoseCalibration:
    """The calibration from generations [T, 3] on the reference's speech and the reference's head [T, 3]."""
    generated = [np.asarray(g, np.float64) for g in generated]
    reference = np.asarray(reference, np.float64)
    response = rhythm_response(generated, reference, fps) if rhythm else np.ones((3, RESPONSE_BINS))
    response[held_axes(reference), : int(round(RHYTHM_BAND_HZ[0] / RESPONSE_STEP_HZ))] = 0.0
    filtered = [rhythm_filter(g, fps, response) for g in generated]
    generated_std = np.mean([f.std(axis=0) for f in filtered], axis=0)
    gain = np.clip(reference.std(axis=0) / np.maximum(generated_std, 1e-6), *GAIN_RANGE)
    offset = reference.mean(axis=0) - gain * np.mean([f.mean(axis=0) for f in filtered], axis=0)
    return PoseCalibration(
        torch.tensor(gain, dtype=torch.float32),
        torch.tensor(offset, dtype=torch.float32),
        torch.tensor(response, dtype=torch.float32),
        torch.tensor(reference.std(axis=0), dtype=torch.float32),
    )
