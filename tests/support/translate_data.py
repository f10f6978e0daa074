"""Test workspaces with English captions for the translate tests (real SQLite files on disk)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

from tipr_bench.benchmark.records import Caption
from tipr_bench.benchmark.store import DatasetInfo, Workspace
from tipr_bench.cli import main

ENV = {"OPENAI_API_KEY": ""}  # tests never pick up a real key from the environment

_COLOURS = ["red", "black", "white", "blue", "green", "yellow", "grey"]
_TOPS = ["jacket", "shirt", "coat", "dress"]
_BOTTOMS = ["pants", "trousers", "jeans", "skirt"]
_PEOPLE = ["woman", "man", "girl", "boy"]


def caption_text(i: int) -> str:
    """A distinct, deterministic English person description for index i."""
    c = _COLOURS
    return (f"A {_PEOPLE[i % 4]} wearing a {c[i % 7]} {_TOPS[(i // 7) % 4]} and {c[(i // 3) % 7]} "
            f"{_BOTTOMS[(i // 5) % 4]}, carrying a {c[(i // 11) % 7]} bag number {i}.")


def make_captions(n: int, dataset: str = "synth", duplicates: int = 0) -> list[Caption]:
    """n captions over two splits; the last `duplicates` repeat the text of the first ones."""
    captions = []
    for i in range(n):
        text = caption_text(i - (n - duplicates)) if i >= n - duplicates else caption_text(i)
        captions.append(Caption(dataset, "test" if i % 5 == 0 else "train", i // 2, f"p{i // 2:04d}/{i:05d}.png",
                                0, "en", text))
    return captions


def make_workspace(root: Path, n: int = 20, dataset: str = "synth", duplicates: int = 0) -> Path:
    """A workspace folder at `root` holding n English captions."""
    with Workspace.open(root) as ws:
        ws.ingest(DatasetInfo(dataset, str(root), str(root / "images"), str(root / "reid_raw.json"),
                              "2026-01-01T00:00:00+00:00"), make_captions(n, dataset, duplicates))
    return root


def run_main(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    """The CLI entry point in this process: exit code, stdout and stderr as a subprocess would give."""
    env = {**ENV, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    saved_env = {k: os.environ.get(k) for k in env}
    saved_argv = sys.argv
    out, err = io.StringIO(), io.StringIO()
    os.environ.update(env)
    sys.argv = ["tipr-bench", *map(str, args)]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved_argv
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())
