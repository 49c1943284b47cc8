"""Phone timelines: ARPAbet phones with start and end times in seconds.

Every engine's phone names are mapped to this one set (the CMU / pocketsphinx ARPAbet, upper case, no stress
marks, `SIL` for silence), so the corpus, the articulation, pocketsphinx's recognition and the real-speech
scoring (assets/real-speech/) agree.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())
CONSONANTS = frozenset("B CH D DH F G HH JH K L M N NG P R S SH T TH V W Y Z ZH".split())
SILENCE = "SIL"
PHONES = frozenset(VOWELS | CONSONANTS | {SILENCE})

BILABIALS = frozenset({"P", "B", "M"})
LABIODENTALS = frozenset({"F", "V"})
OPEN_VOWELS = frozenset({"AA", "AE", "AO", "AW", "AY"})
CLOSE_VOWELS = frozenset({"IY", "UW", "IH", "UH"})
ROUNDED = frozenset({"UW", "UH", "OW", "OY", "AO", "W", "ER"})

# How generation and Adapt Style get phones: pocketsphinx word or allphone recognition, or none (the mel-only path)
PHONETIC_MODES = ("words", "allphone", "none")


@dataclass(frozen=True)
class Phone:
    phone: str  # one of PHONES
    start: float  # seconds
    end: float  # seconds, > start

    @property
    def duration(self) -> float:
        return self.end - self.start


def save_timeline(phones: list[Phone], path: str | Path) -> None:
    Path(path).write_text(json.dumps([asdict(p) for p in phones]))


def load_timeline(path: str | Path) -> list[Phone]:
    return [Phone(str(p["phone"]), float(p["start"]), float(p["end"])) for p in json.loads(Path(path).read_text())]
