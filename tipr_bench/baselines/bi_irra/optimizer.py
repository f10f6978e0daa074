"""The optimizer and its schedule (the reference's misc/build.py): AdamW over two parameter groups,
decayed and exempt, with a linear warm-up and a cosine to the end of the run."""

from __future__ import annotations

import torch

from tipr_bench.baselines.bi_irra.config import BiIrraConfig
from tipr_bench.baselines.bi_irra.schedule import WarmupCosine

NO_DECAY_NAMES = ("cls_token", "mask_token", "pos_embed", "temp", "relative_position_bias_table")


def decay_split(model: torch.nn.Module, rule: str = "reference") -> tuple[list[str], list[str]]:
    """(decayed, exempt) parameter names. "reference" (misc/build.py build_optimizer): no decay for
    0/1-d tensors (LayerNorms, layer scales, the temperature) and for every name containing 'bias',
    which takes in BEiT's relative_position_bias_table and q_bias/v_bias; decay on everything else,
    cls/mask tokens and the text position table included. "matrices": also no decay on those tokens
    and tables."""
    decay, exempt = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        free = param.ndim < 2 or "bias" in name
        if rule == "matrices":
            free = free or name.endswith(NO_DECAY_NAMES)
        (exempt if free else decay).append(name)
    return decay, exempt


def param_groups(model: torch.nn.Module, weight_decay: float, rule: str = "reference") -> list[dict]:
    """AdamW groups by `decay_split`."""
    params = dict(model.named_parameters())
    decay, exempt = decay_split(model, rule)
    return [{"params": [params[n] for n in decay], "weight_decay": weight_decay},
            {"params": [params[n] for n in exempt], "weight_decay": 0.0}]


def build_optimizer(model: torch.nn.Module, config: BiIrraConfig, steps_per_epoch: int,
                    device: torch.device) -> tuple[torch.optim.AdamW, WarmupCosine]:
    """AdamW and its per-step schedule over `config.epochs` epochs of `steps_per_epoch` optimizer steps."""
    # fused on CPU: one kernel over all parameters instead of a loop of small ops (the tiny config's step)
    optimizer = torch.optim.AdamW(param_groups(model, config.weight_decay, config.weight_decay_on), lr=config.lr,
                                  betas=config.betas, eps=config.eps, fused=device.type == "cpu")
    schedule = WarmupCosine(optimizer, total=steps_per_epoch * config.epochs,
                            warmup=round(config.warmup_epochs * steps_per_epoch), lr=config.lr,
                            lr_start=config.lr_start, lr_end=config.lr_end)
    return optimizer, schedule
