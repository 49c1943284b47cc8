"""A fixed linear lift of the corpus channels to FLAME-shaped expression coefficients Exp1..Exp100.

What it is for: exercising the FLAME path (100 coefficients, Exp1..Exp100 shape keys, the FLAME readers and rig
mapping) end to end with data whose ground truth is known. It is NOT real FLAME: the real FLAME expression basis
is licensed and not available here, so these coefficients do not produce FLAME's face shapes, only its format.

The map is W = gain * diag(sigma) @ Q (W: [100, C]):
- Q: C columns of the orthonormal DCT-II matrix of size 100 (sample positions spread evenly over 0..99), so every
  channel spreads over all coefficients, as a PCA expression basis mixes face regions;
- sigma_k = 1 / sqrt(1 + k / 8) decays with the coefficient index, as PCA variances do (Exp1 moves most);
- gain puts speech in FLAME's usual range (|coefficient| mostly < 2, rarely past 3).
Orthonormal columns times an invertible diagonal give full column rank (condition number <= 1/sigma_99 ~ 3.7), so
`lower_from_flame` recovers the channels exactly from anything the lift produced. Built in closed form (cosines),
so it does not depend on a random generator or numpy version; the test pins its checksum.
"""

from __future__ import annotations

import numpy as np

from backend.core.channels import CHANNELS
from backend.core.errors import ClipError

FLAME_EXPRESSION_COUNT = 100
FLAME_EXPRESSION_NAMES = tuple(f"Exp{k + 1}" for k in range(FLAME_EXPRESSION_COUNT))
_GAIN = 9.0


def flame_lift_matrix() -> np.ndarray:
    """W [100, len(CHANNELS)] float64: flame = expression @ W.T."""
    k = np.arange(FLAME_EXPRESSION_COUNT)[:, None]
    n = np.floor((np.arange(len(CHANNELS)) + 0.5) * FLAME_EXPRESSION_COUNT / len(CHANNELS))[None, :]
    dct = np.cos(np.pi * (n + 0.5) * k / FLAME_EXPRESSION_COUNT) * np.sqrt(2.0 / FLAME_EXPRESSION_COUNT)
    dct[0] /= np.sqrt(2.0)
    sigma = 1.0 / np.sqrt(1.0 + k / 8.0)
    return _GAIN * sigma * dct


_LIFT = flame_lift_matrix()
_LOWER = np.linalg.pinv(_LIFT)


def lift_to_flame(expression: np.ndarray) -> np.ndarray:
    """Corpus channels [T, len(CHANNELS)] -> FLAME-shaped coefficients [T, 100] float32."""
    return (_as_frames(expression, len(CHANNELS), "corpus channels") @ _LIFT.T).astype(np.float32)


def lower_from_flame(flame: np.ndarray) -> np.ndarray:
    """FLAME-shaped coefficients [T, 100] -> channels [T, C] float32 by least squares (exact on the lift's image)."""
    return (_as_frames(flame, FLAME_EXPRESSION_COUNT, "FLAME coefficients") @ _LOWER.T).astype(np.float32)


def _as_frames(values: np.ndarray, width: int, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != width:
        raise ClipError(f"expected {what} as [frames, {width}], got shape {array.shape}")
    return array
