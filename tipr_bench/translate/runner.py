"""Translate many captions: dedupe, resume from the cache, call the backend, check, retry, store.

The flow for a list of jobs:
1. jobs with the same rendered request share one work unit (identical captions are paid once);
2. plan: each unit's request key is looked up in the cache; cached answers are checked at once,
   and a flagged one moves to its next attempt (the strict prompt) whose key is looked up too;
3. the rest go to the backend: many in flight for an async backend, batches for a local one;
4. every answer is checked (checks.py); a flagged one is retried with the strict prompt, at most
   `max_flag_retries` times;
5. answers (cache rows) and final translations are written together in one transaction per
   batch of completions (every 0.2 s, or as soon as as many answers wait as there are request slots),
   checked after every answer, so kill -9 loses the requests in flight and at most one uncommitted
   answer per request slot. An empty answer is never cached: the caption fails and a rerun asks again.

Per-item work is kept lean (no per-item logging or commits): on a small machine the client's CPU
per request is what limits throughput.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from tipr_bench.benchmark.store import Workspace
from tipr_bench.translate.attempts import Plan, WorkUnit, work_units
from tipr_bench.translate.backends.base import AsyncBackend, BatchBackend, DecodingParams
from tipr_bench.translate.cost import cost as money
from tipr_bench.translate.cost_bar import RunProgress
from tipr_bench.translate.drivers import run_async, run_batches, run_coroutine
from tipr_bench.translate.jobs import CacheOnly, RunReport, TranslationJob
from tipr_bench.translate.prompts import Prompt, retry_prompt_for
from tipr_bench.translate.run_state import RunState, count_pending

DEFAULT_PARAMS = DecodingParams()


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """One request a run would still send."""

    key: str  # its cache key
    messages: list[dict]  # with images inlined
    params: DecodingParams
    job: TranslationJob  # the first job it answers
    answers: int  # how many jobs share it


@dataclass
class PendingPlan:
    """What a run would still have to request: one entry per distinct request, at the attempt it needs.
    `answered` counts jobs the cache already answers."""

    plan: Plan
    units: int
    answered: int
    waiting: list[WorkUnit]

    def requests(self) -> Iterator[PendingRequest]:
        for unit in self.waiting:
            _, params, _ = self.plan.spec(unit.attempt)
            yield PendingRequest(unit.key, self.plan.messages(unit.job, unit.attempt), params, unit.job,
                                 len(unit.members))


def plan_requests(
    ws: Workspace,
    jobs: Sequence[TranslationJob],
    backend_name: str,
    model: str,
    prompt: Prompt,
    params: DecodingParams = DEFAULT_PARAMS,
    *,
    force: bool = False,
    max_flag_retries: int = 2,
    retry_prompt: Prompt | None = None,
) -> PendingPlan:
    """The requests a run would send, without sending any (for --dry-run and --batch-out)."""
    plan = Plan(backend_name, model, prompt, params, retry_prompt or retry_prompt_for(prompt), max_flag_retries)
    units = work_units(jobs, plan)
    run = RunState(ws, plan, store=False, force=force, round=0, price_in=0.0,
               price_out=0.0, progress=None)
    waiting = run.resolve_cached(units)
    return PendingPlan(plan, len(units), len(jobs) - sum(len(u.members) for u in waiting), waiting)


def translate_jobs(
    ws: Workspace,
    jobs: Sequence[TranslationJob],
    backend: AsyncBackend | BatchBackend | CacheOnly,
    prompt: Prompt,
    params: DecodingParams = DEFAULT_PARAMS,
    *,
    store: bool = True,
    force: bool = False,
    round: int = 0,
    max_flag_retries: int = 2,
    price_in: float = 0.0,
    price_out: float = 0.0,
    progress: bool = True,
    retry_prompt: Prompt | None = None,
) -> RunReport:
    """Translate `jobs` with `backend`, reusing cached answers. With `store`, each job's result is
    written as its Translation (status ok, flagged or failed); without, results are only cached and
    returned. `force` ignores the cache (answers are still written to it)."""
    started = time.perf_counter()
    plan = Plan(backend.name, backend.model, prompt, params, retry_prompt or retry_prompt_for(prompt), max_flag_retries)
    units = work_units(jobs, plan)
    bar = RunProgress(len(jobs), description=f"translate → {','.join(sorted({j.lang for j in jobs}))}") \
        if progress and jobs else None
    run = RunState(ws, plan, store=store, force=force, round=round, price_in=price_in,
               price_out=price_out, progress=bar)
    run.load_existing({(j.lang, j.key) for j in jobs} if store else set())
    try:
        if bar is not None:
            bar.start()
        waiting = run.resolve_cached(units)
        run.flush()
        if bar is not None:
            bar.restart_clock()
        if waiting:
            if isinstance(backend, CacheOnly):
                count_pending(run.report, waiting)
            elif isinstance(backend, BatchBackend):
                run_batches(run, waiting, backend)
            else:
                run_coroutine(run, run_async(run, waiting, backend))
    finally:
        run.flush()
        if bar is not None:
            bar.stop()
    report = run.report
    report.total = len(jobs)
    for result in report.results.values():
        report.cached += result.cached and result.status != "failed"
        report.done += result.status != "failed"
        report.flagged += result.status == "flagged"
        report.failed += result.status == "failed"
    report.kept = run.kept(jobs) if store and not force else 0
    if isinstance(backend, AsyncBackend):
        report.retries = backend.retries
        report.unreachable = sorted(backend.unreachable)
    report.cost = money(report.tokens_in, report.tokens_out, price_in, price_out)
    report.wall_s = time.perf_counter() - started
    return report
