"""How often does refine flag a bad translation, and how often a correct one? (per language)

Reads the translation-QA dev set (`dev_{lang}.jsonl`: a real English caption, a correct translation
`good`, a twin `bad` with exactly one content error of kind `error`, and natural back-translations
`bt_good`/`bt_bad`) and judges every good and bad row through the same code `refine` runs
(`Judge.assess_item`: glossary terms, attribute comparison, verdict), the row's back-translation
standing for the back-translation model. QE is left out: it only ever makes a caption `noisy`
(the published mean-noise rule), never `flagged`, and only `flagged` counts here.

Printed per language: caught % per error kind, false flags % per reason kind, the headline pair
(caught %, false flags %), soft misses per correct translation, and the judging rate.

    .venv/bin/python bench/refine_quality.py [../shared/data/qa_dev] [--lang zh] [--show-false 5]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from tipr_bench.refine.backtranslate import BackTranslation
from tipr_bench.refine.glossary import load_glossary
from tipr_bench.refine.pipeline import Item, Judge
from tipr_bench.refine.verdict import Thresholds


def judge_rows(lang: str, rows: list[dict]) -> tuple[list, list]:
    judge = Judge(None, lang, None, load_glossary(lang), None, Thresholds(qe_theta=1.0), progress=False)
    good, bad = [], []
    for row in rows:
        key = f"{row['file_path']}#{row['caption_index']}"
        good.append(judge.assess_item(Item(key, row["en"], row["good"]), BackTranslation(row["bt_good"]), None))
        bad.append(judge.assess_item(Item(key, row["en"], row["bad"]), BackTranslation(row["bt_bad"]), None))
    return good, bad


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:5.1f}%" if d else "   n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="../shared/data/qa_dev")
    parser.add_argument("--lang", action="append", help="zh, fr or de (repeat); default all three")
    parser.add_argument("--show-false", type=int, default=0, help="print this many false flags and misses")
    args = parser.parse_args()
    headline = []
    for lang in args.lang or ["zh", "fr", "de"]:
        path = Path(args.data) / f"dev_{lang}.jsonl"
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        started = time.perf_counter()
        good, bad = judge_rows(lang, rows)
        rate = 2 * len(rows) / (time.perf_counter() - started)
        kinds = Counter(r["error"] for r in rows)
        caught = Counter(r["error"] for r, a in zip(rows, bad, strict=True) if a.verdict == "flagged")
        false = [a for a in good if a.verdict == "flagged"]
        false_kinds = Counter(reason.kind for a in false for reason in a.reasons if reason.flags)
        soft = sum(len(a.soft_misses) for a in good)
        print(f"\n== {lang}: {len(rows)} captions from {path} ==")
        print("caught per error kind: " + ", ".join(f"{k} {pct(caught[k], n).strip()} ({caught[k]}/{n})"
                                                    for k, n in kinds.most_common()))
        print("false flags per reason kind (a caption may have several): " + (", ".join(
            f"{k} {n}" for k, n in false_kinds.most_common()) or "none"))
        total_caught = sum(caught.values())
        print(f"headline: caught {pct(total_caught, len(rows))} of bad twins, "
              f"false flags {pct(len(false), len(rows))} of correct translations; "
              f"soft misses {soft / len(rows):.2f} per correct translation; {rate:,.0f} pairs/s")
        headline.append((lang, 100 * total_caught / len(rows), 100 * len(false) / len(rows)))
        for a in false[: args.show_false]:
            print(f"  FALSE FLAG {a.key}: {a.source}\n    {a.translation}\n    bt: {a.back_translation}\n    "
                  + "; ".join(str(r) for r in a.reasons if r.flags))
        misses = [(r, a) for r, a in zip(rows, bad, strict=True) if a.verdict != "flagged"]
        for r, a in misses[: args.show_false]:
            print(f"  MISS {r['error']} ({r['error_detail']}): {r['en']}\n    {a.translation}\n    "
                  f"bt: {a.back_translation}\n    " + "; ".join(str(x) for x in a.reasons))
    print("\n| lang | bad twins flagged | correct translations flagged |\n|---|---|---|")
    for lang, caught_pct, false_pct in headline:
        print(f"| {lang} | {caught_pct:.0f}% | {false_pct:.0f}% |")


if __name__ == "__main__":
    main()
