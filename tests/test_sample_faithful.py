"""The sample's images show what its captions say: pixel colours vs the palette, words vs attributes."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tipr_bench.sample import generate_sample
from tipr_bench.sample.appearance import (
    ACCESSORY_KINDS,
    BAG_KINDS,
    BOTTOM_KINDS,
    COLORS,
    HAIR_COLORS,
    HAIR_STYLES,
    PATTERNS,
    SHOE_KINDS,
    TOP_KINDS,
    Item,
    Person,
    sample_person,
)
from tipr_bench.sample.captions import tokens, word_count, write_captions

NAMES = list(COLORS)
PALETTE = np.array([COLORS[n] for n in NAMES], dtype=np.float32)
PATTERN_WORDS = {
    "striped": ("striped", "stripes"),
    "plaid": ("plaid",),
    "checked": ("checked", "checkered"),
    "floral": ("floral",),
    "dotted": ("dotted", "polka"),
}
NOUNS = {
    "pants": ("pants", "trousers"),
    "heels": ("heels",),
    "tank top": ("tank top",),
}
MAN_WORDS, WOMAN_WORDS = {"man", "guy", "male", "he", "his"}, {"woman", "lady", "female", "she", "her"}


def _item_from(data: dict | None) -> Item | None:
    return None if data is None else Item(**data)


def _person_from(data: dict) -> Person:
    return Person(
        **{
            **data,
            "top": _item_from(data["top"]),
            "bottom": _item_from(data["bottom"]),
            "shoes": _item_from(data["shoes"]),
            "bag": _item_from(data["bag"]),
            "accessories": tuple(Item(**a) for a in data["accessories"]),
        }
    )


def _colour_share(pixels: np.ndarray) -> list[tuple[str, float]]:
    """Palette names of a region's pixels, most frequent first, with their shares."""
    flat = pixels.reshape(-1, 3).astype(np.float32)
    nearest = ((flat[:, None, :] - PALETTE[None]) ** 2).sum(-1).argmin(-1)
    counts = Counter(NAMES[i] for i in nearest)
    return [(name, n / len(nearest)) for name, n in counts.most_common()]


def _crop(image: np.ndarray, box: list[int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    assert x1 - x0 >= 3 and y1 - y0 >= 3, box
    return image[y0:y1, x0:x1]


def _assert_fabric(share: list[tuple[str, float]], item: Item, where: str) -> None:
    if item.color2 is None:
        assert share[0][0] == item.color and share[0][1] >= 0.8, (where, item, share[:3])
    else:  # a pattern: its two colours dominate, the base one covering a large part
        assert {share[0][0], share[1][0]} == {item.color, item.color2}, (where, item, share[:3])
        assert dict(share)[item.color] >= 0.3, (where, item, share[:3])


def _has(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text) is not None


def _assert_caption_matches(caption: str, person: Person) -> None:
    text, words = caption.lower(), set(tokens(caption))
    said = {w for w in words if w in COLORS or w in HAIR_COLORS}
    worn = person.named_colors()
    hair = set() if person.hair_style == "bald" else {person.hair_color}
    assert worn <= said <= worn | hair, (caption, worn, hair)

    assert words & (MAN_WORDS if person.gender == "man" else WOMAN_WORDS), caption
    assert not words & (WOMAN_WORDS if person.gender == "man" else MAN_WORDS), caption

    items = [person.top, person.bottom, person.shoes, person.bag, *person.accessories]
    for item in (i for i in items if i is not None):
        assert any(_has(text, noun) for noun in NOUNS.get(item.kind, (item.kind,))), (caption, item.kind)
        if item.pattern != "plain":
            assert any(w in words for w in PATTERN_WORDS[item.pattern]), (caption, item.pattern)
    for pattern, pattern_words in PATTERN_WORDS.items():
        if pattern != person.top.pattern:
            assert not words & set(pattern_words), (caption, pattern)
    carried = {person.bag.kind} if person.bag else set()
    for kind in BAG_KINDS:
        if kind not in carried:
            assert not _has(text, kind), (caption, kind)
    for kind in ACCESSORY_KINDS:
        if person.accessory(kind) is None:
            assert not _has(text, kind), (caption, kind)
    for side in ("left", "right"):
        if side != person.side:
            assert side not in words, caption


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faithful") / "s"
    generate_sample(out, persons=14, seed=3, progress=False)
    return out


def test_garment_pixels_have_the_named_colours(sample):
    attributes = json.loads((sample / "attributes.json").read_text(encoding="utf-8"))
    checked_patterns = set()
    for file_path, entry in attributes.items():
        person = _person_from(entry["person"])
        image = np.asarray(Image.open(sample / "imgs" / file_path).convert("RGB"))
        regions = entry["regions"]
        _assert_fabric(_colour_share(_crop(image, regions["top"])), person.top, f"{file_path} top")
        below = person.bottom if person.bottom is not None else person.top  # a dress is both
        _assert_fabric(_colour_share(_crop(image, regions["bottom"])), below, f"{file_path} bottom")
        for shoe in ("left_shoe", "right_shoe"):
            share = dict(_colour_share(_crop(image, regions[shoe])))
            assert share.get(person.shoes.color, 0) >= 0.3, (file_path, shoe, person.shoes, share)
        checked_patterns.add(person.top.pattern)
    assert len(checked_patterns) >= 2  # the sample exercises patterned fabric, not only plain


def test_captions_in_the_sample_name_what_is_drawn(sample):
    attributes = json.loads((sample / "attributes.json").read_text(encoding="utf-8"))
    records = json.loads((sample / "reid_raw.json").read_text(encoding="utf-8"))
    for record in records:
        person = _person_from(attributes[record["file_path"]]["person"])
        assert person.pid == record["id"]
        for caption in record["captions"]:
            _assert_caption_matches(caption, person)


def test_captions_are_faithful_and_varied_over_many_people():
    openers, lengths = Counter(), []
    for pid in range(1, 301):
        person = sample_person(11, pid)
        for index in range(person.n_images):
            for caption in write_captions(person, 11, index):
                _assert_caption_matches(caption, person)
                lengths.append(word_count(caption))
                openers[" ".join(caption.split()[2:4])] += 1
    assert 20 <= min(lengths) and max(lengths) <= 40
    assert len(openers) >= 30  # many sentence shapes, not one template
    assert openers.most_common(1)[0][1] < 0.2 * len(lengths)


def test_every_vocabulary_entry_occurs():
    people = [sample_person(0, pid) for pid in range(1, 1001)]
    seen = Counter()
    for p in people:
        for item in (p.top, p.bottom, p.shoes, p.bag, *p.accessories):
            if item is not None:
                seen[item.kind] += 1
                seen[item.pattern] += 1
                seen.update(item.colors())
        seen[p.hair_style] += 1
    for word in (
        *COLORS,
        *TOP_KINDS,
        *BOTTOM_KINDS,
        *SHOE_KINDS,
        *BAG_KINDS,
        *ACCESSORY_KINDS,
        *PATTERNS,
        *HAIR_STYLES,
    ):
        assert seen[word] >= 3, word


def test_the_checks_catch_a_wrong_colour_or_garment(sample):
    attributes = json.loads((sample / "attributes.json").read_text(encoding="utf-8"))
    file_path, entry = next(iter(attributes.items()))
    person = _person_from(entry["person"])
    caption = write_captions(person, 3, 0)[0]
    other = next(c for c in COLORS if c not in person.named_colors() | {person.hair_color})
    with pytest.raises(AssertionError):
        _assert_caption_matches(caption.replace(person.top.color, other), person)
    wrong_top = "hoodie" if person.top.kind != "hoodie" else "coat"
    with pytest.raises(AssertionError):
        _assert_caption_matches(caption.replace(person.top.kind, wrong_top), person)
    image = np.asarray(Image.open(sample / "imgs" / file_path).convert("RGB"))
    repainted = Item(person.top.kind, other, person.top.pattern, person.top.color2)
    with pytest.raises(AssertionError):
        _assert_fabric(_colour_share(_crop(image, entry["regions"]["top"])), repainted, "top")
