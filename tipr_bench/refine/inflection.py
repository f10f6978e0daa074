"""Word forms for glossary matching, on the English side and in the target languages.

Glossaries list base forms (shoe, carry, noir, schwarz); captions and translations use inflected
ones (shoes, carrying, noires, schwarzen). Generating forms from the base form is more predictable
than stemming the running text: an entry can only ever match words it could really inflect to.
"""

from __future__ import annotations

import re
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


# Spanish: adjectives agree in gender and number (negro/negra/negros/negras), nouns take -s or -es
# (pantalón -> pantalones once folded), z becomes c before -es (luz -> luces).
SPANISH_VERB_ENDINGS = {
    "ar": ("a", "as", "an", "o", "e", "en", "amos", "ando", "ado", "ada", "ados", "adas", "aba", "aban"),
    "er": ("e", "es", "en", "o", "a", "an", "emos", "iendo", "ido", "ida", "idos", "idas", "ia", "ian"),
    "ir": ("e", "es", "en", "o", "a", "an", "imos", "iendo", "ido", "ida", "idos", "idas", "ia", "ian"),
}
SPANISH_DIMINUTIVES = ("ito", "ita", "itos", "itas")


def spanish_forms(word: str) -> set[str]:
    """Folded Spanish base form -> its gender/number forms, diminutives, and an -ar/-er/-ir verb's
    common forms: negro -> negra, negros, negras, negrito; pantalon -> pantalones; gris -> grises;
    llevar -> lleva, llevan, llevando, llevado(s)."""
    bases = {word}
    if len(word) > 4:
        bases.update(word[: -len(ending)] for ending in ("es", "s") if word.endswith(ending))
    forms: set[str] = set()
    for base in bases:
        forms |= {base, base + "s", base + "es"}
        if base.endswith(("o", "a")):
            stem = base[:-1]
            forms |= {stem + "o", stem + "a", stem + "os", stem + "as"}
            forms.update(stem + d for d in SPANISH_DIMINUTIVES)
        elif base.endswith("z"):
            forms.add(base[:-1] + "ces")
        elif base.endswith(("or", "on", "an", "in", "es", "ol")):
            forms |= {base + "a", base + "as"}  # trabajador -> trabajadora, español -> española
        verb = SPANISH_VERB_ENDINGS.get(base[-2:]) if len(base) > 4 else None
        if verb:
            forms.update(base[:-2] + ending for ending in verb)
    return forms


# Russian: nouns and adjectives decline for case, number and gender; a glossary lists the dictionary
# form (чёрный, куртка, брюки) and the translation may use any of about forty endings. Folding
# makes й -> и and ё -> е on both sides, so the endings below are written folded.
RUSSIAN_ENDINGS = (
    "а", "я", "о", "е", "ы", "и", "у", "ю", "ь",
    "ом", "ем", "ам", "ям", "ами", "ями", "ах", "ях", "ов", "ев", "еи", "ои", "ью",
    "ыи", "ии", "ая", "яя", "ое", "ее", "ые", "ие", "ого", "его", "ому", "ему",
    "ым", "им", "ых", "их", "ую", "юю", "ыми", "ими",
)
RUSSIAN_ADJECTIVE_ENDINGS = (
    "ыи", "ии", "ои", "ая", "яя", "ое", "ее", "ые", "ие", "ого", "его", "ому", "ему",
    "ым", "им", "ых", "их", "ую", "юю", "ыми", "ими", "еи",
)
RUSSIAN_STEM_MIN = 3
RUSSIAN_VOWELS = frozenset("аеиоуыэюя")


def russian_stem(word: str) -> str:
    """The folded word less its longest case/gender ending, keeping at least three letters."""
    for ending in sorted(RUSSIAN_ENDINGS, key=len, reverse=True):
        if word.endswith(ending) and len(word) - len(ending) >= RUSSIAN_STEM_MIN:
            return word[: -len(ending)]
    return word


@lru_cache(maxsize=1 << 14)
def russian_forms(word: str) -> frozenset[str]:
    """Folded Russian base form -> the forms a translation may use: чёрный -> чёрная, чёрной,
    чёрных...; куртка -> куртки, куртку, курткой, and the genitive plural курток (a vowel appears
    between the last two consonants); ребёнок -> ребёнка (the vowel drops); носить -> носит,
    носят, носил(а), носящий; reflexive verbs keep -ся/-сь."""
    reflexive = word.endswith(("ся", "сь")) and len(word) > 5
    core = word[:-2] if reflexive else word
    forms = {core}
    if core.endswith("ть") and len(core) > 4:
        forms |= _russian_verb_forms(core)
    else:
        stem = russian_stem(core)
        stems = {stem}
        if len(stem) > 4 and stem[-2] in "ое" and stem[-1] not in RUSSIAN_VOWELS \
                and stem[-3] not in RUSSIAN_VOWELS:
            stems.add(stem[:-2] + stem[-1])  # ребенок -> ребенк-а, ремень -> ремн-я
            stems.add(stem[:-2] + "ь" + stem[-1])  # кошелек -> кошельк-а
        for s in stems:
            forms.update(s + ending for ending in RUSSIAN_ENDINGS)
            forms.add(s)
        if len(stem) > 3 and stem[-1] in "кнл" and stem[-2] not in RUSSIAN_VOWELS | {"ь", "и"}:
            # the genitive plural with a vowel put back: сумка -> сумок, сережка -> сережек, туфля -> туфель
            forms |= {stem[:-1] + "о" + stem[-1], stem[:-1] + "е" + stem[-1], stem[:-1] + "е" + stem[-1] + "ь"}
    if reflexive:
        forms = {f + suffix for f in forms for suffix in ("ся", "сь")}
    return frozenset(forms)


def _russian_verb_forms(infinitive: str) -> set[str]:
    """An infinitive's present, past, gerund and participle forms, for both conjugations (the
    glossary lists truly irregular forms such as несёт itself)."""
    stem = infinitive[:-2]  # носи, гуля, держа, сиде
    root = stem[:-1]
    forms = {infinitive, stem + "л", stem + "ла", stem + "ло", stem + "ли", stem + "в"}
    forms.update(root + e for e in ("ит", "ят", "ат", "ишь", "им", "ите", "ю", "у", "я", "а"))
    forms.update(stem + e for e in ("ет", "ют", "ешь", "ем", "ете", "ю", "я"))
    for participle in (root + "ящ", root + "ащ", stem + "ющ", root + "ущ", stem + "вш", stem + "нн", stem + "т"):
        forms.update(participle + ending for ending in RUSSIAN_ADJECTIVE_ENDINGS)
    return forms


# Japanese: one word has several spellings that mean the same, and no spaces say where it ends.
# Width (ＴシャツT/ｼｬﾂ) and case are folded by NFKC, ヴ-syllables are written as バ-row ones
# (ヴェスト ~ ベスト), the middle dot and spaces between loanword parts are dropped
# (ベースボール・キャップ ~ ベースボールキャップ), and a long-vowel mark that ends a katakana word is
# dropped (セーター ~ セータ, as in JIS-style spellings).
JAPANESE_V_SYLLABLES = {"ヴァ": "バ", "ヴィ": "ビ", "ヴェ": "ベ", "ヴォ": "ボ", "ヴュ": "ビュ", "ヴ": "ブ"}
KATAKANA = r"\u30a1-\u30fa\u30fc"
_JA_V = re.compile("|".join(sorted(JAPANESE_V_SYLLABLES, key=len, reverse=True)))
_JA_FINAL_LONG = re.compile(rf"(?<=[{KATAKANA}])ー(?![{KATAKANA}])")
_JA_SEPARATORS = re.compile(r"[\s・･]+")


def normalize_japanese(text: str) -> str:
    """Japanese text in one spelling for substring matching (see the table above)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _JA_SEPARATORS.sub("", text)
    text = _JA_V.sub(lambda m: JAPANESE_V_SYLLABLES[m.group()], text)
    return _JA_FINAL_LONG.sub("", text)


# Korean writes particles onto the noun they follow (가방을, 가방이, 가방에서), so a term is found
# as a substring. A one-syllable term (끈, 면, 흰) is also a syllable of many unrelated words, so it
# only counts as a word of its own: at the start of a space-separated word, followed by nothing or
# by one of these particles and endings.
KOREAN_PARTICLES = frozenset({
    "은", "는", "이", "가", "을", "를", "에", "에서", "에게", "의", "와", "과", "도", "로", "으로", "만",
    "까지", "부터", "처럼", "보다", "랑", "이랑", "하고", "엔", "이나", "나", "이고", "이며", "인", "이다",
    "으로된", "로된", "색", "색의", "색이", "색을", "빛", "빛의",
})


def normalize_korean(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()
