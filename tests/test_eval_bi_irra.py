"""`evaluate --model bi-irra`: a tiny Bi-IRRA trained for a few steps on the synthetic sample is scored
through the evaluator and stored like any other result."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("tipr_bench.baselines.bi_irra.train")

from tests.support.bi_irra_sample import build_workspace  # noqa: E402
from tipr_bench.baselines.bi_irra.train import TrainOptions, train  # noqa: E402
from tipr_bench.baselines.evaluator import evaluate_bi_irra  # noqa: E402
from tipr_bench.core.atomic import sha256_file
from tipr_bench.core.errors import UserError  # noqa: E402

METRIC_KEYS = ["R1", "R5", "R10", "mAP", "mINP"]


@pytest.mark.slow
def test_bi_irra_checkpoint_is_evaluated_and_stored(tmp_path, cli):
    ws = build_workspace(tmp_path, persons=10)
    with ws:
        trained = train(ws, TrainOptions(lang="zh", dataset="synth", config="tiny", epochs=1, max_steps=2,
                                         progress=False, test=False, threads=1, device="cpu"))
        outcome = evaluate_bi_irra(ws, dataset="synth", split="test", lang="zh", device="cpu", rerank_k=2,
                                   progress=False)
        assert list(outcome.metrics) == ["t2i"] and list(outcome.metrics["t2i"]) == METRIC_KEYS
        assert (outcome.model, outcome.train_lang, outcome.n_queries, outcome.n_gallery) == ("bi-irra", "zh", 8, 4)
        stored = ws.results()[-1]
        assert (stored.model, stored.dataset, stored.query_lang, stored.train_lang, stored.direction) == (
            "bi-irra", "synth", "zh", "zh", "t2i")
        assert (stored.n_queries, stored.n_gallery, stored.n_left_out, stored.selection) == (8, 4, 0, "val")
        assert stored.checkpoint_sha256 == sha256_file(trained.best)
        with pytest.raises(UserError, match="text-to-image only"):
            evaluate_bi_irra(ws, dataset="synth", split="test", lang="zh", directions=("i2t",))

    done = cli("evaluate", "--model", "bi-irra", "--checkpoint", trained.best, "-d", "synth", "-l", "zh",
               "--device", "cpu", "--json", "-w", tmp_path / "ws")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert list(out) == ["t2i", "queries", "gallery", "left_out", "selection", "stored"]
    assert list(out["t2i"]) == METRIC_KEYS
    assert (out["queries"], out["gallery"], out["left_out"], out["selection"]) == (8, 4, 0, "val")
