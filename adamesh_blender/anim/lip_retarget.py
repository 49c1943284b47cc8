"""Lips that meet on an ARKit rig whose shape keys were not built to the models' lip-gap contract (pure numpy).

The models learn the corpus's lip-gap contract (backend/core/lip_gap.py, mirrored below): the midline
inner-lip opening, in mm on an adult head, is

    JAW_GAP_MM_PER_RAD * sin(jaw_x) + sum over channels c of LIP_GAP_MM[c] * expression[c]

(negative: pressed together; contact is 0). A real ARKit head moves its lips by its own amounts: the ICT head opens
32.8 mm at jawOpen = 1 and closes 38.9 mm at mouthClose = 1 (36.3 mm beside the midline), so keying the clip's
mouthClose as it is pushes the lips up to 3.6 mm through each other. When the rig says which of its vertices are
the inner lips (a custom property, INNER_LIPS_PROPERTY: upper, lower vertex pairs, the midline pair first), its
own millimetres per key are read off its shape keys (`LipCalibration`) and two curves are solved frame by frame:

- jawOpen opens the rig's midline by the contract's jaw term (80 mm per radian of the clip's jaw);
- mouthClose, within 0..jawOpen (ARKit's rule), brings the midline to the contract's opening; where the contract
  says closed, it brings the lips to contact: the midline and the closest side pair straddle 0 by the same amount.

Every other channel is keyed as it comes, so smiles, rounding and presses keep their shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

INNER_LIPS_PROPERTY = "adamesh_inner_lips"  # int array on the mesh object: upper, lower, upper, lower, ...

# The backend's lip-gap contract (backend/core/lip_gap.py; tests/addon check that the two agree).
JAW_GAP_MM_PER_RAD = 80.0
LIP_GAP_MM = {
    "mouthClose": -25.0,
    "mouthFunnel": 5.0,
    "mouthPucker": -3.0,
    "mouthLowerDownLeft": 2.5,
    "mouthLowerDownRight": 2.5,
    "mouthUpperUpLeft": 2.0,
    "mouthUpperUpRight": 2.0,
    "mouthRollLower": -6.0,
    "mouthRollUpper": -4.0,
    "mouthShrugLower": -3.0,
    "mouthShrugUpper": 1.5,
    "mouthPressLeft": -1.0,
    "mouthPressRight": -1.0,
}


@dataclass(frozen=True)
class LipCalibration:
    """A rig's inner-lip openings (mm, along the mesh's +Z): at rest, and added per shape key at weight 1.

    Index 0 of each tuple is the midline pair, the rest are pairs beside it."""

    rest_mm: tuple[float, ...]
    gains_mm: Mapping[str, tuple[float, ...]]  # shape key -> mm per unit weight at each pair

    @staticmethod
    def from_points(rest: np.ndarray, keyed: Mapping[str, np.ndarray]) -> LipCalibration:
        """From [2P, 3] rest points of the pairs (upper, lower, upper, lower, ...) and each key's [2P, 3] points."""

        def openings(points: np.ndarray) -> np.ndarray:
            return 1000.0 * (points[0::2, 2] - points[1::2, 2])

        base = openings(np.asarray(rest, dtype=np.float64))
        gains = {key: tuple(openings(np.asarray(p, dtype=np.float64)) - base) for key, p in keyed.items()}
        return LipCalibration(tuple(base), gains)


def contract_separation(expression: Mapping[str, np.ndarray], jaw_x: np.ndarray) -> np.ndarray:
    """[N] the contract's signed midline opening (mm) from the clip's channels (name -> [N]) and jaw opening."""
    separation = JAW_GAP_MM_PER_RAD * np.sin(np.asarray(jaw_x, dtype=np.float64))
    for channel, millimetres in LIP_GAP_MM.items():
        if channel in expression:
            separation = separation + millimetres * np.asarray(expression[channel], dtype=np.float64)
    return separation


def retarget_lips(
    calibration: LipCalibration,
    jaw_x: np.ndarray,
    target_mm: np.ndarray,
    other_keys: Mapping[str, np.ndarray],
    jaw_open_key: str,
    close_key: str,
) -> tuple[np.ndarray, ...]:
    """[N] jawOpen and mouthClose values that put the rig's lips where the contract says.

    `other_keys` are the values the other shape keys get (key -> [N]); keys the calibration does not know move
    no lip. `target_mm` is contract_separation of the same frames."""
    gains = calibration.gains_mm
    jaw_gain, close_gain = np.asarray(gains[jaw_open_key]), np.asarray(gains[close_key])
    jaw_open = np.clip(JAW_GAP_MM_PER_RAD * np.sin(np.asarray(jaw_x, np.float64)) / jaw_gain[0], 0.0, 1.0)
    before_close = np.asarray(calibration.rest_mm) + np.outer(jaw_open, jaw_gain)  # [N, P]
    for key, values in other_keys.items():
        if key in gains and key not in (jaw_open_key, close_key):
            before_close = before_close + np.outer(values, gains[key])
    # Open: the midline at the target. Closed: mean of the midline and the closest side pair at 0, so both lie
    # within half their difference of contact (neither a visible slit nor lips through each other).
    target = np.maximum(np.asarray(target_mm, np.float64), 0.0)
    midline = (before_close[:, 0] - target) / -close_gain[0]
    if before_close.shape[1] > 1:
        side = 1 + np.argmin(before_close[:, 1:], axis=1)
        rows = np.arange(len(jaw_open))
        straddle = (before_close[:, 0] + before_close[rows, side]) / -(close_gain[0] + close_gain[side])
        closed = target <= 0.0
        midline = np.where(closed, straddle, midline)
    return jaw_open, np.clip(midline, 0.0, jaw_open)
