"""Sending a run's waiting requests: many in flight to an async backend, passes of a batch to a local
one; both stop early (a breaker) when every request so far failed."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator

from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.errors import UserError
from tipr_bench.translate.attempts import WorkUnit
from tipr_bench.translate.backends.base import AsyncBackend, BatchBackend
from tipr_bench.translate.cache import TranslationCache
from tipr_bench.translate.run_state import FLUSH_ITEMS, FLUSH_SECONDS, RunState

# A batch size of 0 means "everything at once" (vLLM schedules it with continuous batching); the runner
# still hands over chunks this large, so a kill loses one chunk of work, not the whole run.
ALL_AT_ONCE_CHUNK = 4096
ABORT_AFTER = 16  # requests that all failed, with none succeeding, before a run stops


async def run_async(run: RunState, waiting: list[WorkUnit], backend: AsyncBackend) -> None:
    queue: Iterator[WorkUnit] = iter(waiting)
    breaker = Breaker()

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


class Breaker:
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


def run_coroutine(run: RunState, coroutine) -> None:
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


def even_pass(waiting: int, size: int) -> int:
    """Rows for the next pass when `waiting` rows go in passes of at most `size`, all about as long: 602 at
    192 are 4 passes of 151, not 3 of 192 and one of 26 that decodes a few rows a step."""
    passes = -(-waiting // size)
    return -(-waiting // passes)


def run_batches(run: RunState, waiting: list[WorkUnit], backend: BatchBackend) -> None:
    size = backend.batch_size if backend.batch_size > 0 else ALL_AT_ONCE_CHUNK
    levels: dict[int, list[WorkUnit]] = {}
    for unit in waiting:
        levels.setdefault(unit.attempt, []).append(unit)
    breaker = Breaker()
    try:
        while levels:
            attempt = min(levels)
            queue = levels[attempt]
            take = even_pass(len(queue), size)
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
