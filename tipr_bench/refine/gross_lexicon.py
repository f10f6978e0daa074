"""The gross checks' lexicon: the coarse word classes `attribute_checks` reads a description with.

Garments, items and hair by body slot and synonym group (a back-translation says "coat" for "jacket"),
patterns by family, and the small word sets that bind a colour to its noun or end its reach. Data only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Noun:
    """A lexicon entry: kind (garment, item, hair), slot (body region) and group (synonym class)."""

    kind: str
    slot: str
    group: str
    parent: str = ""  # a generic group that also matches (a "bag" for a backpack)


def _entries(kind: str, slot: str, group: str, words: str, parent: str = "") -> dict[str, Noun]:
    noun = Noun(kind, slot, group, parent)
    return {w.strip(): noun for w in words.split(",") if w.strip()}


LEXICON: dict[str, Noun] = {
    **_entries("garment", "upper", "shirt",
               "shirt, t shirt, tshirt, tee, tee shirt, top, blouse, polo, polo shirt, tank top, tank, camisole, "
               "undershirt, jersey, tunic, button up, button down"),
    **_entries("garment", "upper", "jacket",
               "jacket, coat, overcoat, blazer, windbreaker, parka, raincoat, trench coat, down jacket, anorak, "
               "hooded jacket"),
    **_entries("garment", "upper", "sweater",
               "sweater, hoodie, sweatshirt, cardigan, jumper, pullover, hooded sweater, hooded sweatshirt, "
               "fleece"),
    **_entries("garment", "upper", "vest", "vest, waistcoat"),
    **_entries("garment", "lower", "pants",
               "pants, pant, trousers, jeans, jean, slacks, leggings, capris, capri, capri pants, sweatpants, "
               "khakis, cargo pants, bluejeans, tights, capri shorts"),
    **_entries("garment", "lower", "shorts", "shorts, short pants, hot pants"),
    **_entries("garment", "lower", "skirt", "skirt, miniskirt"),
    **_entries("garment", "full", "dress", "dress, gown, jumpsuit, romper, overalls, robe, suit, uniform"),
    **_entries("garment", "feet", "shoes",
               "shoes, shoe, sneakers, sneaker, boots, boot, sandals, sandal, sandles, heels, high heels, "
               "slippers, flats, loafers, flip flops, flip flop, trainers, tennis shoes, running shoes, crocs, "
               "footwear"),
    **_entries("garment", "feet", "socks", "socks, sock, stockings"),
    **_entries("hair", "hair", "hair", "hair, ponytail, pony tail, bun, braid, braids, bangs"),
    **_entries("item", "head", "hat", "hat, cap, beanie, baseball cap, headscarf, beret"),
    **_entries("item", "head", "helmet", "helmet"),
    **_entries("item", "face", "glasses", "glasses, eyeglasses, spectacles, eyeglass, eye glass, eyeglass frame, "
               "glasses frame, framed glasses"),
    **_entries("item", "face", "sunglasses", "sunglasses, sun glasses", parent="glasses"),
    **_entries("item", "face", "mask", "mask, face mask"),
    **_entries("item", "neck", "scarf", "scarf"),
    **_entries("item", "waist", "belt", "belt, waist strap, waist belt"),
    **_entries("item", "wrist", "watch", "watch, wristwatch"),
    **_entries("item", "hands", "gloves", "gloves, glove"),
    **_entries("item", "ears", "headphones", "headphones, earphones, headset"),
    **_entries("item", "bag", "bag", "bag, sack, pack"),
    **_entries("item", "bag", "backpack",
               "backpack, back pack, knapsack, rucksack, book bag, bookbag, school bag, schoolbag",
               parent="bag"),
    **_entries("item", "bag", "handbag",
               "handbag, hand bag, purse, pocketbook, clutch, tote, tote bag, shoulder bag, messenger bag, "
               "satchel, crossbody bag, sling bag", parent="bag"),
    **_entries("item", "bag", "shopping bag", "shopping bag, plastic bag, paper bag, carrier bag", parent="bag"),
    **_entries("item", "bag", "briefcase", "briefcase", parent="bag"),
    **_entries("item", "carried", "suitcase", "suitcase, luggage, trolley case, rolling bag"),
    **_entries("item", "carried", "umbrella", "umbrella, parasol"),
    **_entries("item", "carried", "phone", "phone, cell phone, cellphone, mobile phone, smartphone, cell"),
    **_entries("item", "carried", "bottle", "bottle, water bottle"),
    **_entries("item", "carried", "cup", "cup, mug"),
    **_entries("item", "carried", "book", "book, books, notebook"),
    **_entries("item", "carried", "papers", "paper, papers, folder, document, documents, file"),
    **_entries("item", "carried", "box", "box, package, parcel"),
    **_entries("item", "carried", "bicycle", "bicycle, bike"),
    **_entries("item", "carried", "stroller", "stroller, pram, baby carriage"),
    **_entries("item", "carried", "cart", "cart, trolley"),
    **_entries("item", "carried", "skateboard", "skateboard"),
    **_entries("item", "carried", "laptop", "laptop, computer"),
}
MAX_PHRASE = max(len(k.split()) for k in LEXICON)
# the words a lexicon phrase can begin with, plural endings included: most tokens begin none
FIRST_WORDS = frozenset(w for k in LEXICON for first in [k.split()[0]] for w in (first, first + "s", first + "es"))

# pattern word -> family: a back-translation may say "checked" for "plaid", never "striped"
PATTERNS: dict[str, str] = {
    **dict.fromkeys(("striped", "stripe", "stripes", "stripey", "stripy", "stripped", "pinstripe", "pinstriped",
                     "pinstripes"), "stripes"),
    **dict.fromkeys(("plaid", "checked", "checkered", "chequered", "checkerboard", "tartan", "gingham", "checks"),
                    "check"),
    **dict.fromkeys(("polka", "dotted", "dots", "spotted"), "dots"),
    **dict.fromkeys(("floral", "flowered", "flowery", "flower", "flowers"), "floral"),
    **dict.fromkeys(("camouflage", "camo"), "camouflage"),
    **dict.fromkeys(("leopard", "zebra", "animal"), "animal print"),
    "paisley": "paisley", "argyle": "argyle", "houndstooth": "houndstooth",
}


# words that answer for a pattern the other description names, and so never count as one added: a single
# stripe
# across the chest is read back as "a band"; and horizontal or vertical lines are stripes by another name
PATTERN_ECHOES: dict[str, str] = {"band": "stripes", "bands": "stripes", "lines": "stripes", "line": "stripes",
                                   "vertical": "stripes", "horizontal": "stripes"}


NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
MALE = {"man", "men", "boy", "boys", "male", "gentleman", "guy", "he", "his", "him", "himself", "father", "mr"}
FEMALE = {"woman", "women", "girl", "girls", "female", "lady", "ladies", "she", "her", "hers", "herself",
           "mother", "mrs", "ms"}
GENDER_NOUNS = {"man", "men", "boy", "boys", "male", "gentleman", "guy", "woman", "women", "girl", "girls",
                 "female", "lady", "ladies"}
BODY_PARTS = {"hand": "hand", "hands": "hand", "arm": "arm", "arms": "arm", "shoulder": "shoulder",
               "shoulders": "shoulder", "foot": "foot", "feet": "foot", "leg": "leg", "legs": "leg",
               "side": "side", "wrist": "wrist", "ear": "ear", "elbow": "elbow", "hip": "hip", "knee": "knee",
               "eye": "eye", "pocket": "pocket", "shoe": "foot"}
# words that end a colour's reach: a colour never binds across them
BREAKERS = {"with", "wearing", "wears", "in", "on", "is", "are", "has", "have", "carrying", "carries", "holding",
             "holds", "of", "over", "under", "the", "his", "her", "their", "while", "who", "which", "that",
             "to", "at", "from", "by", "for", "he", "she", "it", "was", "were", "walking", "also"}
# parts a garment word can name before it ("shoe laces"); what a container holds is no colour ("coffee cup")
PARTS = {"lace", "laces", "strings", "sole", "soles", "collar", "sleeve", "sleeves", "pocket", "pockets", "strap",
          "straps", "zipper", "trim", "buttons", "tongue", "heel", "heels", "toe", "toes"}
CONTAINERS = {"cup", "bottle"}
DRINKS = {"coffee", "wine", "lemon", "mint", "peach", "chocolate"}
COPULAS = {"is", "are", "was", "were", "appears", "appear", "looks", "look", "seems", "seem"}
PREDICATE_FILLERS = {"a", "an", "all", "mostly", "mainly", "dark", "light", "bright", "pale", "deep", "and",
                      "in", "colored", "coloured", "color", "colour", "to", "be"}
