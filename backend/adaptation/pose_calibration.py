"""The last, explicit step of pose adaptation: a per-axis amplitude gain and offset measured against the learnt part.

After retrieval and fitting have chosen PoseGPT's style vector, the learnt model generates head motion on the
reference's own speech (CALIBRATION_SEEDS draws). Its spread and mean per axis are compared with the reference's:

    gain[a]   = std(reference[a]) / std(generated[a])        clipped to GAIN_RANGE
    offset[a] = mean(reference[a]) - gain[a] * mean(generated[a])     (radians)

and generation then outputs gain * head + offset on every axis. The gain carries what the learnt part misses of
the reference's amplitude (the VQ-VAE's codebook and PoseGPT's prior pull towards motion they were trained on);
the offset carries a held habit (a head tilted to one side), which no code sequence of a zero-mean prior keeps. The
rhythm is the learnt part's alone: nothing here moves it. `bench adapt` reports each stage with and without this
step, so how much it adds is measured rather than assumed.

The map is exact and cheap to apply: it is folded into the VQ-VAE decoder's last convolution of the styled copy of
the models (`fold_into_decoder`), so generation runs unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

CALIBRATION_SEEDS = 3  # generations on the reference's speech averaged: one draw's spread varies by ~10 %
GAIN_RANGE = (0.25, 4.0)  # beyond this the learnt part is too far from the reference for a gain to be a correction


@dataclass(frozen=True)
class PoseCalibration:
    gain: Tensor  # [3] per axis (nod x, turn y, tilt z)
    offset: Tensor  # [3] radians

    @classmethod
    def identity(cls) -> PoseCalibration:
        return cls(torch.ones(3), torch.zeros(3))

    def at_strength(self, strength: float) -> PoseCalibration:
        """Strength 0 is no calibration, 1 the measured one, above 1 extrapolates (as the style vector does)."""
        return PoseCalibration(1.0 + strength * (self.gain - 1.0), strength * self.offset)

    def apply(self, head: np.ndarray) -> np.ndarray:
        """head [T, 3] radians -> calibrated head."""
        return head * self.gain.numpy() + self.offset.numpy()

    def to_report(self) -> dict:
        return {"gain": [round(float(g), 4) for g in self.gain],
                "offset_deg": [round(float(np.degrees(o)), 3) for o in self.offset]}


def measure_calibration(generated: list[np.ndarray], reference: np.ndarray) -> PoseCalibration:
    """The calibration from generations [T, 3] on the reference's speech and the reference's head [T, 3]."""
    stacked = np.stack([np.asarray(g, np.float64) for g in generated])  # [N, T, 3]
    generated_std = stacked.std(axis=1).mean(axis=0)
    generated_mean = stacked.mean(axis=(0, 1))
    reference = np.asarray(reference, np.float64)
    gain = np.clip(reference.std(axis=0) / np.maximum(generated_std, 1e-6), *GAIN_RANGE)
    offset = reference.mean(axis=0) - gain * generated_mean
    return PoseCalibration(torch.tensor(gain, dtype=torch.float32), torch.tensor(offset, dtype=torch.float32))


@torch.no_grad()
def fold_into_decoder(vqvae, calibration: PoseCalibration) -> None:
    """Make `vqvae` decode gain * pose + offset (its last convolution outputs pose / pose_scale per axis)."""
    last = vqvae.decoder[-1]
    gain = calibration.gain.to(last.weight.device, last.weight.dtype)
    offset = calibration.offset.to(last.weight.device, last.weight.dtype)
    last.weight.mul_(gain[:, None, None])
    last.bias.mul_(gain).add_(offset / vqvae.config.pose_scale)
