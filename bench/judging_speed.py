"""How long does refine's own judging take per caption, now and in a reference checkout? (prints the ratio)

Judging is everything refine does for a caption besides the model calls and QE: chrF/BLEU, the
glossary terms, the attribute reading of the source and of the back-translation, the verdict. Both
trees judge the same real captions (`cuhk_pedes_val_en.jsonl`): the translation is the tests'
deterministic stand-in Chinese, the back-translation is the caption itself. Each tree runs in its own
process, in turn (reference, this tree, reference, ...), `--rounds` times; the best of each is compared.

    git worktree add /tmp/tipr-ref <commit>      # the reference, e.g. the commit before a change
    .venv/bin/python bench/judging_speed.py --reference /tmp/tipr-ref [--limit N] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from in_tree import run_driver

HERE = Path(__file__).resolve().parents[1]

DRIVER = r"""
import json, sys, time
from pathlib import Path
from tipr_bench.refine import BackTranslation, Item, Judge, Thresholds, load_glossary

rows = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
judge = Judge(None, "zh", None, load_glossary("zh"), None, Thresholds(qe_theta=1.0), progress=False)
started = time.perf_counter()
verdicts = {}
for r in rows:
    a = judge.assess_item(Item(r["key"], r["text"], r["zh"]), BackTranslation(r["text"]), None)
    verdicts[a.verdict] = verdicts.get(a.verdict, 0) + 1
print(json.dumps({"seconds": time.perf_counter() - started, "verdicts": verdicts}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="a checkout of the reference commit")
    parser.add_argument("--captions", type=Path, default=HERE.parent / "shared/data/cuhk_pedes_val_en.jsonl")
    parser.add_argument("--limit", type=int, default=0, help="first N captions only (0: all)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each tree, in turn (a shared machine is noisy)")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from tests.support.openai_server import fake_translate

    rows = [json.loads(line) for line in args.captions.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[: args.limit] if args.limit else rows
    rows = [{"key": f"{r['file_path']}#{r['caption_index']}", "text": r["text"],
             "zh": fake_translate(r["text"], "Chinese")} for r in rows]
    with tempfile.TemporaryDirectory() as tmp:
        rows_file = Path(tmp) / "rows.json"
        rows_file.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
        runs = {"reference": [], "this tree": []}
        for _ in range(args.rounds):
            runs["reference"].append(run_driver(args.reference.resolve(), DRIVER, str(rows_file)))
            runs["this tree"].append(run_driver(HERE, DRIVER, str(rows_file)))
    print(f"{len(rows)} real captions, judging only (zh glossary, back-translation = the caption)")
    best = {}
    for name, results in runs.items():
        best[name] = min(r["seconds"] for r in results)
        print(f"{name}: {best[name]:.2f} s best of {len(results)} ({1000 * best[name] / len(rows):.2f} ms a caption) "
              f"{results[0]['verdicts']}")
    print(f"ratio this / reference: {best['this tree'] / best['reference']:.2f}x per caption")


if __name__ == "__main__":
    main()
