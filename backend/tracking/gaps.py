"""Frames where the face was lost: short gaps are bridged, long ones cut the clip, too many refuse the video."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.tracking.errors import VideoError

MAX_FILLED_GAP_S = 0.5  # a blink-length loss (a hand, motion blur): the motion around it carries across
MAX_MISSING_SHARE = 0.3
MIN_FACE_SECONDS = 3.0  # Adapt Style's shortest reference


@dataclass(frozen=True)
class Stretch:
    start: int  # first frame of the kept stretch
    stop: int  # one past the last
    filled: tuple[tuple[int, int], ...]  # interpolated gaps (start, stop) inside it
    notes: tuple[str, ...]


def spans(missing: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True."""
    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _times(runs: list[tuple[int, int]], fps: float) -> str:
    shown = ", ".join(f"{a / fps:.1f}-{b / fps:.1f} s" for a, b in runs[:8])
    return shown + (f" and {len(runs) - 8} more" if len(runs) > 8 else "")


def choose_stretch(missing: np.ndarray, fps: float, name: str) -> Stretch:
    """The longest stretch of the video whose gaps are all short enough to bridge; VideoError when the face is
    missing from too much of the video or the stretch is under MIN_FACE_SECONDS."""
    n_frames = len(missing)
    runs = spans(missing)
    share = missing.mean() if n_frames else 1.0
    if share > MAX_MISSING_SHARE:
        raise VideoError(
            f"no face in {share:.0%} of {name} (at {_times(runs, fps)}); the tracker needs the face in "
            f"at least {1 - MAX_MISSING_SHARE:.0%} of the video: cut those parts out or pick another take"
        )
    long_runs = [(a, b) for a, b in runs if (b - a) / fps > MAX_FILLED_GAP_S or a == 0 or b == n_frames]
    bounds = [0] + [edge for run in long_runs for edge in run] + [n_frames]
    pieces = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2)]
    start, stop = max(pieces, key=lambda piece: piece[1] - piece[0])
    if (stop - start) / fps < MIN_FACE_SECONDS:
        raise VideoError(
            f"{name} shows the face for at most {(stop - start) / fps:.1f} s in one stretch; Adapt Style "
            f"needs at least {MIN_FACE_SECONDS:g} s of the person talking (about 10 s is best)"
            + (f" (face lost at {_times(runs, fps)})" if runs else "")
        )
    notes = []
    inner_long = [(a, b) for a, b in long_runs if a != 0 and b != n_frames]
    if start > 0 or stop < n_frames:
        notes.append(
            f"the face is tracked from {start / fps:.1f} to {stop / fps:.1f} s of {n_frames / fps:.1f} s"
            + (f" (lost for longer than {MAX_FILLED_GAP_S:g} s at {_times(inner_long, fps)})" if inner_long else "")
        )
    filled = tuple((a, b) for a, b in runs if a >= start and b <= stop)
    if filled:
        notes.append(f"face lost briefly at {_times(list(filled), fps)}: bridged by interpolation")
    return Stretch(start, stop, filled, tuple(notes))


def bridge(points: np.ndarray, gaps: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Linear interpolation of [T, ...] points across each (start, stop) gap from its neighbouring frames."""
    points = points.copy()
    for a, b in gaps:
        before, after = points[a - 1], points[b]
        for i in range(a, b):
            fraction = (i - a + 1) / (b - a + 1)
            points[i] = (1 - fraction) * before + fraction * after
    return points
