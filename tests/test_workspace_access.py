"""Who may write a workspace: a read-only one is read, never written; a second writing command on one
workspace is refused while the first runs, and a killed one leaves no stale lock."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.eval_split import build_split, perfect_features, split_items, write_submission
from tests.support.openai_server import OpenAIServer
from tests.support.translate_data import ENV, make_workspace, run_main
from tipr_bench.benchmark.store import Workspace
from tipr_bench.benchmark.store_results import EvalResult


@contextmanager
def read_only(folder: Path):
    """`folder` and its files made unwritable for this process: `chattr +i` as root (root ignores the
    permission bits, an immutable file it cannot write), the permission bits otherwise."""
    paths = [folder, *folder.iterdir()]
    if os.geteuid() == 0:
        made = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True, text=True) \
            if shutil.which("chattr") else None
        if made is None or made.returncode != 0:
            pytest.skip("running as root without `chattr +i` here: nothing else makes a folder unwritable to root")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
    else:
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(modes[p] & ~0o222)
        try:
            yield
        finally:
            for p in reversed(paths):
                p.chmod(modes[p])


def _one_line_error(result, *words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_a_read_only_workspace_is_read_and_never_written(tmp_path):
    ws_root = build_split(tmp_path)
    keys, cap_pids, paths, img_pids = split_items(ws_root)
    submission = write_submission(tmp_path / "run.npz", perfect_features(cap_pids), keys,
                                  perfect_features(img_pids), paths)
    with Workspace.open(ws_root) as ws:
        ws.add_result(EvalResult("stored-run", "cuhk-pedes", "zh", "zh", "test", "t2i",
                                 {"R1": 50.0, "R5": 60.0, "R10": 70.0, "mAP": 40.0, "mINP": 30.0}))
    before = (ws_root / "tipr.sqlite").read_bytes()
    dataset = tmp_path / "sample"
    assert run_main("sample", "--out", dataset, "--persons", "3").returncode == 0
    sheet = tmp_path / "review.csv"
    sheet.write_text("key,lang,source,translation,back_translation,verdict,reasons,corrected\n", encoding="utf-8")
    with read_only(ws_root):
        status = run_main("status", "-w", ws_root, "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["results"] == 1
        board = run_main("leaderboard", "-w", ws_root, "--format", "csv")
        assert board.returncode == 0 and "stored-run" in board.stdout, board.stderr
        review = run_main("review", "export", "--lang", "zh", "--out", tmp_path / "sheet.csv", "-w", ws_root)
        assert review.returncode == 0 and (tmp_path / "sheet.csv").is_file(), review.stderr
        export = run_main("export", "--name", "ro", "--version", "1.0.0", "--out", tmp_path / "releases",
                          "-w", ws_root, "--json")
        assert export.returncode == 0, export.stderr
        assert json.loads(export.stdout)["counts"]["zh"]["test"] == len(keys)
        scored = run_main("evaluate", "--embeddings", submission, "--dataset", "cuhk-pedes", "--lang", "zh",
                          "-w", ws_root, "--json")
        assert scored.returncode == 0, scored.stderr
        assert json.loads(scored.stdout)["t2i"]["R1"] == 100.0 and json.loads(scored.stdout)["stored"] is False
        dry = run_main("translate", "--lang", "fr", "--dry-run", "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
                       "-w", ws_root, "--json")
        assert dry.returncode == 0 and json.loads(dry.stdout)["requests"] == 20, dry.stderr  # 16 test + 4 train

        server = ("--base-url", "http://127.0.0.1:9/v1", "--model", "m")  # never reached: refused first
        for command, args in (("translate", ("translate", "--lang", "zh", *server)),
                              ("refine", ("refine", "--lang", "zh", *server)),
                              ("review import", ("review", "import", sheet, "--lang", "zh")),
                              ("ingest", ("ingest", "--root", dataset))):
            _one_line_error(run_main(*args, "-w", ws_root), "is read-only", f"tipr-bench {command} writes")
        assert not (ws_root / "writer.lock").exists()
    assert (ws_root / "tipr.sqlite").read_bytes() == before
    assert sorted(p.name for p in ws_root.iterdir()) == ["tipr.sqlite"]


def _translate(ws: Path, url: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tipr_bench", "translate", "--lang", "zh", "--model", "test-model", "--base-url", url,
         "--concurrency", "2", "--json", "-w", str(ws)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_requests(server: OpenAIServer, count: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while server.request_count < count and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None and server.request_count >= count, "the first run never got going"


@pytest.mark.slow
def test_a_second_translate_is_refused_while_the_first_runs_and_a_killed_one_leaves_no_lock(tmp_path):
    n = 40
    ws = make_workspace(tmp_path / "ws", n=n)
    env = {**os.environ, **ENV, "NO_COLOR": "1", "COLUMNS": "200"}
    with OpenAIServer(latency=0.1) as server:
        first = _translate(ws, server.base_url, env)
        _wait_for_requests(server, 2, first)
        second = _translate(ws, server.base_url, env)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2, err
        assert err.count("\n") == 1 and f"being written by pid {first.pid} (`tipr-bench translate`" in err
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
        assert json.loads(out)["done"] == n
        assert server.request_count == n and max(Counter(server.sources).values()) == 1  # nothing asked twice
        assert not (ws / "writer.lock").exists()

        # kill -9 mid-run: the kernel drops the lock with the process, and the next run takes over and resumes
        more = make_workspace(tmp_path / "more", n=n)
        killed = _translate(more, server.base_url, env)
        _wait_for_requests(server, n + 4, killed)
        killed.send_signal(signal.SIGKILL)
        killed.communicate()
        assert (more / "writer.lock").exists()  # left behind, but no longer locked
        resumed = _translate(more, server.base_url, env)
        out, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err
        assert json.loads(out)["done"] == n and json.loads(out)["cached"] > 0
        assert not (more / "writer.lock").exists()
