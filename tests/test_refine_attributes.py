"""Attribute extraction and comparison on hand-made twins that differ by one attribute."""

from __future__ import annotations

import pytest

from tipr_bench.refine.attribute_checks import compare_texts, extract

SOURCE = ("The man is wearing a grey hooded sweater, brown pants, and black sneakers with white edges. "
          "His left foot is raised, and he is carrying a black backpack on his right shoulder.")
# a faithful back-translation in other words: synonyms, gray/grey, trousers/pants, hoodie/sweater
GOOD = ("The man wears a gray hoodie, brown trousers and black sneakers with white edges. His left foot is "
        "raised and he carries a black backpack on his right shoulder.")


def test_extract_reads_pairs_items_gender_sides():
    attrs = extract(SOURCE)
    pairs = {(p.colour, p.group) for p in attrs.colour_pairs}
    assert {("grey", "sweater"), ("brown", "pants"), ("black", "shoes"), ("black", "backpack")} <= pairs
    assert set(attrs.items) == {"backpack"}
    assert attrs.gender == "male" and attrs.gender_word == "man"
    assert set(attrs.sides) == {("left", "foot"), ("right", "shoulder")}


def test_predicate_colours_plurals_and_counts():
    attrs = extract("A woman carrying two bags. Her shirt is dark blue and her T-shirts are white.")
    assert {("blue", "shirt"), ("white", "shirt")} <= {(p.colour, p.group) for p in attrs.colour_pairs}
    assert attrs.counts == {"bag": 2}
    assert attrs.gender == "female"


def test_faithful_paraphrase_has_no_issues():
    assert compare_texts(SOURCE, GOOD) == []


@pytest.mark.parametrize(
    ("twin", "expected"),
    [
        (GOOD.replace("gray hoodie", "blue hoodie"), "colour of hooded sweater: grey -> blue"),
        (GOOD.replace("a black backpack", "something"), "missing item: backpack"),
        (GOOD.replace("The man", "The woman").replace("His", "Her").replace("he carries", "she carries")
         .replace("his right", "her right"), "gender: man -> woman"),
        (GOOD.replace("right shoulder", "left shoulder"), "side of shoulder: right -> left"),
        (GOOD.replace("black backpack", "black backpack and an umbrella"), "added item: umbrella"),
    ],
    ids=["colour swap", "dropped item", "gender", "left/right", "added item"],
)
def test_one_attribute_twins_are_named(twin, expected):
    issues = [str(i) for i in compare_texts(SOURCE, twin)]
    assert issues == [expected]


def test_colour_swap_between_garments_and_lost_colour():
    src = "A woman in a red jacket and blue jeans, with white shoes."
    swapped = [str(i) for i in compare_texts(src, "A woman in a blue jacket and red jeans, with white shoes.")]
    assert swapped == ["colour of jacket: red -> blue", "colour of jeans: blue -> red"]
    lost = [str(i) for i in compare_texts(src, "A woman in a jacket and blue jeans, with white shoes.")]
    assert lost == ["colour of jacket: red -> (none)"]


def test_generic_words_in_the_back_translation_are_tolerated():
    # a back-translation may say "bag" for a backpack or "mobile" for a cell phone
    src = "A man in a navy jacket carries a backpack and a cell phone."
    assert compare_texts(src, "A man in a dark blue jacket carries a bag and a mobile phone.") == []


def test_a_sibling_garment_is_a_near_garment():
    # a coat is not a jacket: a person in a short jacket is told apart from one in a long coat
    issues = [str(i) for i in compare_texts("A man in a navy jacket.", "A man in a navy coat.")]
    assert issues == ["garment: jacket -> coat"]


def test_counts_are_compared():
    issues = [str(i) for i in compare_texts("A man carrying two bags.", "A man carrying three bags.")]
    assert issues == ["count of bag: 2 -> 3"]
