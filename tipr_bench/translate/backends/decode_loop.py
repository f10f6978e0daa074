"""A decode loop for causal LMs on CPU that does less work than `generate` for the same answers.

Measured on the demo's few-shot prompts (bench/demo_speed.py), `generate` spends its time on three
things this loop avoids:
- the prompt's shared prefix (instruction + few-shot examples, ~80 of ~110 tokens) is encoded once
  and its key/value cache copied into each batch, instead of once per row;
- the rows' own prompt tokens are prefilled 16 rows at a time, whose activations stay in the CPU's
  caches, and their key/value caches joined for decoding;
- a row that has finished (EOS, stop string, max_tokens) leaves the batch at once, instead of
  decoding padding until the longest row ends (rows end after 15 tokens on average, the longest 33);
- a row caught in a loop (the same span of tokens three times in a row, 12 tokens at least) ends
  there, flagged as `repetition`, instead of running alone to max_tokens, a slow step at a time;
- the output layer can be cut to the token ids of the scripts the caller writes (`OutputHead`);
- greedy steps can pick the next token from a shortlist: the output layer's int8 scores (fbgemm, about
  3x faster than float32 at a batch of 64, 14x at 8) name the best `shortlist` tokens, and their exact
  float32 logits choose among them. The answer is the float32 head's wherever the true argmax is on
  the shortlist: on 662 steps of demo captions it never ranked below 9th in the int8 scores, and
  bench/demo_speed.py compares whole answers.

The layout of a batch is [shared prefix][padding][row suffix]: padding sits in the middle, masked,
and positions count real tokens only, so each row sees what it would see alone.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import DynamicCache, PreTrainedModel

from tipr_bench.translate.backends.base import DecodingParams


@dataclass
class Decoded:
    tokens: list[int]
    stopped: bool  # ended on EOS or a stop string (else it ran into max_tokens or a loop)
    looped: bool = False  # ended because its tail repeats itself (`looping`)


PREFILL_ROWS = 16  # rows per prefill pass (`DecodeLoop._prefill`)
LOOP_SPAN = 12  # the shortest repeated tail that counts as a loop, in tokens (three times a short period)
LOOP_PERIOD = 16  # the longest period looked for


def looping(tokens: list[int]) -> bool:
    """The tail is one period of at most LOOP_PERIOD tokens repeated back to back, at least three
    times and over at least LOOP_SPAN tokens: a small base model that does this never gets out."""
    for period in range(1, LOOP_PERIOD + 1):
        repeats = max(3, -(-LOOP_SPAN // period))
        if len(tokens) < period * repeats:
            break
        tail = tokens[-period:]
        if all(tokens[-(i + 1) * period:len(tokens) - i * period] == tail for i in range(1, repeats)):
            return True
    return False


class OutputHead:
    """The output layer restricted to `ids` (all ids when None): logits for the allowed tokens only,
    with the model's final logit soft-capping when it has one; `shortlist` > 0 makes greedy choices
    from that many int8-scored candidates (CPU only)."""

    def __init__(self, net: PreTrainedModel, ids: torch.Tensor | None, shortlist: int = 0) -> None:
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
        self.shortlist = min(shortlist, weight.shape[0])
        self._int8 = Int8Scores(self.linear) if self.shortlist else None

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        logits = self.linear(hidden).float()
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits

    def greedy(self, hidden: torch.Tensor) -> torch.Tensor:
        """The column of each row's highest logit (on the shortlist, without soft-capping: it keeps the order)."""
        if self._int8 is None:
            return self(hidden).argmax(dim=-1)
        candidates = self._int8(hidden).topk(self.shortlist, dim=-1).indices
        exact = torch.einsum("bd,bkd->bk", hidden, self.linear.weight[candidates])
        if self.linear.bias is not None:
            exact = exact + self.linear.bias[candidates]
        return candidates.gather(1, exact.argmax(dim=-1, keepdim=True)).squeeze(1)

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
        self.prefill_rows = PREFILL_ROWS

    @torch.inference_mode()
    def run(self, prompts: Sequence[Sequence[int]], params: DecodingParams) -> list[Decoded]:
        n = len(prompts)
        shared = _shared_prefix_length(prompts)
        prefix = self._prefix_cache(tuple(prompts[0][:shared]))
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
        hidden, cache = self._prefill(prefix, ids, mask, positions)
        next_position = positions[:, -1] + 1
        for _ in range(params.max_tokens):
            columns = self.head.greedy(hidden) if generator is None else _sample(self.head(hidden), params, generator)
            tokens = self.head.token_ids(columns)
            keep = []
            for j, (row, token) in enumerate(zip(rows, tokens.tolist(), strict=True)):
                decoded = out[row]
                decoded.tokens.append(token)
                if token in self.eos_ids or stop_hit(decoded.tokens):
                    decoded.stopped = True
                elif looping(decoded.tokens):
                    decoded.looped = True
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

    def _prefill(self, prefix: DynamicCache, ids, mask, positions) -> tuple[torch.Tensor, DynamicCache]:
        """The rows' own prompt tokens after the shared prefix, `prefill_rows` rows at a time: one big pass
        spends its time moving activations too large for the CPU's caches (16 rows at a time prefilled
        demo prompts about 20% faster than 64). Returns each row's last hidden state and the batch's cache."""
        hidden, parts = [], []
        for start in range(0, ids.shape[0], self.prefill_rows):
            rows = slice(start, start + self.prefill_rows)
            part = copy.deepcopy(prefix)
            part.batch_repeat_interleave(ids[rows].shape[0])
            hidden.append(self._forward(ids[rows], mask[rows], positions[rows], part))
            parts.append(part)
        if len(parts) > 1:  # every part holds the same positions: join the rows
            for i, layer in enumerate(parts[0].layers):
                layer.keys = torch.cat([p.layers[i].keys for p in parts])
                layer.values = torch.cat([p.layers[i].values for p in parts])
        return torch.cat(hidden), parts[0]

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


class Int8Scores:
    """`linear`'s outputs from per-row int8 weights and dynamically quantized inputs (torch's fbgemm
    kernels, as `quantize_dynamic` with `per_channel_dynamic_qconfig` computes them; the API warns of
    its future removal, and torch is pinned). The weights are packed once: building the module that
    `quantize_dynamic` returns packs a zero matrix of the same size first, 40% of this step's time."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        from torch.ao.quantization import per_channel_dynamic_qconfig

        weight = linear.weight.detach().float()
        bias = linear.bias.detach().float() if linear.bias is not None else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            observer = per_channel_dynamic_qconfig.weight()
            observer(weight)
            scale, zero_point = observer.calculate_qparams()
            quantized = torch.quantize_per_channel(weight, scale.double(), zero_point.long(), observer.ch_axis,
                                                   torch.qint8)
            self._packed = torch.ops.quantized.linear_prepack(quantized, bias)

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(hidden, self._packed, reduce_range=True)


def _sample(logits: torch.Tensor, params: DecodingParams, generator: torch.Generator) -> torch.Tensor:
    """Column of the next token per row: a sample at the temperature within top_p."""
    probs = torch.softmax(logits / params.temperature, dim=-1)
    if params.top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        outside = sorted_probs.cumsum(dim=-1) - sorted_probs > params.top_p  # the first token always stays
        sorted_probs[outside] = 0.0
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
