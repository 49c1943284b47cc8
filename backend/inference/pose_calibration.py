"""A style's head calibration as generation applies it: per axis, a rhythm filter, an amplitude gain, a per-clip
spread correction and an offset.

    moved = gain * rhythm_filter(head)
    head -> mean(moved) + clip_factor * (moved - mean(moved)) + offset     (per axis: nod x, turn y, tilt z; radians)

Adapt Style measures it against what the learnt pose model generates on the reference's own speech
(backend/adaptation/calibrate_pose.py, which says how); a style file carries it (style_files.py), and
`at_strength` scales it with the artist's pose strength. The filter is zero-phase and acts within the
head-rhythm band RHYTHM_BAND_HZ, where fast jitter passes unchanged; below the band the mean and slow drift pass
too, except on an axis the reference holds away from upright, where they are removed and the offset holds it.

The gain is right on average over draws, but PoseGPT samples, and one take's spread on new speech varies by about
20-25 % per axis from seed to seed (a take a third too wide or too narrow was the usual miss). So the calibration
also holds the reference's own spread per axis (`spread`: its standard deviation about its mean, the quantity the
gain was measured against) and rescales each clip's calibrated motion about the clip's mean towards it:
clip_factor = (spread / std(moved)) clipped to [1/SPREAD_BOUND, SPREAD_BOUND], raised to min(1, clip seconds /
SPREAD_FULL_S), since a short clip holds too little motion for its spread to be measured. The rescale keeps the
clip's mean, so the offset (a held tilt) stays; a style without `spread` (older files) has no clip factor.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

RHYTHM_BAND_HZ = (0.15, 3.0)  # slower is drift, faster is not head rhythm (the corpus low-passes above ~8 Hz)
RESPONSE_STEP_HZ = 0.05  # the rhythm filter's frequency grid, from 0 to RHYTHM_BAND_HZ[1]
RESPONSE_BINS = int(round(RHYTHM_BAND_HZ[1] / RESPONSE_STEP_HZ)) + 1
_PAD_S = 4.0  # reflected at both ends before filtering, so the clip's edges do not wrap around
SPREAD_BOUND = 1.5  # the clip factor's range [1/1.5, 1.5]: one take varies by 20-25 % (log sd 0.18-0.27 per axis),
# so 1.5 covers about two standard deviations; beyond it the take is not a noisy draw of the style but another motion
SPREAD_FULL_S = 10.0  # a clip this long gets the whole clip factor, a shorter one less (a 0.3 Hz sway: 3 periods)


@dataclass(frozen=True)
class PoseCalibration:
    gain: Tensor  # [3] per axis (nod x, turn y, tilt z)
    offset: Tensor  # [3] radians
    response: Tensor  # [3, RESPONSE_BINS] amplitude response of the rhythm filter on the grid 0, 0.05, ... Hz
    spread: Tensor | None = None  # [3] radians: the reference's spread per axis, a clip's target (None: no clip factor)
    strength: float = 1.0  # the artist's pose strength: 0 no calibration, 1 the measured one (see `at_strength`)

    @classmethod
    def identity(cls) -> PoseCalibration:
        return cls(torch.ones(3), torch.zeros(3), torch.ones(3, RESPONSE_BINS))

    def at_strength(self, strength: float) -> PoseCalibration:
        """Strength 0 is no calibration, 1 the measured one, above 1 extrapolates (as the style vector does): the
        gain moves from 1 and the offset from 0 linearly, the filter's response and the clip factor as powers."""
        return dataclasses.replace(self, strength=self.strength * strength)

    def without_rhythm(self) -> PoseCalibration:
        return dataclasses.replace(self, response=torch.ones_like(self.response))

    def apply(self, head: np.ndarray, fps: float) -> np.ndarray:
        """head [T, 3] radians at `fps` -> calibrated head (float32)."""
        head = np.asarray(head, np.float64)
        gain, response = self.gain.double().numpy(), self.response.double().numpy()
        s = self.strength
        moved = rhythm_filter(head, fps, response.clip(1e-6, None) ** s) * (1.0 + s * (gain - 1.0))
        if self.spread is not None and s != 0.0:
            # the factor is measured on the clip as calibrated at strength 1, and scaled as the rest is
            measured = moved if s == 1.0 else rhythm_filter(head, fps, response) * gain
            mean = moved.mean(axis=0)
            moved = mean + self.clip_factor(measured, fps) ** s * (moved - mean)
        return (moved + s * self.offset.double().numpy()).astype(np.float32)

    def clip_factor(self, moved: np.ndarray, fps: float) -> np.ndarray:
        """The factor [3] that brings one clip's calibrated motion [T, 3] towards the reference's spread (see the
        module docstring); ones without a spread."""
        if self.spread is None or len(moved) < 2:
            return np.ones(3)
        ratio = self.spread.double().numpy() / np.maximum(np.std(moved, axis=0), 1e-9)
        weight = min(1.0, len(moved) / fps / SPREAD_FULL_S)
        return np.clip(ratio, 1.0 / SPREAD_BOUND, SPREAD_BOUND) ** weight

    def to_report(self) -> dict:
        grid = np.arange(RESPONSE_BINS) * RESPONSE_STEP_HZ
        peaks = [float(grid[int(np.argmax(r))]) for r in self.response.numpy()]
        return {
            "gain": [round(float(g), 4) for g in self.gain],
            "offset_deg": [round(float(np.degrees(o)), 3) for o in self.offset],
            "rhythm_boost_hz": peaks,
            "rhythm_boost": [round(float(r.max()), 3) for r in self.response],
            "spread_deg": None if self.spread is None else [round(float(np.degrees(x)), 3) for x in self.spread],
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
