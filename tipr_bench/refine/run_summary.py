"""What a refine run reports: `RefineSummary` (the CLI's table and JSON, the report pages), the
`RefineRecord` the dataset card cites, and the report folder written at the end of a run."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tipr_bench import __version__
from tipr_bench.benchmark.refine_record import RefineRecord
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.atomic import write_json
from tipr_bench.core.errors import UserError
from tipr_bench.refine.glossary import Glossary
from tipr_bench.refine.judge import Judge
from tipr_bench.refine.report import write_report
from tipr_bench.refine.run_settings import RefineSettings
from tipr_bench.refine.verdict import VERDICTS


@dataclass
class RefineSummary:
    lang: str
    dataset: str | None
    split: str | None
    captions: int
    untranslated: int
    verdicts_before: dict[str, int]
    verdicts: dict[str, int]
    term_match_rate: float | None
    soft_misses: int  # approved terms absent but still in the back-translation: no flag, listed in the report
    mean_chrf: float | None
    mean_bleu: float | None
    mean_qe: float | None
    qe: str
    qe_threshold: float
    threshold_from: str  # "mean noise" or "--threshold"
    chrf_min: float
    rewrite: str
    rounds: int
    rewritten: int  # candidates judged
    improved: int  # translations replaced by a better candidate
    fixed: int  # of those, now ok
    qa_round: int
    glossary_version: str
    signatures: dict[str, str]
    backend: str
    model: str
    requests: int = 0  # model calls made by this run (back-translations and rewrites; cached ones are free)
    tokens_in: int = 0
    tokens_out: int = 0
    report: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    unusable_back_translations: int = 0  # of the translations judged first: no usable English back-translation
    settled: bool = False  # nothing was left to do: the model was not asked, nothing changed
    checks: list[str] = field(default_factory=list)  # what judged this language (the glossary's only where one is)

    def to_json(self) -> dict:
        return asdict(self)


def refine_record(s: RefineSummary, glossary: Glossary | None) -> RefineRecord:
    """What the dataset card cites about this run of the language."""
    return RefineRecord(
        lang=s.lang, dataset=s.dataset, split=s.split, qe=s.qe, qe_threshold=s.qe_threshold,
        threshold_from=s.threshold_from, chrf_min=s.chrf_min, checks=Judge.check_ids(glossary),
        glossary_version=s.glossary_version, rewrite=s.rewrite, rounds=s.rounds,
        back_translation=f"{s.backend} {s.model}", metric_signatures=dict(s.signatures), tool_version=__version__)


def count_verdicts(assessments) -> dict[str, int]:
    counts = dict.fromkeys(VERDICTS, 0)
    for a in assessments:
        counts[a.verdict] = counts.get(a.verdict, 0) + 1
    return counts


def mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def finish_run(ws: Workspace, summary: RefineSummary, s: RefineSettings, gloss: Glossary | None,
            started: float) -> RefineSummary:
    """The report pages and the run summary beside them, when asked for."""
    if s.report_dir is not None:
        run_info = {
            "backend": f"{summary.backend} {summary.model}", "qe": summary.qe,
            "qe_threshold": summary.qe_threshold, "threshold from": summary.threshold_from,
            "chrF minimum": summary.chrf_min, "glossary": summary.glossary_version, "rewrite": summary.rewrite,
            "rounds": summary.rounds, "rewritten": summary.rewritten, "improved": summary.improved,
            "qa round": summary.qa_round, "checks": "; ".join(summary.checks),
            **{f"{name} signature": sig for name, sig in summary.signatures.items()},
        }
        targets_by_term = {e.term: e.targets[0] for e in gloss.entries} if gloss is not None else {}
        dataset, split = summary.dataset, summary.split
        splits = [split] if split else sorted({sp for _, sp in ws.splits(dataset)})
        summary.report = [str(p) for p in write_report(ws, summary.lang, Path(s.report_dir), dataset=dataset,
                                                       splits=splits, run_info=run_info,
                                                       term_targets=targets_by_term)]
    summary.wall_s = round(time.perf_counter() - started, 2)
    if s.report_dir is not None:  # the run summary (with the metric signatures) next to the pages
        stem = "-".join(p for p in ("refine", summary.dataset, summary.lang, summary.split) if p)
        write_json(Path(s.report_dir) / f"{stem}-summary.json", summary.to_json())
    return summary


def check_report_dir(folder: Path) -> None:
    """--report must be a folder this process can write, known before any model call."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UserError(f"--report {folder}: cannot write there ({exc.strerror or exc}); pick a folder you can "
                        "write, e.g. --report qa/") from None
