"""Caption tables: pandas DataFrames of a release's rows and of a workspace's captions, for notebooks
and scripts.

The library's records stay typed dataclasses; these are views built from them (pandas is imported
only when a table is asked for, so the CLI starts fast). The workspace hands its records in
(`Workspace.frame`): this module reads no store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tipr_bench.benchmark.manifest import MANIFEST_NAME, IntegrityError, manifest_files, parse_manifest, verify_release
from tipr_bench.core.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from tipr_bench.benchmark.records import Caption, Translation

CAPTION_COLUMNS = ("key", "dataset", "split", "person_id", "image_path", "caption_index", "lang", "text")
TRANSLATION_COLUMNS = ("status", "provenance", "backend", "model", "round")


def open_release(path: str | Path, lang: str | None = None, split: str | None = None,
                 verify: bool = True) -> pd.DataFrame:
    """The rows of a release's data/<lang>/<split>.parquet files as one DataFrame (all, or one language
    and/or split), after checking every file against MANIFEST.json unless `verify` is False."""
    import pandas as pd
    import pyarrow.parquet as pq

    root = Path(path)
    if verify:
        report = verify_release(root)
        if not report.ok:
            raise IntegrityError(f"{root} is not intact ({report.problems[0]}); download it again or pass "
                                 "verify=False to read it anyway")
    elif not (root / MANIFEST_NAME).is_file():
        raise UserError(f"{root}: no {MANIFEST_NAME}; point at a release folder such as releases/NAME/VERSION")
    manifest = parse_manifest((root / MANIFEST_NAME).read_bytes(), str(root / MANIFEST_NAME))
    parts = {tuple(e.path.split("/")[1:3]): e.path for e in manifest_files(manifest)
             if e.path.startswith("data/") and e.path.endswith(".parquet") and e.path.count("/") == 2}
    langs = sorted({lg for lg, _ in parts})
    splits = sorted({s.removesuffix(".parquet") for _, s in parts})
    if lang is not None and lang not in langs:
        raise UserError(f"{root} has no {lang!r} captions; its languages: {', '.join(langs)}")
    if split is not None and split not in splits:
        raise UserError(f"{root} has no {split!r} split; its splits: {', '.join(splits)}")
    chosen = [rel for (lg, s), rel in sorted(parts.items())
              if (lang is None or lg == lang) and (split is None or s == f"{split}.parquet")]
    frames = [pq.read_table(root / rel).to_pandas() for rel in chosen]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def captions_frame(captions: Sequence[Caption], translations: Mapping[str, Translation] | None = None) -> pd.DataFrame:
    """Captions as a table; with `translations` (the captions' current translations by key), each row adds
    its translation's status, provenance, backend, model and round."""
    import pandas as pd

    rows = [{c_name: getattr(c, c_name) for c_name in CAPTION_COLUMNS} for c in captions]
    columns = list(CAPTION_COLUMNS)
    if translations is not None:
        for row in rows:
            t = translations[row["key"]]
            row.update(status=t.status, provenance=t.provenance, backend=t.backend, model=t.model, round=t.round)
        columns += TRANSLATION_COLUMNS
    return pd.DataFrame(rows, columns=columns)
