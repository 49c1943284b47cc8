"""Motion clips (docs/architecture.md section 3): the clip type and its .npz file, resampling, and tracker readers."""

from backend.clips.motion_clip import SUPPORTED_FORMATS, MotionClip, load_clip, save_clip
from backend.clips.resample import resample_clip
from backend.clips.trackers import READERS, convert_tracker_file, read_deca, read_smirk, read_vhap

__all__ = [
    "SUPPORTED_FORMATS",
    "MotionClip",
    "load_clip",
    "save_clip",
    "resample_clip",
    "READERS",
    "convert_tracker_file",
    "read_deca",
    "read_smirk",
    "read_vhap",
]
