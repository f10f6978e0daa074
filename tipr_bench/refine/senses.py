"""English senses that decide whether a word of a caption is a glossary term at all.

Read by both sides of refine: `term_matching` (which English words expect an approved target) and
`attribute_checks` (which words name a garment). A caption word can be a garment in one place and not in
another: `top` in "a red top" is a garment, in "on top of her head" a position; `dress` in "a long
dress" is a garment, in "dress shoes" it only says the shoes are formal. A glossary note such as "a
garment, not a position" is a rule for people; the rules below are the same notes as data.
"""

from __future__ import annotations

# Phrases in which a garment word is a position or part of an idiom: scanned as one unit that is no
# term, so the garment entry never sees the word.
NON_TERM_PHRASES: tuple[str, ...] = (
    "on top", "on top of", "at the top", "at the top of", "the top of", "top of", "on the top",
    "at the bottom", "at the bottom of", "the bottom of", "bottom of", "on the bottom",
    "in front", "in front of", "in the front", "the front of", "at the front",
    "in the back", "at the back", "on the back of", "the back of",
)

# A modifier that is no term of its own before these head words: the head carries its meaning
# ("dress shoes" are formal shoes, a "young boy" is a boy, a "low haircut" a short one).
MODIFIER_HEADS: dict[str, frozenset[str]] = {
    "dress": frozenset({"shoe", "shoes", "shirt", "shirts", "pants", "pant", "slacks", "trousers", "clothes",
                        "clothing", "socks", "sock", "boots", "boot", "coat", "jacket", "suit", "up"}),
    "young": frozenset({"boy", "boys", "girl", "girls", "child", "children", "kid", "kids", "toddler", "baby"}),
    "low": frozenset({"haircut", "cut", "hair"}),  # a low haircut is a short one
    "button": frozenset({"up", "down"}),  # a button-up shirt is a style of shirt, its buttons unnamed
}

# Words that only repeat the colour or shade before them ("dark colored", "light-coloured", "two
# toned"): they belong to that colour's term and expect no target of their own.
COLOUR_SUFFIXES = frozenset({"colored", "coloured", "color", "colour", "toned", "tone", "shaded"})

# Words that may sit inside one noun phrase between two of its terms without ending it; anything
# else (a comma, "and", "with", a verb) starts a new phrase. Terms of one phrase may share a target
# span: 深色 renders "dark colored", 长裤 "long pants", Faltenrock "pleated skirt".
PHRASE_GLUE = frozenset({"a", "an", "the", "of", "colored", "coloured", "very", "light", "dark"})
