"""How each job is asked: jobs that send the same request share one work unit, and each attempt of a
unit (the first, then retries of a flagged answer) has its own prompt, decoding parameters and cache key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from tipr_bench.translate.backends.base import DecodingParams
from tipr_bench.translate.cache import image_digest, key_from_prefix, request_prefix
from tipr_bench.translate.jobs import TranslationJob
from tipr_bench.translate.prompts import Prompt


class WorkUnit:
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
        return prompt.render(job.source, job.lang, job.image_path if with_image else None,
                             source_lang=job.source_lang, **job.extras)

    def key(self, job: TranslationJob, attempt: int, image: str) -> str:
        """The cache key (see cache.cache_key) of a job's request at an attempt."""
        messages = self.messages(job, attempt, with_image=False)
        return key_from_prefix(self._prefixes[attempt], messages, job.lang, image)


def work_units(jobs: Sequence[TranslationJob], plan: Plan) -> list[WorkUnit]:
    units: dict[str, WorkUnit] = {}
    images: dict[Path, str] = {}
    for job in jobs:
        image = ""
        if job.image_path is not None:
            image = images.get(job.image_path) or images.setdefault(job.image_path, image_digest(job.image_path))
        key = plan.key(job, 0, image)
        unit = units.get(key)
        if unit is None:
            units[key] = WorkUnit(job, key, image)
        else:
            unit.members.append(job)
    return list(units.values())
