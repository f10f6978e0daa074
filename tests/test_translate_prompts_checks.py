"""Prompts render what the models must see; output checks clean what is safe and flag the rest."""

from __future__ import annotations

import base64

import pytest

from tipr_bench.core.errors import UserError
from tipr_bench.core.languages import get_language
from tipr_bench.translate.checks import check_output
from tipr_bench.translate.cost import count_tokens, estimate, message_tokens
from tipr_bench.translate.prompts import EXAMPLES, PRESETS, get_prompt

SOURCE = "A woman wearing a red jacket and black trousers, carrying a white bag on her left shoulder."
ZH = "一个穿着红色夹克和黑色裤子的女人，左肩背着一个白色的包。"


def test_ldat_prompt_is_the_published_one_verbatim():
    messages = get_prompt("ldat").render("A man in a red coat.", "zh")
    assert messages == [{"role": "user", "content":
                         "Please translate the English sentence 'A man in a red coat.' into Chinese."}]


def test_every_preset_has_a_distinct_stable_sha():
    shas = {p.sha256 for p in PRESETS.values()}
    assert len(shas) == len(PRESETS) and all(len(s) == 64 for s in shas)
    assert get_prompt("ldat").sha256 == get_prompt("ldat").sha256


def test_glossary_prompt_carries_the_terms():
    text = get_prompt("glossary").render(SOURCE, "zh", terms="red -> 红色; jacket -> 夹克")[0]["content"]
    assert text.startswith("Please translate the English sentence") and "red -> 红色; jacket -> 夹克" in text


@pytest.mark.parametrize("code", ["zh", "fr", "de", "ja", "ko", "es", "ru", "it", "pt", "ar"])
def test_fewshot_has_an_example_in_the_target_language_and_stops_at_newline(code):
    prompt = get_prompt("fewshot")
    text = prompt.render(SOURCE, code)[0]["content"]
    name = get_language(code).name
    assert EXAMPLES[code] in text and text.endswith(f"\n{name}:")
    assert prompt.stop == ("\n",)
    assert text.splitlines()[-2] == f"English: {SOURCE}"


def test_fewshot_back_translation_uses_the_source_language():
    text = get_prompt("fewshot").render(ZH, "en", source_lang="zh")[0]["content"]
    assert text.startswith("Translate Chinese to English.") and text.endswith("English:")


def test_user_template_file(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("Render '{source}' in {language}, please.", encoding="utf-8")
    prompt = get_prompt(path)
    assert prompt.id == "file:mine.txt"
    assert prompt.render("hi there", "fr")[0]["content"] == "Render 'hi there' in French, please."
    path.write_text("No fields here", encoding="utf-8")
    with pytest.raises(UserError, match=r"lacks \{language\}, \{source\}"):
        get_prompt(path)
    with pytest.raises(UserError, match="unknown prompt"):
        get_prompt(tmp_path / "missing.txt")


def test_image_job_becomes_a_multimodal_message(tmp_path):
    image = tmp_path / "p.png"
    image.write_bytes(b"\x89PNG fake bytes")
    content = get_prompt("ldat").render(SOURCE, "zh", image)[0]["content"]
    assert content[0]["type"] == "text" and "Chinese" in content[0]["text"]
    url = content[1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,") and base64.b64decode(url.split(",", 1)[1]) == image.read_bytes()


@pytest.mark.parametrize(("raw", "text", "reason"), [
    (f"\u201c{ZH}\u201d", ZH, "cleaned: quotes"),
    (f'"{ZH}"', ZH, "cleaned: quotes"),
    (f"Sure! Here is the translation:\n{ZH}", ZH, "cleaned: chatter"),
    (f"Here is the Chinese translation of the sentence: {ZH}", ZH, "cleaned: chatter"),
    (f"Translation: {ZH}", ZH, "cleaned: chatter"),
    (f"{ZH}\n\nNote: I kept the colours.", ZH, "cleaned: note"),
    (f"  {ZH}  ", ZH, ""),
])
def test_safe_cleaning(raw, text, reason):
    result = check_output(SOURCE, raw, "zh")
    assert (result.text, result.status, result.reason) == (text, "ok", reason)


@pytest.mark.parametrize(("raw", "lang", "finish", "reason"), [
    (SOURCE, "zh", "stop", "echo of the source"),
    (SOURCE.upper(), "fr", "stop", "echo of the source"),
    ("Une femme portant une veste rouge et un pantalon noir, avec un sac blanc.", "zh", "stop", "wrong script"),
    (ZH, "fr", "stop", "wrong script"),
    ("一个穿着红色夹克和黑色裤子的女人，左肩背着一个白色的包。", "ja", "stop", "no kana"),
    (ZH[:4], "zh", "stop", "length ratio"),
    (ZH * 6, "zh", "stop", "length ratio"),
    (ZH[:10], "zh", "length", "truncated"),
    (f"{ZH}\n{ZH}", "zh", "stop", "several lines"),
    (EXAMPLES["zh"], "zh", "stop", "copy of the few-shot example"),
])
def test_flagged_outputs(raw, lang, finish, reason):
    result = check_output(SOURCE, raw, lang, finish)
    assert result.status == "flagged" and reason in result.reason


@pytest.mark.parametrize("raw", ["", "  \n ", '""', "Translation: “”"])
def test_an_empty_answer_is_a_failure_not_a_translation(raw):
    result = check_output(SOURCE, raw, "zh")
    assert (result.text, result.status) == ("", "failed") and "empty output" in result.reason


def test_good_outputs_in_other_scripts_pass():
    assert check_output(SOURCE, "Une femme portant une veste rouge et un pantalon noir, avec un sac blanc "
                                "sur l'épaule gauche.", "fr").status == "ok"
    assert check_output(SOURCE, "Женщина в красной куртке и чёрных брюках с белой сумкой на левом плече.",
                        "ru").status == "ok"
    ja = "赤いジャケットと黒いズボンを着て、左肩に白いバッグを持っている女性。"
    assert check_output(SOURCE, ja, "ja").status == "ok"
    assert check_output(ZH, "A woman in a red jacket and black trousers with a white bag.", "en").status == "ok"


def test_token_estimates_are_plausible():
    assert 15 <= count_tokens(SOURCE) <= 25
    messages = get_prompt("ldat").render(SOURCE, "zh")
    assert message_tokens(messages) > count_tokens(SOURCE)
    est = estimate([(messages, SOURCE, 2)] * 3, price_in=1.0, price_out=2.0)
    assert est.requests == 3 and est.jobs == 6
    assert est.cost == pytest.approx(est.tokens_in / 1e6 + 2 * est.tokens_out / 1e6)


def test_fewshot_retries_use_the_two_example_form_and_chat_prompts_the_strict_one():
    from tipr_bench.translate.prompts import EXAMPLES2, retry_prompt_for

    retry = retry_prompt_for(get_prompt("fewshot"))
    text = retry.render(SOURCE, "de")[0]["content"]
    assert retry.id == "fewshot-strict" and retry.stop == ("\n",)
    assert EXAMPLES["de"] in text and EXAMPLES2["de"] in text and text.endswith("\nGerman:")
    assert retry_prompt_for(get_prompt("ldat")).id == "strict"
    assert check_output(SOURCE, EXAMPLES2["zh"], "zh").reason == "copy of the few-shot example"
