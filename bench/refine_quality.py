"""How often does refine flag a bad translation, and how often a correct one? (per language)

Reads the translation-QA dev sets (`dev_{zh,fr,de}.jsonl`: gross errors; `subtle_{zh,fr,de,es,ja}.jsonl`:
subtle errors; each row a real English caption, a correct translation `good`, a twin `bad` with exactly
one error of kind `error`, and natural back-translations `bt_good`/`bt_bad`) and judges every good and
bad row through the same code `refine` runs (`Judge.assess_item`: glossary terms, attribute comparison,
verdict), the row's back-translation
standing for the back-translation model. QE is left out: it only ever makes a caption `noisy`
(the published mean-noise rule), never `flagged`, and only `flagged` counts here.

Printed per set and language: the checks that ran, caught % per error kind, false flags per reason
kind, the headline pair (caught %, false flags %), soft misses per correct translation, the judging
rate; then both headline tables and the subtle set's catches per kind over all languages.

    .venv/bin/python bench/refine_quality.py [../shared/data/qa_dev] [--set subtle] [--lang zh] \
        [--show-false 5]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from tipr_bench.refine import BackTranslation, Item, Judge, Thresholds, resolve_glossary


def judge_rows(lang: str, rows: list[dict]) -> tuple[list, list]:
    judge = Judge(None, lang, None, resolve_glossary(lang, None), None, Thresholds(qe_theta=1.0), progress=False)
    good, bad = [], []
    for row in rows:
        key = f"{row['file_path']}#{row['caption_index']}"
        good.append(judge.assess_item(Item(key, row["en"], row["good"]), BackTranslation(row["bt_good"]), None))
        bad.append(judge.assess_item(Item(key, row["en"], row["bad"]), BackTranslation(row["bt_bad"]), None))
    return good, bad


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:5.1f}%" if d else "   n/a"


SETS = {"dev": ("zh", "fr", "de"), "subtle": ("zh", "fr", "de", "es", "ja")}


def report_language(name: str, lang: str, path: Path, show: int) -> tuple[Counter, Counter, int, int]:
    """Judge one file and print its figures; returns (rows per kind, caught per kind, false flags, rows)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    started = time.perf_counter()
    good, bad = judge_rows(lang, rows)
    rate = 2 * len(rows) / (time.perf_counter() - started)
    kinds = Counter(r["error"] for r in rows)
    caught = Counter(r["error"] for r, a in zip(rows, bad, strict=True) if a.verdict == "flagged")
    false = [a for a in good if a.verdict == "flagged"]
    false_kinds = Counter(reason.kind for a in false for reason in a.reasons if reason.flags)
    soft = sum(len(a.soft_misses) for a in good)
    print(f"\n== {name} {lang}: {len(rows)} captions from {path} ==")
    print("checks: " + ", ".join(Judge.checks_for(resolve_glossary(lang, None))))
    print("caught per error kind: " + ", ".join(f"{k} {pct(caught[k], n).strip()} ({caught[k]}/{n})"
                                                for k, n in kinds.most_common()))
    print("false flags per reason kind (a caption may have several): " + (", ".join(
        f"{k} {n}" for k, n in false_kinds.most_common()) or "none"))
    print(f"headline: caught {pct(sum(caught.values()), len(rows))} of bad twins, "
          f"false flags {pct(len(false), len(rows))} of correct translations; "
          f"soft misses {soft / len(rows):.2f} per correct translation; {rate:,.0f} pairs/s")
    for a in false[:show]:
        print(f"  FALSE FLAG {a.key}: {a.source}\n    {a.translation}\n    bt: {a.back_translation}\n    "
              + "; ".join(str(r) for r in a.reasons if r.flags))
    misses = [(r, a) for r, a in zip(rows, bad, strict=True) if a.verdict != "flagged"]
    for r, a in misses[:show]:
        print(f"  MISS {r['error']} ({r['error_detail']}): {r['en']}\n    {a.translation}\n    "
              f"bt: {a.back_translation}\n    " + "; ".join(str(x) for x in a.reasons))
    return kinds, caught, len(false), len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="../shared/data/qa_dev")
    parser.add_argument("--set", action="append", choices=sorted(SETS), help="dev or subtle (repeat); default both")
    parser.add_argument("--lang", action="append", help="a language of the set (repeat); default all of them")
    parser.add_argument("--show-false", type=int, default=0, help="print this many false flags and misses")
    args = parser.parse_args()
    tables = []
    for name in args.set or ["dev", "subtle"]:
        headline = []
        all_kinds, all_caught = Counter(), Counter()
        for lang in [lang for lang in SETS[name] if not args.lang or lang in args.lang]:
            kinds, caught, false, n = report_language(name, lang, Path(args.data) / f"{name}_{lang}.jsonl",
                                                      args.show_false)
            all_kinds.update(kinds)
            all_caught.update(caught)
            headline.append((lang, 100 * sum(caught.values()) / n, 100 * false / n))
        tables.append((name, headline, all_kinds, all_caught))
    for name, headline, kinds, caught in tables:
        print(f"\n{name}_*: caught per kind over its languages: " + ", ".join(
            f"{k} {caught[k]}/{n}" for k, n in sorted(kinds.items())))
        print("| lang | bad twins flagged | correct translations flagged |\n|---|---|---|")
        for lang, caught_pct, false_pct in headline:
            print(f"| {lang} | {caught_pct:.0f}% | {false_pct:.0f}% |")


if __name__ == "__main__":
    main()
