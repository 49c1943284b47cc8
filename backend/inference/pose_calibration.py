"""A style's head calibration as generation applies it: per axis, a rhythm filter, an amplitude gain and an offset.

    head -> gain * rhythm_filter(head) + offset        (per axis: nod x, turn y, tilt z; radians, 25 fps)

Adapt Style measures it against what the learnt pose model generates on the reference's own speech
(backend/adaptation/calibrate_pose.py, which says how); a style file carries it (style_files.py), and
`at_strength` scales it with the artist's pose strength. The filter is zero-phase and acts within the
head-rhythm band RHYTHM_BAND_HZ, where fast jitter passes unchanged; below the band the mean and slow drift pass
too, except on an axis the reference holds away from upright, where they are removed and the offset holds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

RHYTHM_BAND_HZ = (0.15, 3.0)  # slower is drift, faster is not head rhythm (the corpus low-passes above ~8 Hz)
RESPONSE_STEP_HZ = 0.05  # the rhythm filter's frequency grid, from 0 to RHYTHM_BAND_HZ[1]
RESPONSE_BINS = int(round(RHYTHM_BAND_HZ[1] / RESPONSE_STEP_HZ)) + 1
_PAD_S = 4.0  # reflected at both ends before filtering, so the clip's edges do not wrap around


@dataclass(frozen=True)
class PoseCalibration:
    gain: Tensor  # [3] per axis (nod x, turn y, tilt z)
    offset: Tensor  # [3] radians
    response: Tensor  # [3, RESPONSE_BINS] amplitude response of the rhythm filter on the grid 0, 0.05, ... Hz

    @classmethod
    def identity(cls) -> PoseCalibration:
        return cls(torch.ones(3), torch.zeros(3), torch.ones(3, RESPONSE_BINS))

    def at_strength(self, strength: float) -> PoseCalibration:
        """Strength 0 is no calibration, 1 the measured one, above 1 extrapolates (as the style vector does)."""
        return PoseCalibration(
            1.0 + strength * (self.gain - 1.0), strength * self.offset, self.response.clamp_min(1e-6) ** strength
        )

    def without_rhythm(self) -> PoseCalibration:
        return PoseCalibration(self.gain, self.offset, torch.ones_like(self.response))

    def apply(self, head: np.ndarray, fps: float) -> np.ndarray:
        """head [T, 3] radians at `fps` -> calibrated head (float32)."""
        filtered = rhythm_filter(np.asarray(head, np.float64), fps, self.response.double().numpy())
        return (filtered * self.gain.double().numpy() + self.offset.double().numpy()).astype(np.float32)

    def to_report(self) -> dict:
        grid = np.arange(RESPONSE_BINS) * RESPONSE_STEP_HZ
        peaks = [float(grid[int(np.argmax(r))]) for r in self.response.numpy()]
        return {
            "gain": [round(float(g), 4) for g in self.gain],
            "offset_deg": [round(float(np.degrees(o)), 3) for o in self.offset],
            "rhythm_boost_hz": peaks,
            "rhythm_boost": [round(float(r.max()), 3) for r in self.response],
        }


def rhythm_filter(head: np.ndarray, fps: float, response: np.ndarray) -> np.ndarray:
    """Zero-phase filtering of head [T, 3] by the per-axis amplitude response [3, RESPONSE_BINS] (1 off the grid)."""
    if np.all(response == 1.0) or len(head) < 2:
        return head
    pad = min(len(head) - 1, int(round(_PAD_S * fps)))
    padded = np.concatenate([head[pad:0:-1], head, head[-2 : -pad - 2 : -1]]) if pad > 0 else head
    spectrum = np.fft.rfft(padded, axis=0)
    frequencies = np.fft.rfftfreq(len(padded), 1.0 / fps)
    grid = np.arange(RESPONSE_BINS) * RESPONSE_STEP_HZ
    gains = np.stack([np.interp(frequencies, grid, r, right=1.0) for r in response], axis=1)
    return np.fft.irfft(spectrum * gains, len(padded), axis=0)[pad : pad + len(head)]
