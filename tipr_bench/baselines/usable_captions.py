"""Which captions of a split take part: those with a usable text in the language asked for.

A translation is usable when it did not fail and its text is not blank. An empty answer that an
older workspace stored as `flagged` ("empty output") has empty text, so the text test leaves it out
too. Training pairs, validation, evaluation queries and submissions all use this one rule, and every
result says how many captions it left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from tipr_bench.benchmark.records import Caption
from tipr_bench.benchmark.store import Workspace

USABLE_STATUSES = ("ok", "flagged")


@dataclass(frozen=True)
class SplitCaptions:
    usable: list[Caption]  # in the workspace's stable order
    english: list[Caption]  # every caption of the split (the gallery and the count come from these)

    @property
    def left_out(self) -> int:
        return len(self.english) - len(self.usable)


def split_captions(ws: Workspace, dataset: str, split: str, lang: str) -> SplitCaptions:
    english = ws.captions(dataset, split, "en")
    rows = english if lang == "en" else ws.captions(dataset, split, lang, statuses=USABLE_STATUSES)
    return SplitCaptions([c for c in rows if c.text.strip()], english)
