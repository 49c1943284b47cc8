"""ICT shape names <-> the clip's channels (the starter's 37 ARKit names, backend/synth/channels.py) and jaw.

ICT splits two ARKit shapes by side (browInnerUp, cheekPuff), and models the jaw as a shape, `jawOpen`, where the
clip has a jaw rotation; an ARKit rig reads jawOpen = 1 at JAW_OPEN_RADIANS.
"""

from __future__ import annotations

import numpy as np

from backend.core.channels import CHANNELS

JAW_OPEN_RADIANS = 0.35  # the clip's jaw angle (rad, about +X) at which an ARKit rig's jawOpen reads 1
JAW_SHAPE = "jawOpen"


def ict_names_of(channel: str) -> tuple[str, ...]:
    """The ICT shape(s) that carry a clip channel: mouthSmileLeft -> mouthSmile_L; browInnerUp -> both sides."""
    if channel in ("mouthLeft", "mouthRight"):  # a direction, not a side
        return (channel,)
    for side, suffix in (("Left", "_L"), ("Right", "_R")):
        if channel.endswith(side):
            return (channel[: -len(side)] + suffix,)
    if channel in ("browInnerUp", "cheekPuff"):
        return (channel + "_L", channel + "_R")
    return (channel,)


def channel_weights(ict_names: tuple[str, ...]) -> np.ndarray:
    """[len(CHANNELS), len(ict_names)]: clip channels = this @ ICT weights (a split shape averages its sides)."""
    index = {name: i for i, name in enumerate(ict_names)}
    matrix = np.zeros((len(CHANNELS), len(ict_names)), dtype=np.float32)
    for row, channel in enumerate(CHANNELS):
        sources = ict_names_of(channel)
        for name in sources:
            matrix[row, index[name]] = 1.0 / len(sources)
    return matrix
