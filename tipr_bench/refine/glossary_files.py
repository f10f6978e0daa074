"""Glossary files: the TSV format (`en, target, wrong, category, note`, and optionally `check`), the
shipped ones, a user's merged over them, and the JSONL texts `glossary coverage` reads. Each bad line
is one UserError naming file:line and how to fix it."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from tipr_bench.core.errors import UserError
from tipr_bench.core.languages import get_language
from tipr_bench.refine.glossary import Glossary, GlossaryEntry

HEADER = ("en", "target", "wrong", "category", "note")
CHECK_COLUMN = "check"  # an optional sixth column for reviewers (what `glossary build` back-checked); ignored
SHIPPED_LANGUAGES = ("zh", "fr", "de", "es", "ja", "ko", "ru")


def _cells(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split("|") if v.strip())


def parse_glossary_tsv(text: str, origin: str, source: str) -> list[GlossaryEntry]:
    """Entries of one glossary file. `origin` names the file in error messages."""
    entries: list[GlossaryEntry] = []
    seen: dict[str, int] = {}
    header_seen = False
    width = len(HEADER)
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = [c.strip() for c in line.split("\t")]
        if not header_seen:
            if tuple(c.lower() for c in cols[:2]) != HEADER[:2]:
                raise UserError(
                    f"{origin}:{lineno}: expected the header line `en<TAB>target<TAB>wrong<TAB>category<TAB>note`, "
                    f"got {line[:60]!r}; add it as the first line"
                )
            header_seen = True
            if len(cols) > len(HEADER) and cols[len(HEADER)].lower() == CHECK_COLUMN:
                width += 1
            continue
        if len(cols) > width:
            raise UserError(
                f"{origin}:{lineno}: {len(cols)} tab-separated columns, at most {width} allowed "
                f"({', '.join(HEADER[:width])}{', ' + CHECK_COLUMN if width > len(HEADER) else ''}); "
                f"separate several values inside a cell with `|`"
            )
        cols += [""] * (len(HEADER) - len(cols))
        aliases = tuple(a.lower() for a in _cells(cols[0]))
        targets = _cells(cols[1])
        if not aliases or not targets:
            raise UserError(
                f"{origin}:{lineno}: every entry needs an English term and at least one target term; "
                f"fill both columns or delete the line"
            )
        if aliases[0] in seen:
            raise UserError(
                f"{origin}:{lineno}: {aliases[0]!r} is already defined on line {seen[aliases[0]]}; "
                f"keep one of the two lines"
            )
        seen[aliases[0]] = lineno
        entries.append(
            GlossaryEntry(aliases[0], aliases, targets, _cells(cols[2]), cols[3].lower(), cols[4], source)
        )
    if not header_seen:
        raise UserError(f"{origin}: empty glossary; write the header `en<TAB>target<TAB>wrong<TAB>category<TAB>note`")
    return entries


def shipped_glossary_path(lang: str) -> Path:
    return Path(str(resources.files("tipr_bench.refine") / "glossaries" / f"{lang}.tsv"))


def load_glossary(lang: str, user_path: Path | None = None) -> Glossary:
    """The shipped glossary for `lang` with the user's file merged over it (user entries win)."""
    code = get_language(lang).code
    entries: list[GlossaryEntry] = []
    shipped = shipped_glossary_path(code)
    if shipped.is_file():
        entries = parse_glossary_tsv(shipped.read_text(encoding="utf-8"), str(shipped), "shipped")
    elif user_path is None:
        raise UserError(
            f"no shipped glossary for {code!r} (shipped: {', '.join(SHIPPED_LANGUAGES)}); "
            f"pass your own with --glossary FILE.tsv"
        )
    if user_path is not None:
        user_path = Path(user_path)
        text = _read_utf8(user_path, "glossary", "--glossary", "TSV")
        user = parse_glossary_tsv(text, str(user_path), "user")
        replaced = {e.term for e in user}
        entries = [e for e in entries if e.term not in replaced] + user
    return Glossary(code, entries)


def read_texts_jsonl(path: Path) -> list[str]:
    """The `text` of every line of a JSONL file; a bad line is a UserError naming file:line."""
    path = Path(path)
    raw = _read_utf8(path, "input", "--input", "JSONL")
    texts: list[str] = []
    for lineno, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(
                f"{path}:{lineno}: not valid JSON ({exc.msg}); write one JSON object per line"
            ) from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise UserError(f'{path}:{lineno}: expected an object with a string "text" field, like {{"text": "..."}}')
        texts.append(obj["text"])
    return texts


def _read_utf8(path: Path, what: str, option: str, kind: str) -> str:
    """A user's text file, or one UserError line saying which file, what is wrong and which option to fix."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{what} file {path} not found; check the {option} path") from None
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise UserError(f"cannot read {what} file {path} ({exc}); it must be a UTF-8 {kind} file") from None
