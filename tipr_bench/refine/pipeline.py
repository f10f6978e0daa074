"""`refine`: judge every translation of a language, re-translate the ones that fail, keep the best.

1. back-translate every current translation into English (cached, not stored);
2. score: back-translation chrF/BLEU, QE (theta = mean noise unless given), glossary terms on the
   target side, attributes of the source vs the back-translation;
3. a verdict with reasons per caption, stored as a QA round (`ws.put_qa`);
4. up to `rounds` times: re-translate the captions that are not ok (`glossary` or `mllm`), judge
   each candidate the same way, and replace a translation only by a strictly better candidate
   (provenance machine, a higher round; the old row goes to history) whose back-translation is
   usable: QE alone accepts nothing. Human rows are never rewritten.
5. optionally write the report pages.
Every option, path and image is checked before any model loads. When no back-translation at all is
usable (a server answering in another language), the run stops having decided nothing.
A run settles (settle.py): the same settings on the translations it left ask the model nothing and
change nothing; a larger `--rounds` runs the rounds not done yet. A killed run resumes from the cache.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, TimeoutError
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from rich.progress import (
    Progress,
)

from tipr_bench.benchmark.records import Reason, ReasonKind, Translation
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.atomic import write_json
from tipr_bench.core.errors import UserError
from tipr_bench.core.languages import get_language
from tipr_bench.core.progress import make_progress
from tipr_bench.refine.attributes import AttributeIssue, Attributes, compare, extract
from tipr_bench.refine.backtranslate import BackTranslation, Usage, back_translate, metric_signatures, sentence_scores
from tipr_bench.refine.glossary import (
    INCIDENTAL_CATEGORIES,
    Glossary,
    TermCheck,
    load_glossary,
    shipped_glossary_path,
)
from tipr_bench.refine.qe import make_scorer, qe_threshold
from tipr_bench.refine.report import write_report
from tipr_bench.refine.rewrite import DEFAULT_MAX_TOKENS, Candidate, image_paths, rewrite_candidates
from tipr_bench.refine.settings import RefineSettings
from tipr_bench.refine.settle import (
    RefineState,
    load_state,
    settings_fingerprint,
    state_entry,
    state_key,
    translations_digest,
)
from tipr_bench.refine.verdict import VERDICTS, Assessment, Thresholds, assess
from tipr_bench.translate.backends.base import DecodingParams
from tipr_bench.translate.options import BackendOptions


@dataclass(frozen=True, slots=True)
class Item:
    """One (English source, translation) pair to judge."""

    key: str
    source: str
    text: str
    status: str = "ok"
    reason: str = ""


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


class BackTranslationsUnusable(UserError):
    """Not one back-translation was usable, so nothing can be decided from them."""


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
        self.thresholds = thresholds
        self.progress = progress
        self.theta: float | None = thresholds.qe_theta
        self.usage = Usage()
        self.unusable: dict[str, str] = {}  # the last judge() call's keys without a usable back-translation
        self._source_attrs: dict[str, Attributes] = {}
        self._incidental = {e.term for e in glossary.entries if e.category in INCIDENTAL_CATEGORIES} \
            if glossary is not None else set()

    @staticmethod
    def checks_for(glossary: Glossary | None) -> tuple[str, ...]:
        """The checks that judge a language: the English-side ones always, the glossary's where one exists."""
        english = ("back-translation chrF/BLEU", "QE",
                   "attributes of the English source vs its back-translation (colour and shade, garment, material, "
                   "length, sleeves, fit, place, negation, gender, side, count, pattern)")
        return english + (("glossary terms",) if glossary is not None else ())

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
            self.theta = qe_threshold(scores)
        return {item.key: self.assess_item(item, bts.get(item.key), qe.get(item.key)) for item in items}

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
        src_attrs = self._source_attrs.get(item.key)
        if src_attrs is None:
            src_attrs = self._source_attrs[item.key] = extract(item.source)
        issues = compare(src_attrs, extract(bt_text)) if bt_text else []
        expected, met, term_reasons = (), (), []
        if self.glossary is not None and item.text.strip():
            check = self.glossary.check(item.source, item.text)
            expected, met = check.expected, check.met
            term_reasons = self.term_reasons(check, issues, bt_text)
        return assess(
            item.key, item.source, item.text, back_translation=bt.text if bt else "",
            back_translation_error=(bt.error if bt and item.text.strip() else ""),
            chrf=chrf, bleu=bleu, qe=qe, theta=self.theta if self.theta is not None else 1.0,
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


def recorded_settings(s: RefineSummary) -> dict[str, str]:
    """What a dataset card cites about this language's QA (the export reads `qa.*` and `glossary.*`)."""
    where = ".".join(p for p in (s.dataset, s.split) if p)
    scope = f"qa.{s.lang}" + (f"[{where}]" if where else "")
    return {
        f"{scope}.qe": s.qe, f"{scope}.qe_threshold": f"{s.qe_threshold:.2f}",
        f"{scope}.threshold_from": s.threshold_from, f"{scope}.chrf_min": f"{s.chrf_min:g}",
        f"{scope}.rewrite": f"{s.rewrite} x{s.rounds}", f"glossary.{s.lang}.version": s.glossary_version,
        f"{scope}.checks": "; ".join(s.checks),
        **{f"{scope}.signature.{name}": sig for name, sig in s.signatures.items()},
    }


def _counts(assessments) -> dict[str, int]:
    counts = dict.fromkeys(VERDICTS, 0)
    for a in assessments:
        counts[a.verdict] = counts.get(a.verdict, 0) + 1
    return counts


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def resolve_glossary(lang: str, glossary: Glossary | str | Path | None) -> Glossary | None:
    if isinstance(glossary, Glossary):
        return glossary
    if glossary is None and not shipped_glossary_path(lang).is_file():
        return None  # no shipped glossary for this language and none given: terms are not checked
    return load_glossary(lang, Path(glossary) if glossary is not None else None)


def refine_language(
    ws: Workspace,
    lang: str,
    backend,
    *,
    dataset: str | None = None,
    split: str | None = None,
    settings: RefineSettings | None = None,
    rewrite_backend=None,
    progress: bool = True,
    **options,
) -> RefineSummary:
    """Judge, rewrite and report one language's translations (see the module docstring). `settings`, or
    its fields as keywords (`rewrite="none"`, `rounds=2`, ...), say how; `rewrite_backend` writes the
    candidates when it is not `backend` (an MLLM server). Either backend may be given as `BackendOptions`:
    it is then built only once the input has been checked and a model is needed, so a mistake never waits
    for a model to load, and a settled rerun loads none."""
    started = time.perf_counter()
    s = settings if settings is not None else RefineSettings(**options)
    lang = get_language(lang).code
    if lang == "en":
        raise UserError("--lang en: refine works on translations; pick a target language such as zh")
    captions = ws.captions(dataset, split, "en")
    translations = ws.translations(lang, dataset, split)
    if not translations:
        where = " ".join(f"--{k} {v}" for k, v in (("dataset", dataset), ("split", split)) if v)
        raise UserError(f"no {lang} translations in {ws.root}{' for ' + where if where else ''}: run "
                        f"`tipr-bench translate --lang {lang}{' ' + where if where else ''}` first")
    if s.report_dir is not None:
        _check_report_dir(Path(s.report_dir))
    gloss = resolve_glossary(lang, s.glossary)
    human = {k for k, t in translations.items() if t.provenance == "human"}
    items = [Item(c.key, c.text, translations[c.key].text, translations[c.key].status, translations[c.key].reason)
             for c in captions if c.key in translations]

    key = state_key(lang, dataset, split)
    state = load_state(ws, key)
    fingerprint = settings_fingerprint(s, gloss, backend, rewrite_backend)
    same_settings = state is not None and state.settings == fingerprint
    unchanged = same_settings and state.translations == translations_digest(translations)
    rounds_wanted = s.rounds if s.rewrite != "none" else 0
    if unchanged and not s.force and rounds_wanted <= state.rounds:
        return _settled(ws, state, s, gloss, lang, dataset, split, started)
    first_round = state.rounds + 1 if unchanged and not s.force else 1  # --force asks every round again
    if s.rewrite == "mllm" and first_round <= rounds_wanted:  # every image it may send, before any model call
        image_paths(ws, [i.key for i in items if i.key not in human])

    if isinstance(backend, BackendOptions):
        backend = backend.build()
    if isinstance(rewrite_backend, BackendOptions):
        rewrite_backend = rewrite_backend.build()
    scorer = make_scorer(s.qe, s.comet_model, s.comet_python, workspace_root=ws.root)
    theta = s.threshold if s.threshold is not None else (state.theta if same_settings else None)
    thresholds = Thresholds(chrf_min=s.chrf_min, qe_theta=theta)
    judge = Judge(ws, lang, backend, gloss, scorer, thresholds, progress, s.max_tokens, s.force)
    untranslated = len(captions) - len(items)
    del captions, translations  # at 80,000 captions ~175 MB of rows that judging no longer needs
    base = ws.next_round(lang)
    best = judge.judge(items)
    unusable = dict(judge.unusable)
    if unusable and len(unusable) == sum(1 for i in items if i.text.strip()):
        raise _all_unusable(unusable)
    ws.put_qa(a.to_qa(lang, base) for a in best.values())
    before = _counts(best.values())

    rewriter = rewrite_backend or backend
    rewritten = improved = 0
    accepted: set[str] = set()
    last_tries: dict[str, Assessment] = {}
    round_no = base
    for r in range(first_round, rounds_wanted + 1):
        targets = {k: a for k, a in best.items() if a.verdict != "ok" and k not in human}
        if not targets:
            break
        round_no = base + r - first_round + 1
        candidates = rewrite_candidates(ws, rewriter, s.rewrite, lang, targets, round_index=r, glossary=gloss,
                                        last_tries=last_tries, progress=progress, usage=judge.usage,
                                        max_tokens=s.max_tokens, force=s.force)
        if not candidates:
            continue
        judged = judge.judge([Item(k, targets[k].source, c.text, c.status, c.reason) for k, c in candidates.items()])
        rewritten += len(judged)
        winners: list[tuple[Candidate, Assessment]] = []
        for key_, cand in judged.items():
            if cand.better_than(best[key_]) and key_ not in judge.unusable:  # QE alone accepts nothing
                winners.append((candidates[key_], cand))
                best[key_] = cand
                last_tries.pop(key_, None)
            else:
                last_tries[key_] = cand
        if winners:
            with ws.transaction():
                ws.put_translations(_accepted_translation(c, lang, rewriter, round_no) for c, _ in winners)
                ws.put_qa(a.to_qa(lang, round_no) for _, a in winners)
            improved += len(winners)
            accepted.update(c.key for c, _ in winners)

    final = list(best.values())
    term_expected = sum(len(a.terms_expected) for a in final)
    term_met = sum(len(a.terms_met) for a in final)
    signatures = metric_signatures()
    if gloss is not None:
        signatures["term-match"] = gloss.signature
    summary = RefineSummary(
        lang=lang, dataset=dataset, split=split, captions=len(items), untranslated=untranslated,
        verdicts_before=before, verdicts=_counts(final),
        term_match_rate=round(term_met / term_expected, 4) if term_expected else None,
        soft_misses=sum(len(a.soft_misses) for a in final),
        mean_chrf=_mean([a.chrf for a in final if a.chrf is not None]),
        mean_bleu=_mean([a.bleu for a in final if a.bleu is not None]),
        mean_qe=_mean([a.qe for a in final if a.qe is not None]),
        qe=scorer.name, qe_threshold=judge.theta if judge.theta is not None else 0.0,
        threshold_from="--threshold" if s.threshold is not None else "mean noise", chrf_min=s.chrf_min,
        rewrite=s.rewrite, rounds=max(rounds_wanted, first_round - 1), rewritten=rewritten, improved=improved,
        fixed=sum(1 for k in accepted if best[k].verdict == "ok"), qa_round=round_no,
        glossary_version=gloss.version if gloss is not None else "none", signatures=signatures,
        backend=backend.name, model=backend.model, requests=judge.usage.requests,
        tokens_in=judge.usage.tokens_in, tokens_out=judge.usage.tokens_out,
        unusable_back_translations=len(unusable), checks=list(Judge.checks_for(gloss)),
    )
    left = RefineState(fingerprint, summary.qe_threshold, summary.rounds,
                       translations_digest(ws.translations(lang, dataset, split)), summary.to_json())
    ws.set_meta({**recorded_settings(summary), **state_entry(key, left)})
    return _finish(ws, summary, s, gloss, started)


def _settled(ws: Workspace, state: RefineState, s: RefineSettings, gloss: Glossary | None, lang: str,
             dataset: str | None, split: str | None, started: float) -> RefineSummary:
    """The summary of a run with nothing left to do: the last run's verdicts, nothing asked or changed."""
    known = {f.name for f in fields(RefineSummary)}
    last = {k: v for k, v in state.summary.items() if k in known}
    summary = RefineSummary(**{
        **last, "lang": lang, "dataset": dataset, "split": split, "verdicts_before": dict(last["verdicts"]),
        "rewritten": 0, "improved": 0, "fixed": 0, "requests": 0, "tokens_in": 0, "tokens_out": 0, "report": [],
        "unusable_back_translations": 0, "settled": True, "checks": list(Judge.checks_for(gloss))})
    return _finish(ws, summary, s, gloss, started)


def _finish(ws: Workspace, summary: RefineSummary, s: RefineSettings, gloss: Glossary | None,
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


def _check_report_dir(folder: Path) -> None:
    """--report must be a folder this process can write, known before any model call."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UserError(f"--report {folder}: cannot write there ({exc.strerror or exc}); pick a folder you can "
                        "write, e.g. --report qa/") from None


def _all_unusable(unusable: dict[str, str]) -> BackTranslationsUnusable:
    reason, count = Counter(unusable.values()).most_common(1)[0]
    return BackTranslationsUnusable(
        f"all {len(unusable)} back-translations were unusable (most often: {reason}, {count}x), so refine decided "
        "nothing and changed nothing: check that --model/--base-url translate into English, then run again with "
        "--force (the unusable answers are cached)")


def _accepted_translation(c: Candidate, lang: str, backend, round_no: int) -> Translation:
    r = c.result
    return Translation(
        key=c.key, lang=lang, text=c.text, backend=backend.name, model=backend.model,
        prompt_id=r.prompt_id or c.prompt.id, prompt_sha256=r.prompt_sha256 or c.prompt.sha256,
        params=c.params.as_dict(), tokens_in=r.tokens_in, tokens_out=r.tokens_out, status=c.status,
        reason=c.reason, provenance="machine", round=round_no,
    )
