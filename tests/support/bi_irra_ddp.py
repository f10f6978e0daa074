"""What each process of the 2-process DDP test runs (gloo on CPU, the micro config), and the
synthetic global batch both the DDP run and the single-process run train on."""

from __future__ import annotations

import os
import random

import torch
import torch.distributed as dist

from tests.support.bi_irra_micro import MICRO
from tipr_bench.baselines.bi_irra.masking import blockwise_mask, mask_tokens
from tipr_bench.baselines.bi_irra.model import BiIRRA, TrainBatch
from tipr_bench.baselines.bi_irra.optimizer import param_groups

GLOBAL_BATCH = 8
STEPS = 3
PARTS = ("itc", "itm", "mlm", "mim", "loss")


def global_batch(seed: int = 0) -> TrainBatch:
    """Eight distinct persons with captions of varied length; one image mask for the whole batch."""
    gen = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    rows, ids, att = [], torch.full((GLOBAL_BATCH, 12), 1), torch.zeros(GLOBAL_BATCH, 12, dtype=torch.long)
    for i in range(GLOBAL_BATCH):
        n = 6 + i % 5
        row = [0, *torch.randint(5, MICRO.vocab_size - 1, (n - 2,), generator=gen).tolist(), 2]
        ids[i, :n], att[i, :n] = torch.tensor(row), 1
        rows.append(mask_tokens(row + [1] * (12 - n), special_ids={0, 1, 2}, mask_id=MICRO.vocab_size - 1,
                                vocab_size=MICRO.vocab_size, rng=rng, max_masks=MICRO.mlm_max_masks))
    mask = blockwise_mask(MICRO.grid, MICRO.image_mask_ratio, rng)
    stack = lambda f: torch.stack([getattr(m, f) for m in rows])  # noqa: E731
    return TrainBatch(
        images=torch.randn(GLOBAL_BATCH, 3, *MICRO.image_size, generator=gen),
        patch_mask=mask.expand(GLOBAL_BATCH, -1).clone(), pids=torch.arange(GLOBAL_BATCH),
        en_ids=ids, en_att=att, tg_ids=ids.clone(), tg_att=att.clone(), en_mlm_ids=stack("ids"),
        en_mlm_pos=stack("positions"), en_mlm_labels=stack("labels"), tg_mlm_ids=stack("ids"),
        tg_mlm_pos=stack("positions"), tg_mlm_labels=stack("labels"),
    )


def share(batch: TrainBatch, rank: int, world: int) -> TrainBatch:
    per = len(batch) // world
    return TrainBatch(**{k: v[rank * per:(rank + 1) * per] for k, v in vars(batch).items()})


def fresh_model() -> BiIRRA:
    torch.manual_seed(0)
    return BiIRRA(MICRO.with_overrides(attn_dropout=0.0, dropout=0.0, drop_path=0.0))


def itc_gradient(model: BiIRRA, batch: TrainBatch) -> dict[str, torch.Tensor]:
    model.zero_grad()
    model(batch)["itc"].backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    return grads


def train_steps(model: BiIRRA, net: torch.nn.Module, batch: TrainBatch) -> dict:
    """STEPS AdamW steps on the full loss: each step's loss parts and the final weights."""
    optimizer = torch.optim.AdamW(param_groups(model, 0.02), lr=1e-3)
    losses = []
    for _ in range(STEPS):
        parts = net(batch)
        parts["loss"].backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append({k: float(parts[k].detach()) for k in PARTS})
    return {"losses": losses, "state": {k: v.clone() for k, v in model.state_dict().items()}}


def worker(rank: int, world: int, port: int, out: str) -> None:
    """One DDP process: the ITC gradient averaged as DDP averages it, then DDP training steps."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(100 + rank)  # each rank its own hard-negative draws, as in a real run
    mine = share(global_batch(), rank, world)
    itc_grad = itc_gradient(fresh_model(), mine)
    for grad in itc_grad.values():  # averaged over ranks, as DDP averages
        dist.all_reduce(grad)
        grad /= world
    ddp = torch.nn.parallel.DistributedDataParallel(fresh_model())
    result = {**train_steps(ddp.module, ddp, mine), "itc_grad": itc_grad}
    torch.save(result, os.path.join(out, f"rank{rank}.pt"))
    dist.destroy_process_group()


class _ReferenceAllGather(torch.autograd.Function):
    """The reference's gather (models/xvlm.py:146 AllGather), restated from its behaviour: every
    rank's features forward, only this rank's own slice of the gradient backward."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        ctx.rank, ctx.size = dist.get_rank(), tensor.shape[0]
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad[ctx.rank * ctx.size:(ctx.rank + 1) * ctx.size]


def reference_gather(tensor: torch.Tensor) -> torch.Tensor:
    if not tensor.requires_grad:
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)
    return _ReferenceAllGather.apply(tensor)


def balance_model(**overrides) -> BiIRRA:
    torch.manual_seed(0)
    return BiIRRA(MICRO.with_overrides(attn_dropout=0.0, dropout=0.0, drop_path=0.0, **overrides))


def itc_gradient_and_parts(net: torch.nn.Module, model: BiIRRA, batch: TrainBatch) -> dict:
    """ITC's gradient alone (the other parts enter at weight 0 so that DDP sees every parameter) and
    the loss parts of the same forward pass."""
    model.zero_grad()
    parts = net(batch)
    (parts["itc"] + 0.0 * parts["loss"]).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    return {"grad": grads, "parts": {k: float(parts[k].detach()) for k in PARTS}}


def balance_worker(rank: int, world: int, port: int, out: str) -> None:
    """ITC's DDP gradient two ways: tipr-bench's default (itc_balance "reference", one reference rank
    per process) and the reference's own mechanism (its slice-only gather, no rescaling)."""
    from tipr_bench.baselines.bi_irra import model as model_module

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    mine = share(global_batch(), rank, world)
    ours = balance_model(itc_balance="reference", rank_batch=0)
    result = {"ours": itc_gradient_and_parts(torch.nn.parallel.DistributedDataParallel(ours), ours, mine)}
    model_module.gather_across_ranks = reference_gather  # this spawned process only
    theirs = balance_model(itc_balance="full", rank_batch=0)
    result["reference"] = itc_gradient_and_parts(torch.nn.parallel.DistributedDataParallel(theirs), theirs, mine)
    torch.save(result, os.path.join(out, f"balance{rank}.pt"))
    dist.destroy_process_group()
