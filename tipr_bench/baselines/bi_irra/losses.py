"""The four Bi-IRRA objectives, as plain functions on tensors so each can be checked by hand.

Total = ITC + itm_weight * A-ITM + MLM + mim_weight * D-MIM (weights 4 and 4 as published), where
ITC and A-ITM are the means over the English and target-language branches and MLM is their sum
(as in the public code).
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


@torch.no_grad()
def sample_hard_negatives(image_feat: torch.Tensor, text_feat: torch.Tensor, temperature: torch.Tensor | float,
                          pids: torch.Tensor, generator: torch.Generator | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """For each text an image of another person, and for each image a text of another person, drawn
    with probability softmax(similarity / temperature): hard negatives, as in ALBEF/X-VLM.

    Returns (image index per text, text index per image). A row with no other person in the batch
    falls back to any other sample (a weak negative beats a crash on a tiny batch)."""
    sim = (image_feat.float() @ text_feat.float().t()) / float(temperature)
    same = pids.view(-1, 1) == pids.view(1, -1)
    n = sim.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=sim.device)

    def draw(scores: torch.Tensor) -> torch.Tensor:
        weights = (F.softmax(scores, dim=1) + 1e-5).masked_fill(same, 0)
        empty = weights.sum(dim=1) == 0
        if empty.any():
            weights[empty] = (~eye[empty]).float() if n > 1 else 1.0
        return torch.multinomial(weights, 1, generator=generator).squeeze(1)

    return draw(sim.t()), draw(sim)


def itm_loss(pos_logits: torch.Tensor, neg_logits: torch.Tensor) -> torch.Tensor:
    """2-way cross-entropy: matched pairs are class 1, negatives class 0."""
    logits = torch.cat([pos_logits, neg_logits])
    labels = torch.cat([
        torch.ones(pos_logits.shape[0], dtype=torch.long, device=logits.device),
        torch.zeros(neg_logits.shape[0], dtype=torch.long, device=logits.device),
    ])
    return F.cross_entropy(logits.float(), labels)


def mlm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over masked positions; label -100 marks padding."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100)


def d_mim_loss(teacher: torch.Tensor, student: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """1 - cosine(student, stop-gradient teacher), averaged over tokens (optionally only where mask
    is true)."""
    cos = F.cosine_similarity(student.float(), teacher.detach().float(), dim=-1)
    loss = 1 - cos
    if mask is None:
        return loss.mean()
    mask = mask.to(loss.dtype)
    return (loss * mask).sum() / mask.sum().clamp(min=1)


def total_loss(parts: dict[str, torch.Tensor], itm_weight: float, mim_weight: float) -> torch.Tensor:
    return parts["itc"] + itm_weight * parts["itm"] + parts["mlm"] + mim_weight * parts["mim"]
