"""Speed of the offline default (transformers + bundled Gemma-3-270M GGUF) on this machine.

Prints: first load (dequantize + write the converted cache; the GGUF is assembled before) against the
second load (from the converted cache) and against transformers' own load of the same GGUF (the reference:
it parses the file's metadata once each for the tokenizer, the config and the weights); then captions/s at
batch 16 against batch 1 (the reference) on the same captions, with greedy decoding and the few-shot prompt
the demo uses. Also checks that the cached model gives the same translations as the freshly converted one.

    .venv/bin/python bench/local_backend_speed.py [--captions 32] [--keep-cache]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

CAPTIONS = [
    "A man wearing a black jacket, blue jeans and white sneakers, carrying a red backpack.",
    "The woman has long brown hair and wears a white shirt with a black skirt.",
    "A young man in a grey hoodie and dark pants is holding a phone in his right hand.",
    "She is wearing a yellow dress, black high heels and carries a small brown handbag.",
    "A person with short hair in a blue t-shirt, khaki shorts and black shoes.",
    "The man wears glasses, a green coat over a white shirt and black trousers.",
    "A girl with a ponytail wearing a pink top, white pants and carrying a shoulder bag.",
    "An older man in a dark suit with a striped tie is walking with an umbrella.",
]
FEWSHOT = ("Translate English to Chinese.\n"
           "English: A woman with long black hair, wearing a red jacket, blue jeans and white shoes.\n"
           "Chinese: 一位留着黑色长发的女士，穿着红色夹克、蓝色牛仔裤和白色鞋子。\n"
           "English: {source}\nChinese:")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captions", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--keep-cache", action="store_true", help="use ~/.cache/tipr-bench, not a temp dir")
    args = parser.parse_args()
    if args.keep_cache:
        return measure(args)
    scratch = tempfile.mkdtemp(prefix="tipr-bench-cache-")
    os.environ["TIPR_BENCH_CACHE"] = scratch
    try:
        measure(args)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # 1.3 GB of assembled and converted model


def measure(args: argparse.Namespace) -> None:

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tipr_bench.translate.backends.base import DecodingParams
    from tipr_bench.translate.backends.gemma_default import bundled_gguf
    from tipr_bench.translate.backends.transformers_backend import TransformersBackend
    from tipr_bench.translate.options import BackendOptions

    gguf = bundled_gguf()  # assembled here, so neither load below pays for it
    t0 = time.perf_counter()
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    reference = time.perf_counter() - t0
    t0 = time.perf_counter()
    first = TransformersBackend(BackendOptions(backend="transformers", device="cpu", batch_size=16))
    first_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    backend = TransformersBackend(BackendOptions(backend="transformers", device="cpu", batch_size=16))
    second_load = time.perf_counter() - t0
    print(f"model id: {backend.model}  torch threads: {__import__('torch').get_num_threads()}  "
          f"cores: {len(os.sched_getaffinity(0))}  load average: {os.getloadavg()[0]:.1f}")
    print(f"load, transformers alone (GGUF tokenizer + model): {reference:6.1f} s")
    print(f"load, first (dequantize + write cache):            {first_load:6.1f} s"
          f"   ratio {reference / first_load:.1f}x faster than transformers alone")
    print(f"load, second (converted cache):                    {second_load:6.1f} s"
          f"   ratio {first_load / second_load:.1f}x faster")

    texts = [CAPTIONS[i % len(CAPTIONS)] for i in range(args.captions)]
    conversations = [[{"role": "user", "content": FEWSHOT.format(source=t)}] for t in texts]
    params = DecodingParams(temperature=0.0, max_tokens=args.max_tokens, stop=("\n",))
    same = first.complete_batch(conversations[:4], params) == backend.complete_batch(conversations[:4], params)
    print(f"converted cache gives the same translations as the fresh conversion: {same}")
    del first

    rates, outputs = {}, {}
    for batch_size in (16, 1):
        backend.batch_size = batch_size
        n = len(conversations) if batch_size > 1 else min(len(conversations), 8)
        t0 = time.perf_counter()
        out = outputs[batch_size] = backend.complete_batch(conversations[:n], params)
        elapsed = time.perf_counter() - t0
        rates[batch_size] = n / elapsed
        tokens = sum(c.tokens_out for c in out)
        print(f"batch {batch_size:2d}: {n} captions in {elapsed:6.1f} s = {rates[batch_size]:5.2f} captions/s "
              f"({elapsed / n:.2f} s/caption, {tokens / elapsed:5.1f} tokens/s out)")
    print(f"batch 16 vs batch 1: {rates[16] / rates[1]:.1f}x")
    for text, completion in list(zip(texts, outputs[16], strict=True))[:4]:
        print(f"  {text}\n    -> {completion.text!r} ({completion.finish_reason}, {completion.tokens_out} tok)")


if __name__ == "__main__":
    main()
