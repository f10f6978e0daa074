"""`tipr-bench refine` and `export` as a user runs them again, against a real loopback server: a rerun
settles, options are checked before any model call, unusable back-translations decide nothing, and an
export notices a workspace that changed after its version was written."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.openai_server import OpenAIServer
from tests.support.refine_fixtures import BAD_3, GLOSSARY_TSV, GOOD, SOURCES, key, make_workspace, responder
from tests.support.translate_data import run_main
from tipr_bench.benchmark.records import Translation
from tipr_bench.benchmark.store import Workspace


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    make_workspace(tmp_path).close()
    glossary = tmp_path / "glossary.tsv"
    glossary.write_text(GLOSSARY_TSV, encoding="utf-8")
    return tmp_path / "ws", glossary


def _refine(ws: Path, glossary: Path, server: OpenAIServer, *extra):
    return run_main("refine", "--lang", "zh", "--glossary", glossary, "--base-url", server.base_url, "--model",
                    "test-model", "-w", ws, "--json", *extra)


def _state(ws: Path) -> tuple[dict[str, str], int, int]:
    """Every zh text, the QA rows and the replaced translations kept in history."""
    with Workspace.open(ws, create=False) as w:
        texts = {k: t.text for k, t in w.translations("zh").items()}
        qa_rows = w.conn.execute("SELECT COUNT(*) FROM qa").fetchone()[0]
        history = w.conn.execute("SELECT COUNT(*) FROM translation_history").fetchone()[0]
    return texts, qa_rows, history


def test_the_same_refine_again_asks_nothing_and_changes_nothing_until_more_rounds_are_asked_for(tmp_path):
    ws, glossary = _setup(tmp_path)
    with OpenAIServer(responder=responder({SOURCES["p/3.png"]: GOOD["p/3.png"]})) as server:
        # theta 0: every caption stays a target, so an unsettled rerun would rewrite p/3 again from its new text
        first = _refine(ws, glossary, server, "--threshold", "0")
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["improved"] == 1
        asked, after_first = server.request_count, _state(ws)

        again = _refine(ws, glossary, server, "--threshold", "0")
        assert again.returncode == 0, again.stderr
        summary = json.loads(again.stdout)
        assert server.request_count == asked and _state(ws) == after_first
        assert summary["settled"] and summary["requests"] == 0 and summary["improved"] == 0
        assert summary["verdicts"] == json.loads(first.stdout)["verdicts"] == summary["verdicts_before"]

        table = run_main("refine", "--lang", "zh", "--glossary", glossary, "--base-url", server.base_url,
                         "--model", "test-model", "-w", ws, "--threshold", "0")
        assert "already refined with these settings (1 rewrite round(s))" in table.stdout
        assert "--rounds 2 for another round" in table.stdout and server.request_count == asked

        more = _refine(ws, glossary, server, "--threshold", "0", "--rounds", "2")
        assert more.returncode == 0, more.stderr
        assert not json.loads(more.stdout)["settled"] and json.loads(more.stdout)["rounds"] == 2
        assert server.request_count > asked  # round 2 samples new candidates
        asked = server.request_count
        settled = _refine(ws, glossary, server, "--threshold", "0", "--rounds", "2")
        assert json.loads(settled.stdout)["settled"] and server.request_count == asked


def test_theta_from_the_mean_noise_stays_put_on_a_rerun(tmp_path):
    ws, glossary = _setup(tmp_path)
    with OpenAIServer(responder=responder({SOURCES["p/3.png"]: GOOD["p/3.png"]})) as server:
        first = json.loads(_refine(ws, glossary, server).stdout)
        asked = server.request_count
        again = json.loads(_refine(ws, glossary, server).stdout)
    assert again["qe_threshold"] == first["qe_threshold"] and again["threshold_from"] == "mean noise"
    assert server.request_count == asked and again["settled"]


def test_export_notices_a_workspace_that_changed_after_the_version_was_written(tmp_path):
    ws, _ = _setup(tmp_path)
    releases = tmp_path / "releases"
    export = ("export", "--name", "m", "--out", releases, "-w", ws)
    assert run_main(*export, "--version", "1.0.0", "--json").returncode == 0
    same = run_main(*export, "--version", "1.0.0")
    assert same.returncode == 2 and "matches the workspace: nothing to export" in same.stderr
    with Workspace.open(ws) as w:  # what a later refine or review does: one translation replaced
        w.put_translations([Translation(key("p/3.png"), "zh", GOOD["p/3.png"], "openai", "test-model", "ldat",
                                        "0" * 64, round=1)])
    changed = run_main(*export, "--version", "1.0.0")
    assert changed.returncode == 2 and len(changed.stderr.strip().splitlines()) == 1
    assert "the workspace has changed since it was written" in changed.stderr and "e.g. 1.0.1" in changed.stderr
    assert run_main(*export, "--version", "1.0.1").returncode == 0


def test_a_report_folder_that_cannot_be_written_fails_before_any_model_call(tmp_path):
    ws, glossary = _setup(tmp_path)
    before = _state(ws)
    with OpenAIServer(responder=responder({SOURCES["p/3.png"]: GOOD["p/3.png"]})) as server:
        result = _refine(ws, glossary, server, "--report", "/proc/tipr-report")
        assert server.request_count == 0
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "--report /proc/tipr-report: cannot write there" in result.stderr
    assert _state(ws) == before


def test_mllm_rewrite_with_missing_images_fails_first_with_the_images_hint(tmp_path):
    ws, glossary = _setup(tmp_path)
    for image in (tmp_path / "images" / "p").iterdir():
        image.unlink()
    with OpenAIServer(responder=responder({SOURCES["p/3.png"]: GOOD["p/3.png"]})) as server:
        result = _refine(ws, glossary, server, "--rewrite", "mllm")
        assert server.request_count == 0
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "3 image(s) not found" in result.stderr and "--images DIR" in result.stderr


def test_unusable_back_translations_decide_nothing(tmp_path):
    ws, glossary = _setup(tmp_path)
    before = _state(ws)
    with OpenAIServer(responder=lambda body: "他穿着红色的衣服。") as wrong_language:
        result = _refine(ws, glossary, wrong_language)
        back_translations_only = all("into English" in str(b["messages"]) for b in wrong_language.requests)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "all 3 back-translations were unusable" in result.stderr and "decided nothing" in result.stderr
    assert back_translations_only and _state(ws) == before


def test_a_candidate_whose_back_translation_is_unusable_is_not_accepted_on_qe_alone(tmp_path):
    ws, glossary = _setup(tmp_path)
    candidate = "一个穿着灰色外套、右手拿着伞的男人。"
    with OpenAIServer(responder=responder({SOURCES["p/3.png"]: candidate},
                                          back={candidate: "他穿着灰色的外套。"})) as server:
        result = _refine(ws, glossary, server, "--threshold", "0.5")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rewritten"] == 1 and json.loads(result.stdout)["improved"] == 0
    assert _state(ws)[0][key("p/3.png")] == BAD_3
