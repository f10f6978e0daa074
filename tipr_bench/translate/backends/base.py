"""What every backend returns and the two shapes a backend can take.

Remote backends complete one chat at a time (async, many in flight); local backends complete a
batch at once (a GPU or CPU forward pass over many prompts). The runner drives either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

Message = dict  # {"role": "system"|"user"|"assistant", "content": str | list[content parts]}


@dataclass(frozen=True, slots=True)
class DecodingParams:
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int | None = 0
    stop: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens,
                "seed": self.seed, "stop": list(self.stop)}


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    finish_reason: str = "stop"  # "stop", "length", "content_filter" or "repetition"
    extra: dict = field(default_factory=dict)
    # Why this one request failed (a batch backend isolates a bad prompt): the item fails, nothing is
    # cached, and the next run asks again.
    failure: str = ""


@runtime_checkable
class AsyncBackend(Protocol):
    """One request at a time, many in flight (openai). `retries` and `unreachable` (base URLs that
    refused connections) go into the run summary."""

    name: str
    model: str
    concurrency: int
    retries: int
    unreachable: set[str]

    async def complete(self, messages: Sequence[Message], params: DecodingParams) -> Completion: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class BatchBackend(Protocol):
    """A whole batch per call (vllm, transformers)."""

    name: str
    model: str
    batch_size: int

    def complete_batch(
        self, conversations: Sequence[Sequence[Message]], params: DecodingParams
    ) -> list[Completion]: ...
