"""The published multilingual files `{split}_reid_{en,ch,fr,de}.json` (Bi-IRRA layout).

Each is a list of {file_path, id, captions}; the files of one split are index-aligned across
languages, so record i and caption j mean the same thing in every language. `ch` is Chinese.
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
)
from tipr_bench.benchmark.adapters.native import image_root_of
from tipr_bench.benchmark.hub_source import find_hub_source
from tipr_bench.benchmark.records import Caption, Translation, caption_key
from tipr_bench.benchmark.store import DatasetInfo
from tipr_bench.core.clock import utc_now
from tipr_bench.core.errors import UserError
from tipr_bench.core.languages import get_language

FILE_PATTERN = re.compile(r"^(train|val|test)_reid_([a-z]{2})\.json$")
FIX = "every record needs file_path, id and captions"


def multilingual_files(root: Path) -> dict[str, dict[str, Path]]:
    """split -> language code -> file."""
    found: dict[str, dict[str, Path]] = {}
    for path in sorted(root.glob("*_reid_*.json")):
        match = FILE_PATTERN.match(path.name)
        if match:
            found.setdefault(match.group(1), {})[get_language(match.group(2)).code] = path
    return found


def load_multilingual(slug: str, root: Path) -> LoadedDataset:
    files = multilingual_files(root)
    hub = find_hub_source(root)  # downloaded from the Hub: each text cites hf://datasets/REPO@COMMIT/PATH
    captions: list[Caption] = []
    translations: list[Translation] = []
    for split, by_lang in sorted(files.items()):
        if "en" not in by_lang:
            raise UserError(f"{root}: {split}_reid_*.json has no English file {split}_reid_en.json; add it")
        english = _records(by_lang["en"])
        for image_path, pid, texts in english:
            captions.extend(Caption(slug, split, pid, image_path, j, "en", t) for j, t in enumerate(texts))
        for lang, path in sorted(by_lang.items()):
            if lang == "en":
                continue
            other = _records(path)
            if len(other) != len(english):
                raise UserError(
                    f"{path}: {len(other)} records but {by_lang['en'].name} has {len(english)}; "
                    "the files of a split must be index-aligned"
                )
            label = (hub and hub.label(path)) or path.name
            pairs = enumerate(zip(english, other, strict=True))
            for i, ((en_path, en_pid, en_texts), (image_path, pid, texts)) in pairs:
                if (image_path, pid, len(texts)) != (en_path, en_pid, len(en_texts)):
                    raise UserError(
                        f"{path}: record {i}: ({image_path}, id {pid}, {len(texts)} captions) does not match "
                        f"{by_lang['en'].name} ({en_path}, id {en_pid}, {len(en_texts)} captions); "
                        "the files of a split must be index-aligned"
                    )
                translations.extend(
                    Translation(
                        key=caption_key(slug, image_path, j), lang=lang, text=t, backend="source",
                        model=label, prompt_id="source", prompt_sha256="", provenance="source",
                    )
                    for j, t in enumerate(texts)
                )
    info = DatasetInfo(
        slug=slug,
        root=str(root.resolve()),
        image_root=str(image_root_of(root).resolve()),
        annotation=",".join(p.name for by_lang in files.values() for p in by_lang.values()),
        ingested_at=utc_now(),
    )
    return LoadedDataset(info, captions, translations)


def _records(path: Path) -> list[tuple[str, int, list[str]]]:
    guard = DuplicateGuard(path)
    out = []
    for i, record in enumerate(expect_list(read_json(path), path)):
        image_path = field_of(record, "file_path", str, path, i, FIX).strip()
        guard.check(image_path, i)
        out.append((image_path, person_id(record, path, i, FIX), caption_texts(record, path, i, FIX)))
    return out
