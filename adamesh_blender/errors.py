"""The add-on's domain errors (the add-on cannot import the backend's, so it has its own).

Operators catch `AddonError` and turn it into one `self.report({'ERROR'}, ...)` line; anything else is a bug.
"""


class AddonError(Exception):
    """A problem the artist can fix (a bad clip file, a rig that does not fit), never a bug."""

    code = "addon_error"


class ClipReadError(AddonError):
    """A motion clip file is missing, malformed, or does not fit the scene (e.g. too short for one frame)."""

    code = "bad_clip"


class RigError(AddonError):
    """The target rig lacks what the clip needs: shape keys, channels, bones or an armature."""

    code = "bad_rig"
