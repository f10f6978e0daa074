"""MANIFEST.json: what a release holds, with the sha256 and size of every file, and checking it.

The manifest is the release's single source of truth: download verifies every file against it
(and the manifest itself against the index), verify re-checks a folder on disk. Paths in it are
untrusted input, so each one must be a plain relative POSIX path that stays inside the release.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tipr_bench.benchmark.hub_source import HUB_SOURCE_NAME
from tipr_bench.core.atomic import sha256_file
from tipr_bench.core.errors import UserError

MANIFEST_NAME = "MANIFEST.json"
# What a copy from a Hugging Face dataset repo adds beside the release (the repo's .gitattributes, the
# record of the commit it came from): not release content, so verify does not count it as unexpected.
HUB_COPY_FILES = frozenset({".gitattributes", HUB_SOURCE_NAME})
RELEASE_FORMAT = "tipr-bench-release/1"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unsafe_path_reason(path: Any) -> str | None:
    """Why a manifest path must be refused, or None when it is a safe relative path inside the release."""
    if not isinstance(path, str) or not path:
        return "is not a non-empty string"
    if "\\" in path or "\x00" in path or re.match(r"^[A-Za-z]:", path):
        return "uses a backslash, NUL or drive letter"
    pure = PurePosixPath(path)
    if pure.is_absolute():
        return "is absolute"
    parts = path.split("/")
    if any(p == ".." for p in parts):
        return "climbs out of the release (..)"
    if any(p in ("", ".") for p in parts):
        return "has an empty or '.' component"
    if path == MANIFEST_NAME:
        return "names the manifest itself"
    return None


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str
    sha256: str
    size: int


def file_entry(root: Path, relpath: str) -> FileEntry:
    full = root / relpath
    return FileEntry(relpath, sha256_file(full), full.stat().st_size)


def parse_manifest(data: bytes, source: str) -> dict:
    """Parse and validate manifest bytes; every problem is a UserError naming `source`."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{source}: not a valid JSON manifest ({exc}); download the release again") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise UserError(f"{source}: not a tipr-bench manifest (no 'files' list); is this a release folder?")
    seen: set[str] = set()
    for i, entry in enumerate(manifest["files"]):
        if not isinstance(entry, dict):
            raise UserError(f"{source}: files[{i}] is not an object; the manifest is corrupt")
        reason = unsafe_path_reason(entry.get("path"))
        if reason:
            raise UserError(
                f"{source}: files[{i}] path {entry.get('path')!r} {reason}; refusing this release "
                "(a manifest path must be relative and stay inside the release)"
            )
        if entry["path"] in seen:
            raise UserError(f"{source}: files[{i}] path {entry['path']!r} is listed twice; the manifest is corrupt")
        seen.add(entry["path"])
        if not isinstance(entry.get("sha256"), str) or not _HEX64.match(entry["sha256"]):
            raise UserError(f"{source}: files[{i}] ({entry['path']}) has no valid sha256; the manifest is corrupt")
        size = entry.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise UserError(f"{source}: files[{i}] ({entry['path']}) has no valid size; the manifest is corrupt")
    return manifest


def manifest_files(manifest: dict) -> list[FileEntry]:
    return [FileEntry(e["path"], e["sha256"], e["size"]) for e in manifest["files"]]


@dataclass
class VerifyReport:
    root: str
    name: str = ""
    version: str = ""
    manifest_sha256: str = ""
    files_checked: int = 0
    bytes_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {
            "root": self.root, "name": self.name, "version": self.version, "ok": self.ok,
            "manifest_sha256": self.manifest_sha256, "files_checked": self.files_checked,
            "bytes_checked": self.bytes_checked, "problems": self.problems,
        }


class IntegrityError(UserError):
    """Bytes that differ from what the index or manifest promises: never installed."""


class ReleaseNotIntact(UserError):
    """A release whose files differ from its manifest: nothing may be read from it (exit 1, not 2)."""

    def __init__(self, report: VerifyReport):
        super().__init__(f"{report.name}@{report.version} at {report.root} is not intact "
                         f"({len(report.problems)} problem(s)); download it again, or pass --no-verify")
        self.report = report


class NoManifest(UserError):
    """A folder without MANIFEST.json: not a release, or one that lost its manifest (`verify` exits 1, as for
    any release that is not intact; elsewhere it is bad input)."""


def verify_release(root: str | Path) -> VerifyReport:
    """Re-check a release folder: every manifest file present with its size and sha256, nothing extra.

    A folder that is not a release at all (no readable manifest) is a UserError; a release whose
    files differ from its manifest comes back as a report listing every problem.
    """
    root = Path(root)
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.is_file():
        raise (NoManifest if root.is_dir() else UserError)(
            f"{root}: no {MANIFEST_NAME}; point at a release folder such as releases/NAME/VERSION")
    raw = manifest_path.read_bytes()
    report = VerifyReport(root=str(root), manifest_sha256=sha256_bytes(raw))
    manifest = parse_manifest(raw, str(manifest_path))
    report.name, report.version = str(manifest.get("name", "")), str(manifest.get("version", ""))
    listed = set()
    for entry in manifest_files(manifest):
        listed.add(entry.path)
        full = root / entry.path
        if not full.is_file():
            report.problems.append(f"{entry.path}: missing")
            continue
        size = full.stat().st_size
        if size != entry.size:
            report.problems.append(f"{entry.path}: size {size} bytes, manifest says {entry.size}")
            continue
        digest = sha256_file(full)
        if digest != entry.sha256:
            report.problems.append(f"{entry.path}: sha256 {digest[:16]}… differs from the manifest's "
                                   f"{entry.sha256[:16]}… (the file was changed)")
            continue
        report.files_checked += 1
        report.bytes_checked += size
    for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
        rel = path.relative_to(root).as_posix()
        if rel != MANIFEST_NAME and rel not in listed and rel not in HUB_COPY_FILES:
            report.problems.append(f"{rel}: not listed in {MANIFEST_NAME} (unexpected file)")
    return report
