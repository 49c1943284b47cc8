"""Style statistics: a few numbers that tell the synthetic corpus's styles apart, measured on motion.

Expression (the corpus's ARKit channel names, backend/core/channels.py; jaw from the clip's jaw rotation):
- smile: mean of mouthSmileLeft/Right over all frames (happy speakers hold a smile);
- asymmetry: mean of mouthLeft - mouthRight (crooked speakers pull the mouth to one side, its sign says which);
- articulation: standard deviation of the jaw opening, in degrees (large vs small articulation);
- press: mean of mouthPressLeft/Right (tense speakers press their lips);
- brows: mean of browInnerUp and browOuterUpLeft/Right (brow-active speakers).
The style distance between two sets of statistics is the mean over statistics of their absolute difference, each
divided by a scale: the benchmark takes the spread of the statistic across the held-out speakers' ground truth, so
1.0 means "as far apart as two typical speakers".

Pose: the standard deviation of the head rotation about each axis (nod x, sway y, tilt z), in degrees; the
pose-style distance is the mean absolute difference of the three, in degrees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

EXPRESSION_STATISTICS = ("smile", "asymmetry", "articulation", "press", "brows")
_CHANNEL_SETS = {
    "smile": (("mouthSmileLeft", "mouthSmileRight"), ()),
    "asymmetry": (("mouthLeft",), ("mouthRight",)),
    "press": (("mouthPressLeft", "mouthPressRight"), ()),
    "brows": (("browInnerUp", "browOuterUpLeft", "browOuterUpRight"), ()),
}


def expression_statistics(expression: np.ndarray, jaw: np.ndarray, channel_names: Sequence[str]) -> dict[str, float]:
    """The expression style statistics of motion expression [T, C] (named channels) and jaw [T, 3]."""
    index = {name: k for k, name in enumerate(channel_names)}
    statistics = {}
    for name, (added, subtracted) in _CHANNEL_SETS.items():
        missing = [c for c in (*added, *subtracted) if c not in index]
        if missing:
            raise ValueError(f"style statistic {name} needs channel(s) {', '.join(missing)}")
        value = np.mean([expression[:, index[c]] for c in added], axis=0)
        if subtracted:
            value = value - np.mean([expression[:, index[c]] for c in subtracted], axis=0)
        statistics[name] = float(np.mean(value))
    statistics["articulation"] = float(np.degrees(np.std(jaw[:, 0])))
    return statistics


def style_distance(a: Mapping[str, float], b: Mapping[str, float], scales: Mapping[str, float]) -> float:
    """Mean over the expression statistics of |a - b| / scale."""
    return float(np.mean([abs(a[k] - b[k]) / max(scales[k], 1e-9) for k in EXPRESSION_STATISTICS]))


def pose_statistics(head: np.ndarray) -> np.ndarray:
    """Standard deviation of the head rotation about x, y, z [3], in degrees."""
    return np.degrees(np.std(np.asarray(head, np.float64), axis=0))


def pose_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two pose_statistics, in degrees."""
    return float(np.mean(np.abs(np.asarray(a) - np.asarray(b))))
