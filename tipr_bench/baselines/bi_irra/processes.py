"""This process's place among the training processes (torchrun sets WORLD_SIZE/RANK/LOCAL_RANK), and
the rule that a global batch splits evenly over them."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from tipr_bench.baselines.bi_irra import checkpoint as ckpt
from tipr_bench.core.errors import UserError


def check_global_batch(batch_size: int, world: int, rank_batch: int = 0) -> None:
    """The global batch splits evenly over the processes, and each share into whole reference ranks."""
    if batch_size % world or batch_size // world < 2:
        raise UserError(f"--batch-size {batch_size} is global: it must split evenly over {world} processes "
                        f"with 2+ each; pick a multiple of {world}")
    share = batch_size // world
    if rank_batch and share % rank_batch:
        raise UserError(
            f"--batch-size {batch_size} over {world} processes gives {share} each, not a multiple of rank_batch "
            f"{rank_batch} (the reference's per-GPU batch, within which negatives and image masks are drawn); "
            f"pick --batch-size {world * rank_batch * max(1, share // rank_batch)} or --set rank_batch=N with N "
            f"dividing {share} (docs/FIDELITY.md says what that changes)")


@dataclass(frozen=True)
class Processes:
    """rank of world; one process is rank 0 of 1 and never starts a process group."""

    rank: int = 0
    local_rank: int = 0
    world: int = 1

    @classmethod
    def from_env(cls) -> Processes:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        return cls(int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), world)

    @property
    def main(self) -> bool:
        """The process that validates, writes checkpoints and reports."""
        return self.rank == 0

    def join(self, device: torch.device) -> torch.device:
        """Joins the process group (nccl on CUDA, each process on its own GPU; gloo on CPU); the device to use."""
        if self.world > 1:
            if device.type == "cuda":
                device = torch.device("cuda", self.local_rank)
                torch.cuda.set_device(device)
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return device

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """The module the training step calls: DDP over several processes, else the model itself."""
        if self.world == 1:
            return model
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)

    def rng_states(self) -> list[dict]:
        """Every rank's RNG state (a collective call: every rank must make it)."""
        mine = ckpt.rng_state()
        if self.world == 1:
            return [mine]
        states: list = [None] * self.world
        dist.all_gather_object(states, mine)
        return states

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def leave(self) -> None:
        if self.world > 1:
            dist.destroy_process_group()
