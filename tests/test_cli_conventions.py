"""Small things a new user meets, through the real entry point: `--version`, one meaning per short option,
one spelling of the glossary version, honest progress units, no lock files left behind, hints that keep
the workspace, a file where a workspace folder belongs, and `verify` of a folder without a manifest."""

from __future__ import annotations

import json

from tests.support.refine_fixtures import make_workspace as refine_workspace
from tests.support.release_server import ReleaseServer
from tests.support.release_workspace import build_workspace
from tests.support.translate_data import run_main
from tipr_bench import __version__


def test_version():
    done = run_main("--version")
    assert done.returncode == 0 and done.stdout == f"tipr-bench {__version__}\n"


def test_demo_takes_no_dash_w_since_everywhere_else_it_means_the_workspace(tmp_path):
    done = run_main("demo", "-w", tmp_path / "demo", "--persons", "2")  # a bad value too: 9f67dd4 stops at once
    assert done.returncode == 2 and "No such option: -w" in done.stderr
    assert not (tmp_path / "demo").exists()


def test_the_glossary_version_has_one_spelling(tmp_path):
    captions = tmp_path / "captions.jsonl"
    captions.write_text(json.dumps({"text": "A man in a red jacket."}) + "\n", encoding="utf-8")
    version = json.loads(run_main("glossary", "show", "--lang", "zh", "--json").stdout)["version"]
    checked = run_main("glossary", "check", "--lang", "zh", "--input", captions)
    shown = run_main("glossary", "show", "--lang", "zh", "--category", "colour")
    for result in (checked, shown):
        assert result.returncode == 0, result.stderr
        assert f"glossary zh version {version}" in result.stdout and f"v{version}" not in result.stdout


def test_sample_rates_count_what_they_say(tmp_path):
    done = run_main("sample", "--out", tmp_path / "s", "--persons", "3")
    assert done.returncode == 0, done.stderr
    bars = [line for line in done.stderr.splitlines() if "/s" in line]
    assert len(bars) == 2 and all(line.split()[0] in ("drawing", "describing") for line in bars), done.stderr


def test_export_and_download_leave_no_lock_files(tmp_path):
    build_workspace(tmp_path / "ws").close()
    exported = run_main("export", "--name", "m", "--version", "1.0.0", "--out", tmp_path / "releases",
                        "-w", tmp_path / "ws")
    assert exported.returncode == 0, exported.stderr
    with ReleaseServer(tmp_path / "releases") as server:
        got = run_main("download", "m@1.0.0", "--index", f"{server.url}/index.json", "--out", tmp_path / "cache")
    assert got.returncode == 0, got.stderr
    left = [p for folder in ("releases", "cache") for p in (tmp_path / folder).rglob("*") if p.suffix == ".lock"]
    assert left == []


def test_the_review_export_hint_keeps_the_workspace(tmp_path):
    refine_workspace(tmp_path).close()
    ws = tmp_path / "ws"
    done = run_main("review", "export", "--lang", "zh", "--out", tmp_path / "sheet.csv", "-w", ws)
    assert done.returncode == 0, done.stderr
    assert f"`tipr-bench review import {tmp_path / 'sheet.csv'} -w {ws}`" in done.stdout


def test_a_file_where_the_workspace_folder_belongs_is_named(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a workspace")
    for args in (("status",), ("ingest", "--root", tmp_path)):
        done = run_main(*args, "-w", afile)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
        assert f"{afile} is a file, and a workspace is a folder" in done.stderr, done.stderr
    below = run_main("status", "-w", afile / "sub")
    assert below.returncode == 2 and f"{afile} is a file" in below.stderr


def test_verify_of_a_folder_without_a_manifest_is_not_intact_exit_1(tmp_path):
    (tmp_path / "release").mkdir()
    done = run_main("verify", tmp_path / "release")
    assert done.returncode == 1 and "no MANIFEST.json" in done.stderr
    assert run_main("verify", tmp_path / "missing").returncode == 2  # a path that is not there is bad input


def test_each_backend_option_has_one_name_from_the_command_line_to_the_backend():
    """The CLI's parameters are the record's fields, and the backend is built from that record whole."""
    import dataclasses

    from tipr_bench.cli.backend_options import OPTIONS, backend_options
    from tipr_bench.translate import BackendOptions, VllmSettings, build_backend

    fields = {f.name for f in dataclasses.fields(BackendOptions)} | {f.name for f in dataclasses.fields(VllmSettings)}
    assert set(OPTIONS) <= fields
    typed = {name: default for name, (_, default) in OPTIONS.items()}
    typed.update(model="m", base_urls=["http://127.0.0.1:9/v1"], concurrency=3, rpm=60, max_retries=1)
    backend = build_backend(backend_options(**typed))
    assert (backend.model, backend.base_urls, backend.concurrency, backend.max_retries) == (
        "m", ("http://127.0.0.1:9/v1",), 3, 1)


def test_vllm_engine_settings_without_the_vllm_backend_are_refused(tmp_path):
    done = run_main("translate", "--lang", "zh", "--thinking", "--max-model-len", "2048", "-w", tmp_path / "ws")
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: --max-model-len, --thinking: vLLM engine settings; add --backend vllm, "
                                   "or leave them out")
