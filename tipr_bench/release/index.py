"""index.json: the list of releases in a folder, so serving that folder (over HTTP, from a Hugging
Face dataset repo, or as plain files) is a working download index.

    {"format": "tipr-bench-index/1",
     "releases": [{"name", "version", "url", "manifest_sha256", "created_at", "dataset", "languages"}]}

`url` is the release folder, relative to the index (or absolute, e.g. a Hugging Face
`.../resolve/<revision>/<path>/` URL); `manifest_sha256` pins the manifest, which pins every file.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tipr_bench.benchmark.manifest import MANIFEST_NAME, sha256_bytes
from tipr_bench.core.atomic import write_json
from tipr_bench.core.errors import UserError
from tipr_bench.release.semver import check_semver, is_semver, precedence

INDEX_NAME = "index.json"
INDEX_FORMAT = "tipr-bench-index/1"


@contextmanager
def folder_lock(folder: Path, name: str = ".index.lock") -> Iterator[None]:
    """An exclusive lock on a folder's lock file, so two exports never interleave index updates. The file
    is removed on release, so no `.lock` is left among the releases; a process that waited on a file
    removed meanwhile sees the path name another file (or none) and locks again."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    while True:
        handle = open(path, "a")  # noqa: SIM115 - held across the yield below, closed in its finally
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        handle.close()  # closing releases the lock, after the unlink: a waiter then finds the file gone


def scan_releases(out: Path) -> list[dict]:
    """Every finished release below `out` (NAME/VERSION/MANIFEST.json), sorted by name then version."""
    entries = []
    for manifest_path in out.glob(f"*/*/{MANIFEST_NAME}"):
        name_dir, version_dir = manifest_path.parent.parent, manifest_path.parent
        if name_dir.name.startswith(".") or version_dir.name.startswith(".") or not is_semver(version_dir.name):
            continue
        raw = manifest_path.read_bytes()
        try:
            manifest = json.loads(raw)
        except json.JSONDecodeError:
            continue  # not a release we made; verify reports it, the index leaves it out
        entries.append({
            "name": name_dir.name, "version": version_dir.name, "url": f"{name_dir.name}/{version_dir.name}/",
            "manifest_sha256": sha256_bytes(raw), "created_at": manifest.get("created_at", ""),
            "dataset": manifest.get("dataset", ""), "languages": manifest.get("languages", []),
        })
    entries.sort(key=lambda e: (e["name"], precedence(e["version"])))
    return entries


def _remote_entries(path: Path) -> list[dict]:
    """Entries of an existing index that point elsewhere (absolute http(s) URLs, e.g. a release published
    to a Hugging Face dataset repo and added by hand); they survive a rewrite."""
    try:
        releases = parse_index(path.read_bytes(), str(path))
    except (OSError, UserError):
        return []
    return [e for e in releases if re.match(r"^https?://", e["url"])]


def update_index(out: Path) -> Path:
    """Rewrite out/index.json from the releases on disk (keeping hand-added remote entries); atomic, and
    serialised by a lock."""
    with folder_lock(out):
        path = out / INDEX_NAME
        local = scan_releases(out)
        here = {(e["name"], e["version"]) for e in local}
        entries = local + [e for e in _remote_entries(path) if (e["name"], e["version"]) not in here]
        entries.sort(key=lambda e: (e["name"], precedence(e["version"])))
        write_json(path, {"format": INDEX_FORMAT, "releases": entries})
        return path


def parse_index(data: bytes, source: str) -> list[dict]:
    try:
        index = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{source}: not a valid JSON index ({exc}); check the --index URL") from None
    releases = index.get("releases") if isinstance(index, dict) else None
    if not isinstance(releases, list):
        raise UserError(f"{source}: not a tipr-bench index (no 'releases' list); point --index at index.json")
    for i, entry in enumerate(releases):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) and entry.get(k)
                                                  for k in ("name", "version", "url", "manifest_sha256")):
            raise UserError(f"{source}: releases[{i}] needs name, version, url and manifest_sha256 strings")
    return releases


def parse_spec(spec: str) -> tuple[str, str]:
    """NAME[@VERSION] -> (name, version); no version means latest."""
    name, _, version = spec.partition("@")
    name, version = name.strip(), version.strip() or "latest"
    if not name:
        raise UserError(f"release {spec!r} has no name: use NAME[@VERSION], e.g. cuhk-pedes-m@1.0.0")
    check_name(name, "release")
    if version != "latest":
        check_semver(version, f"release {name}: version")
    return name, version


def resolve(releases: list[dict], spec: str, source: str) -> dict:
    """The index entry for NAME[@VERSION|@latest]; an unknown name or version says which exist."""
    name, version = parse_spec(spec)
    matching = [e for e in releases if e["name"] == name]
    if not matching:
        names = sorted({e["name"] for e in releases})
        raise UserError(f"no release named {name!r} in {source}; it lists: {', '.join(names) or 'nothing'}")
    if version == "latest":
        return max(matching, key=lambda e: precedence(e["version"]))
    for entry in matching:
        if entry["version"] == version:
            return entry
    versions = sorted({e["version"] for e in matching}, key=precedence)
    raise UserError(f"{name} has no version {version!r} in {source}; available: {', '.join(versions)} "
                    f"(or {name}@latest)")


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_name(name: str, what: str = "--name") -> str:
    """A release name becomes a folder name, so it is a plain slug (letters, digits, '.', '_', '-')."""
    if not _NAME.match(name) or ".." in name:
        raise UserError(f"{what} {name!r} is not a valid release name: use letters, digits, '.', '_' and '-', "
                        "starting with a letter or digit (e.g. cuhk-pedes-m)")
    return name
