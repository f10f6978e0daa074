"""The data commands through the real CLI: counts, idempotence, one-line errors with exit 2."""

from __future__ import annotations

import json

from tests.test_foundation_store import make_dataset


def test_ingest_prints_counts_and_reingest_adds_nothing(tmp_path, cli):
    make_dataset(tmp_path / "data")
    first = cli("ingest", "--dataset", "cuhk-pedes", "--root", tmp_path / "data", "--workspace", tmp_path / "ws")
    assert first.returncode == 0, first.stderr
    assert "12 added" in first.stdout and "train" in first.stdout
    again = cli("ingest", "--root", tmp_path / "data", "--workspace", tmp_path / "ws", "--json")
    report = json.loads(again.stdout)
    assert report["captions"] == {"added": 0, "updated": 0, "unchanged": 12}
    status = cli("status", "--workspace", tmp_path / "ws", "--json")
    assert {r["split"]: r["captions"] for r in json.loads(status.stdout)["splits"]} == {"test": 4, "train": 8}


def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, cli):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "reid_raw.json").write_text('[{"split": "train", "id": 1}]', encoding="utf-8")
    result = cli("ingest", "--root", tmp_path / "data", "--workspace", tmp_path / "ws")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "record 0: missing field" in lines[0] and "Traceback" not in result.stderr
    assert cli("status", "--workspace", tmp_path / "ws2").returncode == 2


def test_env_workspace(tmp_path, cli):
    make_dataset(tmp_path / "data")
    result = cli("ingest", "--root", tmp_path / "data", env={"TIPR_WORKSPACE": str(tmp_path / "envws")})
    assert result.returncode == 0 and (tmp_path / "envws" / "tipr.sqlite").exists()


def test_an_unwritable_output_path_is_one_line_not_a_traceback(tmp_path, cli):
    make_dataset(tmp_path / "data")
    (tmp_path / "file").write_text("not a folder")
    result = cli("sample", "--out", tmp_path / "file" / "sub", "--persons", "3")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and str(tmp_path / "file") in result.stderr


def test_error_text_is_printed_as_is_not_as_markup(tmp_path, cli):
    root = tmp_path / "data[1]:smile:"
    root.mkdir()
    result = cli("ingest", "--root", root, "--workspace", tmp_path / "ws")
    assert result.returncode == 2 and f"{root}: no annotation file found" in result.stderr
