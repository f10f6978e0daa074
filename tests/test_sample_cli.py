"""`tipr-bench sample` through the real CLI, and the issue's done-when: sample, then ingest it twice."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_sample_then_ingest_counts_and_reingest_adds_nothing(tmp_path, cli):
    made = cli("sample", "--out", tmp_path / "s", "--persons", "5", "--seed", "2", "--json")
    assert made.returncode == 0, made.stderr
    summary = json.loads(made.stdout)
    assert summary["persons"] == 5 and summary["captions"] == 2 * summary["images"]
    assert set(summary["splits"]) == {"train", "val", "test"}

    first = cli(
        "ingest", "--dataset", "cuhk-pedes", "--root", tmp_path / "s", "--workspace", tmp_path / "w", "--json"
    )
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["captions"]["added"] == summary["captions"]
    again = cli("ingest", "--root", tmp_path / "s", "--workspace", tmp_path / "w", "--json")
    assert json.loads(again.stdout)["captions"] == {
        "added": 0,
        "updated": 0,
        "unchanged": summary["captions"],
    }


def test_bad_persons_is_one_line_exit_2(tmp_path, cli):
    result = cli("sample", "--out", tmp_path / "s", "--persons", "1")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--persons" in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "s").exists()
