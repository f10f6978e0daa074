"""download and verify against a real HTTP server on 127.0.0.1: clean, tampered, dropped, traversal,
versions, Hugging Face layout, file paths, resume after a kill, and verify on a changed folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.release_server import ReleaseServer
from tests.support.release_workspace import build_workspace
from tipr_bench.benchmark.manifest import IntegrityError, sha256_bytes
from tipr_bench.core.errors import UserError
from tipr_bench.release import download_release, export_release, verify_release
from tipr_bench.release.transfer import RetryPolicy

FAST = RetryPolicy(attempts=3, backoff=0.01, timeout=5)
BIG = "data/en/train.parquet"


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> Path:
    """A releases folder with m@1.0.0, m@1.2.0 and m@1.10.0 (and the index export wrote)."""
    root = tmp_path_factory.mktemp("releases")
    with build_workspace(root / "ws") as ws:
        for version in ("1.0.0", "1.10.0", "1.2.0"):
            export_release(ws, "m", version, root / "out", formats=["parquet", "jsonl", "irra", "bi-irra"])
    return root / "out"


@pytest.fixture
def served(releases, tmp_path):
    """A private copy of the releases folder (tests may tamper with it), served over HTTP."""
    copy = tmp_path / "served"
    shutil.copytree(releases, copy)
    with ReleaseServer(copy) as server:
        yield copy, server


def get(spec, index, out, **kw):
    return download_release(spec, index, out, policy=FAST, progress=False, **kw)


def same_tree(a: Path, b: Path) -> bool:
    files = lambda root: {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}  # noqa: E731
    return files(a) == files(b)


def test_clean_download_installs_a_verified_copy(served, tmp_path):
    folder, server = served
    result = get("m@1.0.0", f"{server.url}/index.json", tmp_path / "cache")
    assert result.path == tmp_path / "cache" / "m" / "1.0.0" and not result.already_present
    assert same_tree(result.path, folder / "m" / "1.0.0")
    assert verify_release(result.path).ok
    assert sorted(p.name for p in result.path.parent.iterdir()) == ["1.0.0"]  # no staging, no lock file
    again = get("m@1.0.0", f"{server.url}/index.json", tmp_path / "cache")
    assert again.already_present
    (result.path / "README.md").write_text("changed")
    with pytest.raises(UserError, match=r"already exists but does not match m@1\.0\.0 \(README\.md: size"):
        get("m@1.0.0", f"{server.url}/index.json", tmp_path / "cache")


def test_latest_is_the_highest_semver(served, tmp_path):
    _, server = served
    assert get("m@latest", f"{server.url}/index.json", tmp_path / "c").version == "1.10.0"
    assert get("m", f"{server.url}/index.json", tmp_path / "c").version == "1.10.0"


def test_unknown_version_or_name_says_what_exists(served, tmp_path):
    _, server = served
    with pytest.raises(UserError, match=r"no version '9\.9\.9'.*available: 1\.0\.0, 1\.2\.0, 1\.10\.0"):
        get("m@9.9.9", f"{server.url}/index.json", tmp_path / "c")
    with pytest.raises(UserError, match=r"no release named 'nope'.*lists: m"):
        get("nope@1.0.0", f"{server.url}/index.json", tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_a_tampered_byte_fails_and_installs_nothing(served, tmp_path):
    folder, server = served
    target = folder / "m" / "1.0.0" / BIG
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=rf"{BIG}: sha256 .* nothing was installed"):
        get("m@1.0.0", f"{server.url}/index.json", tmp_path / "cache")
    assert not (tmp_path / "cache" / "m" / "1.0.0").exists()
    assert not (tmp_path / "cache" / "m" / ".1.0.0.download").exists()


@pytest.mark.parametrize("change", [lambda b: b[:-7], lambda b: b + b"extra"])
def test_a_file_of_another_size_fails_at_once(served, tmp_path, change):
    folder, server = served
    target = folder / "m" / "1.0.0" / BIG
    size = target.stat().st_size
    target.write_bytes(change(target.read_bytes()))
    server.behaviour.drop_after[f"m/1.0.0/{BIG}"] = 50  # even mid-resume the size mismatch is caught
    with pytest.raises(IntegrityError, match=rf"the server has \d+ bytes, the manifest lists {size}"):
        get("m@1.0.0", f"{server.url}/index.json", tmp_path / "cache")
    assert not (tmp_path / "cache" / "m" / "1.0.0").exists()
    assert len([p for p, _ in server.behaviour.requests if p == f"m/1.0.0/{BIG}"]) == 1


def test_a_tampered_manifest_fails_against_the_index(served, tmp_path):
    folder, server = served
    manifest = folder / "m" / "1.0.0" / "MANIFEST.json"
    manifest.write_text(manifest.read_text().replace('"version": "1.0.0"', '"version": "1.0.0" '))
    with pytest.raises(IntegrityError, match="differs from the index"):
        get("m@1.0.0", f"{server.url}/index.json", tmp_path / "cache")
    assert not (tmp_path / "cache" / "m" / "1.0.0").exists()


def test_a_dropped_connection_resumes_with_range(served, tmp_path):
    folder, server = served
    size = (folder / "m" / "1.0.0" / BIG).stat().st_size
    server.behaviour.drop_after[f"m/1.0.0/{BIG}"] = size // 2
    server.behaviour.fail_once["m/1.0.0/data/en/test.parquet"] = 503
    result = get("m@1.0.0", f"{server.url}/index.json", tmp_path / "cache")
    assert verify_release(result.path).ok
    ranges = [r for p, r in server.behaviour.requests if p == f"m/1.0.0/{BIG}"]
    assert ranges == [None, f"bytes={size // 2}-"]
    assert [r for p, r in server.behaviour.requests if p == "m/1.0.0/data/en/test.parquet"] == [None, None]


def test_a_killed_download_resumes_from_its_part_file(served, tmp_path):
    folder, server = served
    staging = tmp_path / "cache" / "m" / ".1.0.0.download"
    source = folder / "m" / "1.0.0" / BIG
    (staging / BIG).parent.mkdir(parents=True)
    (staging / (BIG + ".part")).write_bytes(source.read_bytes()[:100])  # what a kill -9 left
    result = get("m@1.0.0", f"{server.url}/index.json", tmp_path / "cache")
    assert (result.path / BIG).read_bytes() == source.read_bytes()
    assert [r for p, r in server.behaviour.requests if p == f"m/1.0.0/{BIG}"] == ["bytes=100-"]


def test_kill_9_mid_file_then_rerun_resumes_with_range(served, tmp_path):
    folder, server = served
    server.behaviour.slow[f"m/1.0.0/{BIG}"] = 0.25  # ~4 KiB/s: time to kill it mid-file
    part = tmp_path / "cache" / "m" / ".1.0.0.download" / (BIG + ".part")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tipr_bench", "download", "m@1.0.0", "--index", f"{server.url}/index.json",
         "--out", str(tmp_path / "cache"), "--json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (part.exists() and part.stat().st_size >= 2048):
            assert proc.poll() is None and time.monotonic() < deadline, "download never got going"
            time.sleep(0.05)
    finally:
        proc.kill()  # SIGKILL: no cleanup runs
        proc.wait()
    kept = part.stat().st_size
    assert 2048 <= kept < (folder / "m" / "1.0.0" / BIG).stat().st_size
    assert not (tmp_path / "cache" / "m" / "1.0.0").exists()
    server.behaviour.slow.clear()
    result = get("m@1.0.0", f"{server.url}/index.json", tmp_path / "cache")
    assert verify_release(result.path).ok
    assert [r for p, r in server.behaviour.requests if p == f"m/1.0.0/{BIG}"][-1] == f"bytes={kept}-"


def _rewrite_manifest(folder: Path, path: str) -> None:
    """Make release m@1.0.0 list `path`, and re-pin the index to the changed manifest."""
    manifest_path = folder / "m" / "1.0.0" / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"][0]["path"] = path
    raw = json.dumps(manifest).encode()
    manifest_path.write_bytes(raw)
    index = json.loads((folder / "index.json").read_text())
    for e in index["releases"]:
        if e["version"] == "1.0.0":
            e["manifest_sha256"] = sha256_bytes(raw)
    (folder / "index.json").write_text(json.dumps(index))


@pytest.mark.parametrize("path", ["../../evil.txt", "/etc/passwd", "data/../../evil.txt", "C:/x", "a\\..\\b"])
def test_a_manifest_path_outside_the_release_is_refused(served, tmp_path, path):
    folder, server = served
    _rewrite_manifest(folder, path)
    with pytest.raises(UserError, match="refusing this release"):
        get("m@1.0.0", f"{server.url}/index.json", tmp_path / "cache" / "deep")
    assert not list((tmp_path / "cache").rglob("evil*"))
    assert not (tmp_path / "cache" / "deep" / "m" / "1.0.0").exists()


def test_hugging_face_resolve_layout_with_redirects(served, tmp_path):
    folder, server = served
    hf_base = f"{server.url}/datasets/org/repo/resolve/main"
    # an index entry whose base URL is an absolute resolve URL
    index = json.loads((folder / "index.json").read_text())
    for e in index["releases"]:
        e["url"] = f"{hf_base}/{e['url']}"
    (folder / "hf-index.json").write_text(json.dumps(index))
    result = get("m@1.2.0", f"{server.url}/hf-index.json", tmp_path / "a")
    assert verify_release(result.path).ok and result.source.startswith(hf_base)
    # the repo URL itself as --index: resolves to .../resolve/main/index.json
    result = get("m@1.0.0", f"{server.url}/datasets/org/repo", tmp_path / "b")
    assert verify_release(result.path).ok


def test_file_urls_and_plain_paths(served, tmp_path):
    folder, _ = served
    by_path = get("m@1.0.0", str(folder / "index.json"), tmp_path / "a")
    by_folder = get("m@1.2.0", str(folder), tmp_path / "b")
    by_url = get("m@latest", (folder / "index.json").as_uri(), tmp_path / "c")
    for result in (by_path, by_folder, by_url):
        assert verify_release(result.path).ok
    (folder / "m" / "1.0.0" / BIG).write_bytes(b"tampered")
    with pytest.raises(IntegrityError):
        get("m@1.0.0", str(folder), tmp_path / "d")
    assert not (tmp_path / "d" / "m" / "1.0.0").exists()


def test_verify_reports_every_change(served, tmp_path, cli):
    folder, _ = served
    rel = folder / "m" / "1.0.0"
    assert cli("verify", rel).returncode == 0
    (rel / BIG).write_bytes(b"x" + (rel / BIG).read_bytes()[1:])
    (rel / "data/zh/test.jsonl").unlink()
    (rel / "extra.txt").write_text("hi")
    report = verify_release(rel)
    assert not report.ok and len(report.problems) == 3
    done = cli("verify", rel)
    assert done.returncode == 1
    assert f"{BIG}: sha256" in done.stderr and "data/zh/test.jsonl: missing" in done.stderr
    assert "extra.txt: not listed" in done.stderr
    missing = cli("verify", tmp_path)
    assert missing.returncode == 1 and "no MANIFEST.json" in missing.stderr  # a folder that is no intact release


def test_verify_against_the_index_catches_a_consistent_edit(served, tmp_path):
    from tipr_bench.release.index_download import check_against_index

    folder, server = served
    rel = folder / "m" / "1.0.0"
    (rel / "README.md").write_text("edited card\n")
    manifest = json.loads((rel / "MANIFEST.json").read_text())
    for f in manifest["files"]:
        if f["path"] == "README.md":
            f["sha256"], f["size"] = sha256_bytes(b"edited card\n"), len(b"edited card\n")
    (rel / "MANIFEST.json").write_text(json.dumps(manifest))
    report = verify_release(rel)
    assert report.ok  # files and manifest agree with each other...
    check_against_index(report, f"{server.url}/index.json", FAST)
    assert not report.ok and "is not the" in report.problems[0]  # ...but not with what was published


def test_cli_download(served, tmp_path, cli):
    _, server = served
    done = cli("download", "m@1.2.0", "--index", f"{server.url}/index.json", "--out", tmp_path / "c", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["path"] == str(tmp_path / "c" / "m" / "1.2.0")
    bad = cli("download", "m@3.0.0", "--index", f"{server.url}/index.json", "--out", tmp_path / "c")
    assert bad.returncode == 2 and "available: 1.0.0, 1.2.0, 1.10.0" in bad.stderr
