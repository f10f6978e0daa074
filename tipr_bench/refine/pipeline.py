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
A run settles (rerun_state.py): the same settings on the translations it left ask the model nothing and
change nothing; a larger `--rounds` runs the rounds not done yet. A killed run resumes from the cache.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path

from tipr_bench.benchmark.records import Translation
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.errors import UserError
from tipr_bench.core.languages import get_language
from tipr_bench.refine.backtranslate import metric_signatures
from tipr_bench.refine.glossary import Glossary
from tipr_bench.refine.judge import Item, Judge, resolve_glossary
from tipr_bench.refine.qe import make_scorer
from tipr_bench.refine.rerun_state import (
    RefineState,
    load_state,
    settings_fingerprint,
    state_entry,
    state_key,
    translations_digest,
)
from tipr_bench.refine.rewrite import Candidate, image_paths, rewrite_candidates
from tipr_bench.refine.run_settings import RefineSettings
from tipr_bench.refine.run_summary import (
    RefineSummary,
    check_report_dir,
    count_verdicts,
    finish_run,
    mean,
    refine_record,
)
from tipr_bench.refine.verdict import Assessment, Thresholds
from tipr_bench.translate import BackendOptions, build_backend


class BackTranslationsUnusable(UserError):
    """Not one back-translation was usable, so nothing can be decided from them."""


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
    items, human, untranslated = _selection(ws, lang, dataset, split, s)
    gloss = resolve_glossary(lang, s.glossary)

    key = state_key(lang, dataset, split)
    state = load_state(ws, key)
    fingerprint = settings_fingerprint(s, gloss, backend, rewrite_backend)
    same_settings = state is not None and state.settings == fingerprint
    unchanged = same_settings and state.translations == translations_digest(ws, lang, dataset, split)
    rounds_wanted = s.rounds if s.rewrite != "none" else 0
    if unchanged and not s.force and rounds_wanted <= state.rounds:
        return _settled(ws, state, s, gloss, lang, dataset, split, started)
    first_round = state.rounds + 1 if unchanged and not s.force else 1  # --force asks every round again
    if s.rewrite == "mllm" and first_round <= rounds_wanted:  # every image it may send, before any model call
        image_paths(ws, [i.key for i in items if i.key not in human])

    if isinstance(backend, BackendOptions):
        backend = build_backend(backend)
    if isinstance(rewrite_backend, BackendOptions):
        rewrite_backend = build_backend(rewrite_backend)
    scorer = make_scorer(s.qe, s.comet_model, s.comet_python, workspace_root=ws.root)
    theta = s.threshold if s.threshold is not None else (state.theta if same_settings else None)
    thresholds = Thresholds(chrf_min=s.chrf_min, qe_theta=theta)
    judge = Judge(ws, lang, backend, gloss, scorer, thresholds, progress, s.max_tokens, s.force)
    base = ws.next_round(lang)
    best = judge.judge(items)
    unusable = dict(judge.unusable)
    if unusable and len(unusable) == sum(1 for i in items if i.text.strip()):
        raise _all_unusable(unusable)
    ws.put_qa(a.to_qa(lang, base) for a in best.values())
    before = count_verdicts(best.values())

    done = _rewrite_rounds(ws, judge, rewrite_backend or backend, s, lang, gloss, best, human, base,
                           range(first_round, rounds_wanted + 1), progress)
    summary = RefineSummary(
        lang=lang, dataset=dataset, split=split, captions=len(items), untranslated=untranslated,
        verdicts_before=before, **_scores(list(best.values()), gloss), qe=scorer.name,
        qe_threshold=judge.theta if judge.theta is not None else 0.0,
        threshold_from="--threshold" if s.threshold is not None else "mean noise", chrf_min=s.chrf_min,
        rewrite=s.rewrite, rounds=max(rounds_wanted, first_round - 1), rewritten=done.rewritten,
        improved=done.improved, fixed=sum(1 for k in done.accepted if best[k].verdict == "ok"),
        qa_round=done.qa_round, glossary_version=gloss.version if gloss is not None else "none",
        backend=backend.name, model=backend.model, requests=judge.usage.requests,
        tokens_in=judge.usage.tokens_in, tokens_out=judge.usage.tokens_out,
        unusable_back_translations=len(unusable), checks=list(Judge.checks_for(gloss)),
    )
    left = RefineState(fingerprint, summary.qe_threshold, summary.rounds,
                       translations_digest(ws, lang, dataset, split), summary.to_json())
    ws.set_meta({**refine_record(summary, gloss).meta_entry(), **state_entry(key, left)})
    return finish_run(ws, summary, s, gloss, started)


def _selection(ws: Workspace, lang: str, dataset: str | None, split: str | None,
               s: RefineSettings) -> tuple[list[Item], set[str], int]:
    """The pairs to judge, the human rows no rewrite may touch and how many captions have no translation;
    the input and the report folder are checked first."""
    if lang == "en":
        raise UserError("--lang en: refine works on translations; pick a target language such as zh")
    captions = ws.captions(dataset, split, "en")
    translations = ws.translations(lang, dataset, split)
    if not translations:
        where = " ".join(f"--{k} {v}" for k, v in (("dataset", dataset), ("split", split)) if v)
        raise UserError(f"no {lang} translations in {ws.root}{' for ' + where if where else ''}: run "
                        f"`tipr-bench translate --lang {lang}{' ' + where if where else ''}` first")
    if s.report_dir is not None:
        check_report_dir(Path(s.report_dir))
    human = {k for k, t in translations.items() if t.provenance == "human"}
    items = [Item(c.key, c.text, translations[c.key].text, translations[c.key].status, translations[c.key].reason)
             for c in captions if c.key in translations]
    return items, human, len(captions) - len(items)


@dataclass
class _RoundsDone:
    rewritten: int = 0  # candidates judged
    improved: int = 0  # translations replaced by a better candidate
    accepted: set[str] = field(default_factory=set)  # their keys
    qa_round: int = 0  # the last QA round written


def _rewrite_rounds(ws: Workspace, judge: Judge, rewriter, s: RefineSettings, lang: str, gloss: Glossary | None,
                    best: dict[str, Assessment], human: set[str], base: int, rounds: range,
                    progress: bool) -> _RoundsDone:
    """Re-translate what is not ok, judge each candidate, and keep (in `best` and the workspace) only a
    strictly better one with a usable back-translation. Human rows are never rewritten."""
    done = _RoundsDone(qa_round=base)
    last_tries: dict[str, Assessment] = {}
    for r in rounds:
        targets = {k: a for k, a in best.items() if a.verdict != "ok" and k not in human}
        if not targets:
            break
        round_no = done.qa_round = base + r - rounds.start + 1
        candidates = rewrite_candidates(ws, rewriter, s.rewrite, lang, targets, round_index=r, glossary=gloss,
                                        last_tries=last_tries, progress=progress, usage=judge.usage,
                                        max_tokens=s.max_tokens, force=s.force)
        if not candidates:
            continue
        judged = judge.judge([Item(k, targets[k].source, c.text, c.status, c.reason) for k, c in candidates.items()])
        done.rewritten += len(judged)
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
            done.improved += len(winners)
            done.accepted.update(c.key for c, _ in winners)
    return done


def _scores(final: list[Assessment], gloss: Glossary | None) -> dict:
    """The summary's verdict counts, term-match rate, mean scores and metric signatures."""
    term_expected = sum(len(a.terms_expected) for a in final)
    term_met = sum(len(a.terms_met) for a in final)
    signatures = metric_signatures()
    if gloss is not None:
        signatures["term-match"] = gloss.signature
    return dict(
        verdicts=count_verdicts(final), term_match_rate=round(term_met / term_expected, 4) if term_expected else None,
        soft_misses=sum(len(a.soft_misses) for a in final),
        mean_chrf=mean([a.chrf for a in final if a.chrf is not None]),
        mean_bleu=mean([a.bleu for a in final if a.bleu is not None]),
        mean_qe=mean([a.qe for a in final if a.qe is not None]), signatures=signatures)


def _settled(ws: Workspace, state: RefineState, s: RefineSettings, gloss: Glossary | None, lang: str,
             dataset: str | None, split: str | None, started: float) -> RefineSummary:
    """The summary of a run with nothing left to do: the last run's verdicts, nothing asked or changed."""
    known = {f.name for f in fields(RefineSummary)}
    last = {k: v for k, v in state.summary.items() if k in known}
    summary = RefineSummary(**{
        **last, "lang": lang, "dataset": dataset, "split": split, "verdicts_before": dict(last["verdicts"]),
        "rewritten": 0, "improved": 0, "fixed": 0, "requests": 0, "tokens_in": 0, "tokens_out": 0, "report": [],
        "unusable_back_translations": 0, "settled": True, "checks": list(Judge.checks_for(gloss))})
    ws.set_meta(refine_record(summary, gloss).meta_entry())  # a workspace refined before records were kept
    return finish_run(ws, summary, s, gloss, started)


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
