"""export -> download over HTTP -> ingest into a fresh workspace reproduces every caption exactly."""

from __future__ import annotations

from tests.support.release_server import ReleaseServer
from tests.support.release_workspace import SLUG, build_workspace
from tipr_bench.benchmark.ingest import ingest_dataset
from tipr_bench.benchmark.release import download_release, export_release
from tipr_bench.benchmark.release.fetch import RetryPolicy
from tipr_bench.benchmark.store import Workspace


def test_export_download_ingest_round_trip(tmp_path):
    with build_workspace(tmp_path / "ws") as ws:
        export_release(ws, "m", "1.0.0", tmp_path / "out", formats=["parquet", "irra", "bi-irra"])
        english = {s: ws.captions(SLUG, s, "en") for s in ("train", "test")}
        expected = {lang: {k: t for k, t in ws.translations(lang).items() if t.status == "ok"}
                    for lang in ("zh", "fr", "de")}
    with ReleaseServer(tmp_path / "out") as server:
        got = download_release("m@latest", f"{server.url}/index.json", tmp_path / "cache",
                               policy=RetryPolicy(attempts=2, backoff=0.01, timeout=5), progress=False)
    with Workspace.open(tmp_path / "fresh") as fresh:
        report = ingest_dataset(fresh, got.path)
        assert report.dataset == SLUG
        for split, rows in english.items():
            assert fresh.captions(SLUG, split, "en") == rows  # every field, every character, same order
        for lang, want in expected.items():
            have = fresh.translations(lang)
            assert {k: t.text for k, t in have.items()} == {k: t.text for k, t in want.items()}
            assert {k: t.provenance for k, t in have.items()} == {k: t.provenance for k, t in want.items()}
            assert {k: (t.model, t.prompt_sha256) for k, t in have.items()} == \
                   {k: (t.model, t.prompt_sha256) for k, t in want.items()}
        assert len(expected["zh"]) == 27 and len(expected["fr"]) == 26  # missing/failed/flagged stay out
