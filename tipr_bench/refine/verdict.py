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

from tipr_bench.benchmark.records import QARecord
from tipr_bench.refine.qe import is_noisy, noise

VERDICTS = ("ok", "noisy", "flagged", "failed")
# weights of each kind of problem in the ranking: a wrong attribute outweighs a low score
DEFAULT_CHRF_MIN = 30.0
WEIGHT_FAILED = 100
WEIGHT_CONTENT = 2
WEIGHT_SIGNAL = 1


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a signal counts against a translation. `qe_theta` None: decided from the data (mean noise)."""

    chrf_min: float = DEFAULT_CHRF_MIN
    qe_theta: float | None = None
    max_missed_terms: int = 0
    attributes: bool = True


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
    terms_missed: tuple[str, ...]
    attribute_issues: tuple[str, ...]
    verdict: str
    reasons: tuple[str, ...]
    penalty: int

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
    theta: float,
    terms_expected: Sequence[str] = (),
    terms_met: Sequence[str] = (),
    term_reasons: Sequence[str] = (),
    attribute_issues: Sequence[str] = (),
    status: str = "ok",
    status_reason: str = "",
    thresholds: Thresholds = Thresholds(),
) -> Assessment:
    """Combine every signal on one translation into a verdict and its reasons."""
    content: list[str] = []
    signals: list[str] = []
    failed = status == "failed" or not translation.strip()
    if failed:
        content.append(f"output check: failed ({status_reason or 'empty translation'})")
    elif status == "flagged":
        content.append(f"output check: {status_reason or 'flagged'}")
    if thresholds.attributes:
        content.extend(attribute_issues)
    missed = tuple(t for t in terms_expected if t not in set(terms_met))
    if len(missed) > thresholds.max_missed_terms or any(r.startswith("wrong term") for r in term_reasons):
        content.extend(term_reasons)
    if back_translation_error:
        signals.append(f"back-translation failed: {back_translation_error}")
    if qe is not None and not failed and is_noisy(qe, theta):
        signals.append(f"QE noise {noise(qe):.2f} > theta {theta:.2f}")
    if chrf is not None and not failed and chrf < thresholds.chrf_min:
        signals.append(f"back-translation chrF {chrf:.1f} < {thresholds.chrf_min:g}")
    if failed:
        verdict = "failed"
    elif content:
        verdict = "flagged"
    elif signals:
        verdict = "noisy"
    else:
        verdict = "ok"
    penalty = (WEIGHT_FAILED if failed else 0) + WEIGHT_CONTENT * (len(content) - failed) + WEIGHT_SIGNAL * len(
        signals)
    return Assessment(
        key=key, source=source, translation=translation, back_translation=back_translation, chrf=chrf,
        bleu=bleu, qe=qe, terms_expected=tuple(terms_expected), terms_met=tuple(terms_met), terms_missed=missed,
        attribute_issues=tuple(attribute_issues), verdict=verdict, reasons=tuple(content + signals),
        penalty=penalty,
    )
