"""Where `tipr-bench demo` spends its time on this machine, and what the transformers backend's decode loop
saves against transformers' own `generate`, all in one run (the machine is shared: compare ratios).

1. The matmul probe the demo's plan uses (GFLOP/s now).
2. Translation of N demo captions with the bundled Gemma-3-270M, the demo's few-shot prompt, max_tokens
   and batch size, into Chinese (translate) and back into English (refine's back-translations), through:
   - `generate`: transformers' own loop over left-padded batches (the reference);
   - `loop`: the backend's decode loop (shared prefix once, finished rows dropped);
   - `loop+cut`: the loop with the output layer cut to Latin + Han;
   - `+shortlist`: that, with greedy steps choosing among the int8 head's 64 best (what the demo runs).
   For each: seconds, captions/s and the ratio to `generate`; prefill seconds (a max_tokens=1 pass);
   output tokens; the share of answers identical to `generate`'s; the flagged share of the output
   checks; and, into Chinese, the term-match rate against the shipped glossary.
3. Unless --no-demo: a first demo run in a temporary folder, seconds per stage (demo.py's REFERENCE_*).

    .venv/bin/python bench/demo_speed.py [--captions 64] [--no-demo]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from tipr_bench.benchmark.ingest import ingest_dataset
from tipr_bench.benchmark.store import Workspace
from tipr_bench.demo import DEMO_PARAMS, TRANSLATE_BATCH_SIZE, DemoOptions, matmul_gflops, run_demo
from tipr_bench.refine import load_glossary, term_match_rate
from tipr_bench.sample import generate_sample
from tipr_bench.translate import build_backend
from tipr_bench.translate.backends.base import DecodingParams
from tipr_bench.translate.backends.transformers_backend import TransformersBackend
from tipr_bench.translate.checks import check_output
from tipr_bench.translate.options import BackendOptions
from tipr_bench.translate.prompts import PRESETS


def demo_captions(folder: Path, n: int) -> list[str]:
    """The first n English captions of the demo's sample (100 persons, seed 0), in workspace order."""
    generate_sample(folder / "sample", persons=100, seed=0, progress=False)
    ws = Workspace.open(folder / "ws")
    try:
        ingest_dataset(ws, folder / "sample", "cuhk-pedes")
        return [c.text for c in ws.captions("cuhk-pedes", "train", lang="en")][:n]
    finally:
        ws.close()


def timed(backend: TransformersBackend, conversations, params: DecodingParams, plain: bool):
    loop = backend._loop
    if plain:
        backend._loop = None  # complete_batch then runs transformers' generate, same sorting and batches
    try:
        started = time.perf_counter()
        out = backend.complete_batch(conversations, params)
        return time.perf_counter() - started, out
    finally:
        backend._loop = loop


def compare(backends: dict[str, TransformersBackend], sources: list[str], lang: str, source_lang: str) -> list:
    prompt = PRESETS["fewshot"]
    params = DecodingParams(max_tokens=DEMO_PARAMS.max_tokens, stop=prompt.stop)
    conversations = [prompt.render(s, lang, source_lang=source_lang) for s in sources]
    glossary = load_glossary(lang) if lang != "en" else None
    rows, reference = [], None
    for name, backend, plain in (("generate", backends["full"], True), ("loop", backends["full"], False),
                                 ("loop+cut", backends["cut"], False), ("+shortlist", backends["demo"], False)):
        prefill, _ = timed(backend, conversations, DecodingParams(max_tokens=1), plain)
        seconds, out = timed(backend, conversations, params, plain)
        texts = [c.text for c in out]
        # a loop the decode loop stopped early is generate's truncated answer cut short: count it as the same
        texts = [ref if c.finish_reason == "repetition" and ref.startswith(c.text.rstrip("\ufffd")) else c.text
                 for ref, c in zip(reference or texts, out, strict=True)]
        reference = reference or texts
        checks = [check_output(s, c.text, lang, c.finish_reason) for s, c in zip(sources, out, strict=True)]
        terms = (term_match_rate(glossary.check(s, k.text) for s, k in zip(sources, checks, strict=True))
                 if glossary else None)
        rows.append({"variant": name, "seconds": seconds, "prefill": prefill, "tokens": sum(c.tokens_out for c in out),
                     "same": sum(a == b for a, b in zip(reference, texts, strict=True)),
                     "flagged": sum(k.status != "ok" for k in checks) / len(checks), "terms": terms, "texts": texts})
        print(f"  {name:<10} {seconds:7.1f} s  {len(sources) / seconds:5.2f} captions/s  "
              f"x{rows[0]['seconds'] / seconds:4.2f} vs generate  prefill {prefill:6.1f} s  "
              f"{rows[-1]['tokens']:5d} tokens out  same as generate {rows[-1]['same']}/{len(sources)}  "
              f"({sum(c.finish_reason == 'repetition' for c in out)} loops cut)  "
              f"flagged {rows[-1]['flagged']:.0%}" + (f"  term match {terms:.0%}" if terms is not None else "")
              + f"  (load {os.getloadavg()[0]:.1f})", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captions", type=int, default=64)
    parser.add_argument("--no-demo", action="store_true", help="skip the full demo run (15-30 minutes)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="tipr-demo-speed-"))
    print(f"cores {len(os.sched_getaffinity(0))}, load {os.getloadavg()[0]:.1f}, "
          f"matmul probe {matmul_gflops():.1f} GFLOP/s")
    sources = demo_captions(scratch / "captions", args.captions)
    local = BackendOptions(backend="transformers", device="cpu", batch_size=TRANSLATE_BATCH_SIZE)
    backends = {"full": build_backend(local), "cut": build_backend(local.with_(output_langs=("en", "zh"))),
                "demo": build_backend(DemoOptions(lang="zh").backend.with_(device="cpu"))}
    print(f"{len(sources)} demo captions, en -> zh ({backends['demo'].model})")
    zh = compare(backends, sources, "zh", "en")
    print(f"back into English: the {len(sources)} answers of generate, zh -> en")
    compare(backends, zh[0]["texts"], "en", "zh")
    if args.no_demo:
        return
    del backends
    print(f"a first demo run in {scratch / 'demo'} (matmul probe {matmul_gflops():.1f} GFLOP/s)")
    result = run_demo(DemoOptions(work=scratch / "demo", progress=False))
    for stage in result.stages:
        print(f"  {stage.name:<9} {stage.seconds:7.1f} s  {stage.summary}")
    print(f"  total     {result.seconds:7.1f} s wall, {sum(s.seconds for s in result.stages):.1f} s in stages  "
          f"(load {os.getloadavg()[0]:.1f}, "
          f"probe now {matmul_gflops():.1f} GFLOP/s)")


if __name__ == "__main__":
    main()
