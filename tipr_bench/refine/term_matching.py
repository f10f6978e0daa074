"""Finding glossary terms in English captions and approved target terms in translations.

English side: captions are split into lower-case word tokens (hyphens, spaces and punctuation all
separate words, so `t-shirt` and `t shirt` are the same tokens; `tshirt` is registered as the
joined form). Every alias of an entry is registered with the inflected forms of its last word;
the scan takes the longest registered token sequence at each position, left to right, so matches
never overlap and `tank top` wins over `top`.

Target side: Chinese, Japanese and Korean are matched as substrings (no word boundaries, and a
shorter approved form such as 黑 inside 黑色 is still the approved colour); Japanese first folds
its spelling variants (width, ヴ, a final long-vowel mark), and a one-syllable Korean term must be a
word of its own or carry a particle (끈이, not 끈적). Latin- and Cyrillic-script languages are
tokenised, folded (case, accents, umlauts, ё) and matched word by word against the inflected forms
of the approved term (Spanish agreement, Russian case endings, French and German rules).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from tipr_bench.refine.inflection import (
    KOREAN_PARTICLES,
    english_plural_forms,
    english_verb_forms,
    fold,
    french_forms,
    generic_forms,
    german_word_part,
    normalize_japanese,
    normalize_korean,
    russian_forms,
    spanish_forms,
)
from tipr_bench.refine.senses import NON_TERM_PHRASES, PHRASE_GLUE

EN_TOKEN = re.compile(r"[a-z0-9]+")
PUNCTUATION = re.compile(r"[,.;:!?()]")
TARGET_TOKEN = re.compile(r"[^\W_]+")
VERB_CATEGORIES = frozenset({"action", "posture"})

EXACT, INFLECTED = 2, 1
# Part of the term-match signature: bump it whenever a change to matching or to the sense layer can
# change which terms count as met, so two term-match rates are only compared when they mean the same.
MATCHER_VERSION = "4"


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int
    end: int


def english_tokens(text: str) -> list[Token]:
    lowered = text.lower()
    return [Token(m.group(), m.start(), m.end()) for m in EN_TOKEN.finditer(lowered)]


def alias_token_variants(alias: str, verb: bool) -> list[tuple[tuple[str, ...], int]]:
    """Token sequences an alias can appear as, each with EXACT or INFLECTED priority.

    `t-shirt` -> (t, shirt) exact, (t, shirts) inflected, (tshirt,) exact, (tshirts,) inflected."""
    words = tuple(m.group() for m in EN_TOKEN.finditer(alias.lower()))
    if not words:
        return []
    bases = [words]
    if len(words) > 1:
        bases.append(("".join(words),))
    out: list[tuple[tuple[str, ...], int]] = []
    for base in bases:
        out.append((base, EXACT))
        last = base[-1]
        forms = english_verb_forms(last) if verb else english_plural_forms(last)
        for form in sorted(forms - {last}):
            out.append((base[:-1] + (form,), INFLECTED))
    return out


@dataclass(frozen=True, slots=True)
class SpanMatch:
    """One match of the English index: which entry, and where in the caption (character offsets)."""

    entry: int
    start: int
    end: int
    phrase: int = 0  # noun-phrase number within the caption
    words: tuple[str, ...] = ()


NO_TERM = -1  # an index entry that consumes its words without being a term (a position phrase)


class EnglishTermIndex:
    """Token-sequence lookup over all aliases of all entries: leftmost-longest, non-overlapping.

    The sense layer's non-term phrases (`on top of`) are registered too, so the longest match
    consumes them and the garment `top` inside never matches."""

    def __init__(self) -> None:
        self._table: dict[tuple[str, ...], tuple[int, int]] = {}
        self._first: set[str] = set()  # the words a key begins with: most caption words begin none
        self._longest = 1
        for phrase in NON_TERM_PHRASES:
            key = tuple(EN_TOKEN.findall(phrase))
            self._table[key] = (NO_TERM, EXACT)
            self._first.add(key[0])

    def add(self, entry: int, aliases: Iterable[str], verb: bool) -> None:
        """Register an entry's aliases. Exact forms beat inflected ones; at equal rank the later
        entry wins, which is how a user glossary overrides the shipped one."""
        for alias in aliases:
            for tokens, rank in alias_token_variants(alias, verb):
                held = self._table.get(tokens)
                if held is None or rank >= held[1]:
                    self._table[tokens] = (entry, rank)
                    self._first.add(tokens[0])
                    self._longest = max(self._longest, len(tokens))

    def scan(self, text: str) -> tuple[list[SpanMatch], list[Token]]:
        """Matches in caption order, plus the tokens that no match covers (for coverage reports).

        Each match carries its noun-phrase number: consecutive matches share one unless a word
        outside `PHRASE_GLUE` (a comma, `and`, `with`, a verb) stands between them."""
        tokens = english_tokens(text)
        words = [t.text for t in tokens]
        matches: list[SpanMatch] = []
        left: list[Token] = []
        phrase, gap_breaks = 0, False
        i = 0
        while i < len(tokens):
            widths = range(min(self._longest, len(tokens) - i), 0, -1) if words[i] in self._first else ()
            for n in widths:
                hit = self._table.get(tuple(words[i : i + n]))
                if hit is not None and n > 1 and PUNCTUATION.search(text, tokens[i].end, tokens[i + n - 1].start):
                    continue  # "a long dress, shoes are black" holds no "dress shoe"
                if hit is not None:
                    if hit[0] != NO_TERM:
                        punctuated = bool(matches) and PUNCTUATION.search(text, matches[-1].end, tokens[i].start)
                        if gap_breaks or punctuated:
                            phrase += 1
                        matches.append(SpanMatch(hit[0], tokens[i].start, tokens[i + n - 1].end, phrase,
                                                 tuple(words[i : i + n])))
                    gap_breaks = hit[0] == NO_TERM
                    i += n
                    break
            else:
                left.append(tokens[i])
                gap_breaks = gap_breaks or tokens[i].text not in PHRASE_GLUE
                i += 1
        return matches, left


GAP = "…"
ZH_GAP_CHARS = 2
TOKEN_GAP_WORDS = 2

Span = tuple[int, int]


class TargetText(Protocol):
    """A translation prepared once for many phrase look-ups; spans are in its own units.

    A phrase may contain `…`, a short gap (深色…发 finds 深色短发; `cheveux … foncés` finds `cheveux
    courts foncés`): each match then yields the spans of its literal parts only, so the words in the
    gap stay free for other terms."""

    def spans(self, phrase: str) -> list[Span]: ...


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


@lru_cache(maxsize=1 << 15)
def _phrase_parts(normalize: Callable[[str], str], phrase: str) -> tuple[str, ...]:
    """A glossary phrase's literal parts, normalized once per phrase rather than once per caption."""
    return tuple(p for p in (normalize(part) for part in phrase.split(GAP)) if p)


class SubstringText:
    """Chinese (and, with their own spelling folds, Japanese and Korean): whitespace-free,
    case-folded substring search."""

    normalize: Callable[[str], str] = staticmethod(_plain)

    def __init__(self, text: str):
        self.text = self.normalize(text)

    def spans(self, phrase: str) -> list[Span]:
        parts = _phrase_parts(self.normalize, phrase)
        if not parts:
            return []
        if len(parts) == 1:
            needle, out = parts[0], []
            at = self.text.find(needle)
            while at != -1:
                out.append((at, at + len(needle)))
                at = self.text.find(needle, at + 1)
            return out
        gap = f".{{0,{ZH_GAP_CHARS}}}?"
        pattern = re.compile(gap.join(f"({re.escape(p)})" for p in parts))
        return [m.span(g) for m in pattern.finditer(self.text) for g in range(1, len(parts) + 1)]


@lru_cache(maxsize=1 << 14)
def _japanese(text: str) -> str:
    return normalize_japanese(text)


class JapaneseText(SubstringText):
    """Japanese: substrings after folding spelling variants (セーター ~ セータ, ヴェスト ~ ベスト)."""

    normalize = staticmethod(_japanese)


KOREAN_TRAILING_PUNCTUATION = ",.;:!?()\"'“”‘’…"
HANGUL_SYLLABLE = re.compile(r"[\uac00-\ud7a3]")


class KoreanText(SubstringText):
    """Korean: substrings (a particle written onto the term still leaves the term), except that a
    one-syllable term only counts as a word of its own: at the start of a space-separated word, with
    nothing or a particle after it (끈이, 흰, 면으로), never inside another word (끈적, 면접)."""

    normalize = staticmethod(lambda text: _plain(normalize_korean(text)))

    def __init__(self, text: str):
        words = normalize_korean(text).split()
        self.text = "".join(words)
        self._word_end: list[int] = []
        self._word_start: list[int] = []
        at = 0
        for word in words:
            self._word_start.extend([at] * len(word))
            self._word_end.extend([at + len(word)] * len(word))
            at += len(word)

    def spans(self, phrase: str) -> list[Span]:
        found = super().spans(phrase)
        needle = self.normalize(phrase)
        if len(needle) != 1 or not HANGUL_SYLLABLE.match(needle):
            return found
        return [(start, end) for start, end in found if self._own_word(start, end)]

    def _own_word(self, start: int, end: int) -> bool:
        rest = self.text[end:self._word_end[start]].rstrip(KOREAN_TRAILING_PUNCTUATION)
        return self._word_start[start] == start and (not rest or rest in KOREAN_PARTICLES)


# (folded word, folded base) -> the part of the word that renders the base, as offsets within the
# word (all of it for an inflected form, the head or first part of a German compound), or None
WordTest = Callable[[str, str], "tuple[int, int] | None"]


class TokenText:
    """Latin-script languages: folded word tokens; a phrase matches consecutive words that are
    inflected forms of the phrase's words (`sac à dos` ~ `sacs à dos`).

    Spans are character offsets in the folded text, so two terms can own two parts of one German
    compound: Kapuzenjacke is the hood's `kapuze` and the jacket's `jacke`."""

    def __init__(self, text: str, word_test: WordTest):
        found = list(TARGET_TOKEN.finditer(fold(text)))
        self.words = [m.group() for m in found]
        self.starts = [m.start() for m in found]
        self.word_test = word_test
        self._where: dict[str, list[int]] = {}
        for i, word in enumerate(self.words):
            self._where.setdefault(word, []).append(i)
        self._positions: dict[str, dict[int, Span]] = {}

    def positions(self, base: str) -> dict[int, Span]:
        """Word index -> character span of the part that is a form of `base` (each distinct word
        tested once)."""
        found = self._positions.get(base)
        if found is None:
            found = {}
            for word, where in self._where.items():
                part = self.word_test(word, base)
                if part is not None:
                    for i in where:
                        found[i] = (self.starts[i] + part[0], self.starts[i] + part[1])
            self._positions[base] = found
        return found

    def _runs(self, parts: list[str], start: int, stop: int) -> list[tuple[int, Span]]:
        """(first word index, character span) of every run of consecutive words that match `parts`."""
        first, rest = self.positions(parts[0]), [self.positions(p) for p in parts[1:]]
        runs = []
        for i in sorted(first):
            if start <= i < stop and all(i + k in r for k, r in enumerate(rest, start=1)):
                end = rest[-1][i + len(rest)][1] if rest else first[i][1]
                runs.append((i, (first[i][0], end)))
        return runs

    def spans(self, phrase: str) -> list[Span]:
        pieces = phrase_pieces(phrase)
        if not pieces:
            return []
        out: list[Span] = []
        for i, span in self._runs(pieces[0], 0, len(self.words)):
            found, at = [span], i + len(pieces[0])
            for piece in pieces[1:]:
                nxt = self._runs(piece, at, at + TOKEN_GAP_WORDS + 1)
                if not nxt:
                    break
                found.append(nxt[0][1])
                at = nxt[0][0] + len(piece)
            else:
                out.extend(found)
        return out


@lru_cache(maxsize=1 << 14)
def phrase_pieces(phrase: str) -> list[list[str]]:
    """A target phrase as folded words, split at gaps: `cheveux … foncés` -> [[cheveux], [fonces]]."""
    pieces = [[m.group() for m in TARGET_TOKEN.finditer(fold(part))] for part in phrase.split(GAP)]
    return [p for p in pieces if p]


def _forms_test(forms_of: Callable[[str], set[str]]) -> WordTest:
    """A whole-word test from a table of the base's forms (built once per base)."""
    cache: dict[str, set[str]] = {}

    def test(word: str, base: str) -> tuple[int, int] | None:
        forms = cache.get(base)
        if forms is None:
            forms = cache[base] = forms_of(base)
        return (0, len(word)) if word in forms else None

    return test


WORD_TESTS: dict[str, WordTest] = {
    "fr": _forms_test(french_forms),
    # words and glossary bases repeat across captions: remember each (word, base) answer
    "de": lru_cache(maxsize=1 << 18)(german_word_part),
    "es": _forms_test(spanish_forms),
    "ru": _forms_test(russian_forms),
}
SUBSTRING_TEXTS: dict[str, Callable[[str], TargetText]] = {
    "han": SubstringText,
    "kana": JapaneseText,
    "hangul": KoreanText,
}
GENERIC_TEST = _forms_test(generic_forms)


def target_text_factory(lang: str, script: str) -> Callable[[str], TargetText]:
    """How translations in `lang` are searched for approved terms."""
    if script in SUBSTRING_TEXTS:
        return SUBSTRING_TEXTS[script]
    test = WORD_TESTS.get(lang, GENERIC_TEST)
    return lambda text: TokenText(text, test)


def overlaps(span: tuple[int, int], taken: Sequence[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in taken)


def contains(outer: tuple[int, int], inner: tuple[int, int]) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]
