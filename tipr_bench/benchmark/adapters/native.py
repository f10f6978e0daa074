"""The four English benchmarks' own annotation files: one list of records, one image per record.

CUHK-PEDES, ICFG-PEDES and UFineBench name the image `file_path`; RSTPReid names it `img_path`.
"""

from __future__ import annotations

import re
from pathlib import Path

from tipr_bench.benchmark.adapters.base import (
    DuplicateGuard,
    LoadedDataset,
    caption_texts,
    expect_list,
    field_of,
    person_id,
    read_json,
    split_of,
)
from tipr_bench.benchmark.records import Caption
from tipr_bench.benchmark.store import DatasetInfo
from tipr_bench.core.clock import utc_now
from tipr_bench.core.errors import UserError

PATH_FIELDS = ("file_path", "img_path", "image_path")
SPLIT_IN_NAME = re.compile(r"(train|val|test)", re.IGNORECASE)
ANNOTATION_FOLDER = "annos"  # the Bi-IRRA authors keep the annotation files in DATASET/annos/


def image_root_of(root: Path) -> Path:
    """The folder image paths are relative to: `imgs/` beside the annotation files (every benchmark's
    release), or beside their `annos/` folder (the Bi-IRRA authors' DATASET/annos + DATASET/imgs);
    else the root."""
    for imgs in (root / "imgs", root.parent / "imgs" if root.name == ANNOTATION_FOLDER else None):
        if imgs is not None and imgs.is_dir():
            return imgs
    return root


def load_native(slug: str, root: Path, annotation_files: list[Path]) -> LoadedDataset:
    captions: list[Caption] = []
    guard_by_image: dict[str, tuple[Path, int]] = {}
    for path in annotation_files:
        records = expect_list(read_json(path), path)
        name_split = SPLIT_IN_NAME.search(path.stem)
        guard = DuplicateGuard(path)
        for i, record in enumerate(records):
            path_field = next((f for f in PATH_FIELDS if isinstance(record, dict) and f in record), "file_path")
            fix = f"every record needs split, captions, {path_field} and id"
            image_path = field_of(record, path_field, str, path, i, fix).strip()
            if not image_path:
                raise UserError(f"{path}: record {i}: field '{path_field}' is empty; give the image path below imgs/")
            if "split" in record or name_split is None:
                split = split_of(field_of(record, "split", str, path, i, fix), path, i)
            else:
                split = split_of(name_split.group(1), path, i)
            pid = person_id(record, path, i, fix)
            texts = caption_texts(record, path, i, fix)
            guard.check(image_path, i)
            if image_path in guard_by_image and guard_by_image[image_path][0] != path:
                first_path, first_i = guard_by_image[image_path]
                raise UserError(
                    f"{path}: record {i}: image '{image_path}' is also in {first_path.name} record {first_i}; "
                    "keep each image in one file"
                )
            guard_by_image[image_path] = (path, i)
            captions.extend(Caption(slug, split, pid, image_path, j, "en", t) for j, t in enumerate(texts))
    info = DatasetInfo(
        slug=slug,
        root=str(root.resolve()),
        image_root=str(image_root_of(root).resolve()),
        annotation=",".join(p.name for p in annotation_files),
        ingested_at=utc_now(),
    )
    return LoadedDataset(info, captions)

