"""One attribute a back-translation gets wrong, as a typed record with the English span on each side."""

from __future__ import annotations

from dataclasses import dataclass

from tipr_bench.benchmark.records import Reason, ReasonKind


@dataclass(frozen=True, slots=True)
class AttributeIssue:
    """One attribute the other description gets wrong: kind, subject, source value, found value."""

    # colour | shade | garment | material | length | sleeves | fit | size | possession | negation | gender | side
    # | count | missing item | added item | added detail | missing pattern | added pattern
    kind: str
    subject: str
    expected: str = ""
    found: str = ""

    def reason(self) -> Reason:
        return Reason(ReasonKind.ATTRIBUTE, str(self), term=self.subject, source_span=self.expected,
                      target_span=self.found)

    def __str__(self) -> str:
        if self.kind in ("missing item", "added item", "missing pattern", "added pattern"):
            return f"{self.kind}: {self.subject}"
        if self.kind == "added detail":
            return f"added detail: {self.found}" + (f" ({self.subject})" if self.subject != self.found else "")
        if self.kind == "gender":
            return f"gender: {self.expected} -> {self.found}"
        if self.kind == "garment":
            return f"garment: {self.expected} -> {self.found}"
        return f"{self.kind} of {self.subject}: {self.expected} -> {self.found}"
