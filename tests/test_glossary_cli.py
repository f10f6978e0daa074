"""`tipr-bench glossary check|show` through the real CLI: in-process with Typer's runner where only the
output matters, and in a subprocess where the exit code and stderr line of a bad input matter."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from tipr_bench.benchmark.records import Caption
from tipr_bench.benchmark.store import DatasetInfo, Workspace
from tipr_bench.cli import app
from tipr_bench.core.errors import UserError

CAPTIONS = [
    "A tall man in a navy windbreaker pushes a stroller along the quay.",
    "The woman wears a floral blouse and carries a wicker basket.",
    "Zorblat quibbles near the quay at dusk.",
    "A girl with a ponytail rides a scooter; a wicker basket hangs from it.",
]


def run(*args) -> SimpleNamespace:
    """The command's stdout and return code, in-process; a UserError is re-raised as the CLI would report it."""
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200", "NO_COLOR": "1"})
    if isinstance(result.exception, UserError):
        raise result.exception
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr="")


def write_jsonl(path, texts):
    path.write_text("".join(json.dumps({"text": t, "id": i}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    return path


def test_check_json_reports_coverage_and_uncovered_domain_words(tmp_path):
    data = write_jsonl(tmp_path / "caps.jsonl", CAPTIONS)
    result = run("glossary", "check", "--lang", "zh", "--input", data, "--json", "--top", "3")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"captions", "with_term", "coverage", "uncovered"}
    assert report["captions"] == 4 and report["with_term"] == 3 and report["coverage"] == 0.75
    # function words (the, a, from, near, at) are left out; the most frequent uncovered words first
    assert report["uncovered"][:2] == [["quay", 2], ["wicker", 2]]
    assert len(report["uncovered"]) == 3


def test_check_with_user_glossary_and_table_output(tmp_path):
    data = write_jsonl(tmp_path / "caps.jsonl", CAPTIONS)
    user = tmp_path / "mine.tsv"
    user.write_text("en\ttarget\twrong\tcategory\tnote\nbasket|wicker basket\tpanier\t\tcarried\n", encoding="utf-8")
    result = run("glossary", "check", "-l", "fr", "-i", data, "--glossary", user)
    assert result.returncode == 0, result.stderr
    assert "3/4 captions" in result.stdout and "75.0%" in result.stdout
    assert "quay" in result.stdout and "wicker" not in result.stdout


def test_check_on_a_workspace_split(tmp_path):
    with Workspace.open(tmp_path / "ws") as ws:
        ws.ingest(
            DatasetInfo("cuhk-pedes", str(tmp_path), str(tmp_path / "imgs"), "reid_raw.json", "2026-01-01"),
            [
                Caption("cuhk-pedes", split, pid, f"cam/{pid}.png", 0, "en", text)
                for pid, (split, text) in enumerate(
                    [("test", CAPTIONS[0]), ("test", CAPTIONS[2]), ("train", CAPTIONS[1])]
                )
            ],
        )
    result = run("glossary", "check", "--lang", "de", "--dataset", "cuhk-pedes", "--split", "test",
                 "-w", tmp_path / "ws", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["captions"] == 2 and json.loads(result.stdout)["with_term"] == 1
    with pytest.raises(UserError, match="dataset 'icfg-pedes' is not in workspace"):
        run("glossary", "check", "--lang", "de", "--dataset", "icfg-pedes", "-w", tmp_path / "ws")
    with pytest.raises(UserError, match="no workspace at"):
        run("glossary", "check", "--lang", "de", "-w", tmp_path / "nowhere")


def test_bad_input_line_is_one_line_exit_2(tmp_path, cli):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a man"}\n\n{"text": 3}\n', encoding="utf-8")
    result = cli("glossary", "check", "--lang", "zh", "--input", bad)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{bad}:3:" in lines[0] and '"text"' in lines[0]
    assert "Traceback" not in result.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "a man"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(UserError, match=r"broken.jsonl:2: not valid JSON"):
        run("glossary", "check", "--lang", "zh", "--input", broken, "--json")
    with pytest.raises(UserError, match="not found"):
        run("glossary", "check", "--lang", "zh", "--input", tmp_path / "absent.jsonl")


def test_show_filters_by_category():
    result = run("glossary", "show", "--lang", "de", "--category", "footwear", "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert {e["category"] for e in shown["entries"]} == {"footwear"}
    assert any(e["term"] == "sneaker" and "Turnschuh" in e["targets"] for e in shown["entries"])
    with pytest.raises(UserError, match="categories: .*footwear"):
        run("glossary", "show", "--lang", "de", "--category", "spaceship")
    table = run("glossary", "show", "--lang", "zh", "--category", "colour")
    assert "maroon" in table.stdout and "栗色" in table.stdout
