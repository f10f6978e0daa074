"""How the glossary checks behave on the subtle-error dev set, per language (es, ja and any other
`subtle_{lang}.jsonl` there is).

Each row has a real English caption, a correct translation `good`, a bad twin with one subtle error,
and natural back-translations of both. Every translation is judged through the code `refine` runs
(`Judge.assess_item`, the row's back-translation standing for the model's, QE left out as in
bench/refine_quality.py). Printed per language, for correct translations and bad twins:
- term-match rate (met / expected glossary terms, every approved target counts),
- WMT25-style term success rate (only each term's preferred target counts),
- flagged by the glossary checks (a known wrong rendering, or a missed term confirmed by the
  back-translation), and flagged by anything (glossary or attribute checks).
The rows are read at run time and never copied.

    .venv/bin/python bench/glossary_quality.py [../shared/data/qa_dev] [--lang es --lang ja] [--show 5]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tipr_bench.benchmark.records import ReasonKind
from tipr_bench.refine import (
    BackTranslation,
    Item,
    Judge,
    Thresholds,
    load_glossary,
    term_match_rate,
    term_success_rate,
)

GLOSSARY_KINDS = frozenset({ReasonKind.WRONG_TERM, ReasonKind.MISSED_TERM})


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:5.1f}%" if d else "   n/a"


def measure(lang: str, rows: list[dict], show: int) -> tuple[str, ...]:
    glossary = load_glossary(lang)
    judge = Judge(None, lang, None, glossary, None, Thresholds(qe_theta=1.0), progress=False)
    line = [lang]
    for side in ("good", "bad"):
        assessed = [judge.assess_item(Item(f"{r['file_path']}#{r['caption_index']}", r["en"], r[side]),
                                      BackTranslation(r[f"bt_{side}"]), None) for r in rows]
        checks = [glossary.check(r["en"], r[side]) for r in rows]
        by_glossary = [a for a in assessed if any(x.kind in GLOSSARY_KINDS for x in a.reasons)]
        flagged = [a for a in assessed if a.verdict == "flagged"]
        rate = term_match_rate(checks)
        tsr = term_success_rate(glossary, [(r["en"], r[side]) for r in rows])
        print(f"{lang} {side:4}: term-match {100 * rate:5.1f}%, WMT25 term success {100 * tsr:5.1f}%, "
              f"flagged by glossary {pct(len(by_glossary), len(rows))}, flagged {pct(len(flagged), len(rows))}")
        line += [f"{100 * rate:.1f}%", pct(len(by_glossary), len(rows)).strip(), pct(len(flagged), len(rows)).strip()]
        for a in (by_glossary if side == "good" else [])[:show]:
            print(f"  FLAG {a.source}\n    {a.translation}\n    "
                  + "; ".join(str(x) for x in a.reasons if x.kind in GLOSSARY_KINDS))
        if side == "good":
            for c, r in list(zip(checks, rows, strict=True))[:show * 4]:
                if c.misses:
                    print(f"  miss {', '.join(c.missed)}: {r[side]}")
    return tuple(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="../shared/data/qa_dev")
    parser.add_argument("--lang", action="append", help="repeat; default: every subtle_{lang}.jsonl in data")
    parser.add_argument("--show", type=int, default=0, help="print this many glossary flags and misses")
    args = parser.parse_args()
    data = Path(args.data)
    langs = args.lang or sorted(p.stem.removeprefix("subtle_") for p in data.glob("subtle_*.jsonl"))
    table = []
    for lang in langs:
        path = data / f"subtle_{lang}.jsonl"
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        table.append(measure(lang, rows, args.show))
    print("\n| lang | good: term-match | good: glossary flags | good: flagged | bad: term-match "
          "| bad: glossary flags | bad: flagged |\n|---|---|---|---|---|---|---|")
    for line in table:
        print("| " + " | ".join(line) + " |")


if __name__ == "__main__":
    main()
