"""Which annotation format a dataset root holds, and loading it under the right dataset slug."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tipr_bench.benchmark.adapters.base import DATASETS, LoadedDataset
from tipr_bench.benchmark.adapters.multilingual import load_multilingual, multilingual_files
from tipr_bench.benchmark.adapters.native import ANNOTATION_FOLDER, load_native
from tipr_bench.benchmark.adapters.release import is_release, load_release
from tipr_bench.core.errors import UserError

# Native file names per dataset, in the order they are tried.
NATIVE_FILES = {
    "cuhk-pedes": ("reid_raw.json",),
    "icfg-pedes": ("ICFG-PEDES.json", "ICFG_PEDES.json"),
    "rstpreid": ("data_captions.json",),
}


def _ufine_files(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*.json") if p.name.lower().startswith("ufine"))


def detect_format(root: Path) -> tuple[str, str | None]:
    """(format, dataset slug or None): format is a dataset slug, 'multilingual' or 'release'."""
    found = _format_in(root)
    if found is not None:
        return found
    known = ", ".join(name for names in NATIVE_FILES.values() for name in names)
    raise UserError(
        f"{root}: no annotation file found (looked for {known}, ufine*.json, {{split}}_reid_{{lang}}.json, "
        f"also in {ANNOTATION_FOLDER}/, or a tipr-bench release); point --root at the dataset folder"
    )


def annotation_folder(root: Path) -> Path:
    """Where the annotation files are: the root, or its `annos/` (the Bi-IRRA authors' layout,
    DATASET/annos/{split}_reid_{lang}.json beside DATASET/imgs/)."""
    annos = root / ANNOTATION_FOLDER
    if _format_in(root) is None and annos.is_dir() and _format_in(annos) is not None:
        return annos
    return root


def _format_in(root: Path) -> tuple[str, str | None] | None:
    if is_release(root):
        return "release", None
    for slug, names in NATIVE_FILES.items():
        if any((root / name).is_file() for name in names):
            return slug, slug
    if _ufine_files(root):
        return "ufinebench", "ufinebench"
    if multilingual_files(root):
        return "multilingual", None
    return None


def load_dataset(root: str | Path, dataset: str | None = None, image_root: str | Path | None = None) -> LoadedDataset:
    """Load a dataset root. `dataset` is the slug; it may be left out where the files say it."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: not a folder; --root takes the dataset folder holding its annotation file")
    if dataset is not None and dataset not in DATASETS:
        raise UserError(f"unknown dataset {dataset!r}: use one of {', '.join(DATASETS)}")
    root = annotation_folder(root)
    fmt, slug = detect_format(root)
    if fmt == "release":
        return load_release(root, dataset, Path(image_root) if image_root else None)
    if fmt == "multilingual":
        if dataset is None:
            raise UserError(
                f"{root}: the multilingual files do not name their dataset; pass --dataset "
                f"({', '.join(DATASETS)})"
            )
        loaded = load_multilingual(dataset, root)
    else:
        if dataset is not None and dataset != slug:
            raise UserError(
                f"{root}: holds {slug} annotations ({DATASETS[slug]}), not {dataset}; "
                f"pass --dataset {slug} or point --root at the {dataset} folder"
            )
        files = _ufine_files(root) if fmt == "ufinebench" else [
            root / name for name in NATIVE_FILES[fmt] if (root / name).is_file()
        ][:1]
        loaded = load_native(fmt, root, files)
    if image_root is not None:
        loaded.info = replace(loaded.info, image_root=str(Path(image_root).resolve()))
    return loaded
