"""Glossary term matching on both sides, and the per-caption term metric.

Every sentence here is written for these tests (no dataset captions)."""

from __future__ import annotations

import pytest

from tipr_bench.refine.glossary import Glossary, GlossaryEntry, TermCheck, term_match_rate
from tipr_bench.refine.glossary_files import load_glossary
from tipr_bench.refine.inflection import english_verb_forms, french_forms, german_word_part


@pytest.fixture(scope="module")
def zh() -> Glossary:
    return load_glossary("zh")


@pytest.fixture(scope="module")
def fr() -> Glossary:
    return load_glossary("fr")


@pytest.fixture(scope="module")
def de() -> Glossary:
    return load_glossary("de")


def wrong_pairs(check) -> tuple[tuple[str, str], ...]:
    return tuple((w.term, w.found) for w in check.wrong_used)


def terms(g: Glossary, text: str) -> list[str]:
    return [m.term for m in g.find_terms(text)]


# -- English side -------------------------------------------------------------------------------------


def test_plurals_and_verb_inflection_reach_the_canonical_term(zh):
    assert terms(zh, "Two Shoes, one shoe") == ["two", "shoe", "shoe"]
    assert terms(zh, "She carries a bag; he carried bags while carrying boxes") == [
        "carry", "bag", "carry", "bag", "carry", "box",
    ]
    assert terms(zh, "he wore jeans, she wears a dress") == ["wear", "jeans", "wear", "dress"]
    assert terms(zh, "men and women and children with their feet") == ["man", "woman", "child", "foot"]


def test_nouns_do_not_take_verb_endings(zh):
    # `dressed` is the verb (wear), never the garment `dress`; `carried` is not a plural of anything.
    assert terms(zh, "dressed in a dress") == ["wear", "dress"]
    assert "dress" not in terms(zh, "a well dressed person")


def test_hyphen_space_joined_and_alias_variants(zh):
    for text in ("a t-shirt", "a T shirt", "a tshirt", "a tee", "a tee shirt", "two T-Shirts", "tshirts"):
        assert terms(zh, text)[-1] == "t-shirt", text
    assert terms(zh, "grey hair and gray hair") == ["grey", "hair", "grey", "hair"]
    assert terms(zh, "a short-sleeved top, short sleeve top, short sleeved top") == ["short-sleeved", "top"] * 3


def test_multiword_terms_win_longest_first_without_overlap(zh):
    found = zh.find_terms("A black tank top, dark blue jeans and a shoulder bag")
    assert [m.term for m in found] == ["black", "tank top", "dark blue", "jeans", "shoulder bag"]
    spans = [(m.start, m.end) for m in found]
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert [m.surface for m in found][1] == "tank top"
    # the plain words still match on their own
    assert terms(zh, "a top and a bag") == ["top", "bag"]


def test_offsets_surface_case_and_word_boundaries(zh):
    text = "That Hat is NOT a cap, the Capris are."
    found = zh.find_terms(text)
    assert [(m.term, m.surface) for m in found] == [("hat", "Hat"), ("cap", "cap"), ("capri pants", "Capris")]
    for m in found:
        assert text[m.start : m.end] == m.surface
    assert terms(zh, "that what chat") == []  # `hat` only as a whole word


def test_exact_form_beats_a_neighbours_inflection(zh):
    # `shorts` is its own garment, not the plural of the adjective `short`; same for glasses.
    assert terms(zh, "short shorts") == ["short", "shorts"]
    assert terms(zh, "glasses") == ["glasses"]


def test_render_terms_lists_each_term_once_with_its_preferred_target(zh):
    rendered = zh.render_terms(zh.find_terms("a red jacket over a red shirt"))
    assert rendered == "red -> 红色; jacket -> 夹克; shirt -> 衬衫"


def test_inflection_helpers():
    assert {"sitting", "sits", "sat"} <= english_verb_forms("sit")
    assert {"riding", "rides", "rode"} <= english_verb_forms("ride")
    assert {"noire", "noirs", "noires"} <= french_forms("noir")
    assert {"blanche", "longue", "longues"} <= french_forms("blanc") | french_forms("long")
    assert {"sportive", "beaux", "chevaux"} <= french_forms("sportif") | french_forms("beau") | french_forms("cheval")
    for word in ("schwarz", "schwarze", "schwarzen", "schwarzer", "schwarzes", "schwarzem"):
        assert german_word_part(word, "schwarz") == (0, len(word))
    assert german_word_part("rocke", "rock")  # Röcke, folded
    assert german_word_part("lederjacken", "jacke") == (5, 11) and german_word_part("lederjacke", "leder") == (0, 5)
    assert german_word_part("brot", "rot") is None and german_word_part("schwarzwald", "rot") is None


# -- target side --------------------------------------------------------------------------------------


def test_zh_substring_match_and_wrong_variants(zh):
    check = zh.check("A man wearing a navy jacket and black pants", "一个穿着海军夹克和黑色内裤的男人")
    assert check.expected == ("man", "wear", "navy", "jacket", "black", "pants")
    assert check.met == ("man", "wear", "jacket", "black")
    assert check.missed == ("navy", "pants")
    # 裤 inside the wrong 内裤 does not count as the approved 裤
    assert wrong_pairs(check) == (("navy", "海军"), ("pants", "内裤"))
    good = zh.check("A man wearing a navy jacket and black pants", "一个穿着藏青色夹克和黑色长裤的男人")
    assert good.missed == () and wrong_pairs(good) == ()


def test_zh_longer_term_claims_its_characters(zh):
    # 蓝 inside 深蓝 belongs to `dark blue`; the plain `blue` needs its own 蓝.
    dropped = zh.check("a dark blue coat and a blue skirt", "深蓝色大衣和一条裙子")
    assert dropped.missed == ("blue",)
    kept = zh.check("a dark blue coat and a blue skirt", "深蓝色大衣和一条蓝色裙子")
    assert kept.missed == ()


def test_gap_targets_leave_the_gap_to_other_terms(zh, fr, de):
    # short dark hair: 深色…发 finds dark hair around 短, which stays free for `short`
    assert zh.check("short dark hair", "深色短发").missed == ()
    assert zh.check("short dark hair", "深色的头发").missed == ("short",)
    assert fr.check("short dark hair", "les cheveux courts foncés").missed == ()
    assert fr.check("dark hair", "les cheveux très longs et foncés").missed == ("dark hair",)  # gap too wide
    assert de.check("long dark hair", "lange dunkle Haare").missed == ()


def test_fr_inflected_forms_are_met(fr):
    check = fr.check(
        "A woman wearing white shoes, a long black skirt and a grey jacket, carrying a backpack",
        "Une femme vêtue de chaussures blanches, d'une longue jupe noire et d'une veste grise, avec un sac à dos",
    )
    assert check.missed == ("carry",)
    assert set(check.met) == {"woman", "wear", "white", "shoe", "long", "black", "skirt", "grey", "jacket",
                              "backpack"}
    assert fr.check("a man carrying bags", "un homme qui portait des sacs").missed == ()


def test_fr_false_friends_are_reported(fr):
    check = fr.check("a maroon vest", "une veste marron")
    assert check.missed == ("maroon", "vest")
    assert wrong_pairs(check) == (("maroon", "marron"), ("vest", "veste"))
    assert fr.check("a maroon vest", "un gilet bordeaux").missed == ()
    # `sac` inside `sac à dos` is the backpack's, so a dropped bag is missed
    assert fr.check("a bag and a backpack", "un sac à dos").missed == ("bag",)
    assert fr.check("a bag and a backpack", "un sac et un sac à dos").missed == ()


def test_de_adjective_endings_plurals_umlauts_and_compounds(de):
    check = de.check(
        "black pants, white shirts, a red backpack, grey skirts and a leather jacket",
        "schwarze Hose, weiße Hemden, einen roten Rucksack, graue Röcke und eine Lederjacke",
    )
    assert check.missed == ()
    assert de.check("a jacket and a skirt", "eine Jeansjacke und ein Kleid").missed == ("skirt",)
    assert wrong_pairs(de.check("a top", "die Spitze")) == (("top", "Spitze"),)
    # one-word compounds: the longer approved form owns the word, over a wrong form or a shorter term
    assert de.check("a navy tank top", "ein marineblaues Tanktop").missed == ()
    assert wrong_pairs(de.check("a navy coat", "ein Mantel der Marine")) == (("navy", "Marine"),)
    assert de.check("a bag and a handbag", "eine Handtasche").missed == ("bag",)
    assert wrong_pairs(de.check("black pants", "schwarze Unterhose")) == (("pants", "Unterhose"),)


def test_de_forms_table_matches_and_non_matches():
    # adjectives in -el and -euer drop their e before an ending
    for word in ("dunkle", "dunklen", "dunkler", "dunkles", "dunklem", "dunkel"):
        assert german_word_part(word, "dunkel") == (0, len(word))
    assert german_word_part("teure", "teuer") == (0, 5)
    # compound parts are character spans, so two terms can own one word
    assert german_word_part("kapuzenjacke", "jacke") == (7, 12)
    assert german_word_part("kapuzenjacke", "kapuze") == (0, 6)
    # non-matches: a stem written with an adjective ending is never a compound part, short bases never are
    assert german_word_part("silbentrennung", "silber") is None
    assert german_word_part("dunkelheit", "dunkel") is not None and german_word_part("dunk", "dunkel") is None
    assert german_word_part("rotor", "rot") is None


def test_de_two_terms_share_a_compound_and_a_phrase_shares_a_span(de):
    assert de.check("a jacket with a hood", "eine Kapuzenjacke").missed == ()
    assert de.check("a pleated skirt", "ein Faltenrock").missed == ()
    assert de.check("dark pants", "eine dunkle Hose").missed == ()


def test_fr_forms_table_has_no_stray_forms():
    assert {"noire", "noirs", "noires"} <= french_forms("noir")
    assert "noirci" not in french_forms("noir") and "blanchi" not in french_forms("blanc")


def test_term_match_rate_pools_terms_over_captions():
    checks = [
        TermCheck(("a", "b"), ("a",), ("b",), ()),
        TermCheck(("c",), ("c",), (), ()),
        TermCheck((), (), (), ()),
    ]
    assert term_match_rate(checks) == pytest.approx(2 / 3)
    assert term_match_rate([]) == 0.0


def test_each_term_counts_once_per_caption(zh):
    check = zh.check("black shoes and black pants", "黑色的鞋子和裤子")
    assert check.expected == ("black", "shoe", "pants") and check.missed == ()


def test_other_language_uses_generic_word_matching():
    g = Glossary("pt", [GlossaryEntry("shoe", ("shoe",), ("sapato",), ("sapata",), "footwear")])
    assert g.check("two shoes", "dois sapatos").met == ("shoe",)
    assert wrong_pairs(g.check("two shoes", "duas sapatas")) == (("shoe", "sapata"),)


def test_zh_one_span_serves_its_noun_phrase_but_not_another(zh):
    assert zh.check("dark colored long pants", "深色长裤").missed == ()  # 色 and 长 belong to the phrase
    assert "colored" not in zh.check("dark colored long pants", "深色长裤").expected  # a colour suffix
    # 蓝 inside 深蓝 belongs to the first phrase: the blue jeans of the second are still missed
    assert zh.check("a dark blue jacket and blue shorts", "深蓝色夹克和黑色短裤").missed == ("blue",)


def test_english_senses_positions_and_modifiers(zh):
    on_top = zh.check("sunglasses on top of her head", "头顶上架着墨镜")
    assert "top" not in on_top.expected and on_top.wrong_used == ()
    assert "dress" not in zh.check("black dress shoes", "黑色正装皮鞋").expected
    assert "dress" in zh.check("a black dress and shoes", "黑色连衣裙和鞋子").expected
    assert "button" not in zh.check("a white button up shirt", "白色衬衫").expected  # a style of shirt
    assert "button" in zh.check("a shirt with a red button", "一件带红色纽扣的衬衫").expected


def test_terms_and_senses_stop_at_punctuation(zh):
    # a modifier reads its head only within the clause, and a two-word alias never spans a comma
    assert "dress" in zh.check("she wears a dress, socks are white", "她穿着连衣裙，袜子是白色的").expected
    assert "dress shoe" not in zh.check("a woman in a long dress, shoes are black", "一名女子").expected


def test_a_longer_term_of_the_back_translation_says_its_words(zh):
    assert zh.said_by("shoe", {"tennis shoe"}) and zh.said_by("black", {"black and white"})
    assert not zh.said_by("boot", {"sneaker"})
