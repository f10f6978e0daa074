"""The shipped glossary files and the user glossary merged over them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tipr_bench.core.errors import UserError
from tipr_bench.refine.glossary_files import SHIPPED_LANGUAGES, load_glossary, parse_glossary_tsv, shipped_glossary_path
from tipr_bench.refine.term_matching import EXACT, VERB_CATEGORIES, alias_token_variants

HEADER = "en\ttarget\twrong\tcategory\tnote\n"
DOMAIN_WORDS = (
    "t-shirt shirt blouse jacket coat hoodie sweater cardigan vest dress skirt pants trousers jeans shorts "
    "leggings suit uniform shoe sneaker boot sandal heel navy beige khaki maroon grey gray striped plaid floral "
    "checked denim leather hat cap glasses sunglasses scarf belt watch mask backpack handbag purse "
    "shoulder bag suitcase umbrella phone bottle ponytail bun bangs thin heavy-set walking standing man woman "
    "boy girl male female young elderly lady guy wearing carrying holding short-sleeved long-sleeved top bottom"
).split()


@pytest.mark.parametrize("lang", SHIPPED_LANGUAGES)
def test_shipped_glossary_has_300_terms_and_no_duplicate_spellings(lang):
    g = load_glossary(lang)
    assert len(g) >= 300
    exact: dict[tuple[str, ...], str] = {}
    for e in g.entries:
        assert e.targets and e.category, e.term
        assert "…" not in e.targets[0], f"{e.term}: the first target is shown in prompts, keep it literal"
        for alias in e.aliases:
            for tokens, rank in alias_token_variants(alias, e.category in VERB_CATEGORIES):
                if rank == EXACT:
                    assert exact.setdefault(tokens, e.term) == e.term, f"{alias!r} in {e.term} and {exact[tokens]}"


def wrong_pairs(check) -> tuple[tuple[str, str], ...]:
    return tuple((w.term, w.found) for w in check.wrong_used)


def test_shipped_languages_cover_the_same_english_terms_and_the_domain():
    terms = {lang: [e.term for e in load_glossary(lang).entries] for lang in SHIPPED_LANGUAGES}
    assert all(terms[lang] == terms["zh"] for lang in SHIPPED_LANGUAGES)
    zh = load_glossary("zh")
    for word in DOMAIN_WORDS:
        assert zh.find_terms(word), f"no entry matches {word!r}"


def test_version_is_stable_and_changes_with_content(tmp_path):
    assert load_glossary("zh").version == load_glossary("zh").version
    assert load_glossary("zh").version != load_glossary("fr").version
    user = tmp_path / "user.tsv"
    user.write_text(HEADER + "red\t朱红\n", encoding="utf-8")
    assert load_glossary("zh", user).version != load_glossary("zh").version


def test_user_glossary_wins_and_adds_terms(tmp_path):
    user = tmp_path / "user.tsv"
    user.write_text(
        "# my lab's conventions\n" + HEADER
        + "red\t朱红色|朱红\t红色\tcolour\tour house style\n"
        + "lanyard|badge strap\t工牌挂绳\t\taccessory\n"
        + "gilet\t马甲\n",
        encoding="utf-8",
    )
    shipped = load_glossary("zh")
    merged = load_glossary("zh", user)
    assert len(merged) == len(shipped) + 1  # red and lanyard replaced, gilet added
    red = next(e for e in merged.entries if e.term == "red")
    assert red.targets == ("朱红色", "朱红") and red.source == "user" and red.note == "our house style"
    assert merged.check("a red gilet", "朱红色马甲").missed == ()
    assert wrong_pairs(merged.check("a red gilet", "红色马甲")) == (("red", "红色"),)
    assert [m.term for m in merged.find_terms("a badge strap")] == ["lanyard"]
    assert shipped.check("a red coat", "红色外套").missed == ()


def test_user_alias_overrides_a_shipped_entry_that_spells_it(tmp_path):
    user = tmp_path / "user.tsv"
    user.write_text(HEADER + "tee|golf tee\t球座\n", encoding="utf-8")
    merged = load_glossary("zh", user)
    assert [m.term for m in merged.find_terms("a tee")] == ["tee"]
    assert [m.term for m in merged.find_terms("a t-shirt")] == ["t-shirt"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("red\t红\n", "user.tsv:1: expected the header line"),
        (HEADER + "red\n", "user.tsv:2: every entry needs an English term and at least one target"),
        (HEADER + "red\t红\t\tcolour\tnote\textra\n", "user.tsv:2: 6 tab-separated columns"),
        (HEADER + "red\t红\nRed\t赤\n", "user.tsv:3: 'red' is already defined on line 2"),
        ("# only a comment\n", "empty glossary"),
    ],
)
def test_bad_user_glossary_names_file_and_line(tmp_path, body, message):
    user = tmp_path / "user.tsv"
    user.write_text(body, encoding="utf-8")
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        load_glossary("zh", user)


def test_missing_files_and_languages_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_glossary("zh", tmp_path / "nope.tsv")
    with pytest.raises(UserError, match="no shipped glossary for 'it'"):
        load_glossary("it")
    with pytest.raises(UserError, match="unknown language"):
        load_glossary("xx")
    user = tmp_path / "it.tsv"
    user.write_text(HEADER + "shoe\tscarpa\n", encoding="utf-8")
    it = load_glossary("it", user)
    assert len(it) == 1 and it.check("black shoes", "scarpe nere").met == ()  # no Italian rules: generic forms
    assert it.check("black shoes", "una scarpa").met == ("shoe",)


def test_shipped_files_parse_on_their_own():
    for lang in SHIPPED_LANGUAGES:
        path: Path = shipped_glossary_path(lang)
        entries = parse_glossary_tsv(path.read_text(encoding="utf-8"), str(path), "shipped")
        assert {e.category for e in entries} >= {"garment", "footwear", "colour", "pattern", "material",
                                                  "accessory", "bag", "hair", "body", "person", "age"}
