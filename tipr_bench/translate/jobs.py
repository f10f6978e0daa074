"""What a translation run is given and what it gives back: its jobs, each job's result, the run's report;
and the jobs of a workspace's captions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tipr_bench.benchmark.store import Workspace

PROTECTED_PROVENANCE = ("human", "source")  # never overwritten by a machine translation unless forced


@dataclass(frozen=True, slots=True)
class TranslationJob:
    key: str  # the caption key; results and stored translations use it
    source: str
    lang: str  # the TARGET language code ("en" for a back-translation)
    extras: dict = field(default_factory=dict)  # extra template fields (terms, notes, ...)
    image_path: Path | None = None  # sent with the prompt to a multimodal model
    source_lang: str = "en"  # the code of the language `source` is in (a back-translation's is the target's)


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
