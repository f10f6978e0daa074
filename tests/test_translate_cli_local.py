"""`tipr-bench translate` offline: no server and no key means the transformers backend with the few-shot
prompt; here on a tiny real Llama built from a config (its outputs are noise, so most end flagged)."""

from __future__ import annotations

import json

from tests.support.translate_data import make_workspace, run_main
from tests.support.translate_local_models import save_causal
from tipr_bench.benchmark.store import Workspace
from tipr_bench.translate import BackendOptions, backend_identity


def test_offline_default_runs_the_local_backend_in_batches_and_resumes(tmp_path):
    ws = make_workspace(tmp_path / "ws", n=6)
    model = save_causal(tmp_path / "tiny")
    args = ("translate", "--lang", "zh", "--model", model, "--device", "cpu", "--batch-size", "4",
            "--max-tokens", "6", "--max-flag-retries", "1", "-w", ws, "--json")
    first = run_main(*args)
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert out["backend"] == "transformers" and out["prompt"] == "fewshot"
    assert out["model"] == backend_identity(BackendOptions(backend="transformers", model=str(model)))[1]
    assert out["done"] == 6 and out["failed"] == 0 and out["requests"] >= 6
    with Workspace.open(ws) as workspace:
        stored = workspace.translations("zh")
    assert len(stored) == 6
    assert {t.backend for t in stored.values()} == {"transformers"}
    assert all(t.prompt_id in ("fewshot", "fewshot-strict") for t in stored.values())  # base-model retries
    assert all((t.status == "flagged") == bool(t.reason) or t.reason.startswith("cleaned") for t in stored.values())
    dry = json.loads(run_main(*args, "--dry-run").stdout)
    assert dry["requests"] == 0 and dry["cached"] == 6  # the planner finds every answer without loading the model
    again = json.loads(run_main(*args).stdout)
    assert again["requests"] == 0 and again["cached"] == 6
