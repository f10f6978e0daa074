"""Domain glossaries: which English person-description terms a caption has, and whether its
translation used the approved target terms.

A glossary is a TSV file per language (`en, target, wrong, category, note`, and optionally `check`, the
back-check `glossary build` writes for reviewers, which matching ignores; several values in a cell are
separated by `|`, the first `en` value is the entry's canonical term and the rest are aliases).
tipr-bench ships zh, fr, de, es, ja, ko and ru; a user's file in the same format merges over them, entry
by entry, and its entries win; for any other language a user's file (`glossary build` drafts one)
is the glossary. The term metric (expected vs met terms per caption) is what tells a
reviewer *which* attribute a translation lost, where sentence-level scores only say that something
did.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tipr_bench import __version__
from tipr_bench.core.languages import get_language
from tipr_bench.refine.glossary_stopwords import COVERAGE_STOPWORDS
from tipr_bench.refine.senses import COLOUR_SUFFIXES, MODIFIER_HEADS
from tipr_bench.refine.term_matching import (
    EN_TOKEN,
    MATCHER_VERSION,
    PUNCTUATION,
    VERB_CATEGORIES,
    EnglishTermIndex,
    contains,
    overlaps,
    target_text_factory,
)

MIN_UNCOVERED_LENGTH = 3


# Categories whose terms a correct translation often leaves out or paraphrases ("walks", "a pair of",
# "on her shoulder", "the person" as "die Frau"): a missed one lowers the term-match rate but is no
# reason to flag a caption.
# Every other category (garments, colours, carried items, hair, gender, a user's own...) describes how
# the person looks, and a missed term of it is an error worth a flag.
INCIDENTAL_CATEGORIES = frozenset({"action", "posture", "position", "bodypart", "scene", "quantity", "generic"})


@dataclass(frozen=True, slots=True)
class GlossaryEntry:
    term: str  # canonical English term (first `en` value, lower case)
    aliases: tuple[str, ...]  # every English spelling, the canonical one first
    targets: tuple[str, ...]  # approved target terms, the preferred one first
    wrong: tuple[str, ...] = ()  # known wrong renderings
    category: str = ""
    note: str = ""
    source: str = "shipped"


@dataclass(frozen=True, slots=True)
class TermMatch:
    term: str
    surface: str
    start: int
    end: int
    targets: tuple[str, ...]
    wrong: tuple[str, ...]
    category: str
    phrase: int = 0  # noun-phrase number in the caption: terms of one phrase may share a target span


@dataclass(frozen=True, slots=True)
class TermMiss:
    """A term of the caption whose approved target the translation lacks."""

    term: str
    surface: str  # as the caption writes it
    target: str  # the preferred approved target


@dataclass(frozen=True, slots=True)
class WrongForm:
    """A known wrong rendering of a missed term, found in the translation."""

    term: str
    surface: str
    target: str  # the preferred approved target
    found: str  # the wrong rendering


@dataclass(frozen=True, slots=True)
class TermCheck:
    expected: tuple[str, ...]
    met: tuple[str, ...]
    misses: tuple[TermMiss, ...]
    wrong_used: tuple[WrongForm, ...]

    @property
    def missed(self) -> tuple[str, ...]:
        return tuple(m.term for m in self.misses)


@dataclass(frozen=True, slots=True)
class CoverageReport:
    captions: int
    with_term: int
    coverage: float
    uncovered: list[tuple[str, int]] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "captions": self.captions,
            "with_term": self.with_term,
            "coverage": self.coverage,
            "uncovered": [[word, count] for word, count in self.uncovered],
        }


class Glossary:
    """A merged glossary for one target language, with matchers for both sides."""

    def __init__(self, lang: str, entries: Sequence[GlossaryEntry]):
        self.lang = lang
        self.entries: tuple[GlossaryEntry, ...] = tuple(entries)
        self._index = EnglishTermIndex()
        for i, entry in enumerate(self.entries):
            self._index.add(i, entry.aliases, verb=entry.category in VERB_CATEGORIES)
        self._target_text = target_text_factory(lang, get_language(lang).script)
        self._targets_by_term = {e.term: e.targets for e in self.entries}
        self.version = self._version()

    def __len__(self) -> int:
        return len(self.entries)

    def _version(self) -> str:
        rows = sorted(
            [e.term, list(e.aliases), list(e.targets), list(e.wrong), e.category] for e in self.entries
        )
        blob = json.dumps([self.lang, rows], ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]

    @property
    def signature(self) -> str:
        """What makes a term-match rate reproducible, sacrebleu-style: language, glossary, matcher."""
        return f"lang:{self.lang}|glossary:{self.version}|matcher:{MATCHER_VERSION}|tipr-bench:{__version__}"

    def said_by(self, term: str, others: set[str]) -> bool:
        """Whether `others` (terms found in some English text) include `term` or a synonym of it for
        this language: a longer term that holds its words ("black and white" holds black), or a term
        whose preferred target is one of this term's targets, or the other way round (trousers ~ pants
        in zh, both 裤子), so a back-translation's wording is no evidence that a term was lost. Shared
        generic targets (上衣 for both shirt and jacket) make no synonyms."""
        words = set(term.split())
        if term in others or any(words <= set(other.split()) for other in others):
            return True  # the term itself, or a longer term that holds it ("shoe" in "tennis shoe")
        mine = self._targets_by_term.get(term)
        if mine is None:
            return False
        return any(
            (theirs := self._targets_by_term.get(other)) is not None
            and (theirs[0] in mine or mine[0] in theirs)
            for other in others
        )

    def categories(self) -> list[str]:
        return sorted({e.category for e in self.entries})

    def find_terms(self, english: str) -> list[TermMatch]:
        """The caption's terms in order, less the words the sense layer says are no term here: a
        colour suffix right after a colour (`dark colored`), a modifier before its head (`dress
        shoes`)."""
        matches, _ = self._index.scan(english)
        kept: list[TermMatch] = []
        for i, m in enumerate(matches):
            e = self.entries[m.entry]
            after_colour = i > 0 and matches[i - 1].phrase == m.phrase and \
                self.entries[matches[i - 1].entry].category == "colour"
            if m.words[-1] in COLOUR_SUFFIXES and after_colour:
                continue
            heads = MODIFIER_HEADS.get(m.words[-1])
            if heads and _next_word(english, m.end) in heads:
                continue
            kept.append(TermMatch(e.term, english[m.start:m.end], m.start, m.end, e.targets, e.wrong, e.category,
                                  m.phrase))
        return kept

    def check(self, english: str, translation: str) -> TermCheck:
        """Which of the caption's terms the translation renders with an approved target term, and
        which known wrong renderings a missed term got instead.

        An approved form only counts where it is not part of a longer approved form of another term
        (蓝 inside 深蓝 belongs to `dark blue`, `sac` inside `sac à dos` to `backpack`) nor of a known
        wrong rendering of its own term (裤 inside 内裤): a dropped attribute is not hidden by a
        neighbour that happens to contain its letters."""
        by_term: dict[str, TermMatch] = {}
        phrases: dict[str, set[int]] = {}
        for m in self.find_terms(english):
            by_term.setdefault(m.term, m)
            phrases.setdefault(m.term, set()).add(m.phrase)
        prepared = self._target_text(translation)
        wrong_spans = {
            term: [(variant, s) for variant in m.wrong for s in prepared.spans(variant)]
            for term, m in by_term.items()
        }
        # (span, weight, term): the weight (length of the target's text) breaks ties between equal
        # spans, as a German compound is one token: Handtasche is the handbag's, not the bag's.
        candidates = [
            (span, len(target), term)
            for term, m in by_term.items()
            for target in m.targets
            for span in prepared.spans(target)
            if not any(_covers(w, len(v), span, len(target)) for v, w in wrong_spans[term])
        ]
        candidates.sort(key=lambda c: (c[0][1] - c[0][0], c[1]), reverse=True)
        accepted: list[tuple[tuple[int, int], str]] = []
        accepted_weights: list[int] = []
        for span, weight, term in candidates:
            if not any(
                other != term and _covers(c, w, span, weight)
                for (c, other), w in zip(accepted, accepted_weights, strict=True)
            ):
                accepted.append((span, term))
                accepted_weights.append(weight)
        met_set = {term for _, term in accepted}
        # a term whose target lies inside the span of another term of its own noun phrase is rendered
        # by that span: 深色 for `dark colored`, 长裤 for `long pants`, Faltenrock for `pleated skirt`
        for term, m in by_term.items():
            if term not in met_set and any(
                contains(span, own) and phrases[term] & phrases[other]
                for target in m.targets for own in prepared.spans(target) for span, other in accepted
            ):
                met_set.add(term)
        accepted_spans = [span for span, _ in accepted]
        expected = tuple(by_term)
        missed = [by_term[t] for t in expected if t not in met_set]
        wrong_used = tuple(
            dict.fromkeys(
                WrongForm(m.term, m.surface, m.targets[0], variant)
                for m in missed
                for variant, span in wrong_spans[m.term]
                if not overlaps(span, accepted_spans)
            )
        )
        return TermCheck(
            expected=expected,
            met=tuple(t for t in expected if t in met_set),
            misses=tuple(TermMiss(m.term, m.surface, m.targets[0]) for m in missed),
            wrong_used=wrong_used,
        )

    def term_success(self, english: str, translation: str) -> tuple[int, int]:
        """(source terms present, of them rendered by their preferred target): the WMT25 terminology
        task's term success count for one segment, with this glossary as the term dictionary. Each
        distinct term counts once, found by surface or inflected form on both sides (WMT lemmatises
        with stanza instead), and, as in WMT, only the one dictionary target counts and two terms may
        share a span of the translation."""
        terms = {m.term: m.targets[0] for m in self.find_terms(english)}
        prepared = self._target_text(translation)
        return len(terms), sum(1 for target in terms.values() if prepared.spans(target))

    @staticmethod
    def render_terms(matches: Iterable[TermMatch]) -> str:
        """`red -> 红色; jacket -> 夹克`: the preferred target of each distinct term, for prompts."""
        seen: dict[str, str] = {}
        for m in matches:
            seen.setdefault(m.term, m.targets[0])
        return "; ".join(f"{term} -> {target}" for term, target in seen.items())

    def coverage(self, texts: Iterable[str], top: int = 30) -> CoverageReport:
        """Share of captions with at least one term, and the commonest words no entry covers
        (function words, numbers and very short tokens left out) so users can extend the glossary."""
        captions = with_term = 0
        counts: Counter[str] = Counter()
        for text in texts:
            captions += 1
            matches, left = self._index.scan(text)
            if matches:
                with_term += 1
            counts.update(
                t.text
                for t in left
                if len(t.text) >= MIN_UNCOVERED_LENGTH
                and not t.text.isdigit()
                and t.text not in COVERAGE_STOPWORDS
            )
        ratio = with_term / captions if captions else 0.0
        return CoverageReport(captions, with_term, round(ratio, 4), counts.most_common(max(top, 0)))


def _next_word(text: str, at: int) -> str:
    """The word right after `at` in the same clause ("" across punctuation: "a dress, socks")."""
    m = EN_TOKEN.search(text.lower(), at)
    return m.group() if m and not PUNCTUATION.search(text, at, m.start()) else ""


def _covers(outer: tuple[int, int], outer_weight: int, inner: tuple[int, int], inner_weight: int) -> bool:
    """Whether a match at `outer` owns the text of one at `inner`: it spans it and more, or the same
    span with a longer target text."""
    return contains(outer, inner) and (outer != inner or outer_weight > inner_weight)


def term_match_rate(checks: Iterable[TermCheck]) -> float:
    """Met terms over expected terms, pooled over all captions (0.0 when nothing was expected)."""
    expected = met = 0
    for c in checks:
        expected += len(c.expected)
        met += len(c.met)
    return met / expected if expected else 0.0


def term_success_rate(glossary: Glossary, pairs: Iterable[tuple[str, str]]) -> float:
    """WMT25 term success rate over (English, translation) pairs: matched / present, pooled (0.0 when
    no term is present). The term-match rate is the same ratio with every approved target counted."""
    present = matched = 0
    for english, translation in pairs:
        p, m = glossary.term_success(english, translation)
        present += p
        matched += m
    return matched / present if present else 0.0
