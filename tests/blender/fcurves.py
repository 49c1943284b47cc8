"""Read back the keys of Actions (bpy only, so the installed-extension scenarios can import it too)."""

import numpy as np


def action_fcurves(action, slot=None) -> list:
    """The Action's F-Curves: on 4.4+ those of `slot` (None: of every slot), on 4.2/4.3 all of them."""
    if not hasattr(action, "layers"):
        return list(action.fcurves)
    return [
        fcurve
        for layer in action.layers
        for strip in layer.strips
        for bag in strip.channelbags
        if slot is None or bag.slot == slot
        for fcurve in bag.fcurves
    ]


def assigned_fcurves(id_block) -> list:
    """The F-Curves `id_block` plays: its Action's, in its slot."""
    animation_data = id_block.animation_data
    return action_fcurves(animation_data.action, getattr(animation_data, "action_slot", None))


def key_frames(fcurve) -> np.ndarray:
    frames = np.empty(2 * len(fcurve.keyframe_points), dtype=np.float32)
    fcurve.keyframe_points.foreach_get("co", frames)
    return frames[0::2]
