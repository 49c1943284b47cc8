"""The tracker's error: a video it cannot turn into facial motion, with the reason a person can act on."""

from backend.core.errors import AdaMeshError


class VideoError(AdaMeshError):
    """A video is unreadable or unusable for tracking: no face, too little face, too small, ..."""

    code = "bad_video"
