"""The four Bi-IRRA objectives, as plain functions on tensors so each can be checked by hand.

Total = ITC + itm_weight * A-ITM + MLM + mim_weight * D-MIM (weights 4 and 4 as published), where
ITC and A-ITM are the means over the English and target-language branches and MLM is their sum
(as in the public code).

`groups` (one id per sample) are the reference's GPUs, real or virtual: hard negatives are drawn
within a sample's group, and A-ITM, MLM and D-MIM are each group's mean, averaged over the groups,
as DDP averages the reference's per-GPU losses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def itc_loss(image_feat: torch.Tensor, text_feat: torch.Tensor, temperature: torch.Tensor | float,
             pids: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE over L2-normalised features. With person ids, every pair of the same
    person is a positive and the target distribution spreads evenly over them."""
    logits = image_feat @ text_feat.t() / temperature
    if pids is None:
        labels = torch.arange(logits.shape[0], device=logits.device)
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
    positives = (pids.view(-1, 1) == pids.view(1, -1)).float()
    targets = positives / positives.sum(dim=1, keepdim=True)
    i2t = -(F.log_softmax(logits, dim=1) * targets).sum(dim=1).mean()
    t2i = -(F.log_softmax(logits.t(), dim=1) * targets).sum(dim=1).mean()
    return (i2t + t2i) / 2


def group_mean(values: torch.Tensor, groups: torch.Tensor | None) -> torch.Tensor:
    """Mean of each group's mean (the plain mean without groups); empty groups do not count."""
    if groups is None or values.numel() == 0:
        return values.mean()
    count = torch.zeros(int(groups.max()) + 1, device=values.device).index_add_(0, groups, torch.ones_like(values))
    total = torch.zeros_like(count).index_add_(0, groups, values)
    present = count > 0
    return (total[present] / count[present]).mean()


@torch.no_grad()
def sample_hard_negatives(image_feat: torch.Tensor, text_feat: torch.Tensor, temperature: torch.Tensor | float,
                          pids: torch.Tensor, generator: torch.Generator | None = None,
                          groups: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """For each text an image of another person, and for each image a text of another person, drawn
    with probability softmax(similarity / temperature) + 1e-5 within the sample's group: hard
    negatives, as in ALBEF/X-VLM (the reference's softmax runs over its GPU's batch).

    Returns (image index per text, text index per image). A row with no other person in its group
    falls back to any other sample of the group (a weak negative beats a crash on a tiny batch)."""
    sim = (image_feat.float() @ text_feat.float().t()) / float(temperature)
    n = sim.shape[0]
    apart = torch.zeros(n, n, dtype=torch.bool, device=sim.device) if groups is None else \
        groups.view(-1, 1) != groups.view(1, -1)
    excluded = (pids.view(-1, 1) == pids.view(1, -1)) | apart
    eye = torch.eye(n, dtype=torch.bool, device=sim.device)

    def draw(scores: torch.Tensor) -> torch.Tensor:
        weights = (F.softmax(scores.masked_fill(apart, float("-inf")), dim=1) + 1e-5).masked_fill(excluded, 0)
        empty = weights.sum(dim=1) == 0
        if empty.any():
            fallback = (~eye & ~apart)[empty].float()
            lone = fallback.sum(dim=1) == 0
            fallback[lone] = (~eye[empty][lone]).float() if n > 1 else 1.0
            weights[empty] = fallback
        return torch.multinomial(weights, 1, generator=generator).squeeze(1)

    return draw(sim.t()), draw(sim)


def itm_loss(pos_logits: torch.Tensor, neg_logits: torch.Tensor, groups: torch.Tensor | None = None) -> torch.Tensor:
    """2-way cross-entropy: matched pairs are class 1, negatives class 0 (neg_logits: two per
    sample, in two blocks of the batch's order)."""
    logits = torch.cat([pos_logits, neg_logits])
    labels = torch.cat([
        torch.ones(pos_logits.shape[0], dtype=torch.long, device=logits.device),
        torch.zeros(neg_logits.shape[0], dtype=torch.long, device=logits.device),
    ])
    rows = F.cross_entropy(logits.float(), labels, reduction="none")
    return group_mean(rows, None if groups is None else groups.repeat(3))


def mlm_loss(logits: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy over masked positions ([B, M]); label -100 marks padding. With groups, each
    group's mean over its own masked tokens, as each reference GPU averages its own."""
    rows = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100,
                           reduction="none")
    kept = labels.reshape(-1) != -100
    token_groups = None if groups is None else groups.view(-1, 1).expand_as(labels).reshape(-1)[kept]
    return group_mean(rows[kept], token_groups)


def d_mim_loss(teacher: torch.Tensor, student: torch.Tensor, mask: torch.Tensor | None = None,
               groups: torch.Tensor | None = None) -> torch.Tensor:
    """1 - cosine(student, stop-gradient teacher), averaged over tokens (optionally only where mask
    is true; with groups, per group, then over groups)."""
    cos = F.cosine_similarity(student.float(), teacher.detach().float(), dim=-1)
    loss = 1 - cos
    if mask is None:
        return group_mean(loss.mean(dim=-1), groups)
    mask = mask.to(loss.dtype)
    return (loss * mask).sum() / mask.sum().clamp(min=1)


def total_loss(parts: dict[str, torch.Tensor], itm_weight: float, mim_weight: float) -> torch.Tensor:
    return parts["itc"] + itm_weight * parts["itm"] + parts["mlm"] + mim_weight * parts["mim"]
