"""A decode loop for causal LMs on CPU that does less work than `generate` for the same answers.

Measured on the demo's few-shot prompts (bench/demo_speed.py), `generate` spends its time on three
things this loop avoids:
- the prompt's shared prefix (instruction + few-shot examples, ~80 of ~110 tokens) is encoded once
  and its key/value cache copied into each batch, instead of once per row;
- a row that has finished (EOS, stop string, max_tokens) leaves the batch at once, instead of
  decoding padding until the longest row ends (rows end after 15 tokens on average, the longest 33);
- the output layer can be cut to the token ids of the scripts the caller writes (`OutputHead`).

The layout of a batch is [shared prefix][padding][row suffix]: padding sits in the middle, masked,
and positions count real tokens only, so each row sees what it would see alone.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import DynamicCache, PreTrainedModel

from tipr_bench.translate.backends.base import DecodingParams


@dataclass
class Decoded:
    tokens: list[int]
    stopped: bool  # ended on EOS or a stop string (else it ran into max_tokens)


class OutputHead:
    """The output layer restricted to `ids` (all ids when None): logits for the allowed tokens only,
    with the model's final logit soft-capping when it has one."""

    def __init__(self, net: PreTrainedModel, ids: torch.Tensor | None) -> None:
        full = net.get_output_embeddings()
        weight = full.weight.detach() if ids is None else full.weight.detach()[ids]
        bias = getattr(full, "bias", None)
        self.linear = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None,
                                      device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            self.linear.weight.copy_(weight)
            if bias is not None:
                self.linear.bias.copy_(bias.detach() if ids is None else bias.detach()[ids])
        self.ids = ids
        self.softcap = getattr(net.config, "final_logit_softcapping", None)

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        logits = self.linear(hidden).float()
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits

    def token_ids(self, columns: torch.Tensor) -> torch.Tensor:
        return columns if self.ids is None else self.ids[columns]


class DecodeLoop:
    """Greedy or sampled decoding of many prompts with one causal LM body and an `OutputHead`."""

    def __init__(self, net: PreTrainedModel, head: OutputHead, eos_ids: set[int], tokenizer) -> None:
        self.body = net.base_model
        self.config = net.config
        self.head = head
        self.eos_ids = eos_ids
        self.tokenizer = tokenizer
        self._prefix: tuple[tuple[int, ...], DynamicCache] | None = None

    @torch.inference_mode()
    def run(self, prompts: Sequence[Sequence[int]], params: DecodingParams) -> list[Decoded]:
        n = len(prompts)
        shared = _shared_prefix_length(prompts)
        cache = self._prefix_cache(tuple(prompts[0][:shared]))
        cache = copy.deepcopy(cache)
        cache.batch_repeat_interleave(n)
        width = max(len(p) for p in prompts) - shared  # at least 1: each row keeps a token of its own
        device = self.body.device
        ids = torch.zeros((n, width), dtype=torch.long)
        mask = torch.zeros((n, shared + width), dtype=torch.long)
        mask[:, :shared] = 1
        positions = torch.zeros((n, width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            suffix = prompt[shared:]
            ids[row, width - len(suffix):] = torch.tensor(suffix, dtype=torch.long)
            mask[row, shared + width - len(suffix):] = 1
            positions[row, width - len(suffix):] = torch.arange(shared, len(prompt))
        ids, mask, positions = ids.to(device), mask.to(device), positions.to(device)
        generator = _generator(params, device)
        stop_hit = self._stop_check(params.stop)
        rows = list(range(n))
        out: list[Decoded] = [Decoded([], False) for _ in range(n)]
        hidden = self._forward(ids, mask, positions, cache)
        next_position = positions[:, -1] + 1
        for _ in range(params.max_tokens):
            tokens = self.head.token_ids(_choose(self.head(hidden), params, generator))
            keep = []
            for j, (row, token) in enumerate(zip(rows, tokens.tolist(), strict=True)):
                decoded = out[row]
                decoded.tokens.append(token)
                if token in self.eos_ids or stop_hit(decoded.tokens):
                    decoded.stopped = True
                elif len(decoded.tokens) < params.max_tokens:
                    keep.append(j)
            if not keep:
                break
            if len(keep) < len(rows):
                index = torch.tensor(keep, device=device)
                cache.batch_select_indices(index)
                mask, next_position, tokens = mask[index], next_position[index], tokens[index]
                rows = [rows[j] for j in keep]
            mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=1)
            hidden = self._forward(tokens[:, None], mask, next_position[:, None], cache)
            next_position = next_position + 1
        return out

    def _stop_check(self, stop: Sequence[str]):
        """(a row's tokens) -> whether their tail holds a stop string; decodes a few tokens, not the row."""
        stop = [s for s in stop if s]
        if not stop:
            return lambda tokens: False
        tail = max(len(s.encode()) for s in stop) + 2  # a token holds at least one byte

        def hit(tokens: list[int]) -> bool:
            text = self.tokenizer.decode(tokens[-tail:], skip_special_tokens=True)
            return any(s in text for s in stop)
        return hit

    def _prefix_cache(self, prefix: tuple[int, ...]) -> DynamicCache:
        """The cache after the shared prefix, kept while batches share it (the few-shot prompt does)."""
        if self._prefix is None or self._prefix[0] != prefix:
            cache = DynamicCache(config=self.config)
            if prefix:
                ids = torch.tensor([prefix], device=self.body.device)
                self._forward(ids, torch.ones_like(ids), torch.arange(len(prefix), device=ids.device)[None], cache)
            self._prefix = (prefix, cache)
        return self._prefix[1]

    def _forward(self, ids, mask, positions, cache) -> torch.Tensor:
        out = self.body(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache,
                        use_cache=True)
        return out.last_hidden_state[:, -1]


def _shared_prefix_length(prompts: Sequence[Sequence[int]]) -> int:
    """Tokens every prompt starts with, leaving each prompt at least one token of its own (the last
    prompt token must run through the model with the row's own state)."""
    first, limit = prompts[0], min(len(p) for p in prompts) - 1
    length = 0
    while length < limit and all(p[length] == first[length] for p in prompts):
        length += 1
    return length


def _generator(params: DecodingParams, device: torch.device) -> torch.Generator | None:
    if params.temperature <= 0:
        return None
    generator = torch.Generator(device=device)
    if params.seed is None:
        generator.seed()
    else:
        generator.manual_seed(params.seed)
    return generator


def _choose(logits: torch.Tensor, params: DecodingParams, generator: torch.Generator | None) -> torch.Tensor:
    """Column of the next token per row: argmax, or a sample at the temperature within top_p."""
    if generator is None:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / params.temperature, dim=-1)
    if params.top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        outside = sorted_probs.cumsum(dim=-1) - sorted_probs > params.top_p  # the first token always stays
        sorted_probs[outside] = 0.0
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
