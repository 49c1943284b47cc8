"""The moments a preview shows: where the lips must be closed (P B M) and where the mouth must be open (open vowels).

Plain Python over a phone timeline; scene frames follow the add-on's timing (the file's second t plays at
frame_start + t * fps).
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.core.phones import BILABIALS, OPEN_VOWELS, Phone

CLOSED, OPEN = "lips closed", "mouth open"
MIN_SPACING_S = 0.4  # shown moments at least this far apart, so the sheet covers the sentence


@dataclass(frozen=True)
class Moment:
    kind: str  # CLOSED or OPEN
    phone: Phone

    def frames(self, frame_start: float, fps: float) -> range:
        """The scene frames whose instant lies inside the phone (the nearest one when it is shorter than a frame)."""
        first = int(-(-(frame_start + self.phone.start * fps) // 1))
        last = int((frame_start + self.phone.end * fps - 1e-9) // 1)
        if last < first:
            nearest = round(frame_start + 0.5 * (self.phone.start + self.phone.end) * fps)
            return range(nearest, nearest + 1)
        return range(first, last + 1)


def lip_events(phones: list[Phone]) -> list[Moment]:
    """Every bilabial and open vowel of the timeline, in time order."""
    return [Moment(CLOSED if p.phone in BILABIALS else OPEN, p) for p in phones if p.phone in BILABIALS | OPEN_VOWELS]


def pick_moments(phones: list[Phone], per_kind: int = 3) -> list[Moment]:
    """`per_kind` closed and open moments: the longest phones of each kind (the clearest poses), spread in time
    (MIN_SPACING_S apart), returned in time order, closed and open alternating where the sentence allows."""
    chosen: list[Moment] = []
    for kind in (CLOSED, OPEN):
        candidates = sorted((m for m in lip_events(phones) if m.kind == kind), key=lambda m: -m.phone.duration)
        picked: list[Moment] = []
        for moment in candidates:
            if len(picked) == per_kind:
                break
            if all(abs(_middle(moment) - _middle(other)) >= MIN_SPACING_S for other in chosen + picked):
                picked.append(moment)
        chosen += picked
    return sorted(chosen, key=_middle)


def _middle(moment: Moment) -> float:
    return 0.5 * (moment.phone.start + moment.phone.end)
