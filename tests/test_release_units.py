"""The small rules releases rest on: semver order, safe manifest paths, URL forms, name@version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tipr_bench.benchmark.manifest import unsafe_path_reason
from tipr_bench.core.errors import UserError
from tipr_bench.release.index import parse_index, parse_spec, resolve
from tipr_bench.release.semver import is_semver, precedence
from tipr_bench.release.transfer import file_url, to_url


def test_semver_precedence():
    versions = ["1.10.0", "1.0.0", "1.0.0-rc.1", "1.0.0-alpha", "1.0.0-alpha.2", "1.0.0-alpha.10", "0.9.9", "1.2.0"]
    assert sorted(versions, key=precedence) == [
        "0.9.9", "1.0.0-alpha", "1.0.0-alpha.2", "1.0.0-alpha.10", "1.0.0-rc.1", "1.0.0", "1.2.0", "1.10.0"]
    assert is_semver("1.0.0+build.7") and not is_semver("1.0") and not is_semver("1.0.0/..")


@pytest.mark.parametrize("path,ok", [
    ("data/en/train.parquet", True), ("bi-irra/ch/test_reid_ch.json", True), ("README.md", True),
    ("../x", False), ("a/../../x", False), ("/etc/passwd", False), ("a//b", False), ("./a", False),
    ("a\\b", False), ("C:/x", False), ("", False), ("MANIFEST.json", False), (None, False), ("a\x00b", False),
])
def test_manifest_paths(path, ok):
    assert (unsafe_path_reason(path) is None) == ok


def test_url_forms(tmp_path):
    hf = "https://huggingface.co/datasets/org/repo"
    assert to_url(hf) == f"{hf}/resolve/main/"
    assert to_url(f"{hf}/tree/v1.0/releases") == f"{hf}/resolve/v1.0/releases"
    assert to_url(f"{hf}/blob/main/index.json") == f"{hf}/resolve/main/index.json"
    assert to_url(f"{hf}/resolve/main/index.json") == f"{hf}/resolve/main/index.json"
    assert to_url("hf://datasets/org/repo@v2/index.json") == f"{hf}/resolve/v2/index.json"
    assert to_url(str(tmp_path)) == tmp_path.as_uri() + "/"
    assert to_url(str(tmp_path / "index.json")) == (tmp_path / "index.json").as_uri()
    assert file_url("http://h/r/m/1.0.0/", "data/a b#1.json") == "http://h/r/m/1.0.0/data/a%20b%231.json"
    with pytest.raises(UserError, match="carries credentials") as caught:
        to_url("https://me:hf_SECRET@huggingface.co/datasets/org/repo")
    assert "SECRET" not in str(caught.value)
    with pytest.raises(UserError, match="unsupported URL scheme 'ftp'"):
        to_url("ftp://host/index.json")


def test_specs_and_index_entries():
    assert parse_spec("m") == ("m", "latest") and parse_spec("m@1.0.0") == ("m", "1.0.0")
    with pytest.raises(UserError, match="has no name"):
        parse_spec("@1.0.0")
    releases = parse_index(b'{"releases": [{"name": "m", "version": "1.0.0", "url": "m/1.0.0/", '
                           b'"manifest_sha256": "ab"}]}', "idx")
    assert resolve(releases, "m@latest", "idx")["version"] == "1.0.0"
    with pytest.raises(UserError, match=r"idx: releases\[0\] needs name, version, url and manifest_sha256"):
        parse_index(b'{"releases": [{"name": "m"}]}', "idx")
    with pytest.raises(UserError, match="not a valid JSON index"):
        parse_index(b"<html>", "idx")


def test_a_hostile_index_cannot_pick_the_install_folder(tmp_path):
    from tipr_bench.benchmark.manifest import sha256_bytes
    from tipr_bench.release import download_release

    manifest = b'{"name": "../evil", "version": "1.0.0", "files": []}'
    (tmp_path / "srv" / "x").mkdir(parents=True)
    (tmp_path / "srv" / "x" / "MANIFEST.json").write_bytes(manifest)
    entry = {"name": "../evil", "version": "1.0.0", "url": "x/", "manifest_sha256": sha256_bytes(manifest)}
    (tmp_path / "srv" / "index.json").write_text(json.dumps({"releases": [entry]}))
    with pytest.raises(UserError, match="not a valid release name"):
        download_release("../evil@1.0.0", str(tmp_path / "srv"), tmp_path / "out" / "deep", progress=False)
    assert not Path(tmp_path / "out").exists()
