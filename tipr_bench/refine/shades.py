"""Shades are colours: navy is not black, maroon is not red, beige is not brown.

Retrieval tells people apart by exactly these differences, so two colour words are compared as
shades, not as families: each word has a hue and a tone (light, dark or neither), and a pair is
the same shade, a near shade (one the source may have meant: navy for "dark blue", tan for "light
brown", any blue for "blue"), or a different colour. A basic colour word ("blue") accepts any shade
of its own hue whose tone it does not contradict; a named shade ("maroon", "beige") is its own hue and
accepts only the shades listed near it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache


class ShadeMatch(StrEnum):
    SAME = "same shade"
    NEAR = "near shade"
    DIFFERENT = "different colour"


@dataclass(frozen=True, slots=True)
class Shade:
    hue: str  # a basic colour term, or a named shade's own name
    tone: str = ""  # "light", "dark" or ""
    basic: bool = False  # a basic colour term accepts every shade of its hue


def _basic(*names: str) -> dict[str, Shade]:
    return {name: Shade(name, basic=True) for name in names}


# word -> shade; spelling variants share one entry
SHADES: dict[str, Shade] = {
    **_basic("black", "white", "grey", "red", "pink", "orange", "yellow", "green", "blue", "purple", "brown"),
    "gray": Shade("grey", basic=True), "grayish": Shade("grey", basic=True), "greyish": Shade("grey", basic=True),
    "reddish": Shade("red", basic=True), "pinkish": Shade("pink", basic=True),
    "yellowish": Shade("yellow", basic=True), "greenish": Shade("green", basic=True),
    "bluish": Shade("blue", basic=True), "purplish": Shade("purple", basic=True),
    "brownish": Shade("brown", basic=True), "ebony": Shade("black"), "snow": Shade("white"),
    "navy": Shade("blue", "dark"), "cyan": Shade("blue", "light"), "aqua": Shade("aqua"),
    "turquoise": Shade("aqua"), "teal": Shade("teal"),
    "crimson": Shade("red"), "scarlet": Shade("red"),
    "maroon": Shade("maroon"), "burgundy": Shade("maroon"), "wine": Shade("maroon"),
    "rose": Shade("pink"), "magenta": Shade("magenta"), "fuchsia": Shade("magenta"),
    "salmon": Shade("coral"), "coral": Shade("coral"), "peach": Shade("coral"),
    "gold": Shade("gold"), "golden": Shade("gold"), "mustard": Shade("mustard"), "lemon": Shade("yellow", "light"),
    "blonde": Shade("blond"), "blond": Shade("blond"),
    "olive": Shade("olive"), "lime": Shade("green", "light"), "mint": Shade("green", "light"),
    "violet": Shade("purple"), "lavender": Shade("lavender"), "lilac": Shade("lavender"),
    "plum": Shade("purple", "dark"),
    "auburn": Shade("auburn"), "chestnut": Shade("brown"), "chocolate": Shade("brown", "dark"),
    "coffee": Shade("brown", "dark"), "bronze": Shade("brown"),
    "tan": Shade("tan"), "camel": Shade("tan"), "sand": Shade("beige"), "beige": Shade("beige"),
    "khaki": Shade("khaki"), "taupe": Shade("taupe"),
    "cream": Shade("cream"), "ivory": Shade("cream"), "silver": Shade("silver"), "charcoal": Shade("grey", "dark"),
}

# named shades that stand for each other, or for a basic colour in the given tone
_NEAR: dict[str, frozenset[str]] = {
    name: frozenset(near.split()) for name, near in {
        "maroon": "red:dark purple:dark brown:dark",
        "tan": "brown:light beige khaki",
        "beige": "tan khaki cream brown:light",
        "khaki": "tan beige olive green:dark",
        "cream": "white beige yellow:light",
        "silver": "grey grey:light white",
        "aqua": "blue:light green:light teal",
        "teal": "aqua green:dark blue:dark",
        "coral": "pink orange",
        "magenta": "pink purple",
        "gold": "yellow mustard",
        "mustard": "yellow gold",
        "blond": "yellow gold brown:light beige",
        "olive": "green:dark khaki",
        "lavender": "purple:light",
        "auburn": "red:dark brown",
        "taupe": "grey brown",
    }.items()
}

TONES = {"light": "light", "pale": "light", "dark": "dark", "deep": "dark", "bright": "bright", "vivid": "bright"}


@cache
def shade(word: str, tone: str = "") -> Shade | None:
    """The shade a colour word names, with a tone word before it ("dark" blue) folded in."""
    base = SHADES.get(word)
    if base is None:
        return None
    tone = TONES.get(tone, "") or base.tone
    return Shade(base.hue, tone, base.basic)


def _near(named: Shade, other: Shade) -> bool:
    near = _NEAR.get(named.hue, frozenset())
    return other.hue in near or f"{other.hue}:{other.tone}" in near


def _generalised(named: Shade, other: Shade) -> bool:
    """A named shade read back as the basic colour it leans to (tan as brown): precision lost, not changed."""
    return other.basic and not other.tone and any(n.split(":")[0] == other.hue for n in _NEAR.get(named.hue, ()))


@cache
def compare_shades(source: Shade, other: Shade) -> ShadeMatch:
    """Same shade, a near one the source may have meant, or a different colour. Directed: a named shade in
    the source may come back as its basic colour (tan as brown), but a basic colour may not come back as a
    named shade it does not name (brown as beige, red as maroon)."""
    if source.hue == other.hue:
        if source.tone and other.tone and source.tone != other.tone:
            return ShadeMatch.DIFFERENT  # light blue is neither dark nor bright blue
        return ShadeMatch.SAME if source.tone == other.tone and source.basic == other.basic else ShadeMatch.NEAR
    if source.basic and other.basic:
        return ShadeMatch.DIFFERENT
    if _near(source, other) or _near(other, source) or _generalised(source, other):
        return ShadeMatch.NEAR
    return ShadeMatch.DIFFERENT


# colour word -> the basic families it may belong to (a shade may sit between two families): the coarse
# view the gross colour check takes, before shades are compared
FAMILIES: dict[str, tuple[str, ...]] = {
    "black": ("black",), "ebony": ("black",),
    "white": ("white",), "ivory": ("white",), "cream": ("white", "yellow"), "snow": ("white",),
    "grey": ("grey",), "gray": ("grey",), "grayish": ("grey",), "greyish": ("grey",),
    "silver": ("grey", "white"), "charcoal": ("grey", "black"),
    "red": ("red",), "reddish": ("red",), "maroon": ("red", "brown", "purple"), "burgundy": ("red", "purple"),
    "crimson": ("red",), "scarlet": ("red",), "wine": ("red", "purple"),
    "pink": ("pink",), "pinkish": ("pink",), "rose": ("pink", "red"), "magenta": ("pink", "purple"),
    "fuchsia": ("pink", "purple"), "salmon": ("pink", "orange"), "coral": ("pink", "orange"),
    "orange": ("orange",), "peach": ("orange", "pink"),
    "yellow": ("yellow",), "yellowish": ("yellow",), "gold": ("yellow",), "golden": ("yellow",),
    "mustard": ("yellow",), "lemon": ("yellow",), "blonde": ("yellow",), "blond": ("yellow",),
    "green": ("green",), "greenish": ("green",), "olive": ("green", "brown"), "lime": ("green",),
    "mint": ("green",), "teal": ("green", "blue"), "turquoise": ("blue", "green"),
    "blue": ("blue",), "bluish": ("blue",), "navy": ("blue",), "cyan": ("blue",), "aqua": ("blue", "green"),
    "purple": ("purple",), "purplish": ("purple",), "violet": ("purple",), "lavender": ("purple",),
    "lilac": ("purple",), "plum": ("purple",),
    "brown": ("brown",), "brownish": ("brown",), "auburn": ("red", "brown"), "sand": ("brown", "yellow"),
    "tan": ("brown", "yellow"), "khaki": ("brown", "yellow", "green"),
    "beige": ("brown", "white", "yellow"), "camel": ("brown",), "chocolate": ("brown",), "coffee": ("brown",),
    "taupe": ("brown", "grey"), "bronze": ("brown",), "chestnut": ("brown",),
}


def colour_families(word: str) -> frozenset[str]:
    """The basic colour families a word may belong to; the gross colour check compares these."""
    return frozenset(FAMILIES.get(word, ()))
