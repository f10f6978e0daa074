"""download NAME@VERSION: a released version listed in an index, into the cache, every byte proven against
the index (its bytes travel by transfer.py; a Hub dataset repo is hub_download.py's).

Chain of trust: the index pins the manifest's sha256, the manifest pins every file's sha256 and
size. Files land in a hidden staging folder beside the destination (kept across runs, so a killed
download resumes), and only a fully verified release is renamed into place. Bytes that differ
from what was promised remove the staging folder and install nothing.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tipr_bench.benchmark.manifest import (
    MANIFEST_NAME,
    IntegrityError,
    VerifyReport,
    manifest_files,
    parse_manifest,
    sha256_bytes,
    verify_release,
)
from tipr_bench.core.atomic import fsync_dir, sha256_file, write_durable
from tipr_bench.core.errors import UserError
from tipr_bench.core.progress import make_progress
from tipr_bench.release.index import INDEX_NAME, check_name, folder_lock, parse_index, parse_spec, resolve
from tipr_bench.release.semver import check_semver
from tipr_bench.release.transfer import (
    RetryPolicy,
    fetch_bytes,
    fetch_file,
    file_url,
    join,
    to_url,
)

INDEX_ENV = "TIPR_BENCH_INDEX"
CACHE_ENV = "TIPR_BENCH_CACHE"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class DownloadResult:
    name: str
    version: str
    path: Path
    source: str
    manifest_sha256: str
    files: int
    bytes: int
    already_present: bool

    def as_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "path": str(self.path), "source": self.source,
                "manifest_sha256": self.manifest_sha256, "files": self.files, "bytes": self.bytes,
                "already_present": self.already_present}


def default_cache() -> Path:
    """~/.cache/tipr-bench/releases (or $TIPR_BENCH_CACHE/releases, or $XDG_CACHE_HOME/tipr-bench/releases)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser() / "releases"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tipr-bench" / "releases"


def index_url(index: str | None) -> str:
    location = index or os.environ.get(INDEX_ENV)
    if not location:
        if Path("releases", INDEX_NAME).is_file():
            location = str(Path("releases", INDEX_NAME))
        else:
            raise UserError(f"no index given: pass --index URL_OR_PATH (an index.json, the folder holding it, or "
                            f"a Hugging Face dataset repo URL), or set {INDEX_ENV}")
    url = to_url(location)
    return url + INDEX_NAME if url.endswith("/") else url


def download_release(
    spec: str,
    index: str | None = None,
    out: str | Path | None = None,
    *,
    policy: RetryPolicy | None = None,
    progress: bool = True,
) -> DownloadResult:
    """Download NAME[@VERSION|@latest] listed in `index` into `out/NAME/VERSION` (default: the cache)."""
    policy = policy or RetryPolicy()
    parse_spec(spec)  # a malformed NAME@VERSION is refused before the index is read
    source = index_url(index)
    entry = resolve(parse_index(fetch_bytes(source, policy), source), spec, source)
    name = check_name(entry["name"], f"{source}: release name")
    version = check_semver(entry["version"], f"{source}: {name} version")
    expected = entry["manifest_sha256"].lower()
    if not _HEX64.match(expected):
        raise UserError(f"{source}: {name}@{version} has no valid manifest_sha256; fix the index")
    base = to_url(join(source, entry["url"] if entry["url"].endswith("/") else entry["url"] + "/"))
    root = Path(out).expanduser() if out else default_cache()
    dest = root / name / version
    if dest.exists():
        return _already_there(dest, name, version, base, expected)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(dest.parent, f".{version}.lock"):
        if dest.exists():  # another process finished it while we waited for the lock
            return _already_there(dest, name, version, base, expected)
        staging = dest.parent / f".{version}.download"
        try:
            files, total = _fetch_into(staging, base, name, version, expected, policy, progress)
        except IntegrityError:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        report = verify_release(staging)
        if not report.ok:
            shutil.rmtree(staging, ignore_errors=True)
            raise IntegrityError(f"{name}@{version}: {report.problems[0]}; nothing was installed")
        os.rename(staging, dest)
        fsync_dir(dest.parent)
    return DownloadResult(name, version, dest, base, expected, files, total, already_present=False)


def check_against_index(report: VerifyReport, index: str | None, policy: RetryPolicy | None = None) -> None:
    """Add a problem to `report` when its manifest is not the one the index publishes for that version:
    a folder whose files and manifest were edited together passes a plain verify, but not this."""
    source = index_url(index)
    entry = resolve(parse_index(fetch_bytes(source, policy or RetryPolicy()), source),
                    f"{report.name}@{report.version}", source)
    if entry["manifest_sha256"].lower() != report.manifest_sha256:
        report.problems.append(f"MANIFEST.json: sha256 {report.manifest_sha256[:16]}… is not the "
                               f"{entry['manifest_sha256'][:16]}… that {source} publishes for "
                               f"{report.name}@{report.version}")


def _already_there(dest: Path, name: str, version: str, base: str, expected: str) -> DownloadResult:
    try:
        report = verify_release(dest)
    except UserError as exc:  # not a release at all (no or unreadable manifest)
        report = VerifyReport(root=str(dest), problems=[str(exc)])
    if report.ok and report.manifest_sha256 == expected:
        return DownloadResult(name, version, dest, base, expected, report.files_checked, report.bytes_checked,
                              already_present=True)
    why = report.problems[0] if report.problems else "its manifest differs from the one the index lists"
    raise UserError(f"{dest} already exists but does not match {name}@{version} ({why}); remove that folder "
                    "and download again")


def _fetch_into(staging: Path, base: str, name: str, version: str, expected: str, policy: RetryPolicy,
                progress: bool) -> tuple[int, int]:
    manifest_url = file_url(base, MANIFEST_NAME)
    raw = fetch_bytes(manifest_url, policy)
    digest = sha256_bytes(raw)
    if digest != expected:
        raise IntegrityError(f"{manifest_url}: sha256 {digest[:16]}… differs from the index's {expected[:16]}…; "
                             "the manifest was altered or the index is stale, nothing was installed")
    manifest = parse_manifest(raw, manifest_url)
    if (manifest.get("name"), manifest.get("version")) != (name, version):
        raise IntegrityError(f"{manifest_url}: describes {manifest.get('name')}@{manifest.get('version')}, "
                             f"not {name}@{version}; nothing was installed")
    entries = manifest_files(manifest)
    staging.mkdir(exist_ok=True)
    _drop_strays(staging, {e.path for e in entries})
    total = sum(e.size for e in entries)
    with make_progress(progress, unit="bytes", transient=False) as bar:
        task = bar.add_task(f"{name}@{version}", total=total)
        for entry in entries:
            target = staging / entry.path
            if not target.resolve().is_relative_to(staging.resolve()):
                raise IntegrityError(f"{manifest_url}: {entry.path} resolves outside the release; refused")
            if target.is_file() and target.stat().st_size == entry.size and sha256_file(target) == entry.sha256:
                bar.advance(task, entry.size)  # verified in an earlier run
                continue
            target.unlink(missing_ok=True)
            part = target.with_name(target.name + ".part")
            fetch_file(file_url(base, entry.path), part, entry.size, policy, lambda n: bar.advance(task, n))
            got = sha256_file(part)
            if got != entry.sha256:
                raise IntegrityError(f"{entry.path}: sha256 {got[:16]}… differs from the manifest's "
                                     f"{entry.sha256[:16]}…; the file was altered, nothing was installed")
            os.replace(part, target)
    write_durable(staging / MANIFEST_NAME, raw)
    return len(entries), total


def _drop_strays(staging: Path, listed: set[str]) -> None:
    """Remove leftovers of an earlier attempt that this manifest does not list (keeping resumable .part files)."""
    for path in sorted(staging.rglob("*"), reverse=True):
        rel = path.relative_to(staging).as_posix()
        if path.is_dir():
            if not any(path.iterdir()):
                path.rmdir()
        elif rel not in listed and not (rel.endswith(".part") and rel[:-5] in listed):
            path.unlink()
