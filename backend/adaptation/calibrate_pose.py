"""The last, explicit step of pose adaptation: per-axis amplitude, offset and rhythm, measured against the learnt part.

After retrieval and fitting have chosen PoseGPT's style vector, the learnt model generates head motion on the
reference's own speech (CALIBRATION_SEEDS draws), and per axis a is compared with the reference:

- rhythm: a zero-phase filter over the head-rhythm band (RHYTHM_BAND_HZ) whose amplitude response is the ratio of
  the reference's power spectrum to the generated one's, both smoothed over SMOOTHING_HZ, scaled so that it leaves
  the generated spread unchanged and clipped to RESPONSE_RANGE. It moves energy to the frequencies
  where the reference has its rhythm and the learnt model too little, and away from where it has too much; outside
  the band (the mean, slow drift, fast jitter) it passes everything unchanged;
- amplitude: gain[a] = std(reference[a]) / std(filtered generated[a]), clipped to GAIN_RANGE;
- offset[a] = mean(reference[a]) - gain[a] * mean(generated[a]), radians: a held habit (a head tilted to one side),
  which no code sequence of a prior trained on centred motion keeps.

Generation then outputs gain * filter(head) + offset on every axis (backend/inference/pose_calibration.py). The
learnt part supplies the motion itself (its timing against the speech, its shapes); this step corrects its
amplitude, mean and spectral balance. `bench adapt` reports each pose stage with and without it, so what it adds
is measured rather than assumed.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from backend.inference.pose_calibration import (
    RESPONSE_BINS,
    RESPONSE_STEP_HZ,
    RHYTHM_BAND_HZ,
    PoseCalibration,
    rhythm_filter,
)

CALIBRATION_SEEDS = 3  # generations on the reference's speech averaged: one draw's spectrum is noisy
GAIN_RANGE = (0.2, 5.0)  # beyond this the learnt part is too far from the reference for a gain to be a correction
RESPONSE_RANGE = (1 / 6, 6.0)  # amplitude response: at most ~16 dB of reshaping either way
SMOOTHING_HZ = 0.05  # finer than a 10 s reference resolves (0.1 Hz): keeps the boost on its rhythm, not beside it


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


def measure_calibration(generated: list[np.ndarray], reference: np.ndarray, fps: float,
                        rhythm: bool = True) -> PoseCalibration:
    """The calibration from generations [T, 3] on the reference's speech and the reference's head [T, 3]."""
    generated = [np.asarray(g, np.float64) for g in generated]
    reference = np.asarray(reference, np.float64)
    response = np.ones((3, RESPONSE_BINS))
    if rhythm:
        grid = np.arange(RESPONSE_BINS) * RESPONSE_STEP_HZ
        band = grid >= RHYTHM_BAND_HZ[0]
        generated_power = np.mean([_band_power(g, fps) for g in generated], axis=0)
        # the power ratio as the amplitude response (its square root would match the spectra exactly): a 10 s
        # window spreads a pure rhythm over +-0.2 Hz, and the square narrows the boost back onto its peak
        ratio = _band_power(reference, fps) / np.maximum(generated_power, 1e-12)
        # scaled so that the generated motion keeps its energy within the band: the gain alone sets the size
        level = np.sqrt((generated_power[:, band] * ratio[:, band] ** 2).sum(1) / generated_power[:, band].sum(1))
        response[:, band] = np.clip(ratio[:, band] / np.maximum(level[:, None], 1e-12), *RESPONSE_RANGE)
    filtered = [rhythm_filter(g, fps, response) for g in generated]
    generated_std = np.mean([f.std(axis=0) for f in filtered], axis=0)
    gain = np.clip(reference.std(axis=0) / np.maximum(generated_std, 1e-6), *GAIN_RANGE)
    offset = reference.mean(axis=0) - gain * np.mean([g.mean(axis=0) for g in generated], axis=0)
    return PoseCalibration(torch.tensor(gain, dtype=torch.float32), torch.tensor(offset, dtype=torch.float32),
                           torch.tensor(response, dtype=torch.float32))
