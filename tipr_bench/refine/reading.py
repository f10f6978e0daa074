"""A structured reading of an English person description: who the person is, and each thing they wear
or carry with its slots.

The same reading is made of the English source and of the back-translation of its translation, so
the two can be compared slot by slot (`contradictions.py`). Each mention of a garment or item gets
its colours (with tone), material, length, sleeve length, fit, size, features it has or lacks (a hood,
a collar, a print), whether it is negated ("without a hat", "not wearing glasses"), and where it is
(in which hand, over a shoulder, on the back, worn). The person gets every gendered reference, pronouns
included, and the count of each countable thing ("both hands", "a piece of paper", "two badges").

The rules are about classes of English, never about particular captions: a noun phrase is the head
noun and the modifiers before it up to a verb, a preposition or another noun; a place is a
preposition and a body part after it within its clause; a negator reaches the noun phrase after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from tipr_bench.refine import person_vocabulary as V
from tipr_bench.refine.shades import SHADES, TONES

_TOKEN = re.compile(r"[a-z]+|\d+|[.,;:!?()]")
_CLAUSE_END = frozenset(".;:!?()")
# words that begin a noun phrase: the scan back from its head stops after one
_DETERMINERS = frozenset({"a", "an", "the", "his", "her", "their", "its", "this", "that", "these", "those", "some",
                          "any", "each", "every", "another", "my", "your"})
_ARTICLES = _DETERMINERS - {"that", "this", "these", "those"}  # "that" after a noun begins a relative clause
# words a noun phrase never reaches across: verbs, prepositions, pronouns, conjunctions of clauses
_PHRASE_STOPS = frozenset({"is", "are", "was", "were", "be", "been", "has", "have", "had", "having", "with", "without",
                           "in", "on", "over", "under", "to", "at", "from", "by", "for", "into", "onto", "while",
                           "who", "which", "he", "she", "it", "they", "him", "them", "also", "plus", "but", "as",
                           "walking", "looking", "seen", "standing", "appears", "seems", "looks", "then",
                           "underneath", "below", "above", "behind", "beneath", "around", "across", "through"})
# words that may sit between a negator and the noun phrase it negates: "isn't wearing any", "has no"
_NEGATION_BRIDGE = frozenset({"wearing", "wear", "wears", "have", "has", "having", "carrying", "carry", "any",
                              "is", "are", "does", "do", "did", "was", "seem", "seems", "to", "be", "appear",
                              "appears", "with", "holding", "hold", "got"})
_STYLE_WORDS = frozenset({"style", "styled", "type", "like", "shaped", "inspired"})
_MAX_PHRASE = max(len(w.split()) for w in V.NOUN_WORDS)
# the words a noun phrase of the vocabulary can begin with (a one-word noun also with a plural -s)
_FIRST_WORDS = frozenset(w.split()[0] for w in V.NOUN_WORDS) | frozenset(w + "s" for w in V.NOUN_WORDS if " " not in w)
_COUNTED = frozenset(V.COUNTABLE) | frozenset(w + "s" for w in V.COUNTABLE)
_FEATURE_NOUNS = frozenset({"hood", "hoods", "collar", "collars", "logo", "logos", "graphic", "graphics", "print",
                            "picture", "pictures", "writing", "lettering", "letters", "design", "buckle", "pocket",
                            "pockets", "heel", "heels"})
_FEATURE_OR_COUNTED = _COUNTED | frozenset(V.FEATURE_WORDS) | {"high", "low"}
_OWNERS = frozenset({"his", "her", "their", "its", "the", "one", "both", "left", "right", "a", "an", "each",
                     "other", "upper", "lower", "own", "small", "of", "top"})


def tokens(text: str) -> list[str]:
    """Lower-case word tokens with "n't" as "not" and hyphens and slashes as spaces."""
    text = text.lower().replace("n't", " not").replace("’", "'").replace("'s", "").replace("-", " ")
    return _TOKEN.findall(text.replace("/", " "))


@dataclass(slots=True)
class Mention:
    """One garment or item as the description names it."""

    species: str
    words: str
    start: int
    end: int
    colours: list[tuple[str, str]] = field(default_factory=list)  # (colour word, tone word)
    materials: set[str] = field(default_factory=set)
    length: str = ""
    sleeves: str = ""
    fit: str = ""
    size: str = ""
    negated: bool = False
    places: set[str] = field(default_factory=set)  # said with a preposition: hand, shoulder, back, worn, ...
    relation: str = ""  # hold | wear | carry, from the verb that governs it

    @property
    def region(self) -> str:
        return V.SPECIES[self.species].region


@dataclass(frozen=True, slots=True)
class Reading:
    """What one English description says about the person."""

    mentions: tuple[Mention, ...]
    genders: tuple[tuple[str, str], ...]  # (male|female, word) for every gendered reference, in order
    features: dict[str, frozenset[bool]]  # hood, collar, sleeves, print, ... -> said present and/or absent
    counts: dict[str, frozenset[int]]  # countable noun -> numbers said (exact, SEVERAL or IMPLIED_*)
    also_named: frozenset[str] = frozenset()  # species named only as a modifier ("backpack purse")


@cache
def ancestors(species: str) -> tuple[str, ...]:
    chain = []
    while species:
        chain.append(species)
        species = V.SPECIES[species].parent
    return tuple(chain)


@cache
def compatible(a: str, b: str) -> bool:
    """One names the other, or a more general or more specific kind of it."""
    return a in ancestors(b) or b in ancestors(a) or frozenset((a, b)) in V.COMPATIBLE


def _head_at(toks: list[str], i: int) -> tuple[str, int] | None:
    """The longest noun phrase of the vocabulary starting at i: (species, width)."""
    if toks[i] not in _FIRST_WORDS:
        return None
    for n in range(min(_MAX_PHRASE, len(toks) - i), 0, -1):
        phrase = " ".join(toks[i:i + n])
        species = V.NOUN_WORDS.get(phrase)
        if species is None and phrase.endswith("s"):
            species = V.NOUN_WORDS.get(phrase[:-1])
        if species is None:
            continue
        last = toks[i + n - 1]
        if last in ("top", "tops") and n == 1 and (
                (i > 0 and toks[i - 1] in ("high", "low", "on", "the")) or toks[i + 1:i + 2] == ["of"]):
            return None  # high-top shoes, on top of her head
        return species, n
    return None


def _heads(toks: list[str]) -> tuple[list[tuple[int, int, str]], set[str]]:
    """(start, end, species) of each noun phrase head, and the species named only as modifiers: a noun
    right before another ("jean shorts", "hoodie jacket") or before "style" ("backpack-style purse")."""
    found: list[tuple[int, int, str]] = []
    modifiers: set[str] = set()
    i = 0
    while i < len(toks):
        head = _head_at(toks, i) if toks[i] in _FIRST_WORDS else None
        if head is None:
            i += 1
            continue
        species, width = head
        j = i + width
        nxt = _head_at(toks, j) if j < len(toks) else None
        styled = j + 1 < len(toks) and toks[j] in _STYLE_WORDS and _head_at(toks, j + 1) is not None
        if (nxt is not None and not (V.SPECIES[species].region == "hair" and V.SPECIES[nxt[0]].region != "hair")) \
                or styled:
            modifiers.add(species)
        else:
            found.append((i, j, species))
        i = j
    return found, modifiers


def _phrase_start(toks: list[str], start: int, head_ends: set[int]) -> int:
    """Where the noun phrase of the head at `start` begins: back over its modifiers, to its determiner."""
    k = start - 1
    while k >= 0 and k not in head_ends:
        tok = toks[k]
        if tok in _DETERMINERS:
            return k
        if tok in _CLAUSE_END or tok in _PHRASE_STOPS or tok in V.NEGATORS or tok in V.HOLD_VERBS \
                or tok in V.WEAR_VERBS or tok in V.CARRY_VERBS:
            return k + 1
        if tok in ("and", ",", "or") and not (k > 0 and _is_adjective(toks[k - 1])):
            return k + 1
        if tok == "of" and not (k > 0 and toks[k - 1] in ("pair", "piece", "sheet", "set", "couple")):
            return k + 1
        k -= 1
    return k + 1


def _is_adjective(tok: str) -> bool:
    return tok in SHADES or tok in TONES or tok in V.MATERIALS or tok in V.LENGTH_WORDS or tok in V.FIT_WORDS \
        or tok in V.SIZE_WORDS or tok in ("colored", "coloured", "patterned", "striped", "plain", "sleeved",
                                          "sleeve", "length", "fitting", "printed", "hooded", "collared")


def _negated(toks: list[str], first: int) -> bool:
    """Whether a negator reaches the noun phrase that begins at `first`: "without a", "not wearing any", "no"."""
    for j in range(first - 1, max(-1, first - 5), -1):
        tok = toks[j]
        if tok in V.NEGATORS:
            return True
        if tok not in _NEGATION_BRIDGE:
            return False
    return False


def _read_mention(toks: list[str], start: int, end: int, species: str, head_ends: set[int],
                  head_starts: set[int], previous: Mention | None) -> Mention:
    m = Mention(species, " ".join(toks[start:end]), start, end)
    first = _phrase_start(toks, start, head_ends)
    words = toks[first:end]  # a phrase never reaches back across a negator (`_phrase_start`)
    if first != start and toks[first] in V.FEATURE_WORDS:
        m.negated = False  # "a no-sleeve shirt": the phrase begins with the negated feature
    else:
        m.negated = _negated(toks, first)
        if not m.negated and first >= 2 and toks[first - 1] in ("or", "nor") and previous is not None \
                and previous.end == first - 1:
            m.negated = previous.negated  # "no hat or glasses"
    _read_modifiers(words, m)
    if "knee" in words and first > 0 and toks[first - 1] in ("above", "below"):
        m.length = "short" if toks[first - 1] == "above" else "long"  # "a below the knee length skirt"
    if not m.colours and previous is not None and previous.end == first - 1 and toks[first - 1] in ("and", "or") \
            and first == start:
        m.colours = list(previous.colours)  # "a black jacket and pants": the colour is shared
    if species in V.IMPLIED_MATERIALS:
        m.materials.add(V.IMPLIED_MATERIALS[species])
    _read_after(toks, end, m, head_starts)
    m.relation = _relation(toks, first)
    return m


def _read_modifiers(words: list[str], m: Mention) -> None:
    """Colours, material, length, sleeves, fit and size from the words of a noun phrase."""
    for j, tok in enumerate(words):
        nxt = words[j + 1] if j + 1 < len(words) else ""
        prev = words[j - 1] if j else ""
        if tok in SHADES and not (tok.endswith("ish") and nxt in SHADES):
            m.colours.append((tok, prev if prev in TONES else ""))
        if tok in V.MATERIALS and V.MATERIALS[tok]:
            m.materials.add(V.MATERIALS[tok])
        if tok in ("jean", "jeans") and j < len(words) - 1:
            m.materials.add("denim")
        if nxt in ("sleeve", "sleeved", "sleeves") and tok in V.SLEEVE_LENGTHS:
            m.sleeves = V.SLEEVE_LENGTHS[tok]
        elif tok in V.LENGTH_WORDS and not (tok == "full" and nxt != "length") and j < len(words) - 1:
            m.length = V.LENGTH_WORDS[tok]
        elif tok == "knee" and nxt == "length":
            m.length = "knee"
        if tok in V.FIT_WORDS:
            m.fit = V.FIT_WORDS[tok]
        if tok in V.SIZE_WORDS:
            m.size = V.SIZE_WORDS[tok]


_COPULAS = frozenset({"is", "are", "was", "were", "appears", "appear", "looks", "look", "seems", "seem"})
_PREDICATE_FILLERS = frozenset({"a", "an", "all", "mostly", "mainly", "and", "colored", "coloured", "color", "colour",
                                "to", "be", "in", "also", "both", "either", "or", "half"})


def _read_after(toks: list[str], end: int, m: Mention, head_starts: set[int]) -> None:
    """Colours said of the noun ("her pants are white"), and the places and sleeves said after it, up to
    the next noun phrase, verb or comma."""
    j = end + (1 if toks[end:end + 1] and toks[end] in ("that", "which") else 0)
    if toks[j:j + 1] and toks[j] in _COPULAS:
        k = j + 1
        while k < len(toks) and (toks[k] in _PREDICATE_FILLERS or toks[k] in SHADES or toks[k] in TONES):
            if toks[k] in SHADES:
                m.colours.append((toks[k], toks[k - 1] if toks[k - 1] in TONES else ""))
            k += 1
        if k < len(toks) and toks[k] in V.LENGTH_WORDS:
            m.length = m.length or V.LENGTH_WORDS[toks[k]]  # "her hair is short"
    j = end
    while j < len(toks) and j < end + 10 and j not in head_starts:
        tok = toks[j]
        if tok in _CLAUSE_END or tok in (",", "while") or tok in V.HOLD_VERBS or tok in V.WEAR_VERBS \
                or tok in V.CARRY_VERBS or tok in _COPULAS or tok in _FEATURE_NOUNS \
                or (tok in _ARTICLES and toks[j - 1] not in V.PLACE_PREPOSITIONS):
            break  # a place after "with the hood" or "a ribbon" is the hood's or the ribbon's
        if tok in ("above", "below") and ({"knee", "knees"} & set(toks[j + 1:j + 4])):
            m.length = m.length or ("short" if tok == "above" else "long")  # "a dress that falls below the knee"
        if tok in V.PLACE_PREPOSITIONS:
            k = j + 1
            while k < len(toks) and k < j + 5 and toks[k] in _OWNERS:
                k += 1
            if k < len(toks) and toks[k] in V.PLACES:
                m.places.add(V.PLACES[toks[k]])
                j = k + 1
                continue
            if tok == "on" and (k >= len(toks) or toks[k] in _CLAUSE_END or toks[k] in (",", "and", "with")):
                m.places.add("worn")  # "with a coat on", "has his shoes on"
        if tok in V.SLEEVE_LENGTHS and toks[j + 1:j + 2] and toks[j + 1] in ("sleeve", "sleeves", "sleeved"):
            m.sleeves = m.sleeves or V.SLEEVE_LENGTHS[tok]
        j += 1


def _relation(toks: list[str], start: int) -> str:
    """hold, wear or carry from the nearest verb before the noun phrase in its clause."""
    for j in range(start - 1, max(-1, start - 14), -1):
        tok = toks[j]
        if tok in _CLAUSE_END:
            return ""
        if tok in V.HOLD_VERBS:
            return "hold"
        if tok in V.WEAR_VERBS or (tok == "on" and j > 0 and toks[j - 1] in ("has", "have", "had", "put")):
            return "wear"
        if tok == "in" and j == start - 1 or (tok == "in" and j >= start - 3 and all(
                t in _DETERMINERS or t in SHADES for t in toks[j + 1:start])):
            return "wear"  # "a man in a red jacket"
        if tok in V.CARRY_VERBS:
            return "carry"
        if tok in V.HAVE_WORDS:
            return ""
    return ""


# numbers a count can take besides an exact one: said outright, or only implied by the grammar (languages
# without grammatical number leave a back-translation free to say "his hand" for "his hands")
SEVERAL, IMPLIED_ONE, IMPLIED_SEVERAL = 0, -1, -2


def _count_at(toks: list[str], i: int) -> tuple[str, int] | None:
    """(noun, number) for a countable noun at i: an exact number, SEVERAL ("some", "a few"), or one of the
    IMPLIED_* values ("his hand", "his hands", "pockets"); None when its number is unsaid."""
    tok = toks[i]
    plural = tok.endswith("s") and tok[:-1] in V.COUNTABLE
    noun = tok[:-1] if plural else tok
    if noun not in V.COUNTABLE:
        return None
    noun = V.COUNT_LEMMAS.get(noun, noun)
    if noun == "paper" and i >= 2 and toks[i - 1] == "of" and toks[i - 2] in ("sheets", "pieces", "stack", "pile"):
        return noun, SEVERAL
    for j in range(i - 1, max(-1, i - 4), -1):
        word = toks[j]
        if word in V.SEVERAL:
            return noun, SEVERAL
        if word in V.NUMBERS:
            value = V.NUMBERS[word]
            return noun, (value if value > 1 or not plural else SEVERAL)
        if word.isdigit():
            return noun, int(word)
        if word in ("his", "her", "their", "its"):
            return noun, IMPLIED_SEVERAL if plural else IMPLIED_ONE
        if word in SHADES or word in TONES or word in V.SIZE_WORDS or word in ("of", "piece", "sheet", "other"):
            continue
        break
    return (noun, IMPLIED_SEVERAL) if plural else None


def read(text: str) -> Reading:
    """Read mentions, gendered references, features and counts off an English description."""
    toks = tokens(text)
    heads, modifier_species = _heads(toks)
    head_ends = {end - 1 for _, end, _ in heads}
    head_starts = {start for start, _, _ in heads}
    mentions: list[Mention] = []
    for start, end, species in heads:
        mentions.append(_read_mention(toks, start, end, species, head_ends - {end - 1}, head_starts,
                                      mentions[-1] if mentions else None))
    inside = {j for start, end, _ in heads for j in range(start, end - 1)}  # a head's last word may be counted
    features: dict[str, set[bool]] = {}
    counts: dict[str, set[int]] = {}
    for i, tok in enumerate(toks):
        if tok not in _FEATURE_OR_COUNTED:
            continue
        if tok in V.FEATURE_WORDS:
            feature, present = V.FEATURE_WORDS[tok]
            if tok == "flat" and not any(0 < start - i <= 2 and "shoes" in ancestors(species)
                                         for start, _, species in heads):
                continue  # flat shoes, not a flat cap
            features.setdefault(feature, set()).add(present != _negated(toks, _feature_start(toks, i)))
        if tok in ("high", "low") and toks[i + 1:i + 2] and toks[i + 1] in ("top", "tops"):
            features.setdefault("high top", set()).add(tok == "high")
        if tok in _COUNTED and (i not in inside or tok in ("paper", "papers")):
            counted = _count_at(toks, i)
            if counted is not None:
                counts.setdefault(counted[0], set()).add(counted[1])
    for species in [m.species for m in mentions] + sorted(modifier_species):
        for feature in V.IMPLIED_FEATURES.get(species, ()):
            features.setdefault(feature, set()).add(True)
    for m in mentions:
        if "shoes" in ancestors(m.species):
            features.setdefault("shoes", set()).add(not m.negated)  # shoes on, or barefoot
    genders = tuple(("male" if t in V.MALE else "female", t) for t in toks if t in V.MALE or t in V.FEMALE)
    return Reading(tuple(mentions), genders, {k: frozenset(v) for k, v in features.items()},
                   {k: frozenset(v) for k, v in counts.items()}, frozenset(modifier_species))


def _feature_start(toks: list[str], i: int) -> int:
    """The first word of the phrase a feature word ends: "a hood", "long sleeves", "any collar"."""
    while i > 0 and (toks[i - 1] in ("a", "an", "any", "the") or _is_adjective(toks[i - 1])):
        i -= 1
    return i
