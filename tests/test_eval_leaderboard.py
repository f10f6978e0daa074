"""Stored results on the leaderboard (md, csv, json, plot), and the `evaluate` / `leaderboard` commands
run as a user runs them."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from tests.support.eval_split import DATASET, build_split, perfect_features, split_items, write_submission
from tipr_bench.baselines import leaderboard as board
from tipr_bench.benchmark.store import Workspace
from tipr_bench.benchmark.store_results import EvalResult
from tipr_bench.core.errors import UserError

METRIC_KEYS = ["R1", "R5", "R10", "mAP", "mINP"]


def result(model, dataset="cuhk-pedes", lang="zh", train="zh", r1=50.0, created="2026-01-01T00:00:00+00:00",
           direction="t2i", selection=""):
    metrics = {"R1": r1, "R5": 70.0, "R10": 80.0, "mAP": 45.0, "mINP": 30.0}
    return EvalResult(model, dataset, lang, train, "test", direction, metrics, "ab" * 32, created,
                      n_queries=100, n_gallery=50, n_left_out=3, selection=selection)


def test_latest_result_per_key_and_table_layout():
    results = [
        result("bi-irra", r1=40.0, created="2026-01-01T00:00:00+00:00"),
        result("bi-irra", r1=55.5, created="2026-01-02T00:00:00+00:00"),  # replaces the first
        result("bi-irra", train="en", r1=33.0),
        result("bi-irra", dataset="icfg-pedes", r1=44.0),
        result("clip", lang="fr", train="", r1=12.0),
        result("bi-irra", direction="i2t", r1=60.0),
    ]
    md = board.to_markdown(results)
    sections = md.split("### ")[1:]
    assert [s.splitlines()[0] for s in sections] == [
        "Queries in French (fr), test split, text-to-image",
        "Queries in Chinese (zh), test split, text-to-image",
        "Queries in Chinese (zh), test split, image-to-text",
    ]
    zh = sections[1]
    assert "| Method | Train | Epoch chosen on | CUHK-PEDES R@1 | CUHK-PEDES R@5 | CUHK-PEDES R@10 | " \
           "CUHK-PEDES mAP | CUHK-PEDES mINP | ICFG-PEDES R@1 |" in zh
    assert "| bi-irra | zh | - | 55.50 | 70.00 | 80.00 | 45.00 | 30.00 | 44.00 |" in zh
    assert "| bi-irra | en | - | 33.00 | 70.00 | 80.00 | 45.00 | 30.00 | - | - | - | - | - |" in zh
    assert "40.00" not in md
    assert "Queries in Chinese (zh), test split, image-to-text" in md
    assert "| clip | - | - | 12.00 |" in md.split("Queries in French (fr)")[1]

    rows = list(csv.DictReader(io.StringIO(board.to_csv(results))))
    assert len(rows) == 5
    assert {r["R1"] for r in rows if r["model"] == "bi-irra" and r["train_lang"] == "zh"
            and r["dataset"] == "cuhk-pedes" and r["direction"] == "t2i"} == {"55.5"}
    as_json = board.to_rows(results)
    assert [r["query_lang"] for r in as_json] == ["fr", "zh", "zh", "zh", "zh"] and set(METRIC_KEYS) <= set(as_json[0])
    assert (as_json[0]["queries"], as_json[0]["gallery"], as_json[0]["left_out"]) == (100, 50, 3)


def test_an_epoch_chosen_on_test_is_its_own_marked_row():
    results = [result("bi-irra", r1=40.0, selection="val"),
               result("bi-irra", r1=47.0, selection="test", created="2026-01-03T00:00:00+00:00")]
    md = board.to_markdown(results)
    assert "| bi-irra | zh | val | 40.00 |" in md and "| bi-irra | zh | test (optimistic) | 47.00 |" in md
    assert sorted(r["selection"] for r in board.to_rows(results)) == ["test", "val"]


def test_plot_writes_a_png(tmp_path):
    out = tmp_path / "plots" / "r1.png"
    assert board.plot_r1([result("a"), result("b", dataset="rstpreid"), result("a", lang="de")], out) == 2
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["r1.png"]  # no temp file left behind


@pytest.fixture
def submission(tmp_path):
    ws_root = build_split(tmp_path)
    keys, cap_pids, paths, img_pids = split_items(ws_root)
    rng = np.random.default_rng(0)
    text = perfect_features(cap_pids) + 0.4 * rng.standard_normal((len(keys), 16)).astype(np.float32)
    path = write_submission(tmp_path / "run1.npz", text, keys, perfect_features(img_pids), paths)
    return ws_root, path


@pytest.mark.slow
def test_cli_evaluate_json_and_leaderboard(cli, submission, tmp_path):
    ws_root, path = submission
    done = cli("evaluate", "--embeddings", path, "--dataset", DATASET, "--lang", "zh", "--split", "test",
               "--train-lang", "zh", "--json", "-w", ws_root)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    metrics = {k: out["t2i"][k] for k in METRIC_KEYS}
    assert list(out) == ["t2i", "queries", "gallery", "left_out", "selection", "stored"]
    assert list(out["t2i"]) == METRIC_KEYS
    assert all(0 <= v <= 100 for v in metrics.values())
    assert (out["queries"], out["gallery"], out["left_out"], out["selection"]) == (16, 8, 0, "")

    both = cli("evaluate", "-e", path, "-d", DATASET, "-l", "zh", "--direction", "both", "--json", "-w", ws_root)
    assert both.returncode == 0, both.stderr
    both = json.loads(both.stdout)
    assert list(both) == ["t2i", "i2t", "queries", "gallery", "left_out", "selection", "stored"]  # the same shape
    assert both["t2i"] == pytest.approx(metrics) and both["queries"] == 16

    with Workspace.open(ws_root) as ws:
        assert [(r.model, r.direction) for r in ws.results()] == [("run1", "t2i"), ("run1", "t2i"), ("run1", "i2t")]

    md = cli("leaderboard", "--plot", tmp_path / "lb.png", "-w", ws_root)
    assert md.returncode == 0, md.stderr
    assert f"| run1 | zh | - | {metrics['R1']:.2f} | {metrics['R5']:.2f} |" in md.stdout
    assert (tmp_path / "lb.png").read_bytes()[:4] == b"\x89PNG"
    rows = json.loads(cli("leaderboard", "--format", "json", "--direction", "t2i", "-w", ws_root).stdout)
    assert [(r["model"], r["train_lang"], r["direction"]) for r in rows] == [("run1", "", "t2i"), ("run1", "zh", "t2i")]
    assert json.loads(cli("leaderboard", "--json", "--direction", "t2i", "-w", ws_root).stdout) == rows


@pytest.mark.slow
def test_cli_refusals_are_one_line(cli, submission, tmp_path):
    ws_root, path = submission
    bad = tmp_path / "bad.npz"
    with np.load(path) as z:
        arrays = dict(z)
    arrays["text_feats"][0, 0] = np.nan
    np.savez(bad, **arrays)
    done = cli("evaluate", "-e", bad, "-d", DATASET, "-l", "zh", "-w", ws_root)
    assert done.returncode == 2
    assert "NaN/inf" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr

    nothing = cli("evaluate", "-d", DATASET, "-l", "zh", "-w", ws_root)
    assert nothing.returncode == 2 and "nothing to evaluate" in nothing.stderr

    empty = cli("leaderboard", "-w", ws_root)
    assert empty.returncode == 2 and "no results" in empty.stderr


def test_plot_to_an_unwritable_path_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot write the plot"):
        board.plot_r1([result("a")], blocker / "r1.png")


def test_plot_to_svg_writes_svg_and_other_suffixes_are_refused(tmp_path):
    """Issue 16 item 7: an .svg holds SVG, never PNG bytes; a suffix it cannot write is refused first."""
    out = tmp_path / "r1.svg"
    assert board.plot_r1([result("a")], out) == 1
    assert b"<svg" in out.read_bytes()[:400] and b"PNG" not in out.read_bytes()[:8]
    with pytest.raises(UserError, match=r"--plot .*r1\.jpg: write a \.png or \.svg file"):
        board.plot_r1([result("a")], tmp_path / "r1.jpg")
    assert not (tmp_path / "r1.jpg").exists()


def test_a_method_keeps_its_colour_in_every_panel(tmp_path):
    """Panel de has methods a and b, panel zh only b: b must not take a's colour in the zh panel."""
    results = [result("a", lang="de"), result("b", lang="de"), result("b", lang="zh")]
    out = tmp_path / "r1.svg"
    assert board.plot_r1(results, out) == 2
    svg = out.read_text()
    first, second = "#1f77b4", "#ff7f0e"  # matplotlib's C0 and C1
    # a: one bar and one legend patch in C0; b: two bars and two legend patches in C1
    assert (svg.count(f"fill: {first}"), svg.count(f"fill: {second}")) == (2, 4)
