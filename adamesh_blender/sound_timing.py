"""Where a sound strip's file plays on the scene's timeline.

A strip shows its sound from `frame_start`, skipping the file's first `sound_offset` seconds (4.3+; trimming the
strip hides frames but does not move the sound). So the file's second t plays at scene frame
frame_start + (t - sound_offset) * scene rate; a clip generated from the whole file is aligned by that.
"""

from __future__ import annotations

from .anim import compat
from .anim.timing import SceneTiming


def strip_timing(scene, strip) -> SceneTiming:
    """The timing that puts second 0 of the strip's sound file (clip row 0) where it plays."""
    timing = SceneTiming.of_strip(scene, strip)
    offset_frames = compat.sound_offset(strip) * timing.frame_rate
    return SceneTiming(timing.frame_start - offset_frames, timing.fps, timing.fps_base)


def file_seconds_at(scene, strip, frame: float) -> float:
    """The second of the strip's sound file that plays at scene `frame`."""
    timing = strip_timing(scene, strip)
    return (frame - timing.frame_start) / timing.frame_rate
