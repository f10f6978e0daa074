"""export: turn a workspace into an immutable, checksummed release folder NAME/VERSION/.

The release is built in a hidden temporary folder beside its final place and renamed into place
in one step, so a crash never leaves half a release and an existing version is never touched.
Its manifest records a digest of what the workspace gave it (rows and QA settings), so exporting
that version again says whether the workspace still matches it or has changed since.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import tipr_bench
from tipr_bench.benchmark.manifest import MANIFEST_NAME, RELEASE_FORMAT, FileEntry, file_entry
from tipr_bench.benchmark.refine_record import read_refine_records
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.atomic import fsync_dir, sha256_file, staging_dir, write_durable
from tipr_bench.core.clock import utc_now
from tipr_bench.core.errors import UserError
from tipr_bench.core.languages import file_code, get_language
from tipr_bench.core.progress import make_progress
from tipr_bench.release.card import KNOWN_PROMPTS, render_card
from tipr_bench.release.collect import ReleaseData, language_rows, languages_of, pick_dataset, scope
from tipr_bench.release.croissant import croissant
from tipr_bench.release.digest import WorkspaceDigest
from tipr_bench.release.formats import (
    FORMATS,
    write_bi_irra,
    write_irra,
    write_jsonl,
    write_parquet,
)
from tipr_bench.release.index import INDEX_NAME, check_name, folder_lock, update_index
from tipr_bench.release.semver import check_semver, is_semver, precedence

DEFAULT_FORMATS = ("parquet", "irra", "bi-irra")


@dataclass
class ExportResult:
    name: str
    version: str
    path: Path
    index: Path
    manifest_sha256: str
    dataset: str
    languages: list[str]
    counts: dict[str, dict[str, int]]
    missing: dict[str, int]
    files: list[FileEntry] = field(default_factory=list)
    bi_irra_left_out: dict[str, dict[str, int]] = field(default_factory=dict)  # lang -> split -> captions

    def as_dict(self) -> dict:
        return {
            "name": self.name, "version": self.version, "path": str(self.path), "index": str(self.index),
            "manifest_sha256": self.manifest_sha256, "dataset": self.dataset, "languages": self.languages,
            "counts": self.counts, "missing": self.missing, "bi_irra_left_out": self.bi_irra_left_out,
            "files": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in self.files],
        }


def parse_list(text: str | None, what: str) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise UserError(f"{what} is empty: give a comma-separated list")
    return list(dict.fromkeys(items))


def check_formats(formats: list[str] | None) -> list[str]:
    chosen = formats or list(DEFAULT_FORMATS)
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        raise UserError(f"unknown format {', '.join(unknown)} in --formats: use any of {', '.join(FORMATS)}")
    if "parquet" not in chosen:
        raise UserError("--formats must include parquet: it is the canonical form that download and ingest read")
    return [f for f in FORMATS if f in chosen]


class ReleaseExists(UserError):
    """The version is already there; `matches` says whether the workspace would still export the same."""

    def __init__(self, message: str, matches: bool | None):
        super().__init__(message)
        self.matches = matches


def digest_settings(ws: Workspace) -> dict[str, dict]:
    """The refine records a release's card cites, as the workspace digest hashes them."""
    return {r.scope: asdict(r) for r in read_refine_records(ws)}


def next_patch(version: str) -> str:
    """1.2.3 -> 1.2.4 (a pre-release or build suffix dropped): the version to suggest after `version`."""
    major, minor, patch = re.match(r"(\d+)\.(\d+)\.(\d+)", version).groups()
    return f"{major}.{minor}.{int(patch) + 1}"


def export_release(
    ws: Workspace,
    name: str,
    version: str,
    out: str | Path = "releases",
    *,
    langs: list[str] | None = None,
    formats: list[str] | None = None,
    dataset: str | None = None,
    include_flagged: bool = False,
    prompt_texts: dict[str, str] | None = None,
    created_at: str | None = None,
    progress: bool = False,
) -> ExportResult:
    """Write release `out/name/version/` and refresh `out/index.json`. Never overwrites a version.

    `prompt_texts` maps a prompt's sha256 (exact) or id (fallback) to its verbatim text for the card
    (the LDAT prompt is known by id already); `created_at` pins the build time (tests), otherwise it is now;
    `progress` shows a bar with ETA on stderr.
    """
    check_name(name)
    check_semver(version)
    chosen = check_formats(formats)
    langs = [get_language(code).code for code in langs] if langs else None
    out = Path(out)
    final = out / name / version
    slug = pick_dataset(ws, dataset)
    if final.exists():
        update_index(out)  # heals an index a killed export left without this release
        raise _exists(ws, final, name, version, slug, langs, include_flagged)
    n_captions = ws.caption_count(slug)
    final.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(final.parent, f".{version}.lock"), \
            make_progress(progress, unit="captions", transient=False) as bar:
        for stale in final.parent.glob(f".{version}.*.building"):  # left by a killed export of this version
            shutil.rmtree(stale, ignore_errors=True)
        task = bar.add_task(f"{name}@{version}", total=n_captions * len(langs or languages_of(ws, slug)))
        data = scope(ws, slug, langs, include_flagged)
        created_at = created_at or utc_now()
        staging = staging_dir(final.parent, prefix=f".{version}.", suffix=".building")
        try:
            result = _build(ws, staging, final, name, version, created_at, data, chosen, prompt_texts,
                            lambda n: bar.advance(task, n))
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    update_index(out)
    return result


def _build(ws: Workspace, staging: Path, final: Path, name: str, version: str, created_at: str, data: ReleaseData,
           chosen: list[str], prompt_texts: dict[str, str] | None, advance: Callable[[int], None]) -> ExportResult:
    """Write everything into `staging`, then rename it to `final` in one step."""
    data_files, left_out, digest = _write_data(ws, staging, data, chosen, advance)
    entries = [file_entry(staging, p) for p in _listing(staging)]
    parquet_files = {lang: {s: p for s, p in by.items() if p.endswith(".parquet")} for lang, by in data_files.items()}
    doc = croissant(name, version, data.dataset, data.languages, entries, parquet_files, tipr_bench.__version__,
                    created_at)
    write_durable(staging / "croissant.json", (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode())
    card = render_card(name, version, created_at, tipr_bench.__version__, data, parquet_files, chosen,
                       {**KNOWN_PROMPTS, **(prompt_texts or {})}, read_refine_records(ws), left_out)
    write_durable(staging / "README.md", card.encode())
    entries = [file_entry(staging, p) for p in _listing(staging)]
    manifest = _manifest(name, version, created_at, data, chosen, entries, left_out,
                         digest.hexdigest(digest_settings(ws)))
    write_durable(staging / MANIFEST_NAME, (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode())
    fsync_dir(staging)
    if final.exists():
        raise UserError(f"release {name}@{version} appeared at {final} while exporting; it was left untouched")
    os.rename(staging, final)
    fsync_dir(final.parent)
    return ExportResult(
        name=name, version=version, path=final, index=final.parent.parent / INDEX_NAME,
        manifest_sha256=sha256_file(final / MANIFEST_NAME), dataset=data.dataset, languages=data.languages,
        counts=manifest["counts"], missing={lang: st.source_captions - st.exported for lang, st in data.stats.items()},
        files=entries, bi_irra_left_out=left_out or {},
    )


def _exists(ws: Workspace, final: Path, name: str, version: str, slug: str, langs: list[str] | None,
            include_flagged: bool) -> ReleaseExists:
    """Why `version` is not exported again: it matches the workspace, or the workspace changed since."""
    versions = _versions(final.parent)
    known = f"released versions are immutable (existing: {', '.join(versions)})"
    try:
        recorded = json.loads((final / MANIFEST_NAME).read_bytes()).get("workspace_digest")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if recorded is None:  # written before releases recorded it, or damaged: nothing to compare
        return ReleaseExists(f"release {name}@{version} already exists at {final}; {known}: export a new --version",
                             None)
    data = scope(ws, slug, langs, include_flagged)
    digest = WorkspaceDigest()
    for lang in sorted(data.languages):
        digest.add(lang, language_rows(ws, data, lang))
    now = digest.hexdigest(digest_settings(ws))
    if now == recorded:
        return ReleaseExists(f"release {name}@{version} already exists at {final} and matches the workspace: "
                             f"nothing to export; {known}", True)
    return ReleaseExists(
        f"release {name}@{version} already exists at {final}, and the workspace has changed since it was written "
        f"(its captions, translations or QA settings differ from what this export would write now); {known}: "
        f"export the workspace as a new --version, e.g. {next_patch(versions[-1] if versions else version)}", False)


def _versions(folder: Path) -> list[str]:
    return sorted((p.name for p in folder.iterdir() if is_semver(p.name)), key=precedence)


def _write_data(ws: Workspace, root: Path, data: ReleaseData, formats: list[str], advance: Callable[[int], None]
                ) -> tuple[dict, dict[str, dict[str, int]] | None, WorkspaceDigest]:
    """Reads and writes one language at a time, in the digest's order, keeping only English (every
    Bi-IRRA pair needs it). Returns lang -> split -> relative parquet paths, per target language and
    split the English captions its Bi-IRRA pair left out (no translation), and the workspace digest."""
    files: dict[str, dict[str, str]] = {lang: {} for lang in data.languages}
    left_out = {lang: {} for lang in data.languages if lang != "en"} if "bi-irra" in formats else None
    digest = WorkspaceDigest()
    english = language_rows(ws, data, "en", advance)
    for lang in sorted(data.languages):
        rows = english if lang == "en" else language_rows(ws, data, lang, advance)
        files[lang] = _write_language(root, lang, rows, formats)
        if left_out is not None and lang != "en":
            left_out[lang] = {split: write_bi_irra(root / "bi-irra" / file_code(lang), split, lang, english[split],
                                                   rows[split]) for split in data.splits}
        digest.add(lang, rows)
    return files, left_out, digest


def _write_language(root: Path, lang: str, rows: dict[str, list[dict]], formats: list[str]) -> dict[str, str]:
    """One language's data files (parquet always; jsonl and irra when chosen); returns split -> parquet path."""
    files = {}
    for split, split_rows in rows.items():
        if not split_rows:
            continue
        rel = f"data/{lang}/{split}.parquet"
        write_parquet(root / rel, split_rows)
        files[split] = rel
        if "jsonl" in formats:
            write_jsonl(root / f"data/{lang}/{split}.jsonl", split_rows)
    if "irra" in formats:
        write_irra(root / f"irra/{lang}/reid_raw.json", rows)
    return files


def _listing(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and p.name != MANIFEST_NAME)


def _manifest(name: str, version: str, created_at: str, data: ReleaseData, formats: list[str],
              entries: list[FileEntry], left_out: dict[str, dict[str, int]] | None, digest: str) -> dict:
    return {
        "format": RELEASE_FORMAT,
        "name": name,
        "version": version,
        "created_at": created_at,
        "tool": {"name": "tipr-bench", "version": tipr_bench.__version__},
        "dataset": data.dataset,
        "languages": data.languages,
        "splits": data.splits,
        "formats": formats,
        "include_flagged": data.include_flagged,
        "counts": {lang: {s: data.stats[lang].per_split.get(s, 0) for s in data.splits} for lang in data.languages},
        "missing": {lang: {s: st.source_per_split.get(s, 0) - st.per_split.get(s, 0) for s in data.splits}
                    for lang, st in data.stats.items()},
        "bi_irra_left_out": left_out or {},
        "workspace_digest": digest,
        "files": [{"path": e.path, "sha256": e.sha256, "size": e.size} for e in entries],
    }
