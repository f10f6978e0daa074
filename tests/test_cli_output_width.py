"""What a user copies is never cut: output to a pipe or a file keeps long lines whole and tables at their
natural width, and `--help` at 80 columns shows every option name whole."""

from __future__ import annotations

import re

from tests.conftest import run_cli
from tests.support.release_workspace import build_workspace
from tests.support.translate_data import make_workspace, run_main
from tipr_bench.benchmark.records import Translation
from tipr_bench.benchmark.store import Workspace
from tipr_bench.cli import command
from tipr_bench.release import export_release

NARROW = {"COLUMNS": "80"}


def _commands(group, path=()):
    for name, sub in getattr(group, "commands", {}).items():
        if getattr(sub, "commands", None):
            yield from _commands(sub, (*path, name))
        else:
            yield (*path, name), sub


def test_help_at_80_columns_shows_every_option_name_whole():
    for path, cmd in _commands(command()):
        result = run_main(*path, "--help", env=NARROW)
        assert result.returncode == 0, (path, result.stderr)
        names = [name for p in cmd.params for name in (*p.opts, *getattr(p, "secondary_opts", ()))
                 if name.startswith("--")]
        cut = [name for name in names if not re.search(re.escape(name) + r"(?![\w-])", result.stdout)]
        assert not cut and "…" not in result.stdout, (path, cut)


def test_a_piped_manifest_sha256_and_a_wide_status_table_stay_whole(tmp_path):
    with build_workspace(tmp_path / "release-ws") as ws:
        release = export_release(ws, "cuhk-pedes-multilingual-benchmark", "1.0.0", tmp_path / "releases").path
    verified = run_cli("verify", release, env=NARROW)
    assert verified.returncode == 0, verified.stderr
    line = verified.stdout.strip()
    assert len(verified.stdout.strip().splitlines()) == 1 and re.search(r"manifest sha256 [0-9a-f]{64}\)$", line)

    ws = make_workspace(tmp_path / "ws", n=1200)
    langs = ("de", "fr", "ja", "ko", "zh")
    with Workspace.open(ws) as workspace:
        keys = [key for key, _ in workspace.caption_texts()]
        workspace.put_translations([Translation(key, lang, "x", "openai", "m", "ldat", "0" * 64,
                                                status="flagged" if i % 100 == 0 else "ok")
                                    for lang in langs for i, key in enumerate(keys)])
    status = run_cli("status", "-w", ws, env=NARROW)
    assert status.returncode == 0, status.stderr
    assert "…" not in status.stdout
    train = next(line for line in status.stdout.splitlines() if " train " in line)
    assert len(re.findall(r"960/960 \(\d+ flagged\)", train)) == len(langs), status.stdout
