"""What a synthetic person wears and how each photo of them is taken.

The vocabulary here is the single source of truth: the drawer paints these colours and shapes, the
caption writer names them, and the tests check one against the other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

RGB = tuple[int, int, int]

# Named garment colours. Kept far apart in RGB (>= ~55) so a pixel's nearest name is unambiguous
# after blur and noise, and so a model can tell them apart.
COLORS: dict[str, RGB] = {
    "black": (24, 24, 27),
    "white": (243, 243, 238),
    "grey": (134, 134, 136),
    "red": (212, 34, 38),
    "maroon": (118, 16, 52),
    "pink": (246, 146, 188),
    "orange": (245, 134, 28),
    "yellow": (246, 216, 44),
    "green": (42, 150, 64),
    "blue": (44, 102, 218),
    "navy": (24, 36, 98),
    "purple": (126, 54, 172),
    "brown": (116, 74, 36),
    "beige": (226, 206, 166),
    "khaki": (166, 152, 94),
}

HAIR_COLORS: dict[str, RGB] = {
    "black": (30, 25, 23),
    "brown": (106, 64, 34),
    "blonde": (222, 186, 112),
    "grey": (168, 168, 168),
}

SKIN_TONES: tuple[RGB, ...] = (
    (250, 218, 186),
    (232, 188, 150),
    (198, 148, 108),
    (150, 102, 70),
    (104, 68, 46),
)

HAIR_STYLES = ("short", "long", "ponytail", "bun", "bald")
TOP_KINDS = ("t-shirt", "shirt", "blouse", "jacket", "coat", "hoodie", "sweater", "tank top", "dress")
BOTTOM_KINDS = ("pants", "jeans", "shorts", "skirt")
SHOE_KINDS = ("sneakers", "boots", "sandals", "heels", "leather shoes")
BAG_KINDS = ("backpack", "handbag", "shoulder bag", "suitcase", "umbrella")
ACCESSORY_KINDS = ("cap", "glasses", "scarf", "belt")
PATTERNS = ("plain", "striped", "plaid", "checked", "floral", "dotted")

# Which sleeves each top has: the drawer uses it, the caption writer may say "short-sleeved".
SLEEVES: dict[str, str] = {
    "t-shirt": "short",
    "shirt": "long",
    "blouse": "short",
    "jacket": "long",
    "coat": "long",
    "hoodie": "long",
    "sweater": "long",
    "tank top": "none",
    "dress": "short",
}

_TOP_PATTERNS: dict[str, tuple[str, ...]] = {
    "t-shirt": ("plain", "plain", "striped", "dotted"),
    "shirt": ("plain", "striped", "plaid", "checked"),
    "blouse": ("plain", "floral", "dotted", "striped"),
    "jacket": ("plain", "plain", "plaid"),
    "coat": ("plain", "plain", "checked"),
    "hoodie": ("plain", "plain", "striped"),
    "sweater": ("plain", "striped", "checked"),
    "tank top": ("plain", "striped"),
    "dress": ("plain", "floral", "dotted", "striped", "checked"),
}

_TOP_COLORS = tuple(COLORS)
_BOTTOM_COLORS: dict[str, tuple[str, ...]] = {
    "pants": ("black", "grey", "khaki", "beige", "navy", "brown", "white", "green", "blue"),
    "jeans": ("blue", "navy", "black", "grey", "white"),
    "shorts": ("black", "grey", "khaki", "beige", "navy", "blue", "white", "green", "red"),
    "skirt": ("black", "grey", "red", "pink", "white", "navy", "beige", "purple", "blue", "yellow", "maroon"),
}
_SHOE_COLORS: dict[str, tuple[str, ...]] = {
    "sneakers": ("white", "black", "grey", "red", "blue", "pink", "navy"),
    "boots": ("black", "brown", "beige", "grey"),
    "sandals": ("brown", "black", "white", "beige"),
    "heels": ("black", "red", "beige", "white", "pink"),
    "leather shoes": ("black", "brown"),
}
_BAG_COLORS: dict[str, tuple[str, ...]] = {
    "backpack": ("black", "grey", "navy", "red", "blue", "green", "purple", "orange", "pink", "brown"),
    "handbag": ("black", "brown", "red", "beige", "white", "pink", "maroon", "yellow"),
    "shoulder bag": ("black", "brown", "grey", "beige", "navy", "red", "khaki"),
    "suitcase": ("black", "grey", "blue", "red", "purple", "orange", "navy", "pink"),
    "umbrella": ("black", "red", "blue", "yellow", "purple", "green", "pink", "navy"),
}
_ACCESSORY_COLORS: dict[str, tuple[str, ...]] = {
    "cap": ("black", "white", "red", "blue", "navy", "grey", "khaki", "green", "yellow"),
    "glasses": ("black",),
    "scarf": ("red", "grey", "beige", "white", "pink", "blue", "yellow", "green", "maroon", "orange"),
    "belt": ("black", "brown"),
}

# Walls and grounds are muted, unnamed colours: captions never describe the background.
WALL_COLORS: tuple[RGB, ...] = (
    (188, 184, 176),
    (158, 150, 141),
    (121, 126, 132),
    (198, 188, 160),
    (149, 160, 171),
    (168, 118, 98),
    (92, 102, 96),
    (205, 200, 190),
    (137, 118, 104),
)
GROUND_COLORS: tuple[RGB, ...] = (
    (96, 96, 101),
    (166, 160, 150),
    (92, 128, 72),
    (150, 126, 96),
    (128, 130, 126),
    (182, 176, 166),
)
WALL_TEXTURES = ("plain", "brick", "windows", "trees", "stripes")
GROUND_TEXTURES = ("plain", "tiles", "road", "grass")


@dataclass(frozen=True)
class Item:
    """One garment, shoe pair, bag or accessory: its kind and the colours it is painted in."""

    kind: str
    color: str
    pattern: str = "plain"
    color2: str | None = None  # the pattern's second colour; None when plain
    length: str | None = None  # "short"/"long" for skirts, None otherwise

    def colors(self) -> set[str]:
        return {self.color} | ({self.color2} if self.color2 else set())


@dataclass(frozen=True)
class Person:
    """A person's fixed appearance, the same in every photo of them."""

    pid: int
    gender: str  # "man" | "woman"
    skin: int  # index into SKIN_TONES
    hair_color: str  # key of HAIR_COLORS; ignored when bald
    hair_style: str
    top: Item
    bottom: Item | None  # None when the top is a dress
    shoes: Item
    bag: Item | None
    side: str  # the body side ("left"/"right") the bag is carried on
    accessories: tuple[Item, ...] = field(default_factory=tuple)
    n_images: int = 2

    def accessory(self, kind: str) -> Item | None:
        return next((a for a in self.accessories if a.kind == kind), None)

    def named_colors(self) -> set[str]:
        """Every palette colour this person wears or carries (what a caption must name)."""
        items = [self.top, self.bottom, self.shoes, self.bag, *self.accessories]
        return set().union(*(i.colors() for i in items if i is not None and i.kind != "glasses"))

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Shot:
    """How one photo is taken: pose, framing, background and sensor noise."""

    height: float  # person height as a fraction of the image height
    center: float  # horizontal centre of the body as a fraction of the width
    feet: float  # y of the soles as a fraction of the image height
    stride: float  # degrees between the legs
    knee_bend: float  # degrees the back lower leg bends
    arm_left: float  # degrees each arm swings away from the body
    arm_right: float
    facing: int  # -1 towards image left, 0 front, +1 towards image right
    wall: str
    wall_color: int
    ground: str
    ground_color: int
    horizon: float  # y of the wall/ground edge as a fraction of the image height
    blur: float
    noise: float
    brightness: float
    seed: int  # seeds the texture placement and the pixel noise

    def to_json(self) -> dict:
        return asdict(self)


def _pick(rng: np.random.Generator, options, p=None):
    return options[int(rng.choice(len(options), p=p))]


def _contrasting(rng: np.random.Generator, options: tuple[str, ...], behind: list[RGB]) -> str:
    """A colour that stands out from what it is drawn over (a yellow scarf on a yellow jacket
    would be named in the caption but invisible in the image)."""
    far = [c for c in options if all(_distance(COLORS[c], rgb) > 90 for rgb in behind)]
    return _pick(rng, tuple(far) or options)


def _second_color(rng: np.random.Generator, first: str) -> str:
    # A pattern needs contrast: pick a colour far from the base in RGB.
    far = [c for c in COLORS if c != first and _distance(COLORS[c], COLORS[first]) > 150]
    return _pick(rng, far)


def _distance(a: RGB, b: RGB) -> float:
    return float(np.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True))))


def sample_person(seed: int, pid: int) -> Person:
    """Draw one person's appearance; depends only on (seed, pid), so any worker can redo it."""
    rng = np.random.default_rng([seed, pid, 1])
    gender = _pick(rng, ("man", "woman"))
    woman = gender == "woman"
    style_p = (0.2, 0.4, 0.2, 0.2, 0.0) if woman else (0.74, 0.08, 0.06, 0.0, 0.12)
    hair_style = _pick(rng, HAIR_STYLES, p=style_p)
    hair_color = _pick(rng, tuple(HAIR_COLORS), p=(0.45, 0.3, 0.15, 0.1))

    top_p = (
        (0.18, 0.12, 0.1, 0.14, 0.1, 0.12, 0.1, 0.04, 0.1)
        if woman
        else (0.24, 0.18, 0.0, 0.16, 0.1, 0.14, 0.12, 0.06, 0.0)
    )
    top_kind = _pick(rng, TOP_KINDS, p=top_p)
    top_color = _pick(rng, _TOP_COLORS)
    pattern = _pick(rng, _TOP_PATTERNS[top_kind])
    top = Item(top_kind, top_color, pattern, None if pattern == "plain" else _second_color(rng, top_color))

    bottom: Item | None = None
    if top_kind != "dress":
        bottom_p = (0.3, 0.3, 0.12, 0.28) if woman else (0.45, 0.4, 0.15, 0.0)
        if top_kind == "coat":  # a long coat would hide shorts and short skirts
            bottom_p = (0.5, 0.5, 0.0, 0.0)
        bottom_kind = _pick(rng, BOTTOM_KINDS, p=bottom_p)
        colors = [c for c in _BOTTOM_COLORS[bottom_kind] if c != top_color]
        length = _pick(rng, ("short", "long")) if bottom_kind == "skirt" else None
        bottom = Item(bottom_kind, _pick(rng, colors), length=length)

    shoe_p = (0.34, 0.2, 0.12, 0.2, 0.14) if woman else (0.5, 0.2, 0.1, 0.0, 0.2)
    shoe_kind = _pick(rng, SHOE_KINDS, p=shoe_p)
    top_rgbs = [COLORS[c] for c in top.colors()]
    legs = [COLORS[bottom.color]] if bottom is not None and bottom.kind in ("pants", "jeans") else []
    shoes = Item(shoe_kind, _contrasting(rng, _SHOE_COLORS[shoe_kind], legs))

    bag: Item | None = None
    if rng.random() < 0.72:
        bag_p = (0.3, 0.25, 0.25, 0.1, 0.1) if woman else (0.45, 0.0, 0.3, 0.13, 0.12)
        bag_kind = _pick(rng, BAG_KINDS, p=bag_p)
        under = top_rgbs + ([COLORS[bottom.color]] if bottom is not None else [])
        bag = Item(bag_kind, _contrasting(rng, _BAG_COLORS[bag_kind], under))
    side = _pick(rng, ("left", "right"))

    accessories: list[Item] = []
    wanted = int(rng.choice(3, p=(0.45, 0.4, 0.15)))
    for kind in rng.permutation(ACCESSORY_KINDS):
        if len(accessories) >= wanted:
            break
        kind = str(kind)
        if kind == "cap" and hair_style in ("bun", "bald"):
            continue
        if kind == "belt" and top_kind in ("coat", "hoodie", "jacket"):
            continue
        if kind == "scarf" and top_kind in ("tank top",):
            continue
        behind = [HAIR_COLORS[hair_color]] if kind == "cap" else top_rgbs
        accessories.append(Item(kind, _contrasting(rng, _ACCESSORY_COLORS[kind], behind)))
    order = {k: i for i, k in enumerate(ACCESSORY_KINDS)}
    accessories.sort(key=lambda a: order[a.kind])

    return Person(
        pid=pid,
        gender=gender,
        skin=int(rng.integers(len(SKIN_TONES))),
        hair_color=hair_color,
        hair_style=hair_style,
        top=top,
        bottom=bottom,
        shoes=shoes,
        bag=bag,
        side=side,
        accessories=tuple(accessories),
        n_images=int(rng.choice((2, 3, 4), p=(0.3, 0.45, 0.25))),
    )


def sample_shot(seed: int, person: Person, index: int) -> Shot:
    """Draw the pose and scene of one photo; depends only on (seed, pid, index)."""
    rng = np.random.default_rng([seed, person.pid, 2, index])
    suitcase = person.bag is not None and person.bag.kind == "suitcase"
    height = float(rng.uniform(0.62, 0.70) if suitcase else rng.uniform(0.76, 0.90))
    feet = float(rng.uniform(max(0.93, height + 0.03), 0.985))
    center = float(0.5 + rng.uniform(-0.05, 0.05))
    return Shot(
        height=round(height, 4),
        center=round(center, 4),
        feet=round(feet, 4),
        stride=round(float(rng.uniform(4, 26)), 2),
        knee_bend=round(float(rng.uniform(0, 14)), 2),
        arm_left=round(float(rng.uniform(2, 12)), 2),
        arm_right=round(float(rng.uniform(2, 12)), 2),
        facing=int(rng.integers(-1, 2)),
        wall=_pick(rng, WALL_TEXTURES),
        wall_color=int(rng.integers(len(WALL_COLORS))),
        ground=_pick(rng, GROUND_TEXTURES),
        ground_color=int(rng.integers(len(GROUND_COLORS))),
        horizon=round(float(rng.uniform(0.42, 0.72)), 4),
        blur=round(float(rng.uniform(0.0, 0.7)), 3),
        noise=round(float(rng.uniform(1.0, 4.0)), 3),
        brightness=round(float(rng.uniform(0.95, 1.05)), 4),
        seed=int(rng.integers(2**31)),
    )
