"""The token ids a model needs to write given languages: every token whose letters are all in one of
those languages' scripts (tokens without letters, such as punctuation, digits and spaces, always).

Gemma-3's output layer spans 262,144 tokens, about 60% of the model's weights; text in English and
Chinese uses 185,471 of them (Latin + Han), so the output layer shrinks by 29% with the same argmax
wherever the full model's answer was in those scripts. A token from another script could never make an
answer pass the output checks' script test anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import torch

from tipr_bench.core.languages import get_language
from tipr_bench.translate.checks import script_share

_LETTER = re.compile(r"[^\W\d_]")


def scripts_for(langs: Iterable[str]) -> tuple[str, ...]:
    """The scripts of `langs`, sorted; Latin always (names, sizes and 'T' of T恤 appear in any language)."""
    return tuple(sorted({"latin", *(get_language(code).script for code in langs)}))


def allowed_token_ids(tokenizer, scripts: Iterable[str], always: Iterable[int] = ()) -> torch.Tensor:
    """Sorted ids of the tokens written only in `scripts`, plus `always` (EOS, pad)."""
    scripts = tuple(scripts)
    verdicts: dict[str, bool] = {}

    def allowed(char: str) -> bool:
        if char not in verdicts:
            verdicts[char] = any(script_share(char, s) == 1.0 for s in scripts)
        return verdicts[char]

    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    keep = {i for i, piece in enumerate(pieces)
            if all(allowed(c) for c in _LETTER.findall(tokenizer.convert_tokens_to_string([piece])))}
    keep.update(always)
    return torch.tensor(sorted(keep), dtype=torch.long)
