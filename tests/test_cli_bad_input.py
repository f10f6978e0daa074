"""Every command, each kind of invalid option value: exit 2, one line naming the option and the fix, no
traceback, nothing written, no model loaded. The cases run in one fresh process through the real entry
point (tests/support/bad_input_cases.py), so a heavy import shows as what it is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.refine_fixtures import make_workspace

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_every_bad_option_is_one_line_exit_2_nothing_written_no_model_loaded(tmp_path):
    work, home = tmp_path / "work", tmp_path / "home"
    make_workspace(work).close()
    done = subprocess.run([sys.executable, "-m", "tests.support.bad_input_cases", str(work)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(home), "OPENAI_API_KEY": ""})
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) > 50
    for r in results:
        case = " ".join(r["args"])
        lines = r["stderr"].strip().splitlines()
        assert r["code"] == 2, (case, r["stderr"])
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r["stderr"], case
        assert r["expected"] in lines[0], (case, lines[0])
        assert not r["changed"], f"{case}: wrote to disk"
        assert not r["heavy"], f"{case}: loaded {r['heavy']}"
        assert "SECRET" not in r["stderr"] and "abc123" not in r["stderr"], f"{case}: repeated a key"
