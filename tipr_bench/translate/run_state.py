"""The state of one run: answers taken (checked, moved to their next attempt when flagged), looked up
in the cache, and written with the translations in one transaction per batch (the kill -9 bound)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence

from tipr_bench.benchmark.records import Translation
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.clock import utc_now
from tipr_bench.translate.attempts import Plan, WorkUnit
from tipr_bench.translate.backends.base import Completion
from tipr_bench.translate.cache import CachedAnswer, TranslationCache
from tipr_bench.translate.checks import CheckResult, check_output
from tipr_bench.translate.cost import cost as money
from tipr_bench.translate.cost_bar import RunProgress
from tipr_bench.translate.jobs import PROTECTED_PROVENANCE, JobResult, RunReport, TranslationJob
from tipr_bench.translate.prompts import Prompt

FLUSH_ITEMS = 256
FLUSH_SECONDS = 0.2


class RunState:
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

    def finish(self, unit: WorkUnit, check: CheckResult | None, failure: str = "") -> None:
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
               unit: WorkUnit) -> None:
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

    def answer(self, unit: WorkUnit, completion: Completion | CachedAnswer, fresh: bool) -> bool:
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

    def resolve_cached(self, units: list[WorkUnit]) -> list[WorkUnit]:
        """Finish the units the cache answers (following flagged ones through their retries); return
        the units that need a request, each at the attempt it needs."""
        waiting: list[WorkUnit] = []
        batch = units
        while batch:
            answers = {} if self.force else usable_answers(self.cache.lookup(u.key for u in batch))
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
        return None if self.force else usable_answers(self.cache.lookup([key])).get(key)


def count_pending(report: RunReport, waiting: list[WorkUnit]) -> None:
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


def usable_answers(answers: dict[str, CachedAnswer]) -> dict[str, CachedAnswer]:
    """Cached answers minus empty ones (an older version cached them): an empty answer is asked again."""
    return {key: answer for key, answer in answers.items() if answer.text.strip()}
