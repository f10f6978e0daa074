"""Word forms for glossary matching, on the English side and in the target languages.

Glossaries list base forms (shoe, carry, noir, schwarz); captions and translations use inflected
ones (shoes, carrying, noires, schwarzen). Generating forms from the base form is more predictable
than stemming the running text: an entry can only ever match words it could really inflect to.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

VOWELS = frozenset("aeiou")

# English irregular forms that the suffix rules below cannot produce.
IRREGULAR_NOUNS: dict[str, tuple[str, ...]] = {
    "man": ("men",),
    "woman": ("women",),
    "gentleman": ("gentlemen",),
    "child": ("children",),
    "person": ("people", "persons"),
    "foot": ("feet",),
    "tooth": ("teeth",),
    "calf": ("calves",),
    "scarf": ("scarves",),
    "knife": ("knives",),
    "leaf": ("leaves",),
}
IRREGULAR_VERBS: dict[str, tuple[str, ...]] = {
    "wear": ("wore", "worn"),
    "hold": ("held",),
    "stand": ("stood",),
    "sit": ("sat",),
    "run": ("ran",),
    "ride": ("rode", "ridden"),
    "hang": ("hung",),
    "bend": ("bent",),
    "lean": ("leant",),
    "drink": ("drank", "drunk"),
    "sling": ("slung",),
    "stride": ("strode",),
}


def english_plural_forms(word: str) -> set[str]:
    """Singular noun -> {singular, plural}; also the verb's third person (carries, wears)."""
    forms = {word}
    if word.endswith(("s", "x", "z", "ch", "sh")):
        forms.add(word + "es")
    elif word.endswith("y") and len(word) > 2 and word[-2] not in VOWELS:
        forms.add(word[:-1] + "ies")
    else:
        forms.add(word + "s")
    if word.endswith("o"):
        forms.add(word + "es")
    forms.update(IRREGULAR_NOUNS.get(word, ()))
    return forms


def english_verb_forms(word: str) -> set[str]:
    """Base verb -> {base, -s, -ing, -ed}, with e-dropping and consonant doubling (sit -> sitting)."""
    forms = {word, *(f for f in english_plural_forms(word) if f.endswith("s"))}
    if word.endswith("ie"):
        stems = [word[:-2] + "y"]
        forms.add(word + "d")
    elif word.endswith("e") and not word.endswith(("ee", "ye", "oe")):
        stems = [word[:-1]]
        forms.add(word + "d")
    else:
        stems = [word]
        if word.endswith("y") and len(word) > 2 and word[-2] not in VOWELS:
            forms.add(word[:-1] + "ied")
        else:
            forms.add(word + "ed")
        if (
            len(word) >= 3
            and word[-1] not in VOWELS | {"w", "x", "y"}
            and word[-2] in VOWELS
            and word[-3] not in VOWELS
        ):
            doubled = word + word[-1]
            stems.append(doubled)
            forms.add(doubled + "ed")
    for stem in stems:
        forms.add(stem + "ing")
    forms.update(IRREGULAR_VERBS.get(word, ()))
    return forms


def fold(text: str) -> str:
    """Lower case without accents or umlauts, ß as ss: `Schwarze Röcke` ~ `schwarze rocke`.

    Folding both sides makes German umlaut plurals (Rock -> Röcke) and French accented
    feminines (foncé -> foncée) plain suffixes of the base form."""
    text = text.lower().replace("ß", "ss").replace("œ", "oe").replace("æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def french_forms(word: str) -> set[str]:
    """Folded French base form -> its gender/number forms, and the common forms of an -er verb.

    noir -> noire, noirs, noires; blanc -> blanche; long -> longue; sportif -> sportive;
    beau -> beaux; cheval -> chevaux; porter -> porte, portent, portant, porté(e)(s)."""
    forms: set[str] = set()
    for base in _french_bases(word):
        forms |= _french_forms_of_base(base)
    return forms


def _french_bases(word: str) -> set[str]:
    """A glossary may write an inflected form (`cheveux longs`, `manches courtes`): also start from
    the form without its plural/feminine ending, so `longs` still reaches `longue`."""
    bases = {word}
    if len(word) > 4:
        for ending in ("es", "s", "e"):
            if word.endswith(ending):
                bases.add(word[: -len(ending)])
    return bases


def _french_forms_of_base(word: str) -> set[str]:
    forms = {word, word + "s", word + "e", word + "es", word + "x"}
    endings: list[tuple[str, tuple[str, ...]]] = [
        ("f", ("ve", "ves")),
        ("x", ("se", "ses", "ce", "ces")),
        ("c", ("che", "ches", "que", "ques")),
        ("al", ("aux", "ale", "ales")),
        ("eau", ("eaux", "elle", "elles")),
        ("eur", ("euse", "euses")),
    ]
    for ending, replacements in endings:
        if word.endswith(ending):
            stem = word[: -len(ending)]
            forms.update(stem + r for r in replacements)
    if word.endswith(("el", "en", "on", "et", "ul", "il")):
        forms.update({word + word[-1] + "e", word + word[-1] + "es"})
    if word.endswith("g"):
        forms.update({word + "ue", word + "ues"})
    if word.endswith("er") and len(word) > 4:
        stem = word[:-2]
        forms.update(stem + s for s in ("e", "es", "ent", "ee", "ees", "ant", "ait", "aient", "ons", "ez"))
    return forms


# German endings of adjectives (schwarz-e/-en/-er/-es/-em) and noun plurals/cases (-e, -en, -n, -er, -s,
# -ern, -nen); umlaut plurals become plain suffixes once folded (Röcke -> rocke = rock + e).
GERMAN_SUFFIXES = ("", "e", "en", "n", "er", "es", "em", "s", "ern", "nen", "ens")
GERMAN_ADJECTIVE_ENDINGS = ("e", "en", "er", "es", "em")
GERMAN_COMPOUND_MIN = 4
GERMAN_COMPOUND_REST = 3  # the other part of a compound has at least this many letters


@lru_cache(maxsize=1 << 14)
def german_forms(base: str) -> frozenset[str]:
    """The full forms of a folded German base: its endings, and for adjectives in -el and -euer/-auer
    the forms that drop the e (dunkel -> dunkle, dunklen; teuer -> teure)."""
    forms = {base + suffix for suffix in GERMAN_SUFFIXES}
    if base.endswith("el") and len(base) > 3:
        forms.update(base[:-2] + "l" + ending for ending in GERMAN_ADJECTIVE_ENDINGS)
    if base.endswith(("euer", "auer")):
        forms.update(base[:-2] + "r" + ending for ending in GERMAN_ADJECTIVE_ENDINGS)
    return frozenset(forms)


def german_word_part(word: str, base: str) -> tuple[int, int] | None:
    """The part of folded German `word` that is a form of folded `base`, as offsets in `word`: all of
    it (schwarzen), the head of a compound (Leder|jacken), or its first part (Leder|jacke,
    schwarz|weiß); None when no part is.

    Compound parts need a base of four letters or more and leave at least three letters to the other
    part, so `rot` never matches inside Brot. A base written with an adjective ending inside a
    phrase (`langer Rock`) also matches the other endings of its stem, as whole words only."""
    part = _german_part(word, base)
    if part is None and len(base) > 4:
        for ending in GERMAN_ADJECTIVE_ENDINGS:
            if base.endswith(ending) and word in german_forms(base[: -len(ending)]):
                return (0, len(word))
    return part


@lru_cache(maxsize=1 << 14)
def _longest_first(base: str) -> tuple[str, ...]:
    return tuple(sorted(german_forms(base), key=len, reverse=True))


def _german_part(word: str, base: str) -> tuple[int, int] | None:
    if word in german_forms(base):
        return (0, len(word))
    if len(base) < GERMAN_COMPOUND_MIN or len(word) < len(base) + GERMAN_COMPOUND_REST:
        return None
    for form in _longest_first(base):
        if word.endswith(form) and len(word) - len(form) >= GERMAN_COMPOUND_REST:
            return (len(word) - len(form), len(word))
    if word.startswith(base) and len(word) - len(base) >= GERMAN_COMPOUND_REST:
        return (0, len(base))
    return None


def generic_forms(word: str) -> set[str]:
    """For target languages with no rules of their own: base form and -s/-es plurals."""
    return {word, word + "s", word + "es"}
