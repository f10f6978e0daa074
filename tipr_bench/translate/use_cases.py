"""The translate use-cases: a workspace's captions into one language as a live run, a dry run (tokens
and cost, nothing sent), a Batch-API export and its import. The CLI picks one and prints its `Outcome`;
Python calls the same functions.

    from tipr_bench.translate import BackendOptions, TranslateSettings, translate_language
    outcome = translate_language(ws, TranslateSettings("zh"), BackendOptions(base_urls=("http://gpu:8000/v1",),
                                                                                 model="Qwen/Qwen2.5-7B-Instruct"))
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.errors import UserError
from tipr_bench.core.languages import get_language
from tipr_bench.translate.backend_factory import backend_identity, build_backend
from tipr_bench.translate.backends.local_common import has_chat_template
from tipr_bench.translate.cost import estimate
from tipr_bench.translate.jobs import CacheOnly, RunReport, TranslationJob, workspace_jobs
from tipr_bench.translate.options import BackendOptions
from tipr_bench.translate.prompts import PRESETS, Prompt, default_prompt, get_prompt
from tipr_bench.translate.runner import PendingPlan, plan_requests, translate_jobs


@dataclass(frozen=True, slots=True)
class TranslateSettings:
    """What to translate and how to account for it, checked on construction."""

    lang: str
    prompt: str | None = None  # a preset id or a template file; None: chosen by the backend
    dataset: str | None = None
    split: str | None = None
    limit: int | None = None
    force: bool = False
    max_flag_retries: int = 2
    price_in: float = 0.0  # per million tokens
    price_out: float = 0.0

    def __post_init__(self) -> None:
        code = get_language(self.lang).code
        if code == "en":
            raise UserError("--lang en: English is the source language; pass a target such as zh, fr or de")
        object.__setattr__(self, "lang", code)
        if self.limit is not None and self.limit < 1:
            raise UserError(f"--limit must be at least 1, got {self.limit}")
        for option, value in (("--max-flag-retries", self.max_flag_retries), ("--price-in", self.price_in),
                              ("--price-out", self.price_out)):
            if value < 0:
                raise UserError(f"{option} must be zero or more, got {value}")
        if self.prompt is not None:
            get_prompt(self.prompt)  # an unknown preset or an unreadable template file is refused now


@dataclass
class Outcome:
    """A run's figures as printed (`--json` prints `summary` as it is) and how many captions failed."""

    title: str
    summary: dict
    failed: int = 0
    notes: list[str] = field(default_factory=list)


def translate_language(ws: Workspace, settings: TranslateSettings, options: BackendOptions, *,
                       progress: bool = True) -> Outcome:
    """Translate every selected caption, cached and resumable. Ctrl-C leaves finished work saved."""
    jobs, head = _select(ws, settings, options)
    engine = build_backend(options)
    prompt = get_prompt(settings.prompt) if settings.prompt else default_prompt(engine)
    head.update(prompt=prompt.id, model=engine.model)
    report = translate_jobs(ws, jobs, engine, prompt, options.decoding, force=settings.force,
                            max_flag_retries=settings.max_flag_retries, price_in=settings.price_in,
                            price_out=settings.price_out, progress=progress)
    summary = {**head, **_figures(report, head, ws, settings, jobs)}
    if report.failed:
        reasons = Counter(r.reason for r in report.results.values() if r.status == "failed")
        reason, count = reasons.most_common(1)[0]
        summary["top_failure"] = f"{reason} ({count}x)"
    return Outcome("translated", summary, report.failed)


def dry_run(ws: Workspace, settings: TranslateSettings, options: BackendOptions) -> Outcome:
    """Count the tokens of every request a run would still send and price them; send nothing."""
    jobs, head = _select(ws, settings, options)
    pending = _pending(ws, jobs, settings, options)
    head["model"] = backend_identity(options)[1]
    est = estimate(((r.messages, r.job.source, r.answers) for r in pending.requests()), settings.price_in,
                   settings.price_out)
    return Outcome("dry run (nothing sent)", {
        **head, "dry_run": True, "cached": pending.answered, "requests": est.requests, "tokens_in": est.tokens_in,
        "tokens_out": est.tokens_out, "cost": round(est.cost, 6), "estimator": est.estimator})


def export_batch(ws: Workspace, settings: TranslateSettings, options: BackendOptions, out: Path) -> Outcome:
    """Write the pending requests as Batch-API JSONL (what `vllm run-batch` reads too), split at the
    API's limits; send nothing."""
    from tipr_bench.translate.batchapi import refuse_base_model_batch, write_batch_requests

    _batch_backend(options)
    jobs, head = _select(ws, settings, options)
    pending = _pending(ws, jobs, settings, options)
    served = head["model"] = backend_identity(options)[1]
    extra_body = None
    if options.vllm is not None:  # vllm run-batch: the name it serves, thinking off as in-process
        from tipr_bench.translate.backends.vllm_backend import engine_model_path

        refuse_base_model_batch(options.model, options.vllm.chat_mode)
        served = options.vllm.served_model_name or engine_model_path(options.model)
        kwargs = options.vllm.chat_template_kwargs()
        extra_body = {"chat_template_kwargs": kwargs} if kwargs else None
    files = write_batch_requests(out, pending, served, extra_body=extra_body)
    written = sum(n for _, n in files)
    return Outcome(f"wrote {written} requests to {len(files)} file(s)", {
        **head, "batch_out": ", ".join(str(f) for f, _ in files), "requests": written, "cached": pending.answered})


def import_batch(ws: Workspace, settings: TranslateSettings, options: BackendOptions,
                 files: Sequence[Path]) -> Outcome:
    """Store the answers of Batch-API result files (each part of a split export) as translations."""
    from tipr_bench.translate.batchapi import import_batch_results

    _batch_backend(options)
    jobs, head = _select(ws, settings, options)
    pending = _pending(ws, jobs, settings, options)
    name, model_id = backend_identity(options)
    head["model"] = model_id
    imported = import_batch_results(ws, files, name, model_id, {r.key for r in pending.requests()})
    report = translate_jobs(ws, jobs, CacheOnly(name, model_id), _prompt(settings, options), options.decoding,
                            max_flag_retries=settings.max_flag_retries, progress=False)
    summary = {**head, "batch_in": ", ".join(map(str, files)), "imported": imported.imported,
               "errors": imported.errors, "empty": imported.empty, "already_imported": imported.already,
               "unmatched": imported.unmatched, **_figures(report, head, ws, settings, jobs),
               "flagged_awaiting_retry": report.flagged_awaiting_retry}
    if imported.first_error:
        summary["first_error"] = imported.first_error
    notes = []
    if report.flagged_awaiting_retry:
        notes.append(f"{report.flagged_awaiting_retry} answers failed the output checks ({report.flagged_reason}); "
                     "export again with --batch-out: it holds their stricter retries, then --batch-in its results")
    if imported.empty or imported.errors:
        notes.append(f"{imported.empty + imported.errors} requests got no translation (empty answers or errors); "
                     "the next --batch-out asks them again")
    return Outcome("imported batch results", summary, report.failed, notes)


def _select(ws: Workspace, s: TranslateSettings, options: BackendOptions) -> tuple[list[TranslationJob], dict]:
    jobs, kept = workspace_jobs(ws, s.lang, s.dataset, s.split, s.limit)
    if not jobs:
        where = f" (dataset {s.dataset or 'any'}, split {s.split or 'any'})"
        if kept:
            raise UserError(f"nothing to translate in {ws.root}{where}: all {kept} captions have a human or "
                            "published translation, which translate never replaces; pick another --dataset/--split")
        raise UserError(f"nothing to translate in {ws.root}{where}: run `tipr-bench ingest` first, "
                        "or check --dataset/--split")
    head = {"lang": s.lang, "backend": options.name, "prompt": _prompt(s, options).id, "captions": len(jobs),
            "kept_human": kept}
    return jobs, head


def _prompt(s: TranslateSettings, options: BackendOptions) -> Prompt:
    """The prompt a live run would use, told without loading the model (dry runs, batch files): few-shot
    for a base model, the published ldat prompt for a chat model or a server."""
    if s.prompt:
        return get_prompt(s.prompt)
    return PRESETS["fewshot"] if is_base_model(options) else PRESETS["ldat"]


def is_base_model(options: BackendOptions) -> bool:
    """Whether the model is a base model (few-shot prompts), told without loading it."""
    if options.name == "openai":
        return False
    if options.vllm is not None and options.vllm.chat_mode != "auto":
        return options.vllm.chat_mode == "base"
    if options.model is None:  # the bundled Gemma-3-270M, a base model
        return True
    return has_chat_template(options.model) is False


def _pending(ws: Workspace, jobs: list[TranslationJob], s: TranslateSettings,
             options: BackendOptions) -> PendingPlan:
    name, model_id = backend_identity(options)
    return plan_requests(ws, jobs, name, model_id, _prompt(s, options), options.decoding, force=s.force,
                         max_flag_retries=s.max_flag_retries)


def _batch_backend(options: BackendOptions) -> None:
    if options.name == "transformers":
        raise UserError("Batch-API files are for OpenAI-compatible servers and `vllm run-batch`: pass "
                        "--backend openai (or vllm) and --model NAME with --batch-out/--batch-in")


def _figures(report: RunReport, head: dict, ws: Workspace, s: TranslateSettings, jobs: list[TranslationJob]) -> dict:
    """The run's figures. `captions` in `head` already says what `total` would; `kept_human` adds the
    captions a person's or the dataset's own translation kept; `pending` also counts the captions of the
    selection that --limit left for later."""
    figures = report.summary()
    for name in ("total", "flagged_awaiting_retry", "flagged_reason"):  # the batch import states the latter two
        figures.pop(name)
    figures["kept_human"] = head["kept_human"] + figures.pop("kept")
    figures["pending"] += len(ws.untranslated_keys(s.lang, s.dataset, s.split) - {job.key for job in jobs})
    return figures
