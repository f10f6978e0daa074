"""publish against a loopback Hub: one commit holding the card and the parquet files, a vVERSION tag,
the published version refused again without --force, a new version replacing the old files, the token
never written anywhere, and every error one line before or without a commit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.support.hub_repos import hub_env
from tests.support.hub_server import HubServer
from tests.support.release_workspace import build_workspace
from tipr_bench.release import export_release

TOKEN = "hf_loopbackWRITEtoken_never_on_disk_123"
REPO = "my-lab/cuhk-pedes-m"


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("publish")
    with build_workspace(root / "ws") as ws:
        export_release(ws, "m", "1.0.0", root / "out", formats=["parquet", "jsonl", "irra", "bi-irra"])
        export_release(ws, "m", "1.1.0", root / "out", langs=["en", "zh", "de"])
    return root / "out" / "m"


@pytest.fixture
def hub():
    with HubServer() as server:
        server.tokens[TOKEN] = "my-lab"
        server.writers.add(TOKEN)
        server.tokens["hf_readonly"] = "my-lab"
        yield server


def publish(cli, hub, tmp_path, *args, token=TOKEN, **env):
    return cli("publish", *map(str, args), env={**hub_env(hub.url, tmp_path, token), **env})


def one_error_line(result) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(("error:", "integrity check failed:"))]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_publish_is_one_commit_with_card_configs_and_parquet(cli, hub, releases, tmp_path):
    result = publish(cli, hub, tmp_path, releases / "1.0.0", "--repo", REPO, "--private", "--json")
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    repo = hub.repos[REPO]
    assert repo.private and got["commit"] == repo.branches["main"] and repo.tags == {"v1.0.0": got["commit"]}
    head = repo.commits[got["commit"]]
    assert head.summary == "m 1.0.0" and repo.commits[head.parent].summary == "initial commit"  # one commit
    release_files = sorted(p.relative_to(releases / "1.0.0").as_posix()
                           for p in (releases / "1.0.0").rglob("*") if p.is_file())
    assert sorted(head.files) == sorted([".gitattributes", *release_files])
    for path in release_files:
        assert head.files[path] == (releases / "1.0.0" / path).read_bytes()
    assert {p for p in head.lfs} == {p for p in release_files if p.endswith(".parquet")}  # parquet through LFS
    front = yaml.safe_load(re.match(r"^---\n(.*?)\n---\n", head.files["README.md"].decode(), re.S).group(1))
    configs = {c["config_name"]: {f["split"]: f["path"] for f in c["data_files"]} for c in front["configs"]}
    assert configs["zh"] == {"train": "data/zh/train.parquet", "test": "data/zh/test.parquet"}
    assert set(configs) == {"en", "zh", "fr", "de"}
    assert all(auth is None for method, path, auth in hub.requests if path.startswith("cdn:"))


def test_the_token_reaches_only_the_authorization_header(cli, hub, releases, tmp_path):
    result = publish(cli, hub, tmp_path, releases / "1.0.0", "--repo", REPO)
    assert result.returncode == 0, result.stderr
    assert TOKEN not in result.stdout + result.stderr
    for root in (releases, tmp_path):
        for path in root.rglob("*"):
            assert not path.is_file() or TOKEN.encode() not in path.read_bytes(), path
    for commit in hub.repos[REPO].commits.values():
        assert all(TOKEN.encode() not in data for data in commit.files.values())
    assert {auth for method, path, auth in hub.requests if not path.startswith(("cdn:", "/lfs/"))} == {
        f"Bearer {TOKEN}"}


def test_a_published_version_is_refused_unless_forced_and_a_new_one_replaces_the_files(cli, hub, releases,
                                                                                       tmp_path):
    assert publish(cli, hub, tmp_path, releases / "1.0.0", "--repo", REPO).returncode == 0
    commits = len(hub.repos[REPO].commits)
    again = publish(cli, hub, tmp_path, releases / "1.0.0", "--repo", REPO)
    assert again.returncode == 2 and "already published" in one_error_line(again) and "--force" in again.stderr
    assert len(hub.repos[REPO].commits) == commits
    forced = publish(cli, hub, tmp_path, releases / "1.0.0", "--repo", REPO, "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    assert hub.repos[REPO].tags["v1.0.0"] == json.loads(forced.stdout)["commit"]

    newer = publish(cli, hub, tmp_path, releases / "1.1.0", "--repo", REPO, "--json")
    assert newer.returncode == 0, newer.stderr
    deleted = json.loads(newer.stdout)["deleted"]
    assert "data/fr/train.parquet" in deleted and "data/en/train.jsonl" in deleted
    head = hub.repos[REPO].resolve("main")
    assert json.loads(head.files["MANIFEST.json"])["version"] == "1.1.0" and "data/fr/test.parquet" not in head.files
    assert hub.repos[REPO].resolve("v1.0.0").files["data/fr/test.parquet"]  # the old version stays at its tag


def test_a_refused_publish_leaves_no_branch_and_private_says_what_the_repo_is(cli, hub, releases, tmp_path):
    assert publish(cli, hub, tmp_path, releases / "1.0.0", "--repo", REPO).returncode == 0  # a public repo
    refused = publish(cli, hub, tmp_path, releases / "1.0.0", "--repo", REPO, "--revision", "staging")
    assert refused.returncode == 2 and "staging" not in hub.repos[REPO].branches
    newer = publish(cli, hub, tmp_path, releases / "1.1.0", "--repo", REPO, "--private", "--json")
    assert newer.returncode == 0, newer.stderr
    assert json.loads(newer.stdout)["private"] is False and not hub.repos[REPO].private  # the repo stays public


def test_publish_to_a_new_branch(cli, hub, releases, tmp_path):
    result = publish(cli, hub, tmp_path, releases / "1.1.0", "--repo", REPO, "--revision", "staging", "--json")
    assert result.returncode == 0, result.stderr
    repo = hub.repos[REPO]
    assert repo.branches["staging"] == json.loads(result.stdout)["commit"] and "MANIFEST.json" not in repo.resolve(
        "main").files


def test_a_published_release_downloads_and_ingests_back(cli, hub, releases, tmp_path):
    assert publish(cli, hub, tmp_path, releases / "1.1.0", "--repo", REPO).returncode == 0
    result = cli("download", f"hf://datasets/{REPO}@v1.1.0", "--out", tmp_path / "back", "--ingest",
                 "-w", tmp_path / "ws", "--json", env=hub_env(hub.url, tmp_path, TOKEN))  # the release names it
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert [(f["folder"], f["format"], f["languages"]) for f in got["found"]] == [("", "release", ["en", "zh", "de"])]
    verified = cli("verify", tmp_path / "back")
    assert verified.returncode == 0, verified.stderr
    assert got["ingest"]["dataset"] == "cuhk-pedes"


@pytest.mark.parametrize("case", ["no token", "read-only token", "bad token", "not a release", "tampered",
                                  "bad repo", "network down"])
def test_publish_errors_are_one_line(cli, hub, releases, tmp_path, case):
    target, token, repo, code, expected = releases / "1.0.0", TOKEN, REPO, 2, ""
    if case == "no token":
        token, expected = "", "needs a Hub token with write access: set HF_TOKEN or run `hf auth login`"
    elif case == "read-only token":
        token, expected = "hf_readonly", "lacks the permission"
    elif case == "bad token":
        token, expected = "hf_wrong", "refused the token (401)"
    elif case == "not a release":
        target, expected = tmp_path, "no MANIFEST.json"
    elif case == "tampered":
        import shutil

        target = tmp_path / "copy"
        shutil.copytree(releases / "1.0.0", target)
        (target / "data" / "zh" / "test.parquet").write_bytes(b"not the released bytes")
        code, expected = 1, "is not intact"
    elif case == "bad repo":
        repo, expected = "no-slash", "not a Hub repo name"
    result = publish(cli, hub, tmp_path, target, "--repo", repo, token=token,
                     **({"HF_ENDPOINT": "http://127.0.0.1:9"} if case == "network down" else {}))
    if case == "network down":
        code, expected = 1, "cannot reach"
    assert result.returncode == code, result.stdout + result.stderr
    assert expected in one_error_line(result)
    assert REPO not in hub.repos or len(hub.repos[REPO].commits) <= 1  # nothing committed
    if case in ("no token", "not a release", "tampered", "bad repo"):
        assert hub.requests == []  # refused before any request


def test_datasets_loads_the_published_repo_per_language_from_the_hub(cli, hub, releases, tmp_path):
    """The issue's promise: datasets.load_dataset("OWNER/NAME", "zh") returns train and test (a fresh
    interpreter, so huggingface_hub reads HF_ENDPOINT pointing at the loopback Hub)."""
    import os
    import subprocess
    import sys

    assert publish(cli, hub, tmp_path, releases / "1.0.0", "--repo", REPO).returncode == 0
    script = ("import datasets, json, sys; d = datasets.load_dataset(sys.argv[1], 'zh', cache_dir=sys.argv[2]); "
              "print(json.dumps({s: [d[s].num_rows, sorted(set(d[s]['lang']))] for s in d}))")
    done = subprocess.run([sys.executable, "-c", script, REPO, str(tmp_path / "datasets-cache")],
                          env={**os.environ, **hub_env(hub.url, tmp_path, TOKEN), "HF_DATASETS_OFFLINE": "0"},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    counts = json.loads((releases / "1.0.0" / "MANIFEST.json").read_text())["counts"]["zh"]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {s: [n, ["zh"]] for s, n in counts.items()}
