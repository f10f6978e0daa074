"""Canonical records shared by every part of tipr-bench.

A caption's key is stable across languages (`{dataset}/{image_path}#{caption_index}`), so an
English caption, its translations and their QA rows all join on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

TranslationStatus = Literal["ok", "flagged", "failed"]
Provenance = Literal["source", "machine", "human"]


def caption_key(dataset: str, image_path: str, caption_index: int) -> str:
    return f"{dataset}/{image_path}#{caption_index}"


def split_key(key: str) -> tuple[str, str, int]:
    """Inverse of caption_key: (dataset, image_path, caption_index)."""
    head, _, index = key.rpartition("#")
    dataset, _, image_path = head.partition("/")
    return dataset, image_path, int(index)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
    reasons: tuple[str, ...] = ()
    round: int = 0
    created_at: str = field(default_factory=utc_now)
