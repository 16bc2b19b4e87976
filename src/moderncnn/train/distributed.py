"""Process-group setup for ``torchrun``: gloo on CPU, NCCL on GPU; rank 0 logs and saves."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from moderncnn.validate import parse_device


@dataclass(frozen=True)
class DistEnv:
    """This process's place: rank, world size and device."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device: str = "") -> DistEnv:
    """Join the process group ``torchrun`` describes in the environment (if any)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = parse_device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local if world > 1 else (dev.index or 0))
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    if rank:  # rank 0 narrates; the others' warnings and errors still show
        logging.getLogger("moderncnn").setLevel(logging.WARNING)
    return DistEnv(rank, world, dev)


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def all_reduce(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` summed over ranks, in place (unchanged in a single process)."""
    if dist.is_initialized():
        dist.all_reduce(tensor)
    return tensor


def broadcast(obj: object) -> object:
    """Rank 0's ``obj`` on every rank."""
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
