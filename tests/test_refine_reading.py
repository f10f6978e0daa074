"""The structured reading and its slot-by-slot comparison, one class of English at a time.

Every sentence here is made up for the test. Each error class has twins that must be named with their
kind, and faithful rewordings (synonyms, reordered clauses, a slot left unsaid) that must not be."""

from __future__ import annotations

import pytest

from tipr_bench.refine.attribute_checks import compare_texts
from tipr_bench.refine.reading import compatible, read
from tipr_bench.refine.shades import ShadeMatch, compare_shades, shade


def kinds(source: str, back: str) -> list[str]:
    return [issue.kind for issue in compare_texts(source, back)]


# (source, back-translation with one subtle error, the kind it must be named as)
ERRORS = {
    "side: hand": ("A man holds a red cup in his left hand.", "A man holds a red cup in his right hand.", "side"),
    "count: both hands to one": ("The girl walks with her hands in her coat pockets.",
                                 "The girl walks with one hand in her coat pocket.", "count"),
    "count: a sheet to several": ("A lady carries a sheet of paper and a green umbrella.",
                                  "A lady carries several sheets of paper and a green umbrella.", "count"),
    "count: three to two": ("His jacket has three white badges on the sleeve.",
                            "His jacket has two white badges on the sleeve.", "count"),
    "material: leather to suede-free cloth": ("A woman in a brown leather skirt and boots.",
                                              "A woman in a brown corduroy skirt and boots.", "material"),
    "material: jeans read back as linen": ("He wears grey jeans and a blue cap.",
                                           "He wears grey linen trousers and a blue cap.", "material"),
    "length: sleeves": ("A boy in a long sleeved yellow shirt.", "A boy in a short-sleeved yellow shirt.", "sleeves"),
    "length: skirt": ("She has on a long plaid skirt.", "She has on a short plaid skirt.", "length"),
    "length: hair as a predicate": ("The woman has long hair and a red bag.",
                                    "The woman's hair is short and she has a red bag.", "length"),
    "length: above and below the knee": ("A girl in a grey dress that reaches below her knees.",
                                         "A girl in a grey dress that stops above her knees.", "length"),
    "shade: navy to black": ("A man in a navy sweater.", "A man in a black sweater.", "colour"),
    "shade: maroon is not red": ("A man with a red scarf.", "A man with a maroon scarf.", "shade"),
    "shade: light to dark of one hue": ("She wears a light green coat.", "She wears a dark green coat.", "shade"),
    "shade: brown is not beige": ("A person in brown boots.", "A person in beige boots.", "shade"),
    "near garment: dress to skirt": ("A woman in a yellow dress.", "A woman in a yellow skirt.", "garment"),
    "near garment: tie to bow tie": ("A man in a suit with a red tie.", "A man in a suit with a red bow tie.",
                                     "garment"),
    "near garment: backpack to shoulder bag": ("He carries a blue backpack.", "He carries a blue messenger bag.",
                                               "garment"),
    "near garment: t-shirt to tank top": ("A man in a white t-shirt.", "A man in a white tank top.", "garment"),
    "added: heels": ("A woman in black shoes and a white dress.", "A woman in black high heels and a white dress.",
                     "added detail"),
    "added: material": ("A man in a grey jacket.", "A man in a grey leather jacket.", "added detail"),
    "added: hood": ("A girl in a pink sweatshirt.", "A girl in a pink hooded sweatshirt.", "added detail"),
    "added: fit": ("A man in blue jeans.", "A man in tight blue jeans.", "added detail"),
    "gender: one pronoun": ("The woman wears a coat. She carries a bag.", "The woman wears a coat. He carries a bag.",
                            "gender"),
    "possession: worn to held": ("A man wearing a grey cap.", "A man holding a grey cap.", "possession"),
    "possession: hand to shoulder": ("She holds a white bag in her hand.", "She has a white bag over her shoulder.",
                                     "possession"),
    "possession: backpack on the back to the hand": ("A boy with a green backpack.",
                                                     "A boy with a green backpack in his hand.", "possession"),
    "possession: phone at the ear to the hand": ("A man holding his phone to his ear.",
                                                 "A man holding his phone in his hand.", "possession"),
    "negation: with to without": ("A man wearing sunglasses and a cap.", "A man without sunglasses, in a cap.",
                                  "negation"),
    "negation: without to with": ("A barefoot boy in red shorts.", "A boy in red shorts with shoes on.", "negation"),
    "negation: a feature": ("A woman in a shirt without a collar.", "A woman in a shirt with a collar.", "negation"),
    "negation: sleeveless to sleeves": ("A girl in a sleeveless top.", "A girl in a top with sleeves.", "negation"),
    "negation: tucked in": ("A man with his shirt tucked in.", "A man with his shirt not tucked in.", "negation"),
    "count: one glove": ("A girl wearing one glove.", "A girl wearing gloves.", "count"),
    "possession: carried over the arm to worn": ("A woman holding a coat over her arm.", "A woman wearing a coat.",
                                                 "possession"),
    "fit: baggy to skinny": ("A man in baggy jeans.", "A man in skinny jeans.", "fit"),
    "material: denim to cotton": ("A man in a denim shirt.", "A man in a cotton shirt.", "material"),
    "possession: tied around the waist is not worn": ("A woman with a jacket tied around her waist.",
                                                      "A woman wearing a jacket.", "possession"),
    "possession: sunglasses pushed up on the head": ("A man with sunglasses on his head.",
                                                     "A man wearing sunglasses.", "possession"),
    "possession: around the neck to the hand": ("He has a camera around his neck.", "He has a camera in his hand.",
                                                "possession"),
    "added: pockets": ("A man in black shorts.", "A man in black shorts with pockets.", "added detail"),
    "negation: no logo to a logo": ("A man in a t-shirt with no logo.", "A man in a t-shirt with a logo.",
                                    "negation"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_a_subtle_error_is_named_by_its_kind(case):
    source, back, kind = ERRORS[case]
    assert kind in kinds(source, back), [str(i) for i in compare_texts(source, back)]


# (source, a faithful back-translation in other words): nothing may be named
FAITHFUL = {
    "synonyms": ("A man wearing a grey hoodie, black pants and sneakers, with a purse.",
                 "A man in a gray hooded sweatshirt, black trousers and trainers, with a handbag."),
    "a general word for a specific one": ("A woman in a red t-shirt carrying a backpack.",
                                          "A woman in a red shirt carrying a bag."),
    "a slot left unsaid": ("A man in a long sleeved navy leather jacket, holding an umbrella in his left hand.",
                           "A man in a navy jacket, with an umbrella in his left hand."),
    "a near shade the source may have meant": ("A woman in a dark blue coat and tan boots.",
                                               "A woman in a navy coat and light brown boots."),
    "reordered clauses and a pronoun": ("The woman carries a black bag on her shoulder and wears jeans.",
                                        "Wearing jeans, she has a black bag over her shoulder."),
    "a garment named twice in one phrase": ("She wears capri denim pants and a tee.",
                                            "She wears denim capris and a T-shirt."),
    "a negated feature inside the noun phrase": ("A man in a no-sleeve blue shirt.",
                                                 "A man in a sleeveless blue shirt."),
    "backpack worn on both shoulders": ("A boy with a backpack over both shoulders.",
                                        "A boy carrying a backpack on his back."),
    "a predicate colour": ("Her shirt is yellow and her shorts are white.",
                           "She wears a yellow shirt and white shorts."),
    "carried gloves are not worn": ("A woman carries a folder and dark gloves.",
                                    "A woman holding a folder and a pair of dark gloves."),
    "hands counted the same": ("He has both hands in his pockets.", "He has his hands in his pockets."),
    "lines read back as stripes": ("A shirt with horizontal blue lines.", "A shirt with horizontal blue stripes."),
    "a number the target language does not mark": ("A man with his hands in his pockets.",
                                                   "A man with his hand in his pocket."),
    "a named shade read back as its basic colour": ("A woman in tan pants.", "A woman in brown trousers."),
    "over the shoulder is across the body": ("The man carries a black bag over his shoulder.",
                                             "The man has a black bag slung across his body."),
    "a backpack worn is on the back": ("A woman wearing a backpack and jeans.",
                                       "A woman with a backpack on her back, in jeans."),
    "a scarf worn around the neck": ("The girl has a pink scarf around her neck.", "The girl wears a pink scarf."),
    "a bag in each hand": ("A man with a bag in each hand.", "A man holding a bag in both hands."),
    "a specific word, reordered": ("He is wearing a cap and holding a phone.",
                                   "He has a cap on and a mobile phone in his hand."),
    "a place after another noun is that noun's": ("A woman in a dark dress with a ribbon around her waist.",
                                                  "A woman in a dark dress, a ribbon tied at her waist."),
    "a pattern takes the colours before it": ("A man in a shirt with red and white stripes and black shorts.",
                                              "A man in a red-and-white striped shirt with black shorts."),
    "a place after a feature is the feature's": ("A boy in a red hoodie with the hood up.",
                                                 "A boy in a red hoodie with the hood on his head."),
}


@pytest.mark.parametrize("case", sorted(FAITHFUL))
def test_a_faithful_rewording_is_not_named(case):
    source, back = FAITHFUL[case]
    assert compare_texts(source, back) == []


def test_reading_keeps_each_slot():
    reading = read("She is not wearing a hat. She carries a small tan leather purse over her left shoulder and "
                   "wears a long sleeved knee length dress.")
    hat, purse, dress = reading.mentions
    assert hat.negated and hat.species == "hat"
    assert (purse.species, purse.colours, purse.materials, purse.size, purse.places) == (
        "handbag", [("tan", "")], {"leather"}, "small", {"shoulder"})
    assert (dress.sleeves, dress.length) == ("long", "knee")
    assert {g for g, _ in reading.genders} == {"female"}


def test_the_hierarchy_allows_general_and_specific_words_only():
    assert compatible("jeans", "pants") and compatible("bag", "backpack") and compatible("clothing", "dress")
    assert not compatible("dress", "skirt") and not compatible("jacket", "coat")
    assert not compatible("backpack", "shoulder bag")


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("navy", "", ShadeMatch.NEAR), ("blue", "", ShadeMatch.NEAR),  # against "dark blue"
])
def test_shades_against_dark_blue(a, b, expected):
    assert compare_shades(shade("blue", "dark"), shade(a, b)) is expected


def test_shades_decide_each_pair():
    assert compare_shades(shade("red"), shade("maroon")) is ShadeMatch.DIFFERENT
    assert compare_shades(shade("maroon"), shade("burgundy")) is ShadeMatch.SAME
    assert compare_shades(shade("grey"), shade("gray")) is ShadeMatch.SAME
    assert compare_shades(shade("blue", "light"), shade("blue", "dark")) is ShadeMatch.DIFFERENT
    assert compare_shades(shade("blue", "bright"), shade("blue", "light")) is ShadeMatch.DIFFERENT
    assert compare_shades(shade("tan"), shade("beige")) is ShadeMatch.NEAR
    assert compare_shades(shade("black"), shade("navy")) is ShadeMatch.DIFFERENT


def test_the_reason_names_kind_and_both_spans():
    (issue,) = compare_texts("A man in a red scarf.", "A man in a maroon scarf.")
    reason = issue.reason()
    assert (issue.kind, reason.term, reason.source_span) == ("shade", "scarf", "red")
    assert reason.target_span.startswith("maroon") and "different colour" in str(reason)
