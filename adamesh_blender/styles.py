"""The style library: style files (.safetensors) in one folder, mirrored in scene.adamesh.styles for the panel.

The files are the truth; the list keeps, per style, the strengths the artist set in this scene.
"""

from __future__ import annotations

from pathlib import Path

from . import preferences
from .errors import AddonError

STYLE_SUFFIX = ".safetensors"
TRACKED_SUFFIX = ".tracked.npz"  # beside a style learnt from a video: the motion tracked from it, for inspection
_FORBIDDEN = set('/\\:*?"<>|')
MAX_NAME_LENGTH = 64


def check_style_name(name: str) -> str:
    """The name, stripped, if it can be a file name on every system; else AddonError saying why."""
    name = name.strip()
    if not name:
        raise AddonError("Give the style a name")
    bad = sorted(_FORBIDDEN.intersection(name))
    if bad or name.startswith(".") or any(ord(c) < 32 for c in name):
        raise AddonError(f"a style name cannot contain {' '.join(bad) or 'control characters'} or start with '.'")
    if len(name) > MAX_NAME_LENGTH:
        raise AddonError(f"a style name has at most {MAX_NAME_LENGTH} characters")
    return name


def style_path(context, name: str) -> Path:
    return preferences.style_library_folder(context) / f"{name}{STYLE_SUFFIX}"


def tracked_reference_path(context, name: str) -> Path:
    return preferences.style_library_folder(context) / f"{name}{TRACKED_SUFFIX}"


def refresh_styles(context) -> None:
    """Make the scene's style list match the library folder (sorted by name), keeping strengths and selection."""
    settings = context.scene.adamesh
    folder = preferences.style_library_folder(context)
    names = sorted(path.name[: -len(STYLE_SUFFIX)] for path in folder.glob(f"*{STYLE_SUFFIX}") if path.is_file())
    kept = {item.name: (item.expression_strength, item.pose_strength) for item in settings.styles}
    active = settings.styles[settings.style_index].name if 0 <= settings.style_index < len(settings.styles) else None
    settings.styles.clear()
    for name in names:
        item = settings.styles.add()
        item.name = name
        item.expression_strength, item.pose_strength = kept.get(name, (1.0, 1.0))
    settings.style_index = names.index(active) if active in names else (0 if names else -1)


def select_style(context, name: str) -> None:
    settings = context.scene.adamesh
    settings.style_index = next((i for i, item in enumerate(settings.styles) if item.name == name), -1)


def rename_style(context, old: str, new: str) -> None:
    new = check_style_name(new)
    source, target = style_path(context, old), style_path(context, new)
    if not source.is_file():
        raise AddonError(f"style file {source} is gone; press Refresh")
    if target.exists():
        raise AddonError(f"a style named '{new}' exists already; choose another name")
    source.rename(target)
    tracked = tracked_reference_path(context, old)
    if tracked.is_file():
        tracked.rename(tracked_reference_path(context, new))
    settings = context.scene.adamesh
    for item in settings.styles:
        if item.name == old:
            item.name = new  # keeps its strengths
    refresh_styles(context)


def delete_style(context, name: str) -> None:
    style_path(context, name).unlink(missing_ok=True)
    tracked_reference_path(context, name).unlink(missing_ok=True)
    refresh_styles(context)
