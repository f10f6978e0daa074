"""A tipr-bench release folder (data/<lang>/<split>.parquet + MANIFEST.json), read back exactly.

This is how a downloaded release joins a user's own image copy: ingest it with `--images`
pointing at the dataset's image folder.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from tipr_bench.benchmark.adapters.base import LoadedDataset, read_json
from tipr_bench.benchmark.records import Caption, Translation
from tipr_bench.benchmark.store import DatasetInfo
from tipr_bench.core.clock import utc_now
from tipr_bench.core.errors import UserError

COLUMNS = ("key", "dataset", "split", "person_id", "image_path", "caption_index", "lang", "text")


def is_release(root: Path) -> bool:
    return (root / "MANIFEST.json").is_file() and (root / "data").is_dir()


def load_release(root: Path, slug: str | None, image_root: Path | None) -> LoadedDataset:
    """The captions and translations of one dataset in the release (`slug` picks one if it holds several)."""
    manifest = read_json(root / "MANIFEST.json")
    by_slug: dict[str, LoadedDataset] = {}
    for path in sorted((root / "data").glob("*/*.parquet")):
        table = pq.read_table(path)
        missing = [c for c in COLUMNS if c not in table.column_names]
        if missing:
            raise UserError(f"{path}: missing columns {', '.join(missing)}; is this a tipr-bench release?")
        for row in table.to_pylist():
            if slug and row["dataset"] != slug:
                continue
            loaded = by_slug.get(row["dataset"])
            if loaded is None:
                images = image_root or root
                loaded = by_slug[row["dataset"]] = LoadedDataset(
                    DatasetInfo(row["dataset"], str(root.resolve()), str(images.resolve()),
                                f"{manifest.get('name', root.name)}@{manifest.get('version', '?')}", utc_now()),
                    [],
                )
            if row["lang"] == "en":
                loaded.captions.append(Caption(
                    row["dataset"], row["split"], int(row["person_id"]), row["image_path"],
                    int(row["caption_index"]), "en", row["text"],
                ))
            else:
                loaded.translations.append(Translation(
                    key=row["key"], lang=row["lang"], text=row["text"],
                    backend=row.get("backend") or "release", model=row.get("model") or "",
                    prompt_id=row.get("prompt_id") or "", prompt_sha256=row.get("prompt_sha256") or "",
                    status="ok", provenance=row.get("provenance") or "machine",
                ))
    if not by_slug:
        raise UserError(f"{root}: the release holds no captions{f' for dataset {slug}' if slug else ''}")
    if len(by_slug) > 1:
        raise UserError(f"{root}: the release holds several datasets ({', '.join(sorted(by_slug))}); "
                        "pick one with --dataset")
    return next(iter(by_slug.values()))
