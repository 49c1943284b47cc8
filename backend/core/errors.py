"""The backend's domain errors.

Every error a user can cause (bad file, bad clip, bad request) is an `AdaMeshError` with a stable `code`, so the
CLI prints one clear line and the worker can send `{code, message}` to Blender without a traceback.
"""


class AdaMeshError(Exception):
    """Base class: a problem with the user's input or environment, never a bug."""

    code = "adamesh_error"


class ClipError(AdaMeshError):
    """A motion clip (or a tracker file) is missing, malformed or inconsistent."""

    code = "bad_clip"


class AudioError(AdaMeshError):
    """An audio or video file cannot be read, or holds no usable sound."""

    code = "bad_audio"


class SynthError(AdaMeshError):
    """A speech engine is missing or failed while building the synthetic corpus."""

    code = "synth_failed"
