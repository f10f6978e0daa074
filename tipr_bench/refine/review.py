"""People correct the test split (as the published benchmark did): a CSV sheet out, the same sheet in.

The sheet holds each caption's source, current translation, back-translation, verdict and reasons,
and an empty `corrected` column. On import a filled `corrected` cell replaces the translation (a cell
equal to the translation approves it) and an empty one approves it as is (only for rows whose verdict was
ok); either way the row becomes provenance `human`. A row that refine never checked (no verdict) and that
has no correction was not reviewed, so it is left untouched. A correction must pass the translation
output checks (script, echo, length, ...) that a machine answer must pass; one that fails is refused
with its row number. The whole sheet is checked before anything is written, then written in one
transaction: a bad sheet changes nothing and the error names its row.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from tipr_bench.benchmark.records import QARecord, Reason, ReasonKind, Translation
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.atomic import atomic_open
from tipr_bench.core.errors import UserError
from tipr_bench.core.languages import LANGUAGES, get_language
from tipr_bench.translate import check_output

COLUMNS = ("key", "lang", "source", "translation", "back_translation", "verdict", "reasons", "corrected")
REQUIRED = ("key", "source", "translation", "verdict", "corrected")
REASON_SEPARATOR = " | "


@dataclass(frozen=True, slots=True)
class ImportResult:
    lang: str
    rows: int
    corrected: int
    approved: int
    untouched: int = 0  # rows never checked by refine and left without a correction: not imported


def export_review(ws: Workspace, lang: str, out: Path, *, split: str = "test", dataset: str | None = None,
                  force: bool = False) -> int:
    """Write the review sheet for one language and split; returns the number of rows. An existing sheet
    may hold corrections not imported yet, so it is only replaced with `force`."""
    lang = get_language(lang).code
    if Path(out).exists() and not force:
        raise UserError(f"{out} exists and may hold corrections not imported yet: import it first "
                        "(`tipr-bench review import`), pick another --out, or pass --force to replace it")
    translations = ws.translations(lang, dataset, split)
    if not translations:
        where = f"{dataset or 'any dataset'}, split {split}"
        raise UserError(f"no {lang} translations for {where}: run `tipr-bench translate --lang {lang}` "
                        "(and `tipr-bench refine`) first")
    qa = ws.qa(lang, dataset, split)
    rows = 0
    with atomic_open(out, "w", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for caption in ws.captions(dataset, split, "en"):
            t = translations.get(caption.key)
            if t is None:
                continue
            q = qa.get(caption.key)
            writer.writerow([
                caption.key, lang, caption.text, t.text, q.back_translation if q else "",
                q.verdict if q else "", REASON_SEPARATOR.join(map(str, q.reasons)) if q else "", "",
            ])
            rows += 1
    return rows


def _decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"review sheet {path} not found; check the path") from None
    except OSError as exc:
        raise UserError(f"cannot read review sheet {path}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = raw[: exc.start].count(b"\n") + 1
        raise UserError(f"{path} row {row}: not UTF-8 text; save the sheet as 'CSV UTF-8' and import it again") \
            from None


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    reader = csv.reader(io.StringIO(_decode(path), newline=""))
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise UserError(f"{path} row {reader.line_num}: not valid CSV ({exc}); re-export the sheet") from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise UserError(f"{path} row 1: missing column(s) {', '.join(missing)}; the header must be "
                        f"{','.join(COLUMNS)} as exported by `tipr-bench review export`")
    out = []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise UserError(f"{path} row {line}: {len(row)} cells but the header has {len(header)}; "
                            "quote cells that contain commas")
        out.append((line, dict(zip(header, [*row, *[""] * (len(header) - len(row))], strict=True))))
    return header, out


def _row_caption(path: Path, line: int, row: dict[str, str], lang: str | None, english: dict[str, str],
                 seen: dict[tuple[str, str], int]) -> tuple[str, str]:
    """A row's language and caption key, checked: a target language (the --lang one if given), a caption
    of the workspace named once, its source cell as exported."""
    row_lang = (row.get("lang") or "").strip().lower() or lang
    if row_lang == "ch":
        row_lang = "zh"
    if row_lang not in LANGUAGES or row_lang == "en":
        raise UserError(f"{path} row {line}: unknown language {row_lang!r}; use a target code such as zh")
    if lang is not None and row_lang != lang:
        raise UserError(f"{path} row {line}: language {row_lang!r} but --lang {lang}; import one language "
                        "at a time")
    key = row["key"].strip()
    if key not in english:
        raise UserError(f"{path} row {line}: unknown key {key!r}; the workspace has no such caption "
                        "(use the keys as exported)")
    if (key, row_lang) in seen:
        raise UserError(f"{path} row {line}: key {key!r} already appears on row {seen[key, row_lang]}; "
                        "keep one row per caption")
    seen[key, row_lang] = line
    if row["source"].strip() != english[key].strip():
        raise UserError(f"{path} row {line}: the source cell differs from caption {key!r}; leave the "
                        "source column as exported (rows may have been shifted)")
    return row_lang, key


def import_review(ws: Workspace, path: Path, lang: str | None = None) -> ImportResult:
    """Check every row of a corrected sheet, then write them all as `human` translations at once."""
    path = Path(path)
    header, rows = _read_rows(path)
    if lang is not None:
        lang = get_language(lang).code
    elif "lang" not in header:
        raise UserError(f"{path} row 1: no `lang` column; pass --lang or keep the column from the export")
    if not rows:
        raise UserError(f"{path}: no rows below the header; export a sheet with `tipr-bench review export`")
    sheet_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    english = {c.key: c.text for c in ws.captions()}
    current_by_lang: dict[str, dict[str, Translation]] = {}
    seen: dict[tuple[str, str], int] = {}
    updates: list[Translation] = []
    qa: list[QARecord] = []
    corrected = approved = untouched = 0
    for line, row in rows:
        row_lang, key = _row_caption(path, line, row, lang, english, seen)
        if row_lang not in current_by_lang:
            current_by_lang[row_lang] = ws.translations(row_lang)
        current = current_by_lang[row_lang].get(key)
        if current is None:
            raise UserError(f"{path} row {line}: {key!r} has no {row_lang} translation to correct; "
                            f"run `tipr-bench translate --lang {row_lang}` first")
        fix = row["corrected"].strip()
        verdict = row["verdict"].strip()
        if not fix:
            if verdict and verdict not in ("ok", "reviewed"):
                raise UserError(f"{path} row {line}: verdict {verdict!r} needs a correction; write the corrected "
                                "translation (or copy the translation if it is right) into `corrected`")
            if row["translation"].strip() != current.text.strip():
                raise UserError(f"{path} row {line}: the translation changed since this sheet was exported; "
                                "export a fresh sheet or write the text into `corrected`")
            if not verdict:  # never checked and nothing written: nobody reviewed this row
                untouched += 1
                continue
        elif fix != current.text.strip():
            check = check_output(english[key], fix, row_lang)
            if check.status != "ok":
                raise UserError(f"{path} row {line}: the correction fails the output check for "
                                f"{get_language(row_lang).name} ({check.reason}); fix the `corrected` cell "
                                "(or copy the translation if it is right)")
        changed = bool(fix) and fix != current.text.strip()
        text = fix if changed else current.text
        corrected += changed
        approved += not changed
        updates.append(Translation(
            key=key, lang=row_lang, text=text, backend="human", model=f"review:{path.name}",
            prompt_id="review", prompt_sha256=sheet_sha, params={}, status="ok", reason="",
            provenance="human", round=current.round + 1,
        ))
        note = "corrected by a reviewer" if changed else "approved by a reviewer"
        qa.append(QARecord(key=key, lang=row_lang, verdict="reviewed", reasons=(Reason(ReasonKind.REVIEW, note),),
                           round=ws.next_qa_round(key, row_lang)))
    if not updates:
        raise UserError(f"{path}: nothing to import: no row has a correction and no row was checked by refine "
                        f"({untouched} untouched); fill `corrected`, or run `tipr-bench refine` and export again")
    with ws.transaction():
        ws.put_translations(updates)
        ws.put_qa(qa)
    return ImportResult(lang=lang or ",".join(sorted(current_by_lang)), rows=len(updates), corrected=corrected,
                        approved=approved, untouched=untouched)
