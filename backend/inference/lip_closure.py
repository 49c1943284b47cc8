"""Bilabial closure guarantee at generation time: the lips close on every P, B and M the model was fed.

The model closes most bilabials but not all (it misses more when the recogniser's phones are wrong, and a phone
shorter than a frame leaves it only a sliver of evidence). A viseme-based lip-sync tool would simply close the lips
there; this does the same to the generated motion, minimally:

1. events: the runs of frames whose interval overlaps a P, B or M phone, read from the per-frame phone features the
   model was given (backend/audio/phonetic.py phone_features: the exact share of each frame's interval each phone
   covers, so even a 30 ms "p" between two 25 fps instants shows in the frame that holds it). A frame overlapping
   the phone has its instant within half a frame of it, so inside the closure measure's window
   (backend/evaluation/metrics.py);
2. in each event, the frame where the lips are nearest to closing must be pressed (lip separation <= -MARGIN_MM)
   and a neighbour must touch (<= 0), as in the corpus, whose closures hold for at least two frames: the stretch
   between them, 40 ms plus the few ms either side where interpolation stays under the 1 mm "closed" threshold, is
   longer than a 24 fps frame step, so the closure survives the linear resampling to the scene's fps (a single
   closed frame between open ones can fall between two output frames and vanish). The neighbour is the one nearer
   to closed of those near enough to the phone (NEIGHBOUR_REACH_S), or both for a phone shorter than half a frame
   (where in its frame it lies is unknown). A frame already there is left alone: closed lips are never opened;
3. the removal of opening each of those frames needs is spread by a raised-cosine window of half-width WINDOW_S
   (the envelope: the largest of the windows reaching a frame, so overlapping events do not add up), and no frame is
   pressed past -MARGIN_MM by it, so neighbouring frames blend in without a pop and frames farther than
   WINDOW_S + one frame from a bilabial are untouched;
4. the removal goes along the lip-closing direction of the lip-gap contract (backend/synth/articulation.py):
   mouthClose first, then the mouthPress pair, each within 0..1, and only what they cannot close by lowering the jaw
   (never below rest, 0 rad).

Only for the demo head's channels (backend/training/losses.py contract_channels), where the lip-gap contract says
what closes the lips. Other channel sets, e.g. the FLAME Exp1..Exp100 of a style adapted to a FLAME reference, are
returned unchanged: a FLAME expression's lip gap depends on the licensed FLAME basis, which is not here (the
corpus's FLAME lift, backend/synth/flame_lift.py, is a stand-in of FLAME's format, not its face shapes), so there is
no lip-closing direction to move along.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backend.audio.phonetic import FEATURE_PHONES
from backend.core.lip_gap import JAW_GAP_MM_PER_RAD, LIP_GAP_MM, contract_channels, lip_separation
from backend.core.phones import BILABIALS

# The frame nearest to closing is pressed this far past contact. The corpus closes at contact (0 mm) and the model
# mostly a little past it (median -0.2 mm): a larger margin would touch most of its good closures for nothing.
MARGIN_MM = 0.1
# A neighbour closing with it lies within this of the phone, so the closed stretch stays inside the closure
# measure's window (the phone +-40 ms, backend/evaluation/metrics.py) with room for a 24 fps frame, off the
# vowels around.
NEIGHBOUR_REACH_S = 0.03
WINDOW_S = 0.06  # half-width of the raised-cosine window that blends the correction into nearby frames
# Channels that close the lips, in the order they are used; a pair moves together so the mouth stays symmetric.
_CLOSING = (("mouthClose",), ("mouthPressLeft", "mouthPressRight"))
_BILABIAL_COLUMNS = [FEATURE_PHONES.index(p) for p in sorted(BILABIALS)]
_PARTIAL = 1.0 - 1e-3  # a phone share below this leaves room for another phone in the frame


def close_bilabials(
    expression: np.ndarray, jaw: np.ndarray, phonetic: np.ndarray, channels: Sequence[str], fps: float
) -> tuple[np.ndarray, np.ndarray]:
    """(expression [T, C], jaw [T, 3]) with the lips closed on each bilabial of `phonetic` (phone features [T, 40]
    at `fps`); the inputs are not modified. Unchanged for channels other than the demo head's (module docstring)."""
    if not contract_channels(channels):
        return expression, jaw
    separation = lip_separation(expression, jaw)
    removal = np.zeros(len(separation))  # mm of opening to take away per frame: the envelope of the windows
    reach = int(np.ceil(WINDOW_S * fps))
    offsets = np.arange(-reach, reach + 1)
    window = 0.5 * (1.0 + np.cos(np.pi * np.clip(np.abs(offsets) / (WINDOW_S * fps), 0.0, 1.0)))
    for frames, share in _bilabial_events(np.asarray(phonetic), len(separation)):
        nearest = int(frames[np.argmin(separation[frames])])
        neighbours = _closing_neighbours(nearest, frames, share, separation, fps)
        for frame, target in ((nearest, -MARGIN_MM), *((k, 0.0) for k in neighbours)):
            if separation[frame] > target:
                spread = frame + offsets
                inside = (spread >= 0) & (spread < len(separation))
                removal[spread[inside]] = np.maximum(
                    removal[spread[inside]], (separation[frame] - target) * window[inside]
                )
    # the window closes neighbouring frames only down to pressed: it never squeezes closed lips further
    removal = np.minimum(removal, np.maximum(separation + MARGIN_MM, 0.0))
    if not removal.any():
        return expression, jaw
    return _remove_opening(expression, jaw, channels, removal)


def _closing_neighbours(
    nearest: int, frames: np.ndarray, share: np.ndarray, separation: np.ndarray, fps: float
) -> list[int]:
    """The frames beside `nearest` that close with it (step 2 of the module docstring): the nearer to closed of
    those within NEIGHBOUR_REACH_S of the phone; for a phone held in one frame (where in it is unknown), the nearer
    to closed, or both when the phone fills less than half the frame."""
    beside = sorted((k for k in (nearest - 1, nearest + 1) if 0 <= k < len(separation)), key=lambda k: separation[k])
    if len(frames) == 1:
        return beside if share.sum() < 0.5 else beside[:1]
    start = (frames[0] + 0.5 - share[0]) / fps  # the phone's edges, from its share of its first and last frames
    end = (frames[-1] - 0.5 + share[-1]) / fps
    return [k for k in beside if start - NEIGHBOUR_REACH_S <= k / fps <= end + NEIGHBOUR_REACH_S][:1]


def _bilabial_events(phonetic: np.ndarray, n_frames: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(frame indices, the phone's share of each) of each bilabial phone: per bilabial column, the runs of frames it
    overlaps, split at an inner frame that no phone fills (it holds the end of one phone and the start of the next;
    two such frames in a row, the end of one and the start of the next with another phone between them).
    Identical bilabials back to back (a geminate, as in "some more") read as one, and close once, as speech does."""
    events = []
    for column in _BILABIAL_COLUMNS:
        share = phonetic[:n_frames, column]
        edges = np.flatnonzero(np.diff(np.concatenate(([0], (share > 0).astype(np.int8), [0]))))
        for first, end in zip(edges[::2], edges[1::2]):
            cuts = [k for k in range(first + 1, end - 1) if share[k] < _PARTIAL]
            bounds = [first, *cuts, end - 1]
            events += [
                (np.arange(a, b + 1), share[a : b + 1])
                for a, b in zip(bounds[:-1], bounds[1:])
                if not (b == a + 1 and a in cuts and b in cuts)
            ]  # two such frames in a row hold a gap
    return events


def _remove_opening(
    expression: np.ndarray, jaw: np.ndarray, channels: Sequence[str], removal: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Take `removal` mm of lip opening away per frame: closing channels up to 1, then the jaw down to rest."""
    expression = np.array(expression, dtype=np.float64)
    jaw = np.array(jaw, dtype=np.float64)
    left = removal.copy()
    for group in _CLOSING:
        columns = [channels.index(name) for name in group]
        mm_per_unit = -sum(LIP_GAP_MM[name] for name in group)
        room = np.clip(1.0 - expression[:, columns].max(axis=1), 0.0, None) * mm_per_unit
        used = np.minimum(left, room)
        expression[:, columns] += (used / mm_per_unit)[:, None]
        left -= used
    lower = (left > 0) & (jaw[:, 0] > 0)
    drop = JAW_GAP_MM_PER_RAD * np.sin(jaw[lower, 0])  # the jaw's share of the opening, all it can close
    jaw[lower, 0] = np.arcsin(np.maximum(drop - left[lower], 0.0) / JAW_GAP_MM_PER_RAD)
    return expression.astype(np.float32), jaw.astype(np.float32)
