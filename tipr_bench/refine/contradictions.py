"""Slot-by-slot comparison of two readings: what the back-translation contradicts or adds.

Each mention of the back-translation is aligned with the source mentions it can name (the same
kind of thing, or a more general or specific word for it, preferring one of a matching colour), and
their slots are compared: shade, material, length, sleeves, fit, place. A slot the back-translation
leaves unsaid is never a contradiction (a back-translation drops words); a slot it fills where the
source is silent is an added detail only for details people are told apart by (a material, a hood,
heels, a print, a buckle, a fit, a colour). Person-level slots follow: every gendered reference, the
negation of items and features, and the number of countable things.
"""

from __future__ import annotations

from collections.abc import Iterable

from tipr_bench.refine import person_vocabulary as V
from tipr_bench.refine.attribute_issue import AttributeIssue
from tipr_bench.refine.reading import IMPLIED_ONE, IMPLIED_SEVERAL, Mention, Reading, compatible
from tipr_bench.refine.shades import ShadeMatch, colour_families, compare_shades, shade

_GENERIC = frozenset({"clothing", "top", "bottoms", "outerwear"})
_UNPLACED_REGIONS = frozenset({"hair", "any"})


def _shade_ok(source: tuple[str, str], others: Iterable[tuple[str, str]]) -> bool:
    want = shade(source[0], source[1])
    return want is None or any(
        (got := shade(word, tone)) is not None and compare_shades(want, got) is not ShadeMatch.DIFFERENT
        for word, tone in others)


def _aligned(b: Mention, source: Reading) -> list[Mention]:
    """The source mentions the back-translation's mention can stand for (same polarity, compatible kind)."""
    found = [s for s in source.mentions if s.negated == b.negated and compatible(s.species, b.species)]
    if len(found) > 1 and b.colours:
        coloured = [s for s in found if any(_shade_ok(c, b.colours) for c in s.colours)]
        found = coloured or found
    if len(found) > 1:
        exact = [s for s in found if s.species == b.species]
        found = exact or found
    return found


def _conflicts(values: Iterable[str], value: str, opposites: dict[str, str]) -> bool:
    """Whether every source value that is set is the opposite of `value`."""
    said = [v for v in values if v]
    return bool(said) and bool(value) and all(opposites.get(v) == value for v in said)


_OPPOSITE_LENGTHS = {"long": "short", "short": "long"}
_OPPOSITE_FITS = {"tight": "loose", "loose": "tight"}
_OPPOSITE_SIZES = {"small": "large", "large": "small"}


def _places(m: Mention, *, source: bool) -> tuple[set[str], bool]:
    """Where a mention is, and whether that was said (True) or is only the default of its kind (False)."""
    if m.places:
        return set(m.places), True
    if m.relation == "hold":
        return {"hand"}, True
    if m.relation == "wear":
        return {"worn"}, True
    if m.relation == "carry":
        return set(), False  # "carries dark gloves": not worn, and not said where
    if source and V.SPECIES[m.species].worn:
        return {"worn"}, False
    if source and m.species in V.DEFAULT_PLACES:
        return {V.DEFAULT_PLACES[m.species]}, False
    return set(), False


def _places_agree(a: set[str], b: set[str], region: str) -> bool:
    worn_at = V.WORN_AT[region]
    return any(x == y or frozenset((x, y)) in V.COMPATIBLE_PLACES or (x == "worn" and y in worn_at)
               or (y == "worn" and x in worn_at) for x in a for y in b)


def _slot_issues(b: Mention, sources: list[Mention], source: Reading) -> list[AttributeIssue]:
    """Slots of `b` against the source mentions it aligns with; an added detail only when no source
    mention of a compatible kind has it (a phrase may name the thing twice: "capri denim pants")."""
    kin = [s for s in source.mentions if compatible(s.species, b.species)]
    issues: list[AttributeIssue] = []
    noun = sources[0].words
    # shade: every colour the source gives this thing must be there in the same or a near shade
    if b.colours and all(s.colours for s in sources):
        for colour in sources[0].colours:
            if not _shade_ok(colour, b.colours) and _families_overlap(colour[0], [w for w, _ in b.colours]):
                found = "/".join(" ".join(filter(None, (t, w))) for w, t in b.colours)
                issues.append(AttributeIssue("shade", noun, " ".join(filter(None, (colour[1], colour[0]))),
                                             f"{found} ({ShadeMatch.DIFFERENT})"))
    said_materials = [s.materials for s in sources if s.materials]
    if b.materials and said_materials and all(not (m & b.materials) for m in said_materials):
        issues.append(AttributeIssue("material", noun, "/".join(sorted(said_materials[0])),
                                     "/".join(sorted(b.materials))))
    elif b.materials and not any(s.materials for s in kin):
        issues.append(AttributeIssue("added detail", b.words, found="/".join(sorted(b.materials))))
    for slot, opposites in (("length", _OPPOSITE_LENGTHS), ("sleeves", _OPPOSITE_LENGTHS),
                            ("fit", _OPPOSITE_FITS), ("size", _OPPOSITE_SIZES)):
        value = getattr(b, slot)
        said = [getattr(s, slot) for s in sources]
        if _conflicts(said, value, opposites):
            issues.append(AttributeIssue(slot, noun, next(v for v in said if v), value))
        elif slot == "fit" and value and not any(s.fit for s in kin):
            issues.append(AttributeIssue("added detail", b.words, found=value))
    if b.region not in _UNPLACED_REGIONS:
        b_places, _ = _places(b, source=False)
        src = [_places(s, source=True) for s in sources]
        # a worn thing's default place (a hat on the head) holds against any place the back-translation
        # gives; a carried thing's (a backpack on the back) only against a place it says with a preposition
        said = [p for p, explicit in src if p and (explicit or V.SPECIES[b.species].worn or b.places)]
        if b_places and said and not any(_places_agree(p, b_places, b.region) for p in said):
            issues.append(AttributeIssue("possession", noun, "/".join(sorted(said[0])), "/".join(sorted(b_places))))
    return issues


def _families_overlap(word: str, others: list[str]) -> bool:
    """The gross colour check already names a colour from another family; this one names shades."""
    return any(colour_families(word) & colour_families(o) for o in others)


def _near_garment_issues(source: Reading, other: Reading) -> list[AttributeIssue]:
    """A garment or item the back-translation names where the source has a different one nearby."""
    issues: list[AttributeIssue] = []
    named = [s.species for s in source.mentions if not s.negated] + sorted(source.also_named)
    for b in other.mentions:
        if b.negated or b.species in _GENERIC or b.region == "any":
            continue
        regions = {b.region, *V.NEAR_REGIONS.get(b.region, ())}
        nearby = [s for s in source.mentions if not s.negated and s.region in regions and s.species not in _GENERIC]
        if not nearby or any(compatible(s, b.species) for s in named):
            continue
        unmatched = [s for s in nearby if not any(compatible(s.species, o.species) for o in other.mentions)]
        replaced = (unmatched or nearby)[0]
        issues.append(AttributeIssue("garment", replaced.words, replaced.words, b.words))
    return issues


def _gender_pronoun_issues(source: Reading, other: Reading) -> list[AttributeIssue]:
    """One person of one gender in the source: any reference of the other gender in the back-translation."""
    genders = {g for g, _ in source.genders}
    if len(genders) != 1:
        return []
    (gender,) = genders
    wrong = [w for g, w in other.genders if g != gender]
    if not wrong:
        return []
    expected = next(w for g, w in source.genders if g == gender)
    return [AttributeIssue("gender", "person", expected, wrong[0])]


def _negation_issues(source: Reading, other: Reading) -> list[AttributeIssue]:
    issues: list[AttributeIssue] = []
    for b in other.mentions:
        same = [s for s in source.mentions if compatible(s.species, b.species)]
        if same and all(s.negated != b.negated for s in same):
            issues.append(AttributeIssue("negation", b.words, "without" if same[0].negated else "with",
                                         "without" if b.negated else "with"))
    for feature, said in other.features.items():
        before = source.features.get(feature, frozenset())
        if before and len(before) == 1 and len(said) == 1 and before != said:
            issues.append(AttributeIssue("negation", feature, "with" if True in before else "without",
                                         "with" if True in said else "without"))
        elif not before and True in said and feature in V.ADDABLE_FEATURES:
            issues.append(AttributeIssue("added detail", feature, found=feature))
    return issues


def _count_issues(source: Reading, other: Reading) -> list[AttributeIssue]:
    """One against several, or two exact numbers that differ; where one side says its number outright."""
    issues: list[AttributeIssue] = []
    for noun, said in other.counts.items():
        before = source.counts.get(noun)
        if not before:
            continue
        one_before, one_now = _number_class(before), _number_class(said)
        if one_before is None or one_now is None:
            continue
        outright = any(v not in (IMPLIED_ONE, IMPLIED_SEVERAL) for v in before | said)
        exact_before, exact_now = {v for v in before if v > 0}, {v for v in said if v > 0}
        if (one_before != one_now and outright) or (
                len(exact_before) == 1 and len(exact_now) == 1 and exact_before != exact_now):
            issues.append(AttributeIssue("count", noun, _number(before), _number(said)))
    return issues


def _number_class(values: frozenset[int]) -> bool | None:
    """True: one; False: several; None: both said (ambiguous)."""
    ones = {v in (1, IMPLIED_ONE) for v in values}
    return next(iter(ones)) if len(ones) == 1 else None


def _number(values: frozenset[int]) -> str:
    exact = sorted({1 if v == IMPLIED_ONE else v for v in values if v > 0 or v == IMPLIED_ONE})
    return "/".join(map(str, exact)) if exact else "several"


def contradictions(source: Reading, other: Reading) -> list[AttributeIssue]:
    """What `other` (a back-translation) contradicts or adds, slot by slot, about the person `source` reads."""
    issues = [*_gender_pronoun_issues(source, other), *_near_garment_issues(source, other)]
    for b in other.mentions:
        sources = _aligned(b, source)
        if sources:
            issues += _slot_issues(b, sources, source)
    issues += _negation_issues(source, other)
    issues += _count_issues(source, other)
    return list(dict.fromkeys(issues))
