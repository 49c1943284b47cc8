"""The expression channels of the synthetic corpus and the demo head.

They carry ARKit-52 names, so an ARKit rig maps one to one; only the subset that speech and the demo styles move is
used. Jaw opening is *not* a channel: it is the `jaw` rotation of the clip (axis-angle, opening by +X, as FLAME's
jaw joint), and a rig without a jaw bone derives `jawOpen` from it.
"""

MOUTH_CHANNELS = (
    "mouthClose",  # lips pressed together against a slightly open jaw (p b m)
    "mouthFunnel",  # lips pushed out into an open O (ow, uw, sh)
    "mouthPucker",  # lips rounded and narrow (w, uw, oo)
    "mouthLeft",  # whole mouth pulled to the left: crooked-mouth style
    "mouthRight",
    "mouthSmileLeft",  # corners up: happy style, ee-spreading
    "mouthSmileRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthStretchLeft",  # corners out and down (iy, eh, ae spreading)
    "mouthStretchRight",
    "mouthRollLower",  # lower lip tucked under the upper teeth (f v)
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthPressLeft",  # lip compression during a bilabial hold
    "mouthPressRight",
    "mouthLowerDownLeft",  # lower lip drops, showing teeth (open vowels, sh, ch)
    "mouthLowerDownRight",
    "mouthUpperUpLeft",  # upper lip raises (f v, sh, teeth show)
    "mouthUpperUpRight",
)

BROW_CHANNELS = (
    "browInnerUp",
    "browDownLeft",
    "browDownRight",
    "browOuterUpLeft",
    "browOuterUpRight",
)

EYE_CHANNELS = (
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeSquintLeft",
    "eyeSquintRight",
    "eyeWideLeft",
    "eyeWideRight",
)

CHEEK_CHANNELS = (
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "noseSneerLeft",
    "noseSneerRight",
)

CHANNELS = MOUTH_CHANNELS + BROW_CHANNELS + EYE_CHANNELS + CHEEK_CHANNELS
CHANNEL_INDEX = {name: i for i, name in enumerate(CHANNELS)}
