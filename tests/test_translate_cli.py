"""`tipr-bench translate` as a user runs it, against a real loopback server.

Most cases call the real entry point (`tipr_bench.cli.main`) in this process, since a fresh interpreter
costs seconds of imports per call on a small machine; one smoke test and the kill -9 test use real
subprocesses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.support.openai_server import OpenAIServer, fake_translate, is_strict, parse_prompt
from tests.support.translate_data import ENV, make_workspace, run_main
from tipr_bench.benchmark.records import Translation
from tipr_bench.benchmark.store import Workspace


def translate(ws: Path, server: OpenAIServer, *extra: str, env: dict | None = None):
    return run_main("translate", "--lang", "zh", "--base-url", server.base_url, "--model", "test-model",
                    "-w", ws, "--json", *extra, env=env)


def stored(ws: Path, lang: str = "zh") -> dict[str, str]:
    with Workspace.open(ws, create=False) as workspace:
        return {k: t.text for k, t in workspace.translations(lang).items()}


def test_translate_json_summary_and_resume(tmp_path):
    ws = make_workspace(tmp_path / "ws", n=12, duplicates=2)
    with OpenAIServer() as server:
        done = translate(ws, server, "--price-in", "1", "--price-out", "2")
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["captions"] == 12 and summary["requests"] == 10 and summary["done"] == 12
        assert summary["cost"] == pytest.approx(summary["tokens_in"] / 1e6 + 2 * summary["tokens_out"] / 1e6)
        again = json.loads(translate(ws, server).stdout)
        assert again["requests"] == 0 and again["cached"] == 12 and server.request_count == 10
        split = json.loads(translate(ws, server, "--split", "test", "--force").stdout)
        assert split["captions"] == 3 and split["requests"] == 2  # captions 0 and 10 share a text
    texts = stored(ws)
    with Workspace.open(ws) as workspace:
        assert all(texts[c.key] == fake_translate(c.text, "Chinese") for c in workspace.captions())


def test_console_script_prints_a_human_readable_summary(tmp_path):
    ws = make_workspace(tmp_path / "ws", n=3)
    with OpenAIServer() as server:
        result = run_cli("translate", "-l", "zh", "--base-url", server.base_url, "-m", "test-model", "-w", ws,
                         env=ENV)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "translated: 3 captions → zh (openai test-model, prompt ldat)"
    assert lines[1].strip().startswith("done 3 · cached 0 · requests 3 · flagged 0 · failed 0")
    assert "cost $0.0000" in lines[2] and "wall" in lines[2]


def test_dry_run_spends_nothing(tmp_path):
    ws = make_workspace(tmp_path / "ws", n=10)
    with OpenAIServer() as server:
        result = translate(ws, server, "--dry-run", "--price-in", "0.5", "--price-out", "1.5")
        assert server.request_count == 0
    out = json.loads(result.stdout)
    assert out["dry_run"] and out["requests"] == 10 and out["cached"] == 0
    assert out["tokens_in"] > 10 * 20 and out["tokens_out"] > 10 * 10
    assert out["cost"] == pytest.approx(out["tokens_in"] * 0.5e-6 + out["tokens_out"] * 1.5e-6, rel=1e-3)
    assert stored(ws) == {}


def test_dry_run_picks_the_prompt_the_live_run_would(tmp_path):
    """Told from the model's files without loading it: a base model gets the few-shot prompt."""
    ws = make_workspace(tmp_path / "ws", n=3)
    chat, base = tmp_path / "chat-model", tmp_path / "base-model"
    for folder, config in ((chat, {"chat_template": "{{ messages }}"}), (base, {})):
        folder.mkdir()
        (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    prompts = {}
    for name, args in (("vllm chat", ["--backend", "vllm", "--model", chat]),
                       ("vllm base", ["--backend", "vllm", "--model", base]),
                       ("vllm forced base", ["--backend", "vllm", "--model", chat, "--chat-mode", "base"]),
                       ("bundled", ["--backend", "transformers"])):
        done = run_main("translate", "--lang", "zh", "-w", ws, "--dry-run", "--json", *args)
        assert done.returncode == 0, done.stderr
        prompts[name] = json.loads(done.stdout)["prompt"]
    assert prompts == {"vllm chat": "ldat", "vllm base": "fewshot", "vllm forced base": "fewshot",
                       "bundled": "fewshot"}


def _provider(server: OpenAIServer, requests_file: Path, results_file: Path, fail_first: bool) -> None:
    """Play the Batch API: send each request body to the server, write the results file."""
    lines = []
    for i, line in enumerate(requests_file.read_text().splitlines()):
        request = json.loads(line)
        if fail_first and i == 0:
            lines.append({"id": "r0", "custom_id": request["custom_id"], "response": None,
                          "error": {"code": "server_error", "message": "boom"}})
            continue
        http = urllib.request.Request(server.base_url + "/chat/completions",
                                      data=json.dumps(request["body"]).encode(),
                                      headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(http) as response:
            body = json.loads(response.read())
        lines.append({"id": f"r{i}", "custom_id": request["custom_id"],
                      "response": {"status_code": 200, "request_id": f"q{i}", "body": body}, "error": None})
    results_file.write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_batch_out_and_in_round_trip(tmp_path):
    ws = make_workspace(tmp_path / "ws", n=8, duplicates=1)
    requests_file, results_file = tmp_path / "batch.jsonl", tmp_path / "results.jsonl"
    with OpenAIServer() as server:
        out = json.loads(translate(ws, server, "--batch-out", requests_file).stdout)
        assert out["requests"] == 7 and server.request_count == 0
        first = json.loads(requests_file.read_text().splitlines()[0])
        assert first["url"] == "/v1/chat/completions" and first["method"] == "POST"
        assert len(first["custom_id"]) == 64 and first["body"]["model"] == "test-model"
        assert first["body"]["messages"][0]["content"].startswith("Please translate the English sentence")
        _provider(server, requests_file, results_file, fail_first=True)
        imported = json.loads(translate(ws, server, "--batch-in", results_file).stdout)
        assert imported["imported"] == 6 and imported["errors"] == 1 and imported["pending"] >= 1
        assert len(stored(ws)) == 8 - imported["pending"]
        # the failed one is exported again, and a normal run finishes it without repeating the others
        again = json.loads(translate(ws, server, "--batch-out", requests_file).stdout)
        assert again["requests"] == 1
        before = server.request_count
        final = json.loads(translate(ws, server).stdout)
        assert server.request_count - before == 1 and final["done"] == 8
    texts = stored(ws)
    with Workspace.open(ws) as workspace:
        assert all(texts[c.key] == fake_translate(c.text, "Chinese") for c in workspace.captions())


def test_bad_inputs_end_in_one_line_and_exit_2(tmp_path):
    ws = make_workspace(tmp_path / "ws", n=2)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"custom_id": "x", "response": {"status_code": 200, "body": {}}}\nnot json\n')
    with OpenAIServer() as server:
        cases = [
            (translate(ws, server, "--lang", "xx"), "unknown language 'xx'"),
            (translate(tmp_path / "nope", server), "no workspace at"),
            (translate(ws, server, "--batch-in", bad), f"{bad}:1: not a Batch-API result line"),
            (translate(ws, server, "--batch-in", tmp_path / "missing.jsonl"), "no such file"),
            (translate(ws, server, "--prompt", "nonesuch"), "unknown prompt 'nonesuch'"),
            (translate(ws, server, "--dataset", "other"), "nothing to translate"),
            (run_main("translate", "--lang", "en", "-w", ws), "English is the source language"),
            (translate(ws, server, "--rpm", "0"), "--rpm must be at least 1"),
            (translate(ws, server, "--timeout", "0"), "--timeout must be positive"),
            (run_main("translate", "--lang", "zh", "-w", ws, "--batch-out", tmp_path / "b.jsonl"),
             "Batch-API files are for OpenAI-compatible servers"),
            (translate(ws, server, "--dry-run", "--batch-out", tmp_path / "b.jsonl"), "--dry-run goes alone"),
            (run_main("translate", "--lang", "zh", "-w", ws, "--backend", "transformers", "--base-url",
                      server.base_url), "--base-url goes with --backend openai"),
        ]
    for result, message in cases:
        assert result.returncode == 2, (message, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_failures_exit_1_and_a_rerun_retries_them(tmp_path):
    ws = make_workspace(tmp_path / "ws", n=4)
    with OpenAIServer() as server:
        server.set_fault("500", count=100)
        failed = translate(ws, server, "--max-retries", "0")
        summary = json.loads(failed.stdout)
        assert failed.returncode == 1 and summary["failed"] == 4
        assert summary["top_failure"] == "request failed: HTTP 500; gave up after 1 attempt (4x)"
        assert "run the same command again" in failed.stderr
        server.faults.clear()
        assert translate(ws, server).returncode == 0
    assert len(stored(ws)) == 4 and all(stored(ws).values())


def test_api_key_from_the_environment_reaches_no_file(tmp_path):
    key = "sk-tipr-test-5ecret-9f8e7d6c5b4a"
    ws = make_workspace(tmp_path / "ws", n=6)
    env = {"TIPR_KEY": key}
    with OpenAIServer() as server:
        server.set_fault("500", count=1)
        for extra in ((), ("--dry-run",), ("--batch-out", str(ws / "batch.jsonl")), ("--force",)):
            result = translate(ws, server, "--api-key-env", "TIPR_KEY", *extra, env=env)
            assert result.returncode == 0, result.stderr
            assert key not in result.stdout + result.stderr
    assert server.auth[f"Bearer {key}"] >= 6  # the key was really used
    files = [p for p in ws.rglob("*") if p.is_file()]
    assert any(p.name == "tipr.sqlite" for p in files) and any(p.name == "batch.jsonl" for p in files)
    for path in files:
        assert key.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_equals_an_uninterrupted_run(tmp_path):
    n = 160
    killed_ws = make_workspace(tmp_path / "killed", n=n)
    clean_ws = make_workspace(tmp_path / "clean", n=n)
    args = ["translate", "--lang", "zh", "--model", "test-model", "--concurrency", "4", "--json"]
    with OpenAIServer(latency=0.05) as server:
        env = {**os.environ, **ENV, "NO_COLOR": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "tipr_bench", *args, "--base-url", server.base_url,
                                 "-w", str(killed_ws)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while server.request_count < 40 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        finished = set(stored(killed_ws).values())
        sources_before = Counter(server.sources)
        with Workspace.open(killed_ws) as workspace:
            finished_sources = {c.text for c in workspace.captions() if fake_translate(c.text, "Chinese") in finished}
        assert 0 < len(finished_sources) < n
        resumed = run_cli(*args, "--base-url", server.base_url, "-w", killed_ws, env=ENV)
        assert resumed.returncode == 0, resumed.stderr
        second = Counter(server.sources) - sources_before
        assert not finished_sources & set(second), "a finished caption was requested again"
        assert max(Counter(server.sources).values()) <= 2  # only those in flight at the kill were redone
        summary = json.loads(resumed.stdout)
        # answers and translations are committed together: everything stored was answered from the cache
        assert summary["cached"] == len(finished_sources) and summary["requests"] == sum(second.values())
        clean = run_cli(*args, "--base-url", server.base_url, "-w", clean_ws, env=ENV)
        assert clean.returncode == 0
    assert stored(killed_ws) == stored(clean_ws) and len(stored(clean_ws)) == n


@pytest.mark.slow
def test_kill_9_under_429_and_500_redoes_at_most_the_requests_in_flight_and_one_answer_per_slot(tmp_path):
    """Issue 16 item 8: answers are committed as soon as as many wait as there are request slots (checked
    after every answer, so a busy event loop cannot postpone it), so a rerun after kill -9 asks again for
    at most 2 x --concurrency captions the server had already answered (with a 0.2 s timer alone: 13-23)."""
    concurrency, n = 4, 600
    ws = make_workspace(tmp_path / "ws", n=n)
    args = ["translate", "--lang", "zh", "--model", "test-model", "--concurrency", str(concurrency), "--json"]
    with OpenAIServer(fault_rates={"429": 0.05, "500": 0.05}) as server:
        env = {**os.environ, **ENV, "NO_COLOR": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "tipr_bench", *args, "--base-url", server.base_url,
                                 "-w", str(ws)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while server.request_count < 200 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(0.1)
        answered_before = set(server.answered)
        requested_before = Counter(server.sources)
        assert len(answered_before) > 100
        resumed = run_cli(*args, "--base-url", server.base_url, "-w", ws, env=ENV)
        assert resumed.returncode == 0, resumed.stderr
        asked_again = set(Counter(server.sources) - requested_before) & answered_before
    assert len(asked_again) <= 2 * concurrency, f"{len(asked_again)} answered captions were requested again"
    assert json.loads(resumed.stdout)["done"] == n


def test_limit_reports_the_captions_it_left_pending(tmp_path):
    ws = make_workspace(tmp_path / "ws", n=12)
    with OpenAIServer() as server:
        first = json.loads(translate(ws, server, "--limit", "5").stdout)
        assert (first["done"], first["pending"]) == (5, 7)
        test_only = json.loads(translate(ws, server, "--limit", "1", "--split", "test").stdout)
        assert test_only["pending"] == 0  # the first five were the test split's 3 and 2 of train
        rest = json.loads(translate(ws, server).stdout)
    assert (rest["done"], rest["cached"], rest["pending"]) == (12, 5, 0)


@pytest.mark.slow
def test_ctrl_c_then_a_rerun_counts_the_answers_it_takes_from_the_cache(tmp_path):
    ws = make_workspace(tmp_path / "ws", n=120)
    args = ["translate", "--lang", "zh", "--model", "test-model", "--concurrency", "8", "--json"]
    with OpenAIServer(latency=0.05) as server:
        env = {**os.environ, **ENV, "NO_COLOR": "1"}
        # Ctrl-C as in a terminal: a test run started in the background (`make test &`) ignores SIGINT, and
        # its children would inherit that
        proc = subprocess.Popen([sys.executable, "-m", "tipr_bench", *args, "--base-url", server.base_url,
                                 "-w", str(ws)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 60
        while sum(server.answered.values()) < 30 and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130 and "every finished translation is saved" in err
        saved = len(stored(ws))
        before = server.request_count
        rerun = run_cli(*args, "--base-url", server.base_url, "-w", ws, env=ENV)
        summary = json.loads(rerun.stdout)
        assert rerun.returncode == 0, rerun.stderr
        assert 0 < saved < 120 and summary["cached"] == saved and summary["requests"] == server.request_count - before
    assert summary["done"] == 120 and len(stored(ws)) == 120


def test_a_dead_base_url_is_set_aside_and_the_summary_names_it(tmp_path):
    """Issue 16 item 6: a server that refuses connections gets no more requests for a while; its work goes
    to the live one without using up retries, and the summary says which URL was dead."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    ws = make_workspace(tmp_path / "ws", n=40)
    with OpenAIServer() as server:
        result = run_main("translate", "--lang", "zh", "--base-url", dead, "--base-url", server.base_url,
                          "--model", "test-model", "--limit", "20", "--max-retries", "3", "--concurrency", "8",
                          "-w", ws)
        assert result.returncode == 0, result.stderr
        assert "done 20" in result.stdout and "failed 0" in result.stdout
        assert f"unreachable, set aside: {dead}" in result.stderr
        assert server.request_count == 20  # each caption once on the live server
        summary = json.loads(translate(ws, server, "--base-url", dead, "--concurrency", "8").stdout)
    assert summary["unreachable"] == [dead] and summary["failed"] == 0 and summary["retries"] <= 8


def _echo_two(body: dict) -> str:
    """Echoes the source of captions 1 and 2 (a failed output check) unless asked with the strict prompt."""
    source, language = parse_prompt(body)
    if not is_strict(body) and ("number 1." in source or "number 2." in source):
        return source
    return fake_translate(source, language)


def test_batch_in_names_answers_that_fail_the_checks_and_the_next_step(tmp_path):
    ws = make_workspace(tmp_path / "ws", n=4)
    requests_file, results_file, retries_file = (tmp_path / name for name in ("b.jsonl", "r.jsonl", "r2.jsonl"))
    with OpenAIServer(responder=_echo_two) as server:
        translate(ws, server, "--batch-out", requests_file)
        _provider(server, requests_file, results_file, fail_first=False)
        first = run_main("translate", "--lang", "zh", "--base-url", server.base_url, "--model", "test-model",
                         "-w", ws, "--batch-in", results_file)
        assert first.returncode == 0, first.stderr
        assert "done 2 · cached 2 · requests 0 · flagged 0 · flagged awaiting retry 2" in first.stdout
        assert ("next: 2 answers failed the output checks (echo of the source (2x)); export again with "
                "--batch-out: it holds their stricter retries") in first.stdout
        again = json.loads(translate(ws, server, "--batch-in", results_file).stdout)
        assert again["already_imported"] == 4 and again["unmatched"] == 0 and again["flagged_awaiting_retry"] == 2
        retries = json.loads(translate(ws, server, "--batch-out", requests_file).stdout)
        assert retries["requests"] == 2
        assert all(is_strict(json.loads(line)["body"]) for line in requests_file.read_text().splitlines())
        _provider(server, requests_file, retries_file, fail_first=False)
        final = json.loads(translate(ws, server, "--batch-in", retries_file).stdout)
    assert final["done"] == 4 and final["flagged_awaiting_retry"] == 0 and final["pending"] == 0
    assert len(stored(ws)) == 4


def test_limit_counts_captions_to_translate_not_the_human_ones_it_skips(tmp_path):
    ws = make_workspace(tmp_path / "ws", n=6)
    with Workspace.open(ws) as workspace:
        first = [key for key, _ in workspace.caption_texts()[:3]]
        workspace.put_translations([Translation(key, "zh", "人工翻译。", "human", "", "", "", provenance="human")
                                    for key in first])
    with OpenAIServer() as server:
        limited = json.loads(translate(ws, server, "--limit", "2").stdout)
        assert (limited["captions"], limited["requests"], limited["done"]) == (2, 2, 2)
        forced = translate(ws, server, "--limit", "3", "--force")
        assert forced.returncode == 0, forced.stderr
        assert json.loads(forced.stdout)["requests"] == 3
        everything_human = translate(ws, server, "--split", "test", "--limit", "1")
    assert everything_human.returncode == 2
    assert "all 2 captions have a human or published translation" in everything_human.stderr
    assert {key: text for key, text in stored(ws).items() if key in first} == dict.fromkeys(first, "人工翻译。")
