"""download hf://datasets/... against a loopback Hub: download -> ingest -> evaluate on a repo laid out like
zzhugging/Bi-IRRA, the commit cited down to a release, the cache and offline mode, checksums, and every
error as one line with nothing installed."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest

from tests.support.eval_split import perfect_features, write_submission
from tests.support.hub_repos import bi_irra_files, hub_env
from tests.support.hub_server import HubServer
from tipr_bench.benchmark.store import Workspace
from tipr_bench.release import export_release

REPO = "zzhugging/Bi-IRRA"
SPEC = f"hf://datasets/{REPO}"


@pytest.fixture
def hub():
    with HubServer() as server:
        server.add_repo(REPO, bi_irra_files(), lfs_globs=("*_reid_ch.json",))
        yield server


def run(cli, hub_url: str, tmp: Path, *args, token: str = "", **env):
    return cli("download", *args, env={**hub_env(hub_url, tmp, token), **env})


def one_error_line(result) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_download_ingest_evaluate_and_cite_the_commit(cli, hub, tmp_path):
    out, ws_root = tmp_path / "bi-irra", tmp_path / "ws"
    result = run(cli, hub.url, tmp_path, SPEC, "--include", "CUHK-PEDES/*", "--out", out, "--ingest",
                 "--dataset", "cuhk-pedes", "-w", ws_root)
    assert result.returncode == 0, result.stderr
    commit = hub.repos[REPO].branches["main"]
    assert f"commit {commit}" in result.stdout and "train,test" in result.stdout and "en,de,fr,zh" in result.stdout
    assert "8 checked against the Hub's checksums" in result.stdout
    record = json.loads((out / "HUB_SOURCE.json").read_text())
    assert (record["repo"], record["commit"], record["revision"]) == (REPO, commit, "main")
    assert sorted(f["path"] for f in record["files"]) == sorted(p for p in bi_irra_files() if p.startswith("CUHK"))
    assert not (out / "ICFG-PEDES").exists()
    assert {f["checked"] for f in record["files"]} == {"git-lfs-sha256", "git-blob-sha1"}  # LFS and plain files

    with Workspace.open(ws_root) as ws:
        zh = ws.translations("zh", "cuhk-pedes", "test")
        assert len(zh) == 4 * 2 * 2 and {t.provenance for t in zh.values()} == {"source"}
        assert {t.model for t in zh.values()} == {f"hf://datasets/{REPO}@{commit}/CUHK-PEDES/test_reid_ch.json"}
        captions = ws.captions("cuhk-pedes", "test", "zh")
        images: dict[str, int] = {}
        for c in ws.captions("cuhk-pedes", "test", "en"):
            images.setdefault(c.image_path, c.person_id)
    submission = write_submission(tmp_path / "perfect.npz", perfect_features([c.person_id for c in captions]),
                                  [c.key for c in captions], perfect_features(list(images.values())), list(images))
    evaluated = cli("evaluate", "--embeddings", submission, "--dataset", "cuhk-pedes", "--lang", "zh", "--json",
                    "-w", ws_root)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["t2i"]["R1"] == pytest.approx(100.0)

    with Workspace.open(ws_root) as ws:  # a release built from the download cites the commit
        release = export_release(ws, "bi-irra-cuhk", "1.0.0", tmp_path / "releases", langs=["en", "zh"])
    card = (release.path / "README.md").read_text()
    assert f"hf://datasets/{REPO}@{commit}/CUHK-PEDES/train_reid_ch.json" in card


def test_whole_repo_then_cache_offline_and_already_there(cli, hub, tmp_path):
    first = run(cli, hub.url, tmp_path, SPEC, "--json")
    assert first.returncode == 0, first.stderr
    got = json.loads(first.stdout)
    commit = hub.repos[REPO].branches["main"]
    assert Path(got["path"]) == tmp_path / "tipr-cache" / "hub" / REPO / commit
    assert [(f["folder"], f["splits"], f["languages"]) for f in got["found"]] == [
        (folder, ["train", "test"], ["en", "de", "fr", "zh"]) for folder in ("CUHK-PEDES", "ICFG-PEDES", "RSTPReid")]
    again = run(cli, hub.url, tmp_path, SPEC, "--json")
    assert json.loads(again.stdout)["already_present"] is True

    served = len(hub.requests)
    offline = run(cli, hub.url, tmp_path, SPEC, "--out", tmp_path / "copy", "--json", HF_HUB_OFFLINE="1")
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout)["commit"] == commit and len(hub.requests) == served  # the cache, no request
    assert (tmp_path / "copy" / "RSTPReid" / "test_reid_ch.json").read_bytes() == bi_irra_files()[
        "RSTPReid/test_reid_ch.json"]


def test_a_corrupt_cached_file_fails_its_hub_checksum_and_installs_nothing(cli, hub, tmp_path):
    assert run(cli, hub.url, tmp_path, SPEC, "--include", "RSTPReid/*", "--out", tmp_path / "a").returncode == 0
    blobs = [p for p in (tmp_path / "hf-home" / "hub").rglob("blobs/*") if b"\xe4\xb8\x80" in p.read_bytes()]
    assert blobs  # the cached Chinese file (in LFS: checked through its pointer's sha256)
    blobs[0].write_bytes(blobs[0].read_bytes().replace("红色".encode(), "蓝色".encode()))
    result = run(cli, hub.url, tmp_path, SPEC, "--include", "RSTPReid/*", "--out", tmp_path / "b",
                 HF_HUB_OFFLINE="1")
    assert result.returncode == 1 and "does not match the checksum the Hub lists" in result.stderr
    assert not (tmp_path / "b").exists()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("case", ["unknown repo", "unknown revision", "private", "gated", "network down",
                                  "offline uncached", "no known file", "include matches nothing"])
def test_errors_are_one_line_and_install_nothing(cli, hub, tmp_path, case):
    hub.add_repo("someone/secret", bi_irra_files(), private=True)
    hub.add_repo("someone/gated", bi_irra_files(), gated=True)
    hub.add_repo("someone/pictures", {"imgs/0001.jpg": b"\xff\xd8jpeg", "notes.txt": b"hello"})
    hub.tokens["hf_reader"] = "reader"
    url, spec, extra, env = hub.url, SPEC, [], {}
    expected, code = "", 2
    if case == "unknown repo":
        spec, expected = "hf://datasets/nobody/nothing", "no such dataset repo"
    elif case == "unknown revision":
        spec, expected = f"{SPEC}@v9", "has no revision 'v9'"
    elif case == "private":
        spec, expected = "hf://datasets/someone/secret", "or it is private"
    elif case == "gated":
        spec, expected = "hf://datasets/someone/gated", "is gated: accept its conditions"
        env["HF_TOKEN"] = "hf_reader"
    elif case == "network down":
        url, expected, code = f"http://127.0.0.1:{_closed_port()}", "cannot reach", 1
    elif case == "offline uncached":
        env["HF_HUB_OFFLINE"], expected = "1", "HF_HUB_OFFLINE=1"
    elif case == "no known file":
        spec, expected = "hf://datasets/someone/pictures", "holds no file the adapters know"
    elif case == "include matches nothing":
        extra, expected = ["--include", "Market-1501/*"], "matched none of the"
    result = run(cli, url, tmp_path, spec, "--out", tmp_path / "out", *extra, **env)
    assert result.returncode == code, result.stdout + result.stderr
    line = one_error_line(result)
    assert expected in line, line
    if case in ("private", "gated"):
        assert "HF_TOKEN" in line and "hf auth login" in line
    assert not (tmp_path / "out").exists()


def test_network_down_names_the_cached_revisions(cli, hub, tmp_path):
    assert run(cli, hub.url, tmp_path, SPEC, "--include", "RSTPReid/*", "--out", tmp_path / "a").returncode == 0
    result = run(cli, f"http://127.0.0.1:{_closed_port()}", tmp_path, f"{SPEC}@dev", "--out", tmp_path / "b")
    line = one_error_line(result)
    assert result.returncode == 1 and "cached revisions of this repo: main" in line and "HF_HUB_OFFLINE=1" in line


@pytest.mark.parametrize("args, expected", [
    (["--index", "http://example.invalid/index.json"], "--index goes with a release"),
    (["--dataset", "cuhk-pedes"], "--dataset goes with --ingest"),
    (["--ingest", "--dataset", "market"], "unknown dataset"),
])
def test_option_mistakes_are_caught_before_any_request(cli, hub, tmp_path, args, expected):
    result = run(cli, hub.url, tmp_path, SPEC, *args)
    assert result.returncode == 2 and expected in one_error_line(result)
    assert hub.requests == []


def test_a_bad_spec_or_include_with_a_release_is_one_line(cli, hub, tmp_path):
    bad = run(cli, hub.url, tmp_path, "hf://models/x/y")
    assert bad.returncode == 2 and "hf://datasets/OWNER/NAME" in one_error_line(bad)
    mixed = run(cli, hub.url, tmp_path, "m@1.0.0", "--include", "*.json")
    assert mixed.returncode == 2 and "--include goes with hf://" in one_error_line(mixed)
    assert np.all([r[0] != "POST" for r in hub.requests])



def test_offline_with_a_cache_lacking_the_file_listing_says_so(cli, hub, tmp_path):
    """A cache an older huggingface_hub filled has no tree listing to check the files against."""
    import shutil

    assert run(cli, hub.url, tmp_path, SPEC, "--include", "RSTPReid/*", "--out", tmp_path / "a").returncode == 0
    for trees in (tmp_path / "hf-home").rglob("trees"):
        shutil.rmtree(trees)
    result = run(cli, hub.url, tmp_path, SPEC, "--include", "RSTPReid/*", "--out", tmp_path / "b",
                 HF_HUB_OFFLINE="1")
    assert result.returncode == 2 and "without its file listing" in one_error_line(result)
    assert not (tmp_path / "b").exists()


def test_a_cached_copy_with_the_hub_down_says_it_came_from_the_cache(cli, hub, tmp_path):
    assert run(cli, hub.url, tmp_path, SPEC, "--include", "RSTPReid/*", "--out", tmp_path / "a").returncode == 0
    down = run(cli, f"http://127.0.0.1:{_closed_port()}", tmp_path, SPEC, "--include", "RSTPReid/*", "--out",
               tmp_path / "b")
    assert down.returncode == 0, down.stderr
    assert "copied, from the Hub cache (the Hub was not reached)" in down.stdout
    assert "8 checked against the checksums the Hub listed when the cache was filled" in down.stdout
    assert "against the Hub's checksums" not in down.stdout
    online = run(cli, hub.url, tmp_path, SPEC, "--include", "RSTPReid/*", "--out", tmp_path / "c", "--json")
    assert json.loads(online.stdout)["from_cache"] is False


def test_ingest_of_files_that_do_not_name_their_dataset_asks_for_it_after_installing(cli, hub, tmp_path):
    result = run(cli, hub.url, tmp_path, SPEC, "--include", "RSTPReid/*", "--out", tmp_path / "a", "--ingest",
                 "-w", tmp_path / "ws")
    line = one_error_line(result)
    assert result.returncode == 2 and "does not name its dataset" in line and "--dataset NAME" in line
    assert (tmp_path / "a" / "HUB_SOURCE.json").is_file() and not (tmp_path / "ws").exists()
