"""`tipr-bench translate`: machine-translate the workspace's English captions, cached and resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tipr_bench.benchmark.store import Workspace
from tipr_bench.cli.app import app
from tipr_bench.cli.backend_options import with_backend_options
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
    open_to_write,
    print_json,
)
from tipr_bench.core.errors import UserError
from tipr_bench.translate import (
    BackendOptions,
    Outcome,
    TranslateSettings,
    dry_run,
    export_batch,
    import_batch,
    translate_language,
)

_Opt = typer.Option


@app.command()
@with_backend_options
def translate(
    lang: LangOption,
    prompt: Annotated[str | None, _Opt("--prompt", "-p", help="ldat | glossary | fewshot | strict | a template "
                                       "file. Default: fewshot for base models (no chat template, like the bundled "
                                       "Gemma), else ldat.")] = None,
    dataset: DatasetOption = None,
    split: SplitOption = None,
    limit: Annotated[int | None, _Opt(help="Translate at most N captions (in stable order).")] = None,
    force: Annotated[bool, _Opt("--force", help="Ignore cached answers and translate again.")] = False,
    dry_run_: Annotated[bool, _Opt("--dry-run", help="Estimate tokens and cost; send nothing.")] = False,
    price_in: Annotated[float, _Opt(help="Price per 1M input tokens.")] = 0.0,
    price_out: Annotated[float, _Opt(help="Price per 1M output tokens.")] = 0.0,
    batch_out: Annotated[Path | None, _Opt(help="Write pending requests as OpenAI Batch-API JSONL "
                                           "(also what `vllm run-batch` reads); send nothing.")] = None,
    batch_in: Annotated[list[Path] | None, _Opt(metavar="FILE", help="Import a Batch-API results JSONL and store "
                                                "the translations (repeat for each part of a split export).")] = None,
    temperature: Annotated[float, _Opt(help="Sampling temperature.")] = 0.0,
    max_flag_retries: Annotated[int, _Opt(help="Retries of a flagged output with the strict prompt.")] = 2,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    backend_options: BackendOptions = None,
) -> None:
    """Translate every English caption into --lang, caching each answer so nothing is paid twice.

    Example: tipr-bench translate --lang zh --base-url http://localhost:8000/v1 --model Qwen/Qwen2.5-7B-Instruct
    """
    if batch_in and batch_out:
        raise UserError("--batch-in and --batch-out are two steps: export with --batch-out, import with --batch-in")
    if dry_run_ and (batch_out or batch_in):
        raise UserError(f"--dry-run goes alone: {'--batch-out writes' if batch_out else '--batch-in imports'} a file, "
                        "a dry run only counts; drop one of them")
    settings = TranslateSettings(lang, prompt=prompt, dataset=dataset, split=split, limit=limit, force=force,
                                 max_flag_retries=max_flag_retries, price_in=price_in, price_out=price_out)
    options = backend_options.with_(temperature=temperature)
    reads_only = dry_run_ or batch_out is not None  # they send nothing and store nothing
    with (Workspace.open(workspace, create=False) if reads_only else open_to_write(workspace)) as ws:
        if dry_run_:
            outcome = dry_run(ws, settings, options)
        elif batch_out:
            outcome = export_batch(ws, settings, options, batch_out)
        elif batch_in:
            outcome = import_batch(ws, settings, options, batch_in)
        else:
            try:
                outcome = translate_language(ws, settings, options, progress=not json_output)
            except KeyboardInterrupt:
                err_console.print("interrupted: every finished translation is saved; run the same command again "
                                  "to resume")
                raise typer.Exit(130) from None
    _finish(outcome, json_output)


_COUNTS = ("done", "cached", "requests", "flagged", "flagged_awaiting_retry", "failed", "pending", "kept_human",
           "imported", "errors", "empty", "already_imported", "unmatched")
_SPEND = ("tokens_in", "tokens_out", "cost", "wall_s", "retries")


def _finish(outcome: Outcome, json_output: bool) -> None:
    out = outcome.summary
    if json_output:
        print_json(out)
    else:
        console.print(f"[bold]{outcome.title}[/]: {out['captions']:,} captions → {out['lang']} ({out['backend']} "
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
        for note in outcome.notes:
            console.print(f"  next: {note}", markup=False, highlight=False, soft_wrap=True)
    if outcome.failed:
        err_console.print(f"{outcome.failed} captions failed (see the reason on each); run the same command again "
                          "to retry them: finished ones are cached")
        raise typer.Exit(EXIT_FAILURE)


def _fmt(key: str, value) -> str:
    if key == "cost":
        return f"cost ${value:,.4f}"
    if key == "wall_s":
        return f"wall {value:.1f}s"
    if key in ("tokens_in", "tokens_out"):
        return f"tokens {key[7:]} {value:,}"
    return f"{key.replace('_', ' ')} {value:,}"
