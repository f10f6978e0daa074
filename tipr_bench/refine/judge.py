"""Judging: one fixed measure scores every (English source, translation) pair, the first judgment and
each rewrite candidate alike. Back-translation chrF/BLEU, QE, the attribute checks and, where a glossary
exists, its terms, combined into a verdict with reasons (`verdict.assess`)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, TimeoutError
from dataclasses import dataclass, replace
from pathlib import Path

from rich.progress import Progress

from tipr_bench.benchmark.records import Reason, ReasonKind
from tipr_bench.benchmark.refine_record import CHECKS
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.progress import make_progress
from tipr_bench.refine.attribute_checks import AttributeIssue, compare, extract
from tipr_bench.refine.backtranslate import BackTranslation, Usage, back_translate, sentence_scores
from tipr_bench.refine.glossary import INCIDENTAL_CATEGORIES, Glossary, TermCheck
from tipr_bench.refine.glossary_files import load_glossary, shipped_glossary_path
from tipr_bench.refine.qe import qe_threshold
from tipr_bench.refine.rewrite import DEFAULT_MAX_TOKENS
from tipr_bench.refine.verdict import Assessment, Thresholds, assess
from tipr_bench.translate import DecodingParams


@dataclass(frozen=True, slots=True)
class Item:
    """One (English source, translation) pair to judge."""

    key: str
    source: str
    text: str
    status: str = "ok"
    reason: str = ""


def _progress(enabled: bool) -> Progress | None:
    return make_progress(unit="items") if enabled else None


class Judge:
    """Scores (source, translation) pairs with one fixed measure: the verdict's."""

    def __init__(self, ws: Workspace, lang: str, backend, glossary: Glossary | None, scorer,
                 thresholds: Thresholds, progress: bool = True, max_tokens: int = DEFAULT_MAX_TOKENS,
                 force: bool = False):
        self.ws = ws
        self.force = force
        self.params = DecodingParams(max_tokens=max_tokens)
        self.lang = lang
        self.backend = backend
        self.glossary = glossary
        self.scorer = scorer
        self.thresholds = thresholds  # its qe_theta is fixed by the first judge() call unless given
        self.progress = progress
        self.usage = Usage()
        self.unusable: dict[str, str] = {}  # the last judge() call's keys without a usable back-translation
        self._incidental = {e.term for e in glossary.entries if e.category in INCIDENTAL_CATEGORIES} \
            if glossary is not None else set()

    @staticmethod
    def check_ids(glossary: Glossary | None) -> tuple[str, ...]:
        """The checks that judge a language (ids in `CHECKS`): the English-side ones always, the glossary's
        where one exists."""
        return ("back-translation", "qe", "attributes") + (("glossary-terms",) if glossary is not None else ())

    @staticmethod
    def checks_for(glossary: Glossary | None) -> tuple[str, ...]:
        """The same checks as people read them."""
        return tuple(CHECKS[c] for c in Judge.check_ids(glossary))

    def term_reasons(self, check: TermCheck, issues: Sequence[AttributeIssue], back_translation: str) -> list[Reason]:
        """A missed term is a hard miss (flags) only when something confirms it: the back-translation
        lacks the term too (no alias, nor a term the glossary renders the same way), or loses the
        same attribute.
        Otherwise it is a soft miss: it lowers the term-match rate and shows in the report, and flags
        nothing. A known wrong rendering always flags."""
        reasons: list[Reason] = []
        bt_terms: set[str] | None = None
        for miss in check.misses:
            if not back_translation:
                continue  # nothing confirms it, nor says the meaning got through: the term-match rate counts it
            confirmation = ""
            if miss.term not in self._incidental:
                if bt_terms is None:
                    bt_terms = {m.term for m in self.glossary.find_terms(back_translation)}
                confirmation = _confirming_issue(miss.term, issues) or (
                    "" if self.glossary.said_by(miss.term, bt_terms) else "the back-translation lacks it too")
            kind = ReasonKind.MISSED_TERM if confirmation else ReasonKind.SOFT_MISS
            reasons.append(Reason(kind, term=miss.term, source_span=miss.surface, target_span=miss.target,
                                  confirmed_by=confirmation))
        reasons += [Reason(ReasonKind.WRONG_TERM, term=w.term, source_span=w.surface, target_span=w.target,
                           confirmed_by=w.found) for w in check.wrong_used]
        return reasons

    def judge(self, items: Sequence[Item]) -> dict[str, Assessment]:
        """Assess every item; the first call fixes theta from its QE scores (mean noise) unless given.
        The QE model runs in a worker thread while the back-translations are fetched (its kernels let
        go of the GIL, the HTTP client mostly waits), so neither waits for the other."""
        scorable = [i for i in items if i.text.strip()]
        sources, texts = [i.source for i in scorable], [i.text for i in scorable]
        ticks = _QETicks()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="qe") as pool:
            scoring = pool.submit(self.scorer.score, sources, texts, ticks)
            try:
                bts = back_translate(self.ws, self.backend, self.lang, {i.key: i.text for i in items},
                                     params=self.params, progress=self.progress, usage=self.usage,
                                     force=self.force)
                scores = self._await_scores(scoring, ticks, len(scorable))
            except BaseException:
                ticks.stopped = True  # the worker ends at its next batch instead of scoring everything
                raise
        self.unusable = {i.key: bts[i.key].error for i in items if i.text.strip() and bts[i.key].error}
        qe = dict(zip((i.key for i in scorable), scores, strict=True))
        if self.theta is None:
            self.thresholds = replace(self.thresholds, qe_theta=qe_threshold(scores))
        return {item.key: self.assess_item(item, bts.get(item.key), qe.get(item.key)) for item in items}

    @property
    def theta(self) -> float | None:
        return self.thresholds.qe_theta

    def _await_scores(self, scoring: Future, ticks: _QETicks, total: int) -> list[float]:
        """The QE scores, with a bar for what is left once the back-translations are in."""
        bar = _progress(self.progress and total > 0 and not scoring.done())
        if bar is None:
            return scoring.result()
        with bar:
            task = bar.add_task(f"QE ({self.scorer.name})", total=total, completed=ticks.done, base=ticks.done)
            while True:
                try:
                    return scoring.result(timeout=0.2)
                except TimeoutError:
                    bar.update(task, completed=ticks.done)

    def assess_item(self, item: Item, bt: BackTranslation | None, qe: float | None) -> Assessment:
        """One verdict from the signals at hand: the back-translation, the QE score, the glossary."""
        bt_text = bt.text if bt and not bt.error else ""
        chrf, bleu = sentence_scores(bt_text, item.source)
        # The source's reading is made again for each candidate, not kept: 0.1 ms against 5.7 KB a caption
        issues = compare(extract(item.source), extract(bt_text)) if bt_text else []
        expected, met, term_reasons = (), (), []
        if self.glossary is not None and item.text.strip():
            check = self.glossary.check(item.source, item.text)
            expected, met = check.expected, check.met
            term_reasons = self.term_reasons(check, issues, bt_text)
        return assess(
            item.key, item.source, item.text, back_translation=bt.text if bt else "",
            back_translation_error=(bt.error if bt and item.text.strip() else ""),
            chrf=chrf, bleu=bleu, qe=qe,
            terms_expected=expected, terms_met=met, term_reasons=term_reasons,
            attribute_issues=[issue.reason() for issue in issues],
            status=item.status, status_reason=item.reason, thresholds=self.thresholds,
        )


class _QETicks:
    """Counts the pairs the QE worker has scored; once `stopped`, its next tick ends it early."""

    def __init__(self):
        self.done = 0
        self.stopped = False

    def __call__(self, n: int) -> None:
        if self.stopped:
            raise RuntimeError("QE stopped: the refine run ended early")
        self.done += n


def _confirming_issue(term: str, issues: Sequence[AttributeIssue]) -> str:
    """The attribute issue about the thing `term` names (a garment, an item), if any: "colour of shoes:
    black -> white" confirms a missed "shoe", not a missed "black" that belonged to the hair."""
    words = set(term.split())
    for issue in issues:
        if words & set(issue.subject.split()):
            return str(issue)
    return ""


def resolve_glossary(lang: str, glossary: Glossary | str | Path | None) -> Glossary | None:
    if isinstance(glossary, Glossary):
        return glossary
    if glossary is None and not shipped_glossary_path(lang).is_file():
        return None  # no shipped glossary for this language and none given: terms are not checked
    return load_glossary(lang, Path(glossary) if glossary is not None else None)
