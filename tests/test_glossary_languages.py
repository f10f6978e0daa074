"""The shipped es, ja, ko and ru glossaries and the grammar their matching needs: Spanish gender and
number agreement, Russian case and gender endings, Japanese spelling variants without spaces, Korean
particles and one-syllable words.

Every sentence here is written for these tests (no dataset captions)."""

from __future__ import annotations

import pytest

from tipr_bench.refine.glossary import Glossary, GlossaryEntry, term_match_rate, term_success_rate
from tipr_bench.refine.glossary_files import load_glossary
from tipr_bench.refine.inflection import fold, normalize_japanese, russian_forms, spanish_forms


@pytest.fixture(scope="module")
def glossaries() -> dict[str, Glossary]:
    return {lang: load_glossary(lang) for lang in ("es", "ja", "ko", "ru")}


def missed(g: Glossary, english: str, translation: str) -> tuple[str, ...]:
    return g.check(english, translation).missed


# -- Spanish ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("base, forms", [
    ("negro", {"negro", "negra", "negros", "negras"}),
    ("pantalon", {"pantalones"}),
    ("gris", {"grises"}),
    ("azul", {"azules"}),
    ("feliz", {"felices"}),
    ("bolso", {"bolsito"}),
    ("llevar", {"lleva", "llevan", "llevando", "llevado"}),
    ("vaqueros", {"vaquero", "vaqueros"}),  # a base written in the plural reaches the singular
])
def test_spanish_forms(base, forms):
    assert forms <= spanish_forms(base)


def test_spanish_agreement_and_plurals_match(glossaries):
    es = glossaries["es"]
    assert missed(es, "a woman in a black skirt and white shoes",
                  "Una mujer con una falda negra y zapatos blancos") == ()
    assert missed(es, "two men in grey pants", "Dos hombres con pantalones grises") == ()
    assert missed(es, "she has long hair", "Ella tiene el pelo negro largo") == ()  # gap inside a phrase


def test_spanish_shades_and_wrong_renderings(glossaries):
    es = glossaries["es"]
    assert es.check("a navy coat", "un abrigo azul marino").missed == ()
    navy = es.check("a navy coat", "un abrigo de la armada")
    assert navy.missed == ("navy",) and [w.found for w in navy.wrong_used] == ["armada"]
    vest = es.check("a man in a grey vest", "un hombre con un vestido gris")
    assert "vest" in vest.missed and [w.found for w in vest.wrong_used] == ["vestido"]


# -- Russian ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("base, forms", [
    ("чёрный", {"чёрный", "чёрная", "чёрное", "чёрные", "чёрной", "чёрных", "чёрным", "чёрную", "черного"}),
    ("синий", {"синяя", "синие", "синей", "синих", "синюю"}),
    ("куртка", {"куртки", "куртку", "курткой", "куртке", "курток"}),
    ("ребёнок", {"ребёнка", "ребёнком"}),
    ("туфли", {"туфель", "туфлях"}),
    ("брюки", {"брюк", "брюках", "брюками"}),
    ("носить", {"носит", "носят", "носил", "носила", "носящий"}),
])
def test_russian_forms(base, forms):
    assert {fold(f) for f in forms} <= russian_forms(fold(base))


def test_russian_cases_and_compound_shades_match(glossaries):
    ru = glossaries["ru"]
    assert missed(ru, "a man in a black jacket with a red backpack",
                  "Мужчина в чёрной куртке с красным рюкзаком") == ()
    assert missed(ru, "a woman in navy pants", "Женщина в тёмно-синих брюках") == ()
    assert missed(ru, "a woman in navy pants", "Женщина в темно-синих брюках") == ()  # е for ё
    assert missed(ru, "a girl with a white bag", "Девочка с белой сумкой") == ()
    assert missed(ru, "a girl with a white bag", "Девочка с белой шапкой") == ("bag",)


def test_russian_short_stems_do_not_match_longer_words(glossaries):
    ru = glossaries["ru"]
    assert "red" in missed(ru, "a red shirt", "Рубашка красивого покроя")  # красн- is not крас-ив-
    assert "hat" in missed(ru, "a hat", "Шляпник стоит")  # a noun with a suffix is another word


# -- Japanese -----------------------------------------------------------------------------------------


def test_japanese_spelling_folds():
    assert normalize_japanese("セーター") == normalize_japanese("セータ")
    assert normalize_japanese("ヴェスト") == normalize_japanese("ベスト")
    assert normalize_japanese("ｼｬﾂ") == normalize_japanese("シャツ")
    assert normalize_japanese("ベースボール・キャップ") == normalize_japanese("ベースボールキャップ")
    assert normalize_japanese("スーパー") != normalize_japanese("スパ")  # only a word-final mark goes


def test_japanese_terms_without_spaces(glossaries):
    ja = glossaries["ja"]
    assert missed(ja, "a man in a navy sweater and black pants", "紺色のセータと黒いズボンの男性") == ()
    assert missed(ja, "a man in a navy sweater and black pants", "ネイビーのセーターに黒のパンツを着た男性") == ()
    assert missed(ja, "a woman with a backpack", "リュックを背負った女性") == ()
    assert missed(ja, "a woman in a red t-shirt", "赤いＴシャツの女性") == ()  # full-width T
    assert missed(ja, "a woman in a red t-shirt", "赤いブラウスの女性") == ("t-shirt",)


def test_japanese_longer_term_owns_its_span(glossaries):
    ja = glossaries["ja"]
    # 水色 is light blue: the blue of a second garment is not hidden by it
    assert ja.check("a light blue shirt and blue shorts", "水色のシャツと黒い短パン").missed == ("blue",)


# -- Korean -------------------------------------------------------------------------------------------


def test_korean_particles_after_the_term(glossaries):
    ko = glossaries["ko"]
    for bag in ("가방을", "가방이", "가방에", "가방과"):
        assert "bag" not in missed(ko, "a man with a black bag", f"검은 {bag} 든 남자"), bag
    assert missed(ko, "a woman in a navy skirt", "남색 치마를 입은 여성") == ()


def test_korean_one_syllable_terms_are_words_of_their_own():
    g = Glossary("ko", [GlossaryEntry("strap", ("strap",), ("끈",), (), "detail"),
                        GlossaryEntry("cotton", ("cotton",), ("면",), (), "material")])
    assert g.check("a strap", "검은 끈이 달린 가방").met == ("strap",)
    assert g.check("a strap", "검은 끈, 가방").met == ("strap",)
    assert g.check("a strap", "끈적한 가방").met == ()  # 끈적 is sticky
    assert g.check("cotton", "면으로 된 셔츠").met == ("cotton",)
    assert g.check("cotton", "면접을 보러 가는 남자").met == ()  # 면접 is an interview


def test_korean_white_as_a_word_and_in_a_compound(glossaries):
    ko = glossaries["ko"]
    assert missed(ko, "white shoes", "흰 운동화") == ()
    assert missed(ko, "white shoes", "흰색 신발") == ()
    assert missed(ko, "a woman with white hair", "흰머리의 여성") == ()  # 흰 inside a word, listed whole
    assert missed(ko, "a man with black hair", "흑발의 남자") == ()  # 발 (髮) is the hair here


# -- the term metric ----------------------------------------------------------------------------------


def test_term_success_rate_counts_only_the_preferred_target(glossaries):
    es = glossaries["es"]
    pairs = [("a black jacket", "una chaqueta negra"), ("a black jacket", "una cazadora negra")]
    # both renderings are approved (term-match 4/4), but cazadora is not the dictionary's chaqueta
    assert term_match_rate(es.check(en, tr) for en, tr in pairs) == 1.0
    assert term_success_rate(es, pairs) == 0.75
    assert es.term_success("a black jacket", "una chaqueta negra") == (2, 2)
    assert term_success_rate(es, []) == 0.0


def test_every_new_glossary_prefers_a_plain_rendering(glossaries):
    """The first target goes into prompts as the house term: one literal form, never a gap pattern."""
    for g in glossaries.values():
        for e in g.entries:
            assert "…" not in e.targets[0] and "|" not in e.targets[0], (g.lang, e.term)


# -- whole captions: a correct translation meets every term that describes how the person looks ----------

CAPTION = ("A heavy-set man with short grey hair wears glasses, a dark green jacket and beige pants. He carries "
           "a black backpack and a red umbrella.")
TRANSLATIONS = {
    "es": "Un hombre corpulento de pelo corto canoso lleva gafas, una chaqueta verde oscuro y pantalones beis. "
          "Carga una mochila negra y un paraguas rojo.",
    "ja": "短い白髪のがっしりした男性が、眼鏡をかけ、深緑のジャケットにベージュのズボンをはいている。"
          "黒いリュックを背負い、赤い傘を持っている。",
    "ko": "짧은 회색 머리의 덩치 큰 남자가 안경을 쓰고 짙은 초록색 재킷에 베이지색 바지를 입고 있다. "
          "검은 백팩을 메고 빨간 우산을 들고 있다.",
    "ru": "Полный мужчина с короткими седыми волосами, в очках, тёмно-зелёной куртке и бежевых брюках. "
          "Несёт чёрный рюкзак и красный зонт.",
}


@pytest.mark.parametrize("lang", sorted(TRANSLATIONS))
def test_a_correct_translation_meets_every_term(glossaries, lang):
    check = glossaries[lang].check(CAPTION, TRANSLATIONS[lang])
    assert {"heavy-set", "short", "hair", "grey", "glasses", "dark green", "jacket", "beige", "pants", "black",
            "backpack", "red", "umbrella"} <= set(check.expected)
    assert check.missed == () and check.wrong_used == ()
