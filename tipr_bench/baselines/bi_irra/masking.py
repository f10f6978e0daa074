"""The two masks of Bi-IRRA: MLM token masking (rate 0.4, at most 12, with short spans) and
BEiT-style blockwise image masking (50% of the patches, in rectangles)."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch


def blockwise_mask(grid: tuple[int, int], ratio: float, rng: random.Random, min_block: int = 4,
                   min_aspect: float = 0.3) -> torch.Tensor:
    """Bool [H*W] with exactly round(ratio*H*W) True patches, laid down as random rectangles.

    Rectangles of random area and aspect are placed until the budget is met (BEiT's scheme); if
    placement stalls on a nearly full grid, the remainder is filled patch by patch next to masked
    ones, so the ratio is exact and the mask stays blocky.
    """
    gh, gw = grid
    target = int(round(ratio * gh * gw))
    mask = torch.zeros(gh, gw, dtype=torch.bool)
    log_aspect = (math.log(min_aspect), math.log(1 / min_aspect))
    count, stalls = 0, 0
    while count < target and stalls < 20:
        budget = target - count
        area = rng.uniform(min(min_block, budget), budget)
        aspect = math.exp(rng.uniform(*log_aspect))
        h = max(1, min(gh, int(round(math.sqrt(area * aspect)))))
        w = max(1, min(gw, int(round(math.sqrt(area / aspect)))))
        top, left = rng.randint(0, gh - h), rng.randint(0, gw - w)
        fresh = h * w - int(mask[top:top + h, left:left + w].sum())
        if 0 < fresh <= budget:
            mask[top:top + h, left:left + w] = True
            count += fresh
            stalls = 0
        else:
            stalls += 1
    while count < target:
        free = (~mask).nonzero().tolist()
        near = [(i, j) for i, j in free if any(
            0 <= i + di < gh and 0 <= j + dj < gw and mask[i + di, j + dj]
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)))]
        i, j = rng.choice(near or free)
        mask[i, j] = True
        count += 1
    return mask.flatten()


@dataclass(frozen=True)
class MaskedText:
    ids: torch.Tensor  # [L] with masked tokens replaced
    positions: torch.Tensor  # [max_masks] positions of the masked tokens (0-padded)
    labels: torch.Tensor  # [max_masks] original ids, -100 on padding


def mask_tokens(
    ids: Sequence[int], *, special_ids: set[int], mask_id: int, vocab_size: int, rng: random.Random,
    prob: float = 0.4, max_masks: int = 12, skipgram_prob: float = 0.2, skipgram_size: int = 3,
    mask_eos: bool = False,
) -> MaskedText:
    """BERT/CCLM-style MLM masking of one tokenised caption.

    min(max_masks, max(1, round(prob * n))) tokens are chosen, with short spans (skip-grams) now and
    then; when the last span overshoots that count, the chosen set is trimmed to it at random, as
    the reference's TextMaskingGenerator does. Each chosen token becomes <mask> 80% of the time, a
    random token 10%, or stays 10%. With mask_eos (the reference's), every token but the leading <s>
    is a candidate and n counts the whole sequence; without it only non-special tokens are, and n
    counts those.
    """
    ids = list(ids)
    if mask_eos:
        candidates = list(range(1, len(ids)))
        n_pred = min(max_masks, max(1, int(round(len(ids) * prob))))
    else:
        candidates = [i for i, t in enumerate(ids) if t not in special_ids]
        n_pred = min(max_masks, max(1, int(round(len(candidates) * prob)))) if candidates else 0
    rng.shuffle(candidates)
    chosen: set[int] = set()
    candidate_set = set(candidates)
    for pos in candidates:
        if len(chosen) >= n_pred:
            break
        if pos in chosen:
            continue
        span = rng.randint(2, skipgram_size) if skipgram_size >= 2 and rng.random() < skipgram_prob else 1
        for p in range(pos, pos + span):  # a span stops at the first position that cannot be masked
            if p not in candidate_set:
                break
            chosen.add(p)
    if len(chosen) > n_pred:  # a last span may overshoot: keep n_pred of the chosen, at random
        kept = sorted(chosen)
        rng.shuffle(kept)
        chosen = set(kept[:n_pred])
    positions = sorted(chosen)
    labels = [ids[p] for p in positions]
    for p in positions:
        roll = rng.random()
        if roll < 0.8:
            ids[p] = mask_id
        elif roll < 0.9:
            ids[p] = rng.randrange(vocab_size)
    pad = max_masks - len(positions)
    return MaskedText(
        ids=torch.tensor(ids, dtype=torch.long),
        positions=torch.tensor(positions + [0] * pad, dtype=torch.long),
        labels=torch.tensor(labels + [-100] * pad, dtype=torch.long),
    )
