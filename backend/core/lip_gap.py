"""The lip-gap contract: the inner-lip opening at the mouth's midline, in mm, from the jaw and the lip channels.

Every layer that speaks of lips closing or opening reads it: the synthetic articulation writes motion that obeys it,
the training loss and the closure guarantee at generation use it, evaluation scores with it, and the demo head's
shape keys are built to reproduce it. It is defined on the demo head's channels (CHANNELS); other channel sets
(FLAME's Exp1..Exp100) have no contract.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backend.core.channels import CHANNELS

# Inner-lip opening at the mouth's midline, in mm on an adult-sized head (~150 mm between the cheekbones):
#
#     lip_gap = max(0, JAW_GAP_MM_PER_RAD * sin(jaw_x) + sum over channels c of LIP_GAP_MM[c] * expression[c])
#
# jaw_x is the jaw's opening rotation (axis-angle x, radians): the lower lip rides on a rigid lever, so it drops by
# the lever's length times sin(jaw_x) (~80 mm per radian). Each channel moves the lips at the midline by a fixed
# distance at weight 1 (left/right pairs half each), so a blend-shape head with a jaw bone reproduces it exactly;
# max(0, .) is contact (lips cannot pass through each other). Channels that only move the corners sideways (smile,
# stretch, frown, mouthLeft/Right) leave the midline gap alone. mouthClose follows ARKit: it closes lips that the
# jaw holds apart, and at weight 1 cancels a 25 mm opening (about jaw_x = 0.32).
JAW_GAP_MM_PER_RAD = 80.0  # the jaw lever: the lower lip sits ~80 mm in front of the jaw's hinge
LIP_GAP_MM: dict[str, float] = {
    "mouthClose": -25.0,
    "mouthFunnel": 5.0,  # an open O parts the lips' centre
    "mouthPucker": -3.0,  # narrow protruded lips nearly meet
    "mouthLowerDownLeft": 2.5,
    "mouthLowerDownRight": 2.5,
    "mouthUpperUpLeft": 2.0,
    "mouthUpperUpRight": 2.0,
    "mouthRollLower": -6.0,  # lower lip rolled in under the upper teeth
    "mouthRollUpper": -4.0,
    "mouthShrugLower": -3.0,  # lower lip pushed up
    "mouthShrugUpper": 1.5,
    "mouthPressLeft": -1.0,
    "mouthPressRight": -1.0,
}
_GAP_WEIGHTS = np.array([LIP_GAP_MM.get(name, 0.0) for name in CHANNELS])
_CLOSE_MM = -LIP_GAP_MM["mouthClose"]


def lip_gap(expression: np.ndarray, jaw: np.ndarray) -> np.ndarray:
    """Inner-lip opening in mm per frame ([T, C] channels in CHANNELS order, [T, 3] jaw) by the contract above."""
    return np.maximum(lip_separation(expression, jaw), 0.0)


def lip_separation(expression: np.ndarray, jaw: np.ndarray) -> np.ndarray:
    """The contract before contact: negative means the lips are pressed together that far."""
    jaw_drop = JAW_GAP_MM_PER_RAD * np.sin(np.asarray(jaw, np.float64)[:, 0])
    return jaw_drop + np.asarray(expression, np.float64) @ _GAP_WEIGHTS


def contract_channels(channels: Sequence[str]) -> bool:
    """True when the lip-gap contract applies to these channels (the corpus's and the starter's)."""
    return tuple(channels) == CHANNELS
