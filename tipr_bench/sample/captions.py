"""Write English captions for a synthetic person, in the varied shapes of real CUHK-PEDES captions.

Every caption names the person's gender, hair, top (colour and pattern), bottom, shoes, carried
item and accessories, and no colour the person does not wear, so a caption is a faithful (if
differently ordered and worded) description of its image.
"""

from __future__ import annotations

import re

import numpy as np

from .appearance import Item, Person

MIN_WORDS, MAX_WORDS = 20, 40

_SUBJECT = {
    "man": ("man", "man", "guy", "male pedestrian"),
    "woman": ("woman", "woman", "lady", "female pedestrian"),
}
_PRONOUN = {"man": ("he", "his"), "woman": ("she", "her")}
_WEAR = ("is wearing", "wears", "is dressed in", "has on")
_FILLERS = (
    "{he} is walking down the street.",
    "{he} appears to be walking.",
    "{he} is walking along the sidewalk.",
    "{he} seems to be in a hurry.",
    "{he} is out for a walk.",
)
_TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def tokens(text: str) -> list[str]:
    """CUHK-PEDES-style processed tokens: lower case words without punctuation."""
    return _TOKEN.findall(text.lower())


def word_count(text: str) -> int:
    return len(text.split())


def _a(phrase: str) -> str:
    return ("an " if phrase[:1] in "aeiou" else "a ") + phrase


class _Writer:
    """Phrase choices for one caption; `short` prefers the most compact wording."""

    def __init__(self, person: Person, rng: np.random.Generator, short: bool) -> None:
        self.p, self.rng, self.short = person, rng, short
        self.he, self.his = _PRONOUN[person.gender]

    def pick(self, options):
        if self.short:
            return min(options, key=lambda o: len(o.split()))
        return options[int(self.rng.integers(len(options)))]

    def hair_color(self) -> str:
        c = self.p.hair_color
        return self.pick(("black", "dark")) if c == "black" else c

    def hair_np(self) -> str:
        style, c, his = self.p.hair_style, self.hair_color(), self.his
        return self.pick(
            {
                "short": (f"short {c} hair", f"{c} hair cut short", f"a short {c} haircut"),
                "long": (
                    f"long {c} hair",
                    f"long {c} hair that falls past {his} shoulders",
                    f"{c} hair worn long",
                ),
                "ponytail": (
                    f"{c} hair in a ponytail",
                    f"a {c} ponytail",
                    f"long {c} hair tied back in a ponytail",
                ),
                "bun": (f"{c} hair in a bun", f"{c} hair pulled up into a bun"),
                "bald": ("a bald head", "a shaved head"),
            }[style]
        )

    def hair_sentence(self) -> str:
        style, his = self.p.hair_style, self.his
        if style == "bald":
            return self.pick((f"{self.he} is bald.", f"{self.he} has a shaved head."))
        c = self.hair_color()
        adjective = {"short": f"short and {c}", "long": f"long and {c}"}.get(style)
        options = [f"{self.he} has {self.hair_np()}."]
        if adjective:
            options.append(f"{his} hair is {adjective}.")
        if style in ("ponytail", "bun"):
            options.append(f"{his} {c} hair is tied up in a {style}.")
        return self.pick(options)

    def top_np(self) -> str:
        top = self.p.top
        noun = self.pick(
            {
                "shirt": ("shirt", "button-up shirt"),
                "jacket": ("jacket", "zip-up jacket"),
            }.get(top.kind, (top.kind,))
        )
        prefix = ""
        if not self.short and self.rng.random() < 0.35:
            prefix = self.pick(
                {
                    "coat": ("long ",),
                    "dress": ("knee-length ",),
                    "tank top": ("sleeveless ",),
                    "shirt": ("long-sleeved ",),
                    "sweater": ("long-sleeved ", "knit "),
                    "blouse": ("short-sleeved ",),
                    "t-shirt": ("short-sleeved ",),
                    "jacket": ("",),
                    "hoodie": ("",),
                }[top.kind]
            )
        return _a(prefix + self.colored(top, noun))

    def colored(self, item: Item, noun: str) -> str:
        """'red shirt', 'white and blue striped shirt', 'grey shirt with pink polka dots', ..."""
        c, c2 = item.color, item.color2
        if item.pattern == "plain" or c2 is None:
            return f"{c} {noun}"
        return self.pick(
            {
                "striped": (f"{c} and {c2} striped {noun}", f"{c} {noun} with {c2} stripes"),
                "plaid": (f"{c} and {c2} plaid {noun}", f"{c} plaid {noun} with {c2} lines"),
                "checked": (f"{c} and {c2} checked {noun}", f"{c} and {c2} checkered {noun}"),
                "floral": (f"{c} {noun} with a {c2} floral print", f"{c} and {c2} floral {noun}"),
                "dotted": (f"{c} {noun} with {c2} polka dots", f"{c} and {c2} dotted {noun}"),
            }[item.pattern]
        )

    def bottom_np(self) -> str | None:
        b = self.p.bottom
        if b is None:
            return None
        c = b.color
        if b.kind == "skirt":
            if b.length == "short":
                return self.pick((f"a short {c} skirt", f"a {c} skirt that ends above the knees"))
            return self.pick((f"a long {c} skirt", f"a {c} skirt that reaches below the knees"))
        noun = self.pick(("pants", "trousers")) if b.kind == "pants" else b.kind
        return self.pick((f"{c} {noun}", f"a pair of {c} {noun}"))

    def shoes_np(self) -> str:
        s = self.p.shoes
        noun = self.pick(("heels", "high heels")) if s.kind == "heels" else s.kind
        return self.pick((f"{s.color} {noun}", f"a pair of {s.color} {noun}"))

    def accessory_nps(self) -> list[str]:
        out = []
        for a in self.p.accessories:
            if a.kind == "glasses":
                out.append(self.pick(("glasses", "a pair of glasses")))
            elif a.kind == "cap":
                out.append(_a(self.pick((f"{a.color} cap", f"{a.color} baseball cap"))))
            elif a.kind == "scarf":
                out.append(_a(self.pick((f"{a.color} scarf", f"{a.color} scarf around {self.his} neck"))))
            else:
                out.append(_a(f"{a.color} belt"))
        return out

    def bag_vp(self) -> str | None:
        """A verb phrase for the carried item, e.g. 'carries a black backpack'."""
        bag = self.p.bag
        if bag is None:
            return None
        his, side = self.his, self.p.side
        item = _a(f"{bag.color} {bag.kind}")
        return self.pick(
            {
                "backpack": (
                    f"carries {item}",
                    f"has {item} on {his} back",
                    f"is wearing {item}",
                    f"has {item} over {his} shoulders",
                ),
                "handbag": (
                    f"holds {item} in {his} {side} hand",
                    f"is carrying {item}",
                    f"carries {item} in {his} {side} hand",
                ),
                "shoulder bag": (f"has {item} over {his} {side} shoulder", f"carries {item}"),
                "suitcase": (
                    f"is pulling {item}",
                    f"pulls {_a(bag.color + ' rolling suitcase')} with {his} {side} hand",
                ),
                "umbrella": (
                    f"holds {_a('closed ' + bag.color + ' umbrella')} in {his} {side} hand",
                    f"is carrying {item}",
                ),
            }[bag.kind]
        )

    def bag_ing(self) -> str | None:
        """A participle phrase for the opener: 'carrying a black backpack'."""
        bag = self.p.bag
        if bag is None:
            return None
        c = bag.color
        verb = {
            "suitcase": "pulling",
            "umbrella": "holding",
            "handbag": self.pick(("holding", "carrying")),
        }.get(bag.kind, "carrying")
        return f"{verb} {_a(c + ' ' + bag.kind)}"

    def bag_sentence(self) -> str | None:
        bag = self.p.bag
        if bag is None:
            return None
        c, his, side = bag.color, self.his, self.p.side
        options = [f"{self.he} {self.bag_vp()}."]
        if bag.kind == "backpack":
            options.append(f"{his} {c} backpack hangs from {his} shoulders.")
        elif bag.kind in ("handbag", "umbrella"):
            options.append(f"{_a(c + ' ' + bag.kind)} is in {his} {side} hand.")
        elif bag.kind == "shoulder bag":
            options.append(f"{_a(c)} shoulder bag hangs from {his} {side} shoulder.")
        return self.pick(options)


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _compose(person: Person, w: _Writer) -> str:
    """One caption: an opener sentence, then the rest in pronoun sentences, in a random order."""
    rng, he = w.rng, w.he
    subject = w.pick(("a", "the", "this")) + " " + w.pick(_SUBJECT[person.gender])
    clothes = [w.top_np()]
    bottom = w.bottom_np()
    if bottom is not None:
        clothes.insert(int(rng.integers(2)), bottom)
    shoes = w.shoes_np()
    accessories = w.accessory_nps()
    hair_done = bag_done = shoes_done = False
    shape = int(rng.integers(6))
    sentences: list[str] = []
    if shape == 0:  # "A man with short black hair is wearing X and Y."
        sentences.append(f"{subject} with {w.hair_np()} {w.pick(_WEAR)} {_join(clothes)}.")
        hair_done = True
    elif shape == 1:  # "The woman has long brown hair and wears X with Y."
        sentences.append(
            f"{subject} has {w.hair_np()} and {w.pick(('wears', 'is wearing'))} "
            f"{(' and ' if any(' with ' in c for c in clothes) else ' with ').join(clothes)}."
        )
        hair_done = True
    elif shape == 2 and w.bag_ing() is not None:  # "A man carrying a red backpack is wearing X, Y and Z."
        sentences.append(f"{subject} {w.bag_ing()} {w.pick(_WEAR)} {_join(clothes + [shoes])}.")
        bag_done = shoes_done = True
    elif shape == 4 and w.bag_ing() is not None:  # "A woman wearing X and Y, carrying Z."
        sentences.append(f"{subject} wearing {_join(clothes)}, {w.bag_ing()}.")
        bag_done = True
    elif shape == 3:  # "This man is dressed in X, Y and Z."
        sentences.append(f"{subject} {w.pick(_WEAR)} {_join(clothes + [shoes])}.")
        shoes_done = True
    else:  # "A woman in X and Y walks along. ..."
        sentences.append(
            f"{subject} in {_join(clothes)} {w.pick(('is walking', 'walks forward', 'is standing'))}."
        )
    rest: list[str] = []
    if not hair_done:
        rest.append(w.hair_sentence())
    worn = ([] if shoes_done else [shoes]) + accessories
    if worn:
        verb = w.pick(("is also wearing", "also wears", "has on", "is wearing"))
        if not shoes_done and not accessories and not w.short and rng.random() < 0.4:
            rest.append(f"{w.his} shoes are {shoes.removeprefix('a pair of ')}.")
        else:
            rest.append(f"{he} {verb} {_join(worn)}.")
    if not bag_done and person.bag is not None:
        rest.append(w.bag_sentence())
    order = rng.permutation(len(rest))
    sentences.extend(rest[i] for i in order)
    return " ".join(s[0].upper() + s[1:] for s in sentences)


def write_caption(person: Person, rng: np.random.Generator, avoid: tuple[str, ...] = ()) -> str:
    """A caption of MIN_WORDS..MAX_WORDS words that differs from those in `avoid`."""
    best = ""
    for attempt in range(40):
        text = _compose(person, _Writer(person, rng, short=attempt >= 30))
        n = word_count(text)
        if n < MIN_WORDS:
            filler = _FILLERS[int(rng.integers(len(_FILLERS)))].format(he=_PRONOUN[person.gender][0])
            text = f"{text} {filler[0].upper()}{filler[1:]}"
            n = word_count(text)
        if MIN_WORDS <= n <= MAX_WORDS and text not in avoid:
            return text
        if not best or abs(n - 30) < abs(word_count(best) - 30):
            best = text
    return best


def write_captions(person: Person, seed: int, image_index: int) -> list[str]:
    """The two captions of one image; depends only on (seed, pid, image_index)."""
    rng = np.random.default_rng([seed, person.pid, 3, image_index])
    first = write_caption(person, rng)
    return [first, write_caption(person, rng, avoid=(first,))]
