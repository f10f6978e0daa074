"""Back-translation into English through the same backends, and its sentence-level scores.

Back-translations go through `translate_jobs` with `store=False`: they are cached like any
translation (a rerun calls no model) but never written as a caption's translation. chrF and BLEU
of the back-translation against the English source are sentence-level sacrebleu scores; their
signatures go into the run summary and the report so the numbers can be reproduced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sacrebleu.metrics import BLEU, CHRF

from tipr_bench.benchmark.store import Workspace
from tipr_bench.translate import (
    PRESETS,
    DecodingParams,
    Prompt,
    RunReport,
    TranslationJob,
    completion_style,
    translate_jobs,
)

BACK_TRANSLATION_PROMPT = Prompt(
    "back-translation", "Please translate the {source_language} sentence '{source}' into {language}."
)
_CHRF = CHRF(lowercase=True)
_BLEU = BLEU(lowercase=True, effective_order=True)
# Every score here is against one reference, the English source. sacrebleu learns the count from the
# first score; set it so a run with no usable back-translation still has signatures to record.
_CHRF.num_refs = _BLEU.num_refs = 1


@dataclass(frozen=True, slots=True)
class BackTranslation:
    text: str
    error: str = ""  # why there is no usable back-translation (the text, if any, is kept for reviewers)
    tokens_in: int = 0
    tokens_out: int = 0


@dataclass
class Usage:
    """Model calls a refine run made (cached answers cost nothing and are not counted)."""

    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0

    def add(self, report: RunReport) -> None:
        self.requests += report.requests
        self.tokens_in += report.tokens_in
        self.tokens_out += report.tokens_out


def metric_signatures() -> dict[str, str]:
    return {"chrF": _CHRF.get_signature().format(), "BLEU": _BLEU.get_signature().format()}


def sentence_scores(back_translation: str, source: str) -> tuple[float | None, float | None]:
    """(chrF, BLEU) of one back-translation against its English source; None when there is none."""
    if not back_translation.strip():
        return None, None
    return (_CHRF.sentence_score(back_translation, [source]).score,
            _BLEU.sentence_score(back_translation, [source]).score)


def back_translate(
    ws: Workspace,
    backend,
    lang: str,
    texts: Mapping[str, str],
    *,
    params: DecodingParams | None = None,
    progress: bool = True,
    usage: Usage | None = None,
    force: bool = False,
) -> dict[str, BackTranslation]:
    """English back-translations of `texts` (caption key -> text in `lang`), cached, not stored;
    `force` asks the model again (after a server that answered badly under the same model name)."""
    jobs = [TranslationJob(key, text, "en", source_lang=lang) for key, text in texts.items()
            if text.strip()]
    out = {key: BackTranslation("", "no translation to back-translate") for key, text in texts.items()
           if not text.strip()}
    if not jobs:
        return out
    prompt = PRESETS["fewshot"] if completion_style(backend) else BACK_TRANSLATION_PROMPT
    report = translate_jobs(ws, jobs, backend, prompt, params or DecodingParams(), store=False, force=force,
                            progress=progress)
    if usage is not None:
        usage.add(report)
    for key, result in report.results.items():
        # A back-translation the output checks still flag after the strict retries (wrong script, echo,
        # several lines) says nothing reliable about the translation: comparing its attributes would
        # only invent errors, so it counts as missing.
        error = "" if result.status == "ok" else (result.reason or result.status)
        out[key] = BackTranslation(result.text, error, result.tokens_in, result.tokens_out)
    return out
