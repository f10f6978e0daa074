"""Canonical records shared by every part of tipr-bench.

A caption's key is stable across languages (`{dataset}/{image_path}#{caption_index}`), so an
English caption, its translations and their QA rows all join on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from tipr_bench.core.clock import utc_now

TranslationStatus = Literal["ok", "flagged", "failed"]
Provenance = Literal["source", "machine", "human"]


def caption_key(dataset: str, image_path: str, caption_index: int) -> str:
    return f"{dataset}/{image_path}#{caption_index}"


def split_key(key: str) -> tuple[str, str, int]:
    """Inverse of caption_key: (dataset, image_path, caption_index)."""
    head, _, index = key.rpartition("#")
    dataset, _, image_path = head.partition("/")
    return dataset, image_path, int(index)


@dataclass(frozen=True, slots=True)
class Caption:
    dataset: str
    split: str
    person_id: int
    image_path: str
    caption_index: int
    lang: str
    text: str

    @property
    def key(self) -> str:
        return caption_key(self.dataset, self.image_path, self.caption_index)


@dataclass(frozen=True, slots=True)
class Translation:
    key: str
    lang: str
    text: str
    backend: str
    model: str
    prompt_id: str
    prompt_sha256: str
    params: dict = field(default_factory=dict)
    tokens_in: int = 0
    tokens_out: int = 0
    status: TranslationStatus = "ok"
    reason: str = ""
    provenance: Provenance = "machine"
    round: int = 0
    created_at: str = field(default_factory=utc_now)

    @property
    def params_json(self) -> str:
        return json.dumps(self.params, sort_keys=True, separators=(",", ":"))


class ReasonKind(StrEnum):
    """Why a translation got its verdict. The verdict is decided from these kinds alone."""

    FAILED = "failed"  # no usable translation
    OUTPUT_CHECK = "output check"  # the translation's own output checks flagged it
    ATTRIBUTE = "attribute"  # the back-translation contradicts or loses an attribute of the source
    WRONG_TERM = "wrong term"  # a known wrong rendering of a glossary term is in the translation
    MISSED_TERM = "missed term"  # an approved term is missing and another signal confirms the loss
    SOFT_MISS = "soft miss"  # an approved term is missing, unconfirmed: lowers the term-match rate only
    QE_NOISE = "qe noise"
    LOW_CHRF = "low chrf"
    NO_BACK_TRANSLATION = "no back-translation"
    REVIEW = "review"  # a person approved or corrected it
    NOTE = "note"  # free text from a workspace written before reasons were typed


CONTENT_KINDS = frozenset({ReasonKind.OUTPUT_CHECK, ReasonKind.ATTRIBUTE, ReasonKind.WRONG_TERM,
                           ReasonKind.MISSED_TERM})
SIGNAL_KINDS = frozenset({ReasonKind.QE_NOISE, ReasonKind.LOW_CHRF, ReasonKind.NO_BACK_TRANSLATION})


_LABELS = {ReasonKind.OUTPUT_CHECK: "output check:", ReasonKind.QE_NOISE: "QE noise",
           ReasonKind.LOW_CHRF: "back-translation chrF", ReasonKind.NO_BACK_TRANSLATION: "back-translation failed:"}


@dataclass(frozen=True, slots=True)
class Reason:
    """One typed reason: what kind, which English term, where on each side, and what confirmed it.

    Code decides from `kind`; `str(reason)` is the text people read (report, review sheet, CLI)."""

    kind: ReasonKind
    detail: str = ""  # "colour of coat: grey -> red", "wrong script", "0.2512 > theta 0.25"
    term: str = ""  # the English glossary term or attribute subject
    source_span: str = ""  # the words of the caption it is about
    target_span: str = ""  # the approved target that is missing, or the wrong form that was found
    confirmed_by: str = ""  # a missed term's confirmation: the wrong form, or the attribute issue

    @property
    def flags(self) -> bool:
        return self.kind in CONTENT_KINDS

    def __str__(self) -> str:
        if self.kind in (ReasonKind.MISSED_TERM, ReasonKind.SOFT_MISS):
            text = f"{self.kind}: {self.target_span} ({self.term})"
            return text + (f" [{self.confirmed_by}]" if self.confirmed_by else "")
        if self.kind is ReasonKind.WRONG_TERM:
            return f"wrong term: {self.confirmed_by} for {self.term} (use {self.target_span})"
        if self.kind in (ReasonKind.ATTRIBUTE, ReasonKind.NOTE, ReasonKind.REVIEW):
            return self.detail
        if self.kind is ReasonKind.FAILED:
            return f"output check: failed ({self.detail})"
        return f"{_LABELS[self.kind]} {self.detail}"

    def to_json(self) -> dict[str, str]:
        return {name: str(getattr(self, name)) for name in self.__slots__ if getattr(self, name)}

    @classmethod
    def from_json(cls, obj: dict | str) -> Reason:
        if isinstance(obj, str):  # stored before reasons were typed
            return cls(ReasonKind.NOTE, obj)
        return cls(**{**obj, "kind": ReasonKind(obj["kind"])})


@dataclass(frozen=True, slots=True)
class QARecord:
    key: str
    lang: str
    back_translation: str = ""
    chrf: float | None = None
    bleu: float | None = None
    qe: float | None = None
    terms_expected: tuple[str, ...] = ()
    terms_met: tuple[str, ...] = ()
    verdict: str = "ok"
    reasons: tuple[Reason, ...] = ()
    round: int = 0
    created_at: str = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class QAStanding:
    """What a release counts of a caption's QA: the latest round's verdict, and the scores of the latest
    round that has any (a review round records a person's verdict, not scores)."""

    verdict: str
    qe: float | None = None
    chrf: float | None = None
