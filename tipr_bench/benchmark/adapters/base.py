"""Shared validation for annotation files: one clear line per problem, naming file, record and fix."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tipr_bench.benchmark.records import Caption, Translation
from tipr_bench.benchmark.store import DatasetInfo
from tipr_bench.core.errors import UserError

# Dataset slugs and the native annotation file each one ships with.
DATASETS = {
    "cuhk-pedes": "reid_raw.json",
    "icfg-pedes": "ICFG-PEDES.json",
    "rstpreid": "data_captions.json",
    "ufinebench": "ufine6926.json",
}
SPLITS = ("train", "val", "test")


@dataclass
class LoadedDataset:
    info: DatasetInfo
    captions: list[Caption]
    translations: list[Translation] = field(default_factory=list)


def read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror}); check the path and permissions") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}: not UTF-8 (bad byte at offset {exc.start}); re-save the file as UTF-8"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); "
            "fix the file or download it again"
        ) from None


def expect_list(data: Any, path: Path) -> list:
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a JSON list of records, found {type(data).__name__}")
    if not data:
        raise UserError(f"{path}: holds no records; point --root at the dataset's annotation folder")
    return data


def field_of(record: Any, name: str, kind: type | tuple[type, ...], path: Path, index: int, fix: str) -> Any:
    """The field `name` of record `index`, of the given type, or a UserError that says how to fix it."""
    if not isinstance(record, dict):
        raise UserError(f"{path}: record {index}: expected an object, found {type(record).__name__}")
    if name not in record:
        raise UserError(f"{path}: record {index}: missing field '{name}'; {fix}")
    value = record[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        wanted = " or ".join(k.__name__ for k in kinds)
        raise UserError(
            f"{path}: record {index}: field '{name}' should be {wanted}, found {type(value).__name__}; {fix}"
        )
    return value


def caption_texts(record: dict, path: Path, index: int, fix: str) -> list[str]:
    captions = field_of(record, "captions", list, path, index, fix)
    if not captions:
        raise UserError(f"{path}: record {index}: 'captions' is empty; give each image at least one caption")
    texts = []
    for j, text in enumerate(captions):
        if not isinstance(text, str):
            raise UserError(f"{path}: record {index}: caption {j} should be a string, found {type(text).__name__}")
        text = " ".join(text.split())
        if not text:
            raise UserError(f"{path}: record {index}: caption {j} is empty; fill it in or remove it")
        texts.append(text)
    return texts


def person_id(record: dict, path: Path, index: int, fix: str) -> int:
    value = field_of(record, "id", (int, str), path, index, fix)
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise UserError(f"{path}: record {index}: field 'id' should be an integer person id, found {value!r}")
        value = int(value)
    return value


def split_of(value: str, path: Path, index: int) -> str:
    split = value.strip().lower()
    if split not in SPLITS:
        raise UserError(f"{path}: record {index}: unknown split {value!r}; use one of {', '.join(SPLITS)}")
    return split


class DuplicateGuard:
    """Remembers image paths per file so a repeated one is reported with both record numbers."""

    def __init__(self, path: Path):
        self.path = path
        self.first: dict[str, int] = {}

    def check(self, image_path: str, index: int) -> None:
        if image_path in self.first:
            raise UserError(
                f"{self.path}: record {index}: duplicate image '{image_path}' (first at record "
                f"{self.first[image_path]}); merge their captions into one record"
            )
        self.first[image_path] = index
