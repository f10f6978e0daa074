"""A verdict per caption, with reasons a reviewer can act on, and the order that ranks candidates.

Verdicts: `ok`; `noisy` (only sentence-level signals are off: QE noise above theta, low
back-translation chrF: the published recipe re-translates these); `flagged` (an attribute or a
glossary term is wrong, or the output checks flagged the text); `failed` (no usable translation).
The same measure scores a rewrite candidate, so "better" means fewer and lighter problems first,
then higher chrF + QE; a translation is only ever replaced by a strictly better one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tipr_bench.benchmark.records import SIGNAL_KINDS, QARecord, Reason, ReasonKind
from tipr_bench.refine.qe import is_noisy, noise

VERDICTS = ("ok", "noisy", "flagged", "failed")
# weights of each kind of problem in the ranking: a wrong attribute outweighs a low score
DEFAULT_CHRF_MIN = 30.0
WEIGHT_FAILED = 100
WEIGHT_CONTENT = 2
WEIGHT_SIGNAL = 1


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a sentence-level signal counts against a translation. `qe_theta` None: not decided yet (refine
    decides it from the data, the mean noise, before any verdict), so QE counts against nothing."""

    chrf_min: float = DEFAULT_CHRF_MIN
    qe_theta: float | None = None


@dataclass(frozen=True, slots=True)
class Assessment:
    key: str
    source: str
    translation: str
    back_translation: str
    chrf: float | None
    bleu: float | None
    qe: float | None
    terms_expected: tuple[str, ...]
    terms_met: tuple[str, ...]
    verdict: str
    reasons: tuple[Reason, ...]
    penalty: int

    @property
    def terms_missed(self) -> tuple[str, ...]:
        met = set(self.terms_met)
        return tuple(t for t in self.terms_expected if t not in met)

    @property
    def soft_misses(self) -> tuple[Reason, ...]:
        return tuple(r for r in self.reasons if r.kind is ReasonKind.SOFT_MISS)

    @property
    def rank(self) -> tuple[int, float]:
        """Smaller is better: penalty first, then the sentence-level scores."""
        return (self.penalty, -((self.chrf or 0.0) / 100.0 + (self.qe or 0.0)))

    def better_than(self, other: Assessment) -> bool:
        return self.rank < other.rank

    def to_qa(self, lang: str, qa_round: int) -> QARecord:
        return QARecord(
            key=self.key, lang=lang, back_translation=self.back_translation,
            chrf=None if self.chrf is None else round(self.chrf, 2),
            bleu=None if self.bleu is None else round(self.bleu, 2),
            qe=None if self.qe is None else round(self.qe, 4),
            terms_expected=self.terms_expected, terms_met=self.terms_met, verdict=self.verdict,
            reasons=self.reasons, round=qa_round,
        )


def assess(
    key: str,
    source: str,
    translation: str,
    *,
    back_translation: str,
    back_translation_error: str = "",
    chrf: float | None,
    bleu: float | None,
    qe: float | None,
    terms_expected: Sequence[str] = (),
    terms_met: Sequence[str] = (),
    term_reasons: Sequence[Reason] = (),
    attribute_issues: Sequence[Reason] = (),
    status: str = "ok",
    status_reason: str = "",
    thresholds: Thresholds = Thresholds(),
) -> Assessment:
    """Combine every signal on one translation into a verdict and its reasons.

    `flagged` comes from content reasons only (output check, attribute, wrong term, confirmed missed
    term); soft misses are kept for the report and never change the verdict."""
    reasons: list[Reason] = []
    failed = status == "failed" or not translation.strip()
    if failed:
        reasons.append(Reason(ReasonKind.FAILED, status_reason or "empty translation"))
    elif status == "flagged":
        reasons.append(Reason(ReasonKind.OUTPUT_CHECK, status_reason or "flagged"))
    reasons.extend(attribute_issues)
    reasons.extend(term_reasons)
    if back_translation_error:
        reasons.append(Reason(ReasonKind.NO_BACK_TRANSLATION, back_translation_error))
    theta = thresholds.qe_theta
    if qe is not None and theta is not None and not failed and is_noisy(qe, theta):
        reasons.append(Reason(ReasonKind.QE_NOISE, f"{noise(qe):.4f} > theta {theta:.2f}"))
    if chrf is not None and not failed and chrf < thresholds.chrf_min:
        reasons.append(Reason(ReasonKind.LOW_CHRF, f"{chrf:.1f} < {thresholds.chrf_min:g}"))
    content = sum(r.flags for r in reasons)
    signals = sum(r.kind in SIGNAL_KINDS for r in reasons)
    if failed:
        verdict = "failed"
    elif content:
        verdict = "flagged"
    elif signals:
        verdict = "noisy"
    else:
        verdict = "ok"
    penalty = (WEIGHT_FAILED if failed else 0) + WEIGHT_CONTENT * content + WEIGHT_SIGNAL * signals
    return Assessment(
        key=key, source=source, translation=translation, back_translation=back_translation, chrf=chrf,
        bleu=bleu, qe=qe, terms_expected=tuple(terms_expected), terms_met=tuple(terms_met), verdict=verdict,
        reasons=tuple(reasons), penalty=penalty,
    )
