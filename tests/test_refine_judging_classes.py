"""Refine on translations as a strong translator writes them: each false-flag class stays unflagged,
each must-catch error kind is flagged. The sentences are the tests' own (the QA dev set is licensed
for research only); `bench/refine_quality.py` measures the same code on real captions."""

from __future__ import annotations

import pytest

from tipr_bench.benchmark.records import ReasonKind
from tipr_bench.refine.attribute_checks import compare_texts
from tipr_bench.refine.backtranslate import BackTranslation
from tipr_bench.refine.glossary_files import load_glossary
from tipr_bench.refine.judge import Item, Judge
from tipr_bench.refine.verdict import Thresholds


@pytest.fixture(scope="module")
def judges() -> dict[str, Judge]:
    return {lang: Judge(None, lang, None, load_glossary(lang), None, Thresholds(qe_theta=1.0), progress=False)
            for lang in ("zh", "fr", "de")}


def judge(judges, lang: str, source: str, translation: str, back: str):
    return judges[lang].assess_item(Item(source, source, translation), BackTranslation(back), None)


# (lang, English source, correct translation, natural back-translation): none of these may be flagged
CORRECT = {
    "colour suffix and noun phrase share one span (dark colored pants -> 深色长裤)": (
        "zh", "A man in dark colored long pants and a white shirt.", "一名男子穿着深色长裤和白色衬衫。",
        "A man wearing dark trousers and a white shirt."),
    "position, not the garment top": (
        "zh", "A woman with sunglasses on top of her head, wearing a red coat.",
        "一名女子头顶上架着墨镜，身穿红色外套。",
        "A woman with sunglasses pushed up on her head, in a red coat."),
    "dress as a modifier (dress shoes)": (
        "zh", "He wears black dress shoes and grey slacks.", "他穿着黑色正装皮鞋和灰色西裤。",
        "He has on black formal leather shoes and grey suit trousers."),
    "German adjective that drops its e (dunkel -> dunkle)": (
        "de", "A man in dark pants and a yellow shirt.", "Ein Mann in einer dunklen Hose und einem gelben Hemd.",
        "A man in dark trousers and a yellow shirt."),
    "German compound holding two terms (Kapuzenjacke)": (
        "de", "A girl wearing a jacket with a hood and blue jeans.",
        "Ein Mädchen in einer Kapuzenjacke und blauen Jeans.", "A girl in a hooded jacket and blue jeans."),
    "German compound of a modifier and its garment (Faltenrock)": (
        "de", "A woman wearing a pleated skirt and white sneakers.",
        "Eine Frau in einem Faltenrock und weißen Sneakern.", "A woman in a pleated skirt and white sneakers."),
    "a hypernym resolved to a gendered noun (the person -> die Frau)": (
        "de", "The person is wearing a green dress and black boots.",
        "Die Frau trägt ein grünes Kleid und schwarze Stiefel.", "The woman wears a green dress and black boots."),
    "French colour suffix (light colored -> clair)": (
        "fr", "She wears a light colored blouse and a black skirt.", "Elle porte un chemisier clair et une jupe noire.",
        "She wears a light blouse and a black skirt."),
    "back-translation says it with another glossary word of the same target (trousers for pants)": (
        "zh", "The boy has blue pants and a backpack.", "男孩穿着蓝色裤子，背着双肩包。",
        "The boy wears blue trousers and carries a backpack."),
}


@pytest.mark.parametrize("case", sorted(CORRECT))
def test_a_correct_translation_is_not_flagged(judges, case):
    lang, source, translation, back = CORRECT[case]
    a = judge(judges, lang, source, translation, back)
    assert a.verdict == "ok", [str(r) for r in a.reasons]


def test_an_unconfirmed_miss_is_soft_and_reported(judges):
    """The translation lacks the approved term, but its back-translation still says it: no flag."""
    a = judge(judges, "zh", "A man in white sneakers.", "一名男子穿着白色旅游鞋。", "A man in white sneakers.")
    assert a.verdict == "ok"
    assert [r.term for r in a.soft_misses] == ["sneaker"]
    assert a.terms_missed == ("sneaker",)


def test_glasses_named_two_ways_are_the_same_item():
    assert compare_texts("A man with black eyeglass frames.", "A man with black-framed glasses.") == []


# (lang, English source, translation with one error, its back-translation, the reason kind expected)
WRONG = {
    "colour": ("zh", "A woman in a grey coat and black boots.", "一名女子穿着红色外套和黑色靴子。",
               "A woman in a red coat and black boots.", ReasonKind.ATTRIBUTE),
    "garment in the same body region": ("zh", "A man in black pants and a white shirt.",
                                        "一名男子穿着黑色短裤和白色衬衫。", "A man in black shorts and a white shirt.",
                                        ReasonKind.ATTRIBUTE),
    "garment swap within a group (boots -> sneakers)": (
        "de", "A woman in black boots and a red coat.", "Eine Frau in schwarzen Sneakern und einem roten Mantel.",
        "A woman in black sneakers and a red coat.", ReasonKind.MISSED_TERM),
    "drop": ("fr", "A man with a blue backpack and a white shirt.", "Un homme avec une chemise blanche.",
             "A man with a white shirt.", ReasonKind.ATTRIBUTE),
    "gender": ("de", "A man in a blue jacket.", "Eine Frau in einer blauen Jacke.", "A woman in a blue jacket.",
               ReasonKind.ATTRIBUTE),
    "side": ("fr", "She holds a bag in her left hand.", "Elle tient un sac dans sa main droite.",
             "She holds a bag in her right hand.", ReasonKind.ATTRIBUTE),
    "count": ("zh", "He carries a bag on his shoulder.", "他肩上背着两个包。", "He carries two bags on his shoulder.",
              ReasonKind.ATTRIBUTE),
    "added pattern": ("de", "A man in a white shirt.", "Ein Mann in einem weiß gestreiften Hemd.",
                      "A man in a white striped shirt.", ReasonKind.ATTRIBUTE),
    "changed pattern": ("zh", "A girl in a striped dress.", "一个穿格子连衣裙的女孩。", "A girl in a plaid dress.",
                        ReasonKind.ATTRIBUTE),
    "known wrong rendering": ("zh", "A man in black pants.", "一个穿黑色内裤的男人。", "A man in black pants.",
                              ReasonKind.WRONG_TERM),
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_a_translation_with_one_error_is_flagged(judges, case):
    lang, source, translation, back, kind = WRONG[case]
    a = judge(judges, lang, source, translation, back)
    assert a.verdict == "flagged", [str(r) for r in a.reasons]
    assert kind in {r.kind for r in a.reasons if r.flags}, [str(r) for r in a.reasons]


def test_a_confirmed_miss_names_what_confirmed_it(judges):
    a = judge(judges, "de", "A woman in black boots.", "Eine Frau in schwarzen Sneakern.",
              "A woman in black sneakers.")
    (miss,) = [r for r in a.reasons if r.kind is ReasonKind.MISSED_TERM]
    assert (miss.term, miss.target_span, miss.confirmed_by) == ("boot", "Stiefel", "the back-translation lacks it too")
    assert str(miss) == "missed term: Stiefel (boot) [the back-translation lacks it too]"


def test_term_metric_signature_names_glossary_and_matcher():
    g = load_glossary("zh")
    assert g.signature.startswith(f"lang:zh|glossary:{g.version}|matcher:")
