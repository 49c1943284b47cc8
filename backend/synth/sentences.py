"""English sentences for the synthetic corpus, from our own small grammar and word lists.

The words are chosen for the mouth: many bilabials (p b m), labiodentals (f v), open vowels (father, cat,
cow, bite) and rounded ones (who, go, boy), and enough of everything else that every ARPAbet phone appears.
Sentences are statements and questions of 3 to 18 words.

Train and test never share a sentence: every content word (name, noun, adjective, verb, adverb; no word is in two
lists) belongs to one split only, every fifth word of each list being held out for test, and every sentence has
a verb. So a test sentence always holds a word no training sentence has, which also makes its vocabulary unseen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SPLITS = ("train", "test")
MIN_WORDS, MAX_WORDS = 3, 18
HELD_OUT_EVERY = 5  # every fifth word of each content list is a test word

_NAMES = """Bob Pam Mabel Boris Fiona Vera Paul Maya Ava Hugo Bernard Pablo Moira Abby Phoebe Marvin Bella Mike
    Penny Ivy Olive Ben Mia Owen Ruby Toby Amber Joy Howard Maude"""
_NOUNS = """map bubble puppy baby boat bear pepper paper apple button balloon mouse mouth moon movie banana basket
    bottle pipe pebble pumpkin picnic pony melon mango muffin mitten ribbon lamp stamp farm fox feather fan foot
    violin van vase village valley cave stove glove oven waffle coffee fork roof knife wolf sofa photo phone
    father mother brother cow owl tower flower house crown cloud mountain fountain kite bike pie tiger lion island
    spider goose tooth boot spoon shoe zoo noodle boy toy coin oyster goat rope road bone stone rose bowl pillow
    window ocean car park jar guitar garden palm thumb thread shell ship treasure cheese chair peach jam juice
    jungle bridge ring king song hat yard book wood cook bird turtle butter bed fish pig bee sheep tree cake plate
    grape dog ball cup bus sun pot box drum lemon beach harbor pool cousin church chicken cherry match garage
    vision pleasure kitchen boiler voyage cowboy doorbell"""
_ADJECTIVES = """big small happy purple brown blue pink warm soft fat flat bumpy puffy foamy fluffy heavy brave proud
    loud bright old bold golden wooden woolly muddy hungry empty famous fabulous vivid vast marvelous polite pale
    wild shiny tiny quiet noisy lovely lively cozy smooth rough yellow orange cheap fresh thick thin huge joyful
    casual chilly"""
# (base form, past form)
_VERBS = """bake:baked buy:bought bring:brought build:built pop:popped push:pushed pull:pulled pick:picked
    paint:painted pack:packed play:played move:moved make:made miss:missed mop:mopped mend:mended feed:fed
    find:found fix:fixed fold:folded follow:followed fetch:fetched visit:visited wave:waved love:loved grab:grabbed
    rub:rubbed scrub:scrubbed throw:threw borrow:borrowed polish:polished bounce:bounced watch:watched
    open:opened boil:boiled spoil:spoiled draw:drew choose:chose shove:shoved carry:carried measure:measured
    vanish:vanished hide:hid hug:hugged wash:washed share:shared judge:judged thank:thanked keep:kept sell:sold
    cover:covered lift:lifted drop:dropped improve:improved chop:chopped touch:touched pinch:pinched march:marched
    enjoy:enjoyed avoid:avoided point:pointed swing:swung hang:hung sing:sang"""
_ADVERBS = """quickly slowly happily badly boldly softly proudly madly hopefully often always calmly gently loudly
    bravely politely wildly vaguely"""

_DETERMINERS = "the a my your his her our their every this that one".split()
_PREPOSITIONS = "by behind in above for with on at near over under beside from into".split()
_MODALS = "will must might could should may can would".split()
_CONJUNCTIONS = "and but because so while".split()
_YES_NO = "Did Will Can Could Should Would Must".split()
_WH_DID = ["Why did", "When did", "Where did", "How did"]


@dataclass(frozen=True)
class _Vocabulary:
    names: list[str]
    nouns: list[str]
    adjectives: list[str]
    verbs: list[tuple[str, str]]
    adverbs: list[str]


def _held_out(words: list, split: str) -> list:
    """The split's share of a content list: every HELD_OUT_EVERY-th word for test, the rest for train."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    test = split == "test"
    return [word for i, word in enumerate(words) if (i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1) == test]


def vocabulary(split: str) -> _Vocabulary:
    """The content words a split may use (train and test share none)."""
    verbs = [tuple(pair.split(":")) for pair in _VERBS.split()]
    return _Vocabulary(
        _held_out(_NAMES.split(), split),
        _held_out(_NOUNS.split(), split),
        _held_out(_ADJECTIVES.split(), split),
        _held_out(verbs, split),
        _held_out(_ADVERBS.split(), split),
    )


@dataclass
class _NounPhrase:
    """A name, or a determiner, adjectives and a noun."""

    name: str | None = None
    determiner: str = ""
    adjectives: list[str] = field(default_factory=list)
    noun: str = ""

    def words(self) -> list[str]:
        if self.name is not None:
            return [self.name]
        first = (self.adjectives or [self.noun])[0]
        determiner = "an" if self.determiner == "a" and first[0] in "aeiou" else self.determiner
        return [determiner, *self.adjectives, self.noun]


@dataclass
class _Clause:
    subject: _NounPhrase | None  # None in "Who ...?" questions
    verb: tuple[str, str]  # (base form, past form)
    object: _NounPhrase
    modal: str | None = None  # statements: "will", "must"... before the base form
    phrases: list[tuple[str, _NounPhrase]] = field(default_factory=list)  # prepositional phrases
    adverb: str | None = None

    def words(self, base_form: bool) -> list[str]:
        verb = [self.modal, self.verb[0]] if self.modal else [self.verb[0 if base_form else 1]]
        words = (self.subject.words() if self.subject else []) + verb + self.object.words()
        for preposition, phrase in self.phrases:
            words += [preposition, *phrase.words()]
        return words + ([self.adverb] if self.adverb else [])


class _Sentence:
    """One sentence, grown from its shortest form by random expansions until it reaches a target length."""

    def __init__(self, rng: np.random.Generator, words: _Vocabulary) -> None:
        self.rng, self.vocabulary = rng, words
        self.kind = self.pick(["statement"] * 3 + ["yes-no", "wh"])
        if self.kind == "statement":
            self.opening: list[str] = []
        elif self.kind == "yes-no":  # "Did Bob push the boat?"
            self.opening = [self.pick(_YES_NO)]
        else:  # "Why did Bob push the boat?", "Who pushed the boat?"
            self.opening = self.pick(_WH_DID + ["Who", "Who"]).split()
        self.clauses = [self.clause(with_subject=self.opening != ["Who"])]
        self.conjunctions: list[str] = []

    def pick(self, options: list):
        return options[int(self.rng.integers(len(options)))]

    def clause(self, with_subject: bool = True) -> _Clause:
        subject = _NounPhrase(name=self.pick(self.vocabulary.names)) if with_subject else None
        return _Clause(subject, self.pick(self.vocabulary.verbs), _NounPhrase(name=self.pick(self.vocabulary.names)))

    def words(self) -> list[str]:
        base_form = self.kind != "statement" and self.opening != ["Who"]
        words = self.opening + self.clauses[0].words(base_form)
        for conjunction, clause in zip(self.conjunctions, self.clauses[1:]):
            words += [conjunction, *clause.words(base_form=False)]
        return words

    def text(self) -> str:
        text = " ".join(self.words()) + ("." if self.kind == "statement" else "?")
        return text[0].upper() + text[1:]

    def grow(self, target: int) -> None:
        """Applies random expansions that fit until the sentence has `target` words or none fits."""
        while True:
            room = target - len(self.words())
            options = [(size, apply) for size, apply in self.expansions() if size <= room]
            if not options:
                return
            self.pick(options)[1]()

    def expansions(self) -> list:
        """Every change that lengthens the sentence, as (words added, function applying it)."""
        options = []
        for clause in self.clauses:
            phrases = [clause.object] + [phrase for _, phrase in clause.phrases]
            for phrase in phrases + ([clause.subject] if clause.subject else []):
                if phrase.name is not None:
                    options.append((1, lambda p=phrase: self.make_common(p)))
                elif len(phrase.adjectives) < 2:
                    options.append((1, lambda p=phrase: self.add_adjective(p)))
            if len(clause.phrases) < 2:
                options.append((3, lambda c=clause: c.phrases.append((self.pick(_PREPOSITIONS), self.common()))))
            if clause.adverb is None:
                options.append((1, lambda c=clause: setattr(c, "adverb", self.pick(self.vocabulary.adverbs))))
            if clause.modal is None and self.kind == "statement":
                options.append((1, lambda c=clause: setattr(c, "modal", self.pick(_MODALS))))
        if len(self.clauses) == 1 and self.kind == "statement":
            options.append((4, self.add_clause))
        return options

    def add_adjective(self, phrase: _NounPhrase) -> None:
        phrase.adjectives.append(self.pick([a for a in self.vocabulary.adjectives if a not in phrase.adjectives]))

    def add_clause(self) -> None:
        self.conjunctions.append(self.pick(_CONJUNCTIONS))
        self.clauses.append(self.clause())

    def make_common(self, phrase: _NounPhrase) -> None:
        """Turns a name into determiner + noun."""
        phrase.name, phrase.determiner, phrase.noun = None, self.pick(_DETERMINERS), self.pick(self.vocabulary.nouns)

    def common(self) -> _NounPhrase:
        phrase = _NounPhrase()
        self.make_common(phrase)
        return phrase


def generate_sentence(rng: np.random.Generator, split: str = "train") -> str:
    """One sentence of MIN_WORDS..MAX_WORDS words, a statement (~60%) or a question, from `split`'s words."""
    sentence = _Sentence(rng, vocabulary(split))
    sentence.grow(int(rng.integers(MIN_WORDS, MAX_WORDS + 1)))
    return sentence.text()
