"""export -> download over HTTP -> ingest into a fresh workspace reproduces every caption exactly."""

from __future__ import annotations

import json

from tests.support.release_server import ReleaseServer
from tests.support.release_workspace import SLUG, build_workspace
from tipr_bench.benchmark.ingest import ingest_dataset
from tipr_bench.benchmark.store import Workspace
from tipr_bench.release import download_release, export_release
from tipr_bench.release.transfer import RetryPolicy


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


def _flip_one_byte(path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_ingest_of_a_damaged_release_is_refused_and_writes_nothing(tmp_path):
    """Issue 16 item 3: ingest verifies a release against its manifest first."""
    from tests.support.translate_data import run_main

    with build_workspace(tmp_path / "ws") as ws:
        export_release(ws, "m", "1.0.0", tmp_path / "out", formats=["parquet"])
    release = tmp_path / "out" / "m" / "1.0.0"
    _flip_one_byte(release / "data" / "zh" / "test.parquet")
    refused = run_main("ingest", "--root", release, "-w", tmp_path / "fresh")
    assert refused.returncode == 1, refused.stderr
    assert "m@1.0.0" in refused.stderr and "is not intact" in refused.stderr and "--no-verify" in refused.stderr
    assert "data/zh/test.parquet: sha256" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "fresh").exists()
    loud = run_main("ingest", "--root", release, "-w", tmp_path / "fresh", "--no-verify", "--json")
    assert loud.returncode == 0 and json.loads(loud.stdout)["unverified_release"] is True
    assert "--no-verify" in loud.stderr and "NOT checked" in loud.stderr


def test_a_failed_ingest_leaves_no_workspace_behind(tmp_path):
    """Issue 16 item 7: the README says bad input writes nothing; that includes an empty tipr.sqlite."""
    from tests.support.translate_data import run_main

    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "reid_raw.json").write_text('[{"split": "train"}]')
    result = run_main("ingest", "--root", tmp_path / "bad", "-w", tmp_path / "new-ws")
    assert result.returncode == 2 and "missing field" in result.stderr
    assert not (tmp_path / "new-ws").exists()
