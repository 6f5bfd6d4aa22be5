"""Distributed training through ``torchrun`` (DDP): process group set-up and small helpers.

Under ``torchrun --nproc_per_node N`` each process reads ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; the backend is NCCL on CUDA and gloo on CPU. Without those variables
training runs in one process and every helper is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as tdist

from pano.device import resolve_device


@dataclass
class DistInfo:
    """Where this process sits in the job."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    initialized: bool = False

    @property
    def is_main(self) -> bool:
        """True on rank 0 (the only rank that writes checkpoints, logs and predictions)."""
        return self.rank == 0


def init_distributed(device_spec: str) -> DistInfo:
    """Resolve the device and join the process group when launched by ``torchrun``.

    Raises:
        DeviceError: CUDA requested but unavailable.

    """
    device = resolve_device(device_spec)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(device=device)
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local % torch.cuda.device_count())
        torch.cuda.set_device(device)
    if not tdist.is_initialized():
        tdist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank, world, local, device, True)


def shutdown(info: DistInfo, clean: bool = True) -> None:
    """Leave the process group (if this process joined one).

    After a clean run (``clean``) every rank first waits at a barrier, so no collective is
    still in flight and all ranks tear the group down together: a rank that destroys its
    gloo connections while a peer is still using them can abort the peer at exit. After an
    error the barrier is skipped (the other ranks may never reach it).
    """
    if info.initialized and tdist.is_initialized():
        if clean:
            tdist.barrier()
        tdist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait for every rank."""
    if info.initialized:
        tdist.barrier()


def all_mean(info: DistInfo, x: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over ranks (a copy; ``x`` unchanged)."""
    if not info.initialized:
        return x.clone()
    y = x.clone()
    tdist.all_reduce(y, op=tdist.ReduceOp.SUM)
    return y / info.world


def all_gather_cat(info: DistInfo, x: torch.Tensor) -> torch.Tensor:
    """Concatenate equally shaped tensors of all ranks along dim 0 (rank order)."""
    if not info.initialized:
        return x
    parts = [torch.empty_like(x) for _ in range(info.world)]
    tdist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


def broadcast_object(info: DistInfo, obj: object) -> object:
    """Send a picklable object from rank 0 to all ranks."""
    if not info.initialized:
        return obj
    box = [obj]
    tdist.broadcast_object_list(box, src=0)
    return box[0]
