"""`tipr-bench translate`: machine-translate the workspace's English captions, cached and resumable."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from tipr_bench.benchmark.errors import UserError
from tipr_bench.benchmark.languages import get_language
from tipr_bench.benchmark.store import Workspace
from tipr_bench.cli import vllm_options as vo
from tipr_bench.cli.app import app
from tipr_bench.cli.common import (
    DEFAULT_WORKSPACE,
    EXIT_FAILURE,
    DatasetOption,
    JsonOption,
    LangOption,
    SplitOption,
    WorkspaceOption,
    console,
    err_console,
    print_json,
)
from tipr_bench.translate.backends import backend_identity, default_backend_name, make_backend
from tipr_bench.translate.backends.base import DecodingParams
from tipr_bench.translate.cost import estimate
from tipr_bench.translate.prompts import default_prompt, get_prompt
from tipr_bench.translate.runner import CacheOnly, plan_requests, translate_jobs, workspace_jobs

_Opt = typer.Option


@app.command()
def translate(
    lang: LangOption,
    backend: Annotated[str | None, _Opt("--backend", "-b", help="openai | vllm | transformers. Default: openai "
                                        "when --base-url or the API key is set, else transformers (offline).")] = None,
    model: Annotated[str | None, _Opt("--model", "-m", help="Model name (openai) or local path; transformers "
                                      "defaults to the bundled Gemma-3-270M.")] = None,
    base_url: Annotated[list[str] | None, _Opt("--base-url", help="OpenAI-compatible server URL; repeat to "
                                               "spread load over several.")] = None,
    api_key_env: Annotated[str, _Opt(help="Environment variable that holds the API key.")] = "OPENAI_API_KEY",
    concurrency: Annotated[int, _Opt(help="Requests in flight (openai).")] = 64,
    rpm: Annotated[int | None, _Opt(help="Requests-per-minute limit.")] = None,
    tpm: Annotated[int | None, _Opt(help="Tokens-per-minute limit.")] = None,
    timeout: Annotated[float, _Opt(help="Seconds per request before it is retried.")] = 60.0,
    max_retries: Annotated[int, _Opt(help="Retries per request on 429/5xx/timeouts.")] = 5,
    prompt: Annotated[str | None, _Opt("--prompt", "-p", help="ldat | glossary | fewshot | strict | a template "
                                       "file. Default: fewshot for base models (no chat template, like the bundled "
                                       "Gemma), else ldat.")] = None,
    dataset: DatasetOption = None,
    split: SplitOption = None,
    limit: Annotated[int | None, _Opt(help="Translate at most N captions (in stable order).")] = None,
    force: Annotated[bool, _Opt("--force", help="Ignore cached answers and translate again.")] = False,
    dry_run: Annotated[bool, _Opt("--dry-run", help="Estimate tokens and cost; send nothing.")] = False,
    price_in: Annotated[float, _Opt(help="Price per 1M input tokens.")] = 0.0,
    price_out: Annotated[float, _Opt(help="Price per 1M output tokens.")] = 0.0,
    batch_out: Annotated[Path | None, _Opt(help="Write pending requests as OpenAI Batch-API JSONL "
                                           "(also what `vllm run-batch` reads); send nothing.")] = None,
    batch_in: Annotated[list[Path] | None, _Opt(help="Import a Batch-API results JSONL and store the translations "
                                                "(repeat for each part of a split export).")] = None,
    device: Annotated[str, _Opt(help="auto | cpu | cuda (transformers).")] = "auto",
    batch_size: Annotated[int | None, _Opt(help="Prompts per forward pass (transformers 16; vllm: all).")] = None,
    max_model_len: vo.MaxModelLenOption = vo.DEFAULT_MAX_MODEL_LEN,
    tensor_parallel_size: vo.TensorParallelOption = 1,
    gpu_memory_utilization: vo.GpuMemoryOption = vo.DEFAULT_GPU_MEMORY_UTILIZATION,
    trust_remote_code: vo.TrustRemoteCodeOption = False,
    vllm_arg: vo.VllmArgOption = None,
    thinking: vo.ThinkingOption = False,
    chat_mode: vo.ChatModeOption = "auto",
    temperature: Annotated[float, _Opt(help="Sampling temperature.")] = 0.0,
    max_tokens: Annotated[int, _Opt(help="Most tokens per translation.")] = 256,
    max_flag_retries: Annotated[int, _Opt(help="Retries of a flagged output with the strict prompt.")] = 2,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Translate every English caption into --lang, caching each answer so nothing is paid twice.

    Example: tipr-bench translate --lang zh --base-url http://localhost:8000/v1 --model Qwen/Qwen2.5-7B-Instruct
    """
    language = get_language(lang)
    if language.code == "en":
        raise UserError("--lang en: English is the source language; pass a target such as zh, fr or de")
    if batch_in and batch_out:
        raise UserError("--batch-in and --batch-out are two steps: export with --batch-out, import with --batch-in")
    for name, value in (("--concurrency", concurrency), ("--max-tokens", max_tokens), ("--limit", limit),
                        ("--rpm", rpm), ("--tpm", tpm)):
        if value is not None and value < 1:
            raise UserError(f"{name} must be at least 1, got {value}")
    for name, value in (("--timeout", timeout), ("--max-retries", max_retries), ("--max-flag-retries",
                        max_flag_retries), ("--price-in", price_in), ("--price-out", price_out),
                        ("--temperature", temperature)):
        if value < 0 or (name == "--timeout" and value == 0):
            raise UserError(f"{name} must be {'positive' if name == '--timeout' else 'zero or more'}, got {value}")
    base_urls = tuple(base_url or ())
    backend_name = backend or default_backend_name(base_urls, api_key_env)
    if (batch_in or batch_out) and backend_name == "transformers":
        raise UserError("Batch-API files are for OpenAI-compatible servers and `vllm run-batch`: pass "
                        "--backend openai (or vllm) and --model NAME with --batch-out/--batch-in")
    engine_settings = vo.vllm_settings(max_model_len, tensor_parallel_size, gpu_memory_utilization, trust_remote_code,
                                       vllm_arg, thinking, chat_mode, max_tokens) if backend_name == "vllm" else None
    chosen_prompt = get_prompt(prompt or ("fewshot" if backend_name == "transformers" else "ldat"))
    params = DecodingParams(temperature=temperature, max_tokens=max_tokens)
    ws = Workspace.open(workspace, create=False)
    try:
        jobs, kept = workspace_jobs(ws, language.code, dataset, split, limit)
        if not jobs:
            where = f" (dataset {dataset or 'any'}, split {split or 'any'})"
            human = f"; {kept} captions already have human translations" if kept else ""
            raise UserError(f"nothing to translate in {workspace}{where}: run `tipr-bench ingest` first, "
                            f"or check --dataset/--split{human}")
        head = {"lang": language.code, "backend": backend_name, "prompt": chosen_prompt.id, "captions": len(jobs),
                "kept_human": kept}

        if dry_run or batch_out or batch_in:
            name, model_id = backend_identity(backend_name, model,
                                              thinking=bool(engine_settings and engine_settings.thinking))
            pending = plan_requests(ws, jobs, name, model_id, chosen_prompt, params, force=force,
                                    max_flag_retries=max_flag_retries)
            head["model"] = model_id
            if dry_run:
                est = estimate(((r.messages, r.job.source, r.answers) for r in pending.requests()), price_in,
                               price_out)
                out = {**head, "dry_run": True, "cached": pending.answered, "requests": est.requests,
                       "tokens_in": est.tokens_in, "tokens_out": est.tokens_out, "cost": round(est.cost, 6),
                       "estimator": est.estimator}
                return _finish(out, json_output, "dry run (nothing sent)")
            if batch_out:
                from tipr_bench.translate.batchapi import refuse_base_model_batch, write_batch_requests

                served, extra_body = model_id, None
                if engine_settings is not None:  # vllm run-batch: the name it serves, thinking off as in-process
                    from tipr_bench.translate.backends.vllm_backend import engine_model_path

                    refuse_base_model_batch(model, engine_settings.chat_mode)
                    served = engine_settings.served_model_name or engine_model_path(model)
                    kwargs = engine_settings.chat_template_kwargs()
                    extra_body = {"chat_template_kwargs": kwargs} if kwargs else None
                files = write_batch_requests(batch_out, pending, served, extra_body=extra_body)
                written = sum(n for _, n in files)
                out = {**head, "batch_out": ", ".join(str(f) for f, _ in files), "requests": written,
                       "cached": pending.answered}
                return _finish(out, json_output, f"wrote {written} requests to {len(files)} file(s)")
            from tipr_bench.translate.batchapi import import_batch_results

            imported = import_batch_results(ws, batch_in, name, model_id, {r.key for r in pending.requests()})
            report = translate_jobs(ws, jobs, CacheOnly(name, model_id), chosen_prompt, params,
                                    max_flag_retries=max_flag_retries, progress=False)
            out = {**head, "batch_in": ", ".join(map(str, batch_in)), "imported": imported.imported,
                   "errors": imported.errors, "unmatched": imported.unmatched, **_summary(report, head)}
            out["pending"] += _left_out(ws, language.code, dataset, split, jobs)
            if imported.first_error:
                out["first_error"] = imported.first_error
            return _finish(out, json_output, "imported batch results", failed=report.failed)

        engine = make_backend(
            backend_name, model, base_urls=base_urls, api_key_env=api_key_env, concurrency=concurrency, rpm=rpm,
            tpm=tpm, timeout=timeout, max_retries=max_retries, device=device,
            batch_size=batch_size if batch_size is not None else (0 if backend_name == "vllm" else 16),
            vllm=engine_settings,
        )
        if prompt is None:  # the engine knows whether it is a base model (few-shot) or a chat model
            chosen_prompt = default_prompt(engine)
            head["prompt"] = chosen_prompt.id
        try:
            report = translate_jobs(ws, jobs, engine, chosen_prompt, params, force=force,
                                    max_flag_retries=max_flag_retries, price_in=price_in, price_out=price_out,
                                    progress=not json_output)
        except KeyboardInterrupt:
            err_console.print("interrupted: every finished translation is saved; run the same command again "
                              "to resume")
            raise typer.Exit(130) from None
        out = {**head, "model": engine.model, **_summary(report, head)}
        out["pending"] += _left_out(ws, language.code, dataset, split, jobs)
        if report.failed:
            reasons = Counter(r.reason for r in report.results.values() if r.status == "failed")
            reason, count = reasons.most_common(1)[0]
            out["top_failure"] = f"{reason} ({count}x)"
        _finish(out, json_output, "translated", failed=report.failed)
    finally:
        ws.close()


def _left_out(ws: Workspace, lang: str, dataset: str | None, split: str | None, jobs) -> int:
    """Captions of the selection still without a translation that this run did not take on (--limit)."""
    return len(ws.untranslated_keys(lang, dataset, split) - {job.key for job in jobs})


def _summary(report, head: dict) -> dict:
    """The run's figures; `captions` and `kept_human` in `head` already say what `total`/`kept` would."""
    summary = report.summary()
    head["kept_human"] += summary.pop("kept")
    summary.pop("total")
    return summary


_COUNTS = ("done", "cached", "requests", "flagged", "failed", "pending", "kept_human", "imported", "errors",
           "unmatched")
_SPEND = ("tokens_in", "tokens_out", "cost", "wall_s", "retries")


def _finish(out: dict, json_output: bool, title: str, failed: int = 0) -> None:
    if json_output:
        print_json(out)
    else:
        console.print(f"[bold]{title}[/]: {out['captions']:,} captions → {out['lang']} ({out['backend']} "
                      f"{out.get('model', '')}, prompt {out['prompt']})", highlight=False)
        for keys in (_COUNTS, _SPEND):
            parts = [_fmt(k, out[k]) for k in keys if k in out]
            if parts:
                console.print("  " + " · ".join(parts), highlight=False, soft_wrap=True)
        if out.get("unreachable"):
            err_console.print(f"unreachable, set aside: {', '.join(out['unreachable'])} (refused connections; "
                              "check those --base-url servers)", markup=False, highlight=False, soft_wrap=True)
        for key in ("batch_out", "first_error", "top_failure", "estimator"):
            if key in out:
                console.print(f"  {key.replace('_', ' ')}: {out[key]}", highlight=False, soft_wrap=True)
    if failed:
        err_console.print(f"{failed} captions failed (see the reason on each); run the same command again to retry "
                          "them: finished ones are cached")
        raise typer.Exit(EXIT_FAILURE)


def _fmt(key: str, value) -> str:
    if key == "cost":
        return f"cost ${value:,.4f}"
    if key == "wall_s":
        return f"wall {value:.1f}s"
    if key in ("tokens_in", "tokens_out"):
        return f"tokens {key[7:]} {value:,}"
    return f"{key.replace('_', ' ')} {value:,}"
