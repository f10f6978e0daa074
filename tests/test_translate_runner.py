"""The runner: dedupe, cache, resume, --force, checks and strict retries, storing, batch backends."""

from __future__ import annotations

import json

import pytest

from tests.support.openai_server import OpenAIServer, fake_translate, misbehaving
from tests.support.translate_data import make_workspace
from tipr_bench.benchmark.records import Translation
from tipr_bench.benchmark.store import Workspace
from tipr_bench.translate import CacheOnly, RunAborted, TranslationJob, plan_requests, translate_jobs, workspace_jobs
from tipr_bench.translate.backends.base import Completion, DecodingParams
from tipr_bench.translate.backends.openai_backend import OpenAIBackend
from tipr_bench.translate.cache import TranslationCache
from tipr_bench.translate.options import BackendOptions
from tipr_bench.translate.prompts import get_prompt

LDAT = get_prompt("ldat")


def openai(server: OpenAIServer, **kwargs) -> OpenAIBackend:
    options = BackendOptions(backend="openai", model="test-model", base_urls=(server.base_url,), timeout=2.0,
                             **kwargs)
    return OpenAIBackend(options, backoff_base=0.01)


@pytest.fixture
def ws(tmp_path):
    make_workspace(tmp_path / "ws", n=30, duplicates=5)
    with Workspace.open(tmp_path / "ws") as workspace:
        yield workspace


def test_translates_stores_and_dedupes_identical_captions(ws):
    jobs, kept = workspace_jobs(ws, "zh")
    assert len(jobs) == 30 and kept == 0
    with OpenAIServer() as server:
        report = translate_jobs(ws, jobs, openai(server), LDAT, progress=False)
    assert server.request_count == 25  # 5 captions repeat the text of others: paid once
    assert (report.total, report.done, report.requests, report.cached, report.failed) == (30, 30, 25, 5, 0)
    stored = ws.translations("zh")
    assert len(stored) == 30
    job = jobs[0]
    t = stored[job.key]
    assert t.text == fake_translate(job.source, "Chinese") and t.status == "ok"
    assert (t.backend, t.model, t.prompt_id, t.prompt_sha256) == ("openai", "test-model", "ldat", LDAT.sha256)
    assert t.params["temperature"] == 0.0 and t.tokens_in > 0 and t.tokens_out > 0
    assert report.tokens_in == sum(len(json.dumps(m["content"])) // 4 + 4 for b in server.requests
                                   for m in b["messages"])


def test_rerun_resumes_from_the_cache_and_force_redoes(ws):
    jobs, _ = workspace_jobs(ws, "zh")
    with OpenAIServer() as server:
        translate_jobs(ws, jobs[:10], openai(server), LDAT, progress=False)
        first = server.request_count
        report = translate_jobs(ws, jobs, openai(server), LDAT, progress=False)
        assert server.request_count == 25  # only what was not done yet
        assert report.requests == 25 - first and report.cached == 30 - report.requests
        history_before = ws.conn.execute("SELECT COUNT(*) FROM translation_history").fetchone()[0]
        again = translate_jobs(ws, jobs, openai(server), LDAT, progress=False)
        assert again.requests == 0 and again.cached == 30 and again.tokens_in == 0
        # an unchanged result is not rewritten (no history rows pile up on resume)
        assert ws.conn.execute("SELECT COUNT(*) FROM translation_history").fetchone()[0] == history_before
        before = server.request_count
        forced = translate_jobs(ws, jobs, openai(server), LDAT, force=True, progress=False)
        assert server.request_count - before == 25 and forced.requests == 25


def test_cache_key_depends_on_model_prompt_params_and_language(ws):
    jobs, _ = workspace_jobs(ws, "zh", limit=3)
    with OpenAIServer() as server:
        translate_jobs(ws, jobs, openai(server), LDAT, progress=False)
        for change in (dict(prompt=get_prompt("strict")), dict(params=DecodingParams(temperature=0.5))):
            before = server.request_count
            translate_jobs(ws, jobs, openai(server), change.get("prompt", LDAT),
                           change.get("params", DecodingParams()), store=False, progress=False)
            assert server.request_count - before == 3
        before = server.request_count
        fr = [TranslationJob(j.key, j.source, "fr") for j in jobs]
        translate_jobs(ws, fr, openai(server), LDAT, progress=False)
        assert server.request_count - before == 3
    assert len(ws.translations("fr")) == 3


@pytest.mark.parametrize(("kind", "reason"), [
    ("echo", "echo"), ("wrong_script", "wrong script"), ("empty", "empty"), ("truncated", "truncated"),
])
def test_flagged_outputs_are_retried_with_the_strict_prompt(ws, kind, reason):
    jobs, _ = workspace_jobs(ws, "zh", limit=4)
    with OpenAIServer(responder=misbehaving(kind, match=jobs[0].source)) as server:
        report = translate_jobs(ws, jobs, openai(server), LDAT, progress=False)
    assert server.request_count == 5  # one retry for the one bad caption
    result = report.results[jobs[0].key]
    assert result.status == "ok" and result.prompt_id == "strict" and result.attempts == 2
    assert result.text == fake_translate(jobs[0].source, "Chinese")
    assert ws.translations("zh")[jobs[0].key].prompt_id == "strict"
    assert report.flagged == 0


@pytest.mark.parametrize("kind", ["chatter", "quotes", "notes"])
def test_safe_problems_are_cleaned_without_a_retry(ws, kind):
    jobs, _ = workspace_jobs(ws, "zh", limit=2)
    with OpenAIServer(responder=misbehaving(kind)) as server:
        report = translate_jobs(ws, jobs, openai(server), LDAT, progress=False)
    assert server.request_count == 2
    for job in jobs:
        result = report.results[job.key]
        assert result.status == "ok" and result.reason.startswith("cleaned")
        assert result.text == fake_translate(job.source, "Chinese")


def test_persistent_bad_output_ends_flagged_after_bounded_retries_and_resumes_without_requests(ws):
    jobs, _ = workspace_jobs(ws, "zh", limit=2)
    with OpenAIServer(responder=misbehaving("echo", also_strict=True)) as server:
        report = translate_jobs(ws, jobs, openai(server), LDAT, max_flag_retries=2, progress=False)
        assert server.request_count == 6  # 1 + 2 retries each
        assert report.flagged == 2 and report.results[jobs[0].key].reason == "echo of the source"
        stored = ws.translations("zh")[jobs[0].key]
        assert stored.status == "flagged" and stored.reason == "echo of the source"
        assert [b["temperature"] for b in server.requests].count(0.3) == 2  # the second retry samples
        again = translate_jobs(ws, jobs, openai(server), LDAT, max_flag_retries=2, progress=False)
        assert server.request_count == 6 and again.flagged == 2 and again.cached == 2


def test_failures_are_reported_and_do_not_replace_a_translation(ws):
    jobs, _ = workspace_jobs(ws, "zh", limit=3)
    ws.put_translations([Translation(jobs[0].key, "zh", "旧的翻译。", "openai", "old", "ldat", "x")])
    with OpenAIServer() as server:
        server.set_fault("500", count=100)
        report = translate_jobs(ws, jobs, openai(server, max_retries=1), LDAT, progress=False)
    assert report.failed == 3 and report.done == 0
    assert "HTTP 500; gave up after 2 attempts" in report.results[jobs[1].key].reason
    stored = ws.translations("zh")
    assert stored[jobs[0].key].text == "旧的翻译。" and stored[jobs[1].key].status == "failed"
    assert TranslationCache(ws.conn).count() == 0  # failures are not cached: a rerun retries them


def test_store_false_only_caches(ws):
    jobs, _ = workspace_jobs(ws, "zh", limit=3)
    with OpenAIServer() as server:
        report = translate_jobs(ws, jobs, openai(server), LDAT, store=False, progress=False)
    assert len(report.results) == 3 and ws.translations("zh") == {}
    assert TranslationCache(ws.conn).count() == 3


def test_human_translations_are_kept(ws):
    captions = ws.captions()
    ws.put_translations([Translation(captions[0].key, "zh", "人工翻译。", "human", "", "", "", provenance="human")])
    jobs, kept = workspace_jobs(ws, "zh")
    assert kept == 1 and captions[0].key not in {j.key for j in jobs}


def test_back_translation_and_image_jobs(ws, tmp_path):
    image = tmp_path / "person.png"
    image.write_bytes(b"\x89PNG not really")
    zh = fake_translate("A woman wearing a red jacket.", "Chinese")
    jobs = [TranslationJob("k/1.png#0", zh, "en", source_lang="zh"),
            TranslationJob("k/2.png#0", "A man wearing a blue coat.", "zh", image_path=image)]
    with OpenAIServer() as server:
        report = translate_jobs(ws, jobs, openai(server), get_prompt("fewshot"), store=False, progress=False)
    assert report.results["k/1.png#0"].text == "a woman wearing a red jacket."
    assert server.requests[0]["stop"] == ["\n"] or server.requests[1]["stop"] == ["\n"]
    image_body = next(b for b in server.requests if isinstance(b["messages"][0]["content"], list))
    assert image_body["messages"][0]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


class DictionaryBatchBackend:
    """A BatchBackend over the fixture's deterministic translator (the runner's batch path under test);
    bad on first attempts for sources containing 'bag number 1.'."""

    name = "local-test"
    model = "dictionary"

    def __init__(self, batch_size: int):
        self.batch_size = batch_size
        self.calls: list[int] = []

    def complete_batch(self, conversations, params):
        self.calls.append(len(conversations))
        out = []
        for conversation in conversations:
            body = {"messages": conversation}
            text = misbehaving("echo", match="bag number 1.")(body)
            out.append(Completion(text, 10, 5))
        return out


def test_batch_backend_path_batches_retries_and_caches(ws):
    jobs, _ = workspace_jobs(ws, "zh")
    backend = DictionaryBatchBackend(batch_size=8)
    report = translate_jobs(ws, jobs, backend, LDAT, progress=False)
    assert backend.calls == [7, 6, 6, 6, 1]  # 25 distinct requests in 4 even passes of at most 8, then the retry
    assert report.done == 30 and report.flagged == 0 and report.requests == 26
    again = translate_jobs(ws, jobs, DictionaryBatchBackend(batch_size=8), LDAT, progress=False)
    assert again.requests == 0 and again.cached == 30


def test_plan_and_cache_only_replay(ws):
    jobs, _ = workspace_jobs(ws, "zh")
    plan = plan_requests(ws, jobs, "openai", "test-model", LDAT)
    assert plan.units == 25 and plan.answered == 0 and len(list(plan.requests())) == 25
    with OpenAIServer() as server:
        translate_jobs(ws, jobs[:10], openai(server), LDAT, store=False, progress=False)
    done_sources = {j.source for j in jobs[:10]}
    answered = sum(j.source in done_sources for j in jobs)  # duplicates of done captions are answered too
    plan = plan_requests(ws, jobs, "openai", "test-model", LDAT)
    assert plan.answered == answered and len(plan.waiting) == 25 - len(done_sources)
    report = translate_jobs(ws, jobs, CacheOnly("openai", "test-model"), LDAT, progress=False)
    assert report.pending == 30 - answered and report.done == answered
    assert len(ws.translations("zh")) == answered


def test_a_run_whose_requests_all_fail_stops_early(tmp_path):
    make_workspace(tmp_path / "big", n=60)
    with Workspace.open(tmp_path / "big") as ws, OpenAIServer() as server:
        jobs, _ = workspace_jobs(ws, "zh")
        server.set_fault("500", count=1000)
        with pytest.raises(RunAborted, match=r"the first \d+ requests all failed \(request failed: HTTP 500"):
            translate_jobs(ws, jobs, openai(server, max_retries=0, concurrency=4), LDAT, progress=False)
        assert 16 <= server.request_count < 24  # not all 60
        server.faults.clear()
        report = translate_jobs(ws, jobs, openai(server, concurrency=4), LDAT, progress=False)
    assert report.done == 60 and report.failed == 0


def test_a_rerun_never_undoes_a_later_rounds_rewrite(ws):
    """refine stores better rewrites with a higher round; translating again (say, after a new dataset
    was ingested) must not put the cached round-0 answer back. --force still redoes everything."""
    jobs, _ = workspace_jobs(ws, "zh")
    with OpenAIServer() as server:
        translate_jobs(ws, jobs, openai(server), LDAT, progress=False)
        key = jobs[0].key
        better = Translation(key, "zh", "更好的译文", "openai", "test-model", "refine-glossary", "1" * 64, round=1)
        ws.put_translations([better])
        translate_jobs(ws, jobs, openai(server), LDAT, progress=False)
        assert ws.translations("zh")[key].text == "更好的译文"
        translate_jobs(ws, jobs, openai(server), LDAT, force=True, progress=False)
        assert ws.translations("zh")[key].text == fake_translate(jobs[0].source, "Chinese")


def test_an_empty_answer_fails_the_caption_and_a_rerun_asks_again(ws):
    """Issue 12 item 3: an empty answer is no translation; never counted done, never cached."""
    jobs, _ = workspace_jobs(ws, "zh", limit=3)
    empty = jobs[1]
    with OpenAIServer(responder=misbehaving("empty", also_strict=True, match=empty.source)) as server:
        report = translate_jobs(ws, jobs, openai(server), LDAT, max_flag_retries=1, progress=False)
        assert server.sources[empty.source] == 2  # the strict retry was tried too
    assert (report.done, report.failed, report.flagged) == (2, 1, 0)
    assert report.results[empty.key].status == "failed" and "empty output" in report.results[empty.key].reason
    assert ws.translations("zh")[empty.key].status == "failed"
    assert TranslationCache(ws.conn).count() == 2  # the empty answers were not kept
    with OpenAIServer() as server:
        again = translate_jobs(ws, jobs, openai(server), LDAT, max_flag_retries=1, progress=False)
        assert server.request_count == 1 and server.sources[empty.source] == 1
    assert (again.done, again.cached, again.failed) == (3, 2, 0)
    assert ws.translations("zh")[empty.key].text == fake_translate(empty.source, "Chinese")


def test_an_empty_answer_an_older_version_cached_is_asked_again(ws):
    jobs, _ = workspace_jobs(ws, "zh", limit=1)
    with OpenAIServer() as server:
        translate_jobs(ws, jobs, openai(server), LDAT, progress=False)
    ws.conn.execute("UPDATE translation_cache SET text = ''")
    with OpenAIServer() as server:
        report = translate_jobs(ws, jobs, openai(server), LDAT, progress=False)
        assert server.request_count == 1
    assert (report.done, report.cached) == (1, 0)
