"""Ingest a dataset root into the workspace: validate everything first, then write in one go.

`prepare_ingest` reads and checks without a workspace, so bad input leaves no workspace behind; a
tipr-bench release is verified against its MANIFEST.json first (a changed byte can change a caption
key and silently drop translations), unless the caller opts out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tipr_bench.benchmark.adapters import LoadedDataset, load_dataset
from tipr_bench.benchmark.adapters.release import is_release
from tipr_bench.benchmark.hub_source import find_hub_source
from tipr_bench.benchmark.manifest import ReleaseNotIntact, verify_release
from tipr_bench.benchmark.store import IngestCounts, Workspace
from tipr_bench.core.errors import UserError


@dataclass(frozen=True, slots=True)
class SplitCounts:
    split: str
    images: int
    captions: int
    persons: int
    missing_images: int


@dataclass(frozen=True, slots=True)
class IngestReport:
    dataset: str
    annotation: str
    image_root: str
    captions: IngestCounts
    translations_added: int
    splits: list[SplitCounts]
    first_missing: str | None
    unverified_release: bool = False  # a release read with verification turned off


@dataclass(frozen=True, slots=True)
class PreparedIngest:
    """A dataset read and checked, not yet written."""

    loaded: LoadedDataset
    splits: list[SplitCounts]
    first_missing: str | None
    unverified_release: bool


def prepare_ingest(
    root: str | Path,
    dataset: str | None = None,
    *,
    image_root: str | Path | None = None,
    strict: bool = False,
    verify: bool = True,
) -> PreparedIngest:
    """Read and check everything (a release against its manifest, with `verify`); writes nothing.

    Missing images stop it: train, evaluate and refine's image rewrites would fail on them later. A
    release or a Hub download carries text only, so it is read without images unless `image_root` or
    `strict` asks for them."""
    release = Path(root).is_dir() and is_release(Path(root))
    if release and verify:
        report = verify_release(root)
        if not report.ok:
            raise ReleaseNotIntact(report)
    loaded = load_dataset(root, dataset, image_root)
    images_dir = Path(loaded.info.image_root)
    by_split: dict[str, dict[str, set]] = {}
    missing: dict[str, int] = {}
    first_missing = None
    checked: dict[str, bool] = {}
    for c in loaded.captions:
        stats = by_split.setdefault(c.split, {"images": set(), "persons": set(), "captions": set()})
        stats["images"].add(c.image_path)
        stats["persons"].add(c.person_id)
        stats["captions"].add(c.key)
        if c.image_path not in checked:
            exists = (images_dir / c.image_path).is_file()
            checked[c.image_path] = exists
            if not exists:
                missing[c.split] = missing.get(c.split, 0) + 1
                first_missing = first_missing or str(images_dir / c.image_path)
    text_only = release or find_hub_source(Path(root)) is not None
    if first_missing and (strict or image_root is not None or not text_only):
        raise UserError(
            f"{sum(missing.values())} of {len(checked)} images are missing below {images_dir} (first: "
            f"{first_missing}); pass --images with the folder the annotation paths are relative to "
            "(for DATASET/annos/*.json, DATASET/imgs)"
        )
    splits = [
        SplitCounts(split, len(s["images"]), len(s["captions"]), len(s["persons"]), missing.get(split, 0))
        for split, s in sorted(by_split.items(), key=lambda kv: ("train", "val", "test").index(kv[0]))
    ]
    return PreparedIngest(loaded, splits, first_missing, release and not verify)


def write_ingest(ws: Workspace, prepared: PreparedIngest) -> IngestReport:
    """Write a prepared dataset in one transaction; the same data twice changes nothing."""
    loaded = prepared.loaded
    with ws.transaction():
        counts = ws.ingest(loaded.info, loaded.captions)
        translations_added = _put_new_translations(ws, loaded.translations)
    return IngestReport(
        loaded.info.slug, loaded.info.annotation, loaded.info.image_root, counts, translations_added,
        prepared.splits, prepared.first_missing, prepared.unverified_release,
    )


def ingest_dataset(
    ws: Workspace,
    root: str | Path,
    dataset: str | None = None,
    *,
    image_root: str | Path | None = None,
    strict: bool = False,
    verify: bool = True,
) -> IngestReport:
    return write_ingest(ws, prepare_ingest(root, dataset, image_root=image_root, strict=strict, verify=verify))


def _put_new_translations(ws: Workspace, translations) -> int:
    """Source-provided translations, written only where they differ, so re-ingesting changes nothing."""
    fresh = []
    current: dict[str, dict] = {}
    for t in translations:
        if t.lang not in current:
            current[t.lang] = {k: (v.text, v.provenance) for k, v in ws.translations(t.lang).items()}
        if current[t.lang].get(t.key) != (t.text, t.provenance):
            fresh.append(t)
    return ws.put_translations(fresh)
