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

import asyncio
import concurrent.futures
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from tipr_bench.benchmark.records import Translation
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.clock import utc_now
from tipr_bench.core.errors import UserError
from tipr_bench.translate.backends.base import AsyncBackend, BatchBackend, Completion, DecodingParams
from tipr_bench.translate.cache import CachedAnswer, TranslationCache, image_digest, key_from_prefix, request_prefix
from tipr_bench.translate.checks import CheckResult, check_output
from tipr_bench.translate.cost import cost as money
from tipr_bench.translate.progress import RunProgress
from tipr_bench.translate.prompts import Prompt, retry_prompt_for

FLUSH_ITEMS = 256
# A batch size of 0 means "everything at once" (vLLM schedules it with continuous batching); the runner
# still hands over chunks this large, so a kill loses one chunk of work, not the whole run.
ALL_AT_ONCE_CHUNK = 4096
ABORT_AFTER = 16  # requests that all failed, with none succeeding, before a run stops
FLUSH_SECONDS = 0.2
DEFAULT_PARAMS = DecodingParams()
PROTECTED_PROVENANCE = ("human", "source")  # never overwritten by a machine translation unless forced


@dataclass(frozen=True, slots=True)
class TranslationJob:
    key: str  # the caption key; results and stored translations use it
    source: str
    lang: str  # the TARGET language code ("en" for a back-translation)
    extras: dict = field(default_factory=dict)  # extra template fields (terms, source_lang, ...)
    image_path: Path | None = None  # sent with the prompt to a multimodal model


@dataclass(frozen=True, slots=True)
class JobResult:
    text: str
    status: str  # "ok" | "flagged" | "failed"
    reason: str
    tokens_in: int  # over all attempts of this item
    tokens_out: int
    cached: bool  # True when no request was made for it in this run
    prompt_id: str = ""
    prompt_sha256: str = ""
    attempts: int = 1


@dataclass
class RunReport:
    results: dict[str, JobResult]
    total: int = 0
    done: int = 0  # items with a translation (ok or flagged)
    cached: int = 0  # items answered without a request in this run
    requests: int = 0  # requests sent in this run
    flagged: int = 0
    failed: int = 0
    pending: int = 0  # items with no answer (cache-only replay, e.g. after --batch-in)
    flagged_awaiting_retry: int = 0  # of those, items whose cached answer failed the checks (retry not answered)
    flagged_reason: str = ""  # the commonest check failure among them, with its count
    kept: int = 0  # items whose human/source translation was left alone
    tokens_in: int = 0  # spent in this run
    tokens_out: int = 0
    cost: float = 0.0
    wall_s: float = 0.0
    retries: int = 0  # network-level retries (429, 5xx, timeouts)
    unreachable: list[str] = field(default_factory=list)  # base URLs that refused connections (set aside)

    def summary(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items() if k != "results"}


@dataclass(frozen=True, slots=True)
class CacheOnly:
    """Stands for a backend that is not called: replay answers already in the cache (batch import,
    dry runs). Items without a cached answer are reported as pending."""

    name: str
    model: str


class _Unit:
    """The work for all jobs that send the same request."""

    __slots__ = ("job", "members", "attempt", "key", "tokens_in", "tokens_out", "requested", "image", "flag_reason")

    def __init__(self, job: TranslationJob, key: str, image: str):
        self.job = job
        self.members: list[TranslationJob] = [job]
        self.attempt = 0
        self.key = key
        self.tokens_in = 0
        self.tokens_out = 0
        self.requested = False
        self.image = image
        self.flag_reason = ""  # why the last answer was flagged (the unit then waits for its retry)


class Plan:
    """How each attempt is made: attempt 0 with the chosen prompt, later ones with the retry prompt
    (prompts.retry_prompt_for: `strict`, or `fewshot-strict` for few-shot prompts) and, from the second
    retry on (or at once when both prompts are the same), a raised temperature and a new seed, so that
    a retry can differ from the answer it replaces."""

    def __init__(self, backend_name: str, model: str, prompt: Prompt, params: DecodingParams,
                 retry_prompt: Prompt, max_flag_retries: int):
        self.backend_name = backend_name
        self.model = model
        self.max_flag_retries = max_flag_retries = max(0, max_flag_retries)
        self._specs: list[tuple[Prompt, DecodingParams, dict]] = []
        self._prefixes: list[str] = []
        for attempt in range(max_flag_retries + 1):
            p = prompt if attempt == 0 else retry_prompt
            eff = replace(params, stop=tuple(dict.fromkeys(params.stop + p.stop)))
            bump = attempt - 1 if retry_prompt.sha256 != prompt.sha256 else attempt
            if attempt > 0 and bump > 0:
                eff = replace(eff, temperature=max(eff.temperature, round(0.3 * bump, 2)),
                              seed=None if eff.seed is None else eff.seed + attempt)
            self._specs.append((p, eff, eff.as_dict()))
            self._prefixes.append(request_prefix(backend_name, model, p.sha256, eff.as_dict()))

    def spec(self, attempt: int) -> tuple[Prompt, DecodingParams, dict]:
        return self._specs[attempt]

    def messages(self, job: TranslationJob, attempt: int, with_image: bool = True) -> list[dict]:
        prompt = self._specs[attempt][0]
        return prompt.render(job.source, job.lang, job.image_path if with_image else None, **job.extras)

    def key(self, job: TranslationJob, attempt: int, image: str) -> str:
        """The cache key (see cache.cache_key) of a job's request at an attempt."""
        messages = self.messages(job, attempt, with_image=False)
        return key_from_prefix(self._prefixes[attempt], messages, job.lang, image)


class _Run:
    """State of one translate_jobs call."""

    def __init__(self, ws: Workspace, plan: Plan, *, store: bool, force: bool, round: int,
                 price_in: float, price_out: float, progress: RunProgress | None):
        self.ws = ws
        self.plan = plan
        self.cache = TranslationCache(ws.conn)
        self.store = store
        self.force = force
        self.round = round
        self.price_in = price_in
        self.price_out = price_out
        self.progress = progress
        self.report = RunReport(results={})
        self._cache_rows: list[tuple] = []
        self._translations: list[Translation] = []
        self._buffer_since = 0.0
        self.flush_answers = FLUSH_ITEMS  # paid answers held before a commit (lowered to the concurrency)
        self._finished_since_update = 0
        self._existing: dict[str, int] = {}
        self._protected: set[str] = set()
        self._newer: set[str] = set()  # slots a later round (refine's accepted rewrites) already improved

    # -- existing translations (skip rewriting what is already there) --

    def load_existing(self, lang_keys: set[tuple[str, str]]) -> None:
        if not self.store:
            return
        langs = {lang for lang, _ in lang_keys}
        for lang in langs:
            for slot in self.ws.translation_slots(lang):
                if (lang, slot.key) not in lang_keys:
                    continue
                name = f"{lang}\x1f{slot.key}"
                if slot.provenance in PROTECTED_PROVENANCE:
                    self._protected.add(name)
                elif slot.round > self.round:
                    self._newer.add(name)
                self._existing[name] = hash(slot[1:8])

    def kept(self, jobs: Sequence[TranslationJob]) -> int:
        """Jobs left alone because a person's or the dataset's own translation holds their slot."""
        return sum(1 for j in jobs if f"{j.lang}\x1f{j.key}" in self._protected)

    # -- finishing items --

    def finish(self, unit: _Unit, check: CheckResult | None, failure: str = "") -> None:
        prompt, _, params = self.plan.spec(unit.attempt)
        if check is None:
            text, status, reason = "", "failed", failure
        else:
            text, status, reason = check.text, check.status, check.reason
        results = self.report.results
        for i, job in enumerate(unit.members):
            cached = not unit.requested or i > 0
            results[job.key] = JobResult(text, status, reason, unit.tokens_in, unit.tokens_out, cached,
                                         prompt.id, prompt.sha256, unit.attempt + 1)
            if self.store:
                self._store(job, text, status, reason, prompt, params, unit)
        self._finished_since_update += len(unit.members)

    def _store(self, job: TranslationJob, text: str, status: str, reason: str, prompt: Prompt, params: dict,
               unit: _Unit) -> None:
        slot = f"{job.lang}\x1f{job.key}"
        if (slot in self._protected or slot in self._newer) and not self.force:
            return  # never undo a human correction or refine's better rewrite with an earlier round's answer
        signature = hash((text, status, reason, prompt.sha256, self.plan.model, self.plan.backend_name, self.round))
        old = self._existing.get(slot)
        if old == signature or (status == "failed" and old is not None):
            return  # unchanged, or a failure that must not replace a translation we have
        self._existing[slot] = signature
        self._translations.append(Translation(
            key=job.key, lang=job.lang, text=text, backend=self.plan.backend_name, model=self.plan.model,
            prompt_id=prompt.id, prompt_sha256=prompt.sha256, params=params, tokens_in=unit.tokens_in,
            tokens_out=unit.tokens_out, status=status, reason=reason, provenance="machine", round=self.round,
            created_at=utc_now(),
        ))
        if len(self._translations) >= FLUSH_ITEMS:
            self.flush()

    def answer(self, unit: _Unit, completion: Completion | CachedAnswer, fresh: bool) -> bool:
        """Take one answer for a unit: returns True when the unit is finished, False when it moved on
        to its next attempt (whose key is then in unit.key)."""
        unit.tokens_in += completion.tokens_in
        unit.tokens_out += completion.tokens_out
        job = unit.job
        check = check_output(job.source, completion.text, job.lang, completion.finish_reason)
        if fresh:
            unit.requested = True
            self.report.requests += 1
            self.report.tokens_in += completion.tokens_in
            self.report.tokens_out += completion.tokens_out
            if check.status != "failed":  # an empty answer is not kept: a rerun asks again
                if not self._cache_rows and not self._translations:
                    self._buffer_since = time.monotonic()
                self._cache_rows.append((unit.key, completion.text, completion.tokens_in, completion.tokens_out,
                                         completion.finish_reason, self.plan.backend_name, self.plan.model,
                                         utc_now()))
        if check.status == "ok" or unit.attempt >= self.plan.max_flag_retries:
            self.finish(unit, check)
            return True
        unit.attempt += 1
        unit.key = self.plan.key(job, unit.attempt, unit.image)
        unit.flag_reason = check.reason
        return False

    def maybe_flush(self) -> None:
        """Called after every answer, so neither bound waits for a timer task: at most `flush_answers`
        paid answers (the concurrency of an async run) or FLUSH_SECONDS of work are ever uncommitted."""
        pending = len(self._cache_rows) + len(self._translations)
        if pending and (pending >= FLUSH_ITEMS or len(self._cache_rows) >= self.flush_answers
                        or time.monotonic() - self._buffer_since >= FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        """Write buffered answers and translations in one transaction, then update the progress bar."""
        rows, translations = self._cache_rows, self._translations
        if rows or translations:
            with self.ws.transaction():  # a Ctrl-C in here rolls back and leaves the buffers for the final flush
                if rows:
                    self.cache.put_rows(rows)
                if translations:
                    self.ws.put_translations(translations)
            self._cache_rows, self._translations = [], []
        self._buffer_since = time.monotonic()
        if self.progress is not None and self._finished_since_update:
            r = self.report
            self.progress.advance(self._finished_since_update,
                                  money(r.tokens_in, r.tokens_out, self.price_in, self.price_out))
            self._finished_since_update = 0

    # -- planning: resolve everything the cache already answers --

    def resolve_cached(self, units: list[_Unit]) -> list[_Unit]:
        """Finish the units the cache answers (following flagged ones through their retries); return
        the units that need a request, each at the attempt it needs."""
        waiting: list[_Unit] = []
        batch = units
        while batch:
            answers = {} if self.force else _usable(self.cache.lookup(u.key for u in batch))
            next_batch = []
            for unit in batch:
                found = answers.get(unit.key)
                if found is None:
                    waiting.append(unit)
                elif not self.answer(unit, found, fresh=False):
                    next_batch.append(unit)
            batch = next_batch
        return waiting

    def lookup_one(self, key: str) -> CachedAnswer | None:
        return None if self.force else _usable(self.cache.lookup([key])).get(key)


def _count_pending(report: RunReport, waiting: list[_Unit]) -> None:
    """A cache-only replay's unanswered items, telling apart those whose answer failed the checks."""
    report.pending = sum(len(u.members) for u in waiting)
    reasons = Counter()
    for unit in waiting:
        if unit.attempt > 0:
            reasons[unit.flag_reason] += len(unit.members)
    report.flagged_awaiting_retry = sum(reasons.values())
    if reasons:
        reason, count = reasons.most_common(1)[0]
        report.flagged_reason = f"{reason} ({count}x)"


def _usable(answers: dict[str, CachedAnswer]) -> dict[str, CachedAnswer]:
    """Cached answers minus empty ones (an older version cached them): an empty answer is asked again."""
    return {key: answer for key, answer in answers.items() if answer.text.strip()}


def _units(jobs: Sequence[TranslationJob], plan: Plan) -> list[_Unit]:
    units: dict[str, _Unit] = {}
    images: dict[Path, str] = {}
    for job in jobs:
        image = ""
        if job.image_path is not None:
            image = images.get(job.image_path) or images.setdefault(job.image_path, image_digest(job.image_path))
        key = plan.key(job, 0, image)
        unit = units.get(key)
        if unit is None:
            units[key] = _Unit(job, key, image)
        else:
            unit.members.append(job)
    return list(units.values())


async def _run_async(run: _Run, waiting: list[_Unit], backend: AsyncBackend) -> None:
    queue: Iterator[_Unit] = iter(waiting)
    breaker = _Breaker()

    async def work() -> None:
        for unit in queue:  # a shared iterator: each worker takes the next unit
            if breaker.open:
                return
            while True:
                _, params, _ = run.plan.spec(unit.attempt)
                try:
                    completion = await backend.complete(run.plan.messages(unit.job, unit.attempt), params)
                except Exception as exc:  # noqa: BLE001 - one item's failure must not stop the run
                    run.finish(unit, None, f"request failed: {exc}")
                    breaker.failed(f"request failed: {exc}")
                    break
                breaker.succeeded()
                if run.answer(unit, completion, fresh=True):
                    break
                cached = run.lookup_one(unit.key)
                while cached is not None and not run.answer(unit, cached, fresh=False):
                    cached = run.lookup_one(unit.key)
                if cached is not None:
                    break
            run.maybe_flush()

    async def ticker() -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            run.maybe_flush()

    workers = max(1, min(backend.concurrency, len(waiting)))
    run.flush_answers = min(FLUSH_ITEMS, workers)  # kill -9 then loses at most one answer per request slot
    tick = asyncio.create_task(ticker())
    try:
        await asyncio.gather(*(work() for _ in range(workers)))
    finally:
        tick.cancel()
        run.flush()
        await backend.aclose()
    breaker.raise_if_open()


class RunAborted(UserError):
    """Every request so far failed: the server, key or model is wrong, so the run stops early."""


class _Breaker:
    """Stops a run whose first ABORT_AFTER requests all failed (a wrong URL, key or model, or a server
    that is down) instead of failing every remaining caption one by one."""

    def __init__(self):
        self.successes = 0
        self.failures = 0
        self.reason = ""
        self.open = False

    def succeeded(self) -> None:
        self.successes += 1

    def failed(self, reason: str) -> None:
        self.failures += 1
        self.reason = self.reason or reason
        if not self.successes and self.failures >= ABORT_AFTER:
            self.open = True

    def raise_if_open(self) -> None:
        if self.open:
            raise RunAborted(
                f"stopped: the first {self.failures} requests all failed ({self.reason}); finished work is "
                "saved; fix the server, key or model and run the same command again"
            )


def _run_coroutine(run: _Run, coroutine) -> None:
    """asyncio.run, also from code that already runs an event loop (a notebook): then in a thread with
    its own connection to the workspace (SQLite connections belong to their thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return

    def in_thread() -> None:
        own, own_cache = run.ws, run.cache
        with Workspace.open(own.root) as ws:
            run.ws, run.cache = ws, TranslationCache(ws.conn)
            try:
                asyncio.run(coroutine)
            finally:
                run.flush()
                run.ws, run.cache = own, own_cache

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(in_thread).result()


def _even_pass(waiting: int, size: int) -> int:
    """Rows for the next pass when `waiting` rows go in passes of at most `size`, all about as long: 602 at
    192 are 4 passes of 151, not 3 of 192 and one of 26 that decodes a few rows a step."""
    passes = -(-waiting // size)
    return -(-waiting // passes)


def _run_batches(run: _Run, waiting: list[_Unit], backend: BatchBackend) -> None:
    size = backend.batch_size if backend.batch_size > 0 else ALL_AT_ONCE_CHUNK
    levels: dict[int, list[_Unit]] = {}
    for unit in waiting:
        levels.setdefault(unit.attempt, []).append(unit)
    breaker = _Breaker()
    try:
        while levels:
            attempt = min(levels)
            queue = levels[attempt]
            take = _even_pass(len(queue), size)
            chunk, levels[attempt] = queue[:take], queue[take:]
            if not levels[attempt]:
                del levels[attempt]
            _, params, _ = run.plan.spec(attempt)
            try:
                completions = backend.complete_batch([run.plan.messages(u.job, attempt) for u in chunk], params)
            except Exception as exc:  # noqa: BLE001 - report and go on with the next batch
                for unit in chunk:
                    run.finish(unit, None, f"batch failed: {exc}")
                    breaker.failed(f"batch failed: {exc}")
                run.flush()
                if breaker.open:
                    breaker.raise_if_open()
                continue
            answered = list(zip(chunk, completions, strict=True))
            if any(not c.failure for _, c in answered):
                breaker.succeeded()
            moved = []
            for unit, completion in answered:
                if completion.failure:  # one bad prompt: only it fails, uncached
                    run.finish(unit, None, completion.failure)
                    breaker.failed(completion.failure)
                elif not run.answer(unit, completion, fresh=True):
                    moved.append(unit)
            for unit in run.resolve_cached(moved):
                levels.setdefault(unit.attempt, []).append(unit)
            run.flush()
            breaker.raise_if_open()
    finally:
        run.flush()


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
    waiting: list[_Unit]

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
    units = _units(jobs, plan)
    run = _Run(ws, plan, store=False, force=force, round=0, price_in=0.0,
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
    units = _units(jobs, plan)
    bar = RunProgress(len(jobs), description=f"translate → {','.join(sorted({j.lang for j in jobs}))}") \
        if progress and jobs else None
    run = _Run(ws, plan, store=store, force=force, round=round, price_in=price_in,
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
                _count_pending(run.report, waiting)
            elif isinstance(backend, BatchBackend):
                _run_batches(run, waiting, backend)
            else:
                _run_coroutine(run, _run_async(run, waiting, backend))
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


def workspace_jobs(
    ws: Workspace, lang: str, dataset: str | None = None, split: str | None = None, limit: int | None = None
) -> tuple[list[TranslationJob], int]:
    """One job per English caption in the selection, leaving out captions that already have a human
    or source (published) translation in `lang`; returns (jobs, number left out). `limit` counts jobs,
    not the captions left out, so `--limit 300` after 250 reviewed ones still translates 300."""
    protected = ws.keys_with_provenance(lang, PROTECTED_PROVENANCE)
    rows = ws.caption_texts(dataset, split, None if limit is None else limit + len(protected))
    jobs: list[TranslationJob] = []
    kept = 0
    for key, text in rows:
        if len(jobs) == limit:
            break
        if key in protected:
            kept += 1
        else:
            jobs.append(TranslationJob(key, text, lang))
    return jobs, kept
