"""The vllm backend on a real GPU with the real vLLM: what the CPU tests' stand-in cannot show.

Run on a CUDA machine from the repository root, with `pip install -e '.[vllm]'`:

    python bench/vllm_gpu_check.py [--out DIR]

It builds a tiny random Llama (head dim 64, which every vLLM attention backend takes) with a chat template,
and a copy without one, then:
1. in-process: `tipr-bench translate --backend vllm` on a 24-caption workspace (engine settings, the chat
   probe, thinking off, a too-long prompt refused alone), and the same on the base copy (few-shot prompt);
2. the round trip: `--batch-out` -> `vllm run-batch` -> `--batch-in`, every request answered and imported.
The model's answers are noise (random weights), so most translations are flagged; what is checked is that
every caption gets an answer and nothing fails. Prints one JSON report (and writes it to --out/report.json).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ENGINE = ("--max-model-len", "512", "--gpu-memory-utilization", "0.3", "--vllm-arg", "enforce_eager=true")


def build_model(folder: Path, chat_template: str | None) -> Path:
    """A 2-layer Llama with hidden size 128 over 2 heads (head dim 64), bf16, random weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.support.translate_local_models import BOS, EOS, PAD, build_tokenizer

    tokenizer = build_tokenizer(False, chat_template)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024,
                         bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD, tie_word_embeddings=False)
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def translate(*args) -> dict:
    """One CLI run in a subprocess (a fresh CUDA context each time); its --json report."""
    done = subprocess.run([sys.executable, "-m", "tipr_bench", "translate", "--lang", "zh", "--json", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)
    if not done.stdout.strip():
        raise SystemExit(f"translate {' '.join(map(str, args))} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return {"returncode": done.returncode, **json.loads(done.stdout)}


def in_process(work: Path) -> dict:
    """Translate a workspace in-process with the chat model; returns the run's report."""
    from tests.support.translate_data import make_workspace
    from tests.support.translate_local_models import CHAT_TEMPLATE

    model = build_model(work / "chat-llama", CHAT_TEMPLATE)
    ws = make_workspace(work / "ws-chat", n=24)
    started = time.perf_counter()
    report = translate("--backend", "vllm", "--model", model, *ENGINE, "--max-tokens", "16",
                       "--max-flag-retries", "1", "-w", ws)
    return {**report, "wall_total_s": round(time.perf_counter() - started, 1)}


def base_model(work: Path) -> dict:
    from tests.support.translate_data import make_workspace

    model = build_model(work / "base-llama", None)
    ws = make_workspace(work / "ws-base", n=8)
    return translate("--backend", "vllm", "--model", model, *ENGINE, "--max-tokens", "16",
                     "--max-flag-retries", "0", "-w", ws)


def run_batch_round_trip(work: Path) -> dict:
    """--batch-out, then `vllm run-batch` exactly as the README shows it, then --batch-in."""
    from tests.support.translate_data import make_workspace

    model = work / "chat-llama"
    ws = make_workspace(work / "ws-batch", n=12)
    requests, results = work / "requests.jsonl", work / "results.jsonl"
    exported = translate("--backend", "vllm", "--model", model, "--max-tokens", "16", "-w", ws,
                         "--batch-out", requests)
    batch = subprocess.run(["vllm", "run-batch", "-i", str(requests), "-o", str(results), "--model", str(model),
                            "--max-model-len", "512", "--gpu-memory-utilization", "0.3", "--enforce-eager"],
                           capture_output=True, text=True)
    if batch.returncode != 0:
        return {"exported": exported, "run_batch_failed": batch.stderr[-3000:]}
    imported = translate("--backend", "vllm", "--model", model, "--max-tokens", "16", "-w", ws,
                         "--batch-in", results)
    return {"exported": exported["requests"], "imported": imported["imported"], "errors": imported["errors"],
            "first_error": imported.get("first_error", ""), "done": imported["done"], "failed": imported["failed"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for report.json")
    args = parser.parse_args()
    import torch
    import vllm

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        report = {"vllm": vllm.__version__, "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0),
                  "in_process": in_process(work), "base_model": base_model(work),
                  "run_batch": run_batch_round_trip(work)}
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "report.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
