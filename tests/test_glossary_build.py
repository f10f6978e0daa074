"""`tipr-bench glossary build` end to end against a real OpenAI-compatible server on 127.0.0.1: the
model's renderings, their back-check, the TSV a person reviews, the cache (a rerun sends nothing, a
failed term is asked again), the dry run, and the built file used with --glossary.

Every caption and every "Italian" answer here is written for these tests."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.openai_server import OpenAIServer, parse_prompt
from tests.support.translate_data import run_main
from tipr_bench.refine.glossary_build import TERM_PROMPT, english_terms, example_captions
from tipr_bench.refine.glossary_files import load_glossary, parse_glossary_tsv

CAPTIONS = [
    "A woman in a black coat and navy trousers walks past a bakery.",
    "The boy wears a black cap and carries a kimono in a paper bag.",
    "A man with a navy scarf holds a black umbrella.",
]
# what our make-believe model answers (a few real Italian words, and two deliberate slips)
ITALIAN = {"black": "nero", "coat": "cappotto", "navy": "blu", "kimono": "kimono", "trousers": "pantaloni",
           "scarf": "sciarpa"}
BACK = {"nero": "black", "cappotto": "coat", "blu": "blue", "kimono": "kimono", "pantaloni": "pants",
        "sciarpa": "scarf"}
TERM = re.compile(r"English (?P<cat>[a-z]+) term '(?P<term>[^']+)'")


def responder(body: dict) -> str:
    """Renders a term (unknown ones as term + `-it`), or back-translates a rendering."""
    text = next(m["content"] for m in body["messages"] if m["role"] == "user")
    found = TERM.search(text)
    if found:
        return ITALIAN.get(found["term"], found["term"] + "-it")
    source, language = parse_prompt(body)
    assert language == "English", text
    return BACK.get(source, source.removesuffix("-it"))


@pytest.fixture()
def server():
    with OpenAIServer(responder=responder) as s:
        yield s


def build(tmp_path, server, *extra, out="it.tsv"):
    captions = tmp_path / "captions.jsonl"
    captions.write_text("".join(json.dumps({"text": t}) + "\n" for t in CAPTIONS), encoding="utf-8")
    return run_main("glossary", "build", "--lang", "it", "--out", tmp_path / out, "--input", captions,
                    "--workspace", tmp_path / "ws", "--base-url", server.base_url, "--model", "test-model", *extra)


def rows(path) -> dict[str, list[str]]:
    return {line.split("\t")[0].split("|")[0]: line.split("\t") for line in path.read_text().splitlines()
            if line and not line.startswith("#")}


def test_build_renders_back_checks_and_writes_a_reviewable_glossary(tmp_path, server):
    done = build(tmp_path, server, "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    terms = len(english_terms())
    assert summary["terms"] == terms and summary["failed"] == 0
    assert server.request_count >= 2 * terms  # one rendering and one back-translation per term
    table = rows(tmp_path / "it.tsv")
    assert table["en"] == ["en", "target", "wrong", "category", "note", "check"]
    assert table["black"][1:4] == ["nero", "", "colour"] and table["black"][5].startswith("same:")
    assert table["navy"][1] == "blu" and table["navy"][5].startswith("other:") and "blue" in table["navy"][5]
    assert table["trousers"][5].startswith("synonym:")  # pants and trousers share their shipped renderings
    assert "echo of the source" in table["kimono"][5]  # the output checks' flag is kept for the reviewer
    assert table["man"][0] == "man|gentleman|guy"  # the English aliases come along
    # the request carried the category and two captions that use the term
    asked = [b for b in server.requests if "term 'navy'" in b["messages"][-1]["content"]][0]["messages"][-1]
    assert "colour term" in asked["content"] and CAPTIONS[0] in asked["content"] and CAPTIONS[2] in asked["content"]


def test_rerun_answers_from_the_cache_and_asks_again_only_for_failed_terms(tmp_path, server):
    failing = OpenAIServer(responder=lambda body: "" if "term 'coat'" in json.dumps(body) else responder(body))
    with failing:
        first = build(tmp_path, failing, "--json", out="first.tsv")
    assert first.returncode == 0, first.stderr
    assert "\n# coat\t" in (tmp_path / "first.tsv").read_text()  # no rendering: a line to fill in
    assert json.loads(first.stdout)["failed"] == 1
    again = build(tmp_path, server, "--json", out="second.tsv")
    assert again.returncode == 0, again.stderr
    # only the failed term and its back-translation were asked for
    assert server.request_count == 2 and {e["coat"][1] for e in [rows(tmp_path / "second.tsv")]} == {"cappotto"}
    assert build(tmp_path, server, out="third.tsv").returncode == 0 and server.request_count == 2


def test_dry_run_counts_tokens_and_cost_and_sends_nothing(tmp_path, server):
    dry = build(tmp_path, server, "--dry-run", "--price-in", "1", "--price-out", "2", "--json")
    assert dry.returncode == 0, dry.stderr
    estimate = json.loads(dry.stdout)
    assert estimate["requests"] == 2 * len(english_terms()) and estimate["cached"] == 0
    assert estimate["tokens_in"] > 0 and estimate["cost"] > 0 and server.request_count == 0
    assert not (tmp_path / "it.tsv").exists()
    assert build(tmp_path, server, "--json").returncode == 0
    after = json.loads(build(tmp_path, server, "--dry-run", "--json", out="other.tsv").stdout)
    assert after["requests"] == 0 and after["cached"] == len(english_terms())


def test_built_glossary_works_with_glossary_file_and_sets_the_signature(tmp_path, server):
    assert build(tmp_path, server).returncode == 0
    built = tmp_path / "it.tsv"
    italian = load_glossary("it", built)
    assert len(italian) == len(english_terms())
    assert italian.check("a black coat", "un cappotto nero").missed == ()
    assert f"lang:it|glossary:{italian.version}|" in italian.signature
    reviewed = tmp_path / "reviewed.tsv"
    reviewed.write_text(built.read_text().replace("\tblu\t", "\tblu scuro|blu navy\t"), encoding="utf-8")
    assert load_glossary("it", reviewed).signature != italian.signature
    # a built file merged over a shipped glossary changes that language's signature too
    assert load_glossary("es", built).signature != load_glossary("es").signature
    shown = run_main("glossary", "show", "--lang", "it", "--glossary", built, "--category", "colour", "--json")
    assert shown.returncode == 0 and any(e["term"] == "navy" for e in json.loads(shown.stdout)["entries"])


@pytest.mark.parametrize("args, message", [
    (["--lang", "en"], "--lang en"),
    (["--lang", "xx"], "unknown language"),
    (["--lang", "it", "--price-in", "-1"], "--price-in"),
])
def test_bad_options_are_one_line_and_send_nothing(tmp_path, server, args, message):
    done = run_main("glossary", "build", *args, "--out", tmp_path / "x.tsv", "--workspace", tmp_path / "ws",
                    "--base-url", server.base_url, "--model", "test-model")
    assert done.returncode == 2 and message in done.stderr and server.request_count == 0
    assert len(done.stderr.strip().splitlines()) == 1


def test_an_existing_out_file_is_never_overwritten(tmp_path, server):
    (tmp_path / "it.tsv").write_text("reviewed by a person\n")
    done = build(tmp_path, server)
    assert done.returncode == 2 and "exists" in done.stderr and server.request_count == 0
    assert (tmp_path / "it.tsv").read_text() == "reviewed by a person\n"


def test_examples_come_from_the_captions_that_use_the_term():
    found = example_captions(english_terms(), CAPTIONS)
    assert found["navy"] == [CAPTIONS[0], CAPTIONS[2]] and found["kimono"] == [CAPTIONS[1]]
    assert found["bicycle"] == []
    assert "{example1}" in TERM_PROMPT.template and "{category}" in TERM_PROMPT.template


def test_back_check_reads_the_terms_of_the_back_translation():
    from tipr_bench.refine.backtranslate import BackTranslation
    from tipr_bench.refine.glossary import Glossary
    from tipr_bench.refine.glossary_build import back_check

    entries = {e.term: e for e in english_terms()}
    english = Glossary("zh", list(entries.values()))
    kinds = {term: back_check(entries[term], BackTranslation(text), english).kind for term, text in [
        ("black and white", "white and black"), ("shoe", "tennis shoes"), ("trousers", "pants"),
        ("jacket", "the brown shirt"), ("backpack", "baggage"),
    ]}
    assert kinds == {"black and white": "same", "shoe": "same", "trousers": "synonym", "jacket": "other",
                     "backpack": "none"}
    assert back_check(entries["shoe"], BackTranslation(""), english).kind == "failed"


def test_check_column_is_read_and_ignored_but_a_seventh_column_is_refused():
    text = "en\ttarget\twrong\tcategory\tnote\tcheck\nblack\tnero\t\tcolour\t\tsame: fine\n"
    assert parse_glossary_tsv(text, "x.tsv", "user")[0].targets == ("nero",)
    with pytest.raises(Exception, match="at most 6"):
        parse_glossary_tsv(text.replace("same: fine", "same\textra"), "x.tsv", "user")


@pytest.mark.slow
def test_build_runs_on_a_local_base_model_in_batches(tmp_path):
    """The offline path (the bundled Gemma is a base model): a tiny local model, few-shot prompts,
    batches; whatever it answers, the file is written and loads as a glossary, and a rerun is cached."""
    from tests.support.translate_local_models import save_causal

    model = save_causal(tmp_path / "tiny")
    captions = tmp_path / "captions.jsonl"
    captions.write_text("".join(json.dumps({"text": t}) + "\n" for t in CAPTIONS), encoding="utf-8")
    args = ("glossary", "build", "--lang", "it", "--input", captions, "--workspace", tmp_path / "ws", "--model",
            model, "--device", "cpu", "--batch-size", "64", "--max-tokens", "8", "--json")
    done = run_main(*args, "--out", tmp_path / "a.tsv")
    assert done.returncode == 0, done.stderr
    first = json.loads(done.stdout)
    assert first["terms"] == len(english_terms()) and first["cached"] == 0 and first["requests"] > 0
    parse_glossary_tsv((tmp_path / "a.tsv").read_text(), "a.tsv", "user")  # loads, whatever the tiny model said
    again = json.loads(run_main(*args, "--out", tmp_path / "b.tsv").stdout)
    assert again["cached"] == len(english_terms()) - first["failed"]  # only terms with no answer are asked again
