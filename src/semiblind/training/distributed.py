"""Data-parallel training with ``torch.distributed`` (gloo on CPU, NCCL on CUDA).

Every process runs :func:`semiblind.training.engine.train` with the same arguments. The global shuffle is the
same on every rank (one ``torch.Generator`` per epoch from the same seed); of every global batch of ``B``
samples, rank ``r`` takes the ``r``-th contiguous slice (``numpy.array_split`` sizes: the first ``B mod W`` ranks
take one sample more). After the backward pass each rank's gradient of its **shard-mean** loss is weighted by
``b_r / B`` and summed over ranks (``all_reduce``), so every rank holds the gradient of the mean loss over the
whole global batch, i.e. the single-process gradient (up to summation order), and takes the same Adam step. This
holds for losses that are means over the batch (every built-in loss of :mod:`semiblind.training.losses`).

Only rank 0 writes the log, the checkpoint and the model files; every rank reads the checkpoint on resume.

Start: ``torchrun --nproc-per-node N -m semiblind train ...`` (or ``semiblind train ... --workers N``, which runs
torchrun on 127.0.0.1 with a free port). The process group is initialised from torchrun's environment variables
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; see ``docs/distributed.md``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistContext:
    """One process's place in a data-parallel run: ``rank`` in ``[0, world_size)``, ``local_rank`` on its node."""

    rank: int
    world_size: int
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only rank that writes files and shows progress."""
        return self.rank == 0

    def shard(self, idx: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous slice of the global batch ``idx`` (sizes as ``numpy.array_split``)."""
        B, W = int(idx.shape[0]), self.world_size
        q, r = divmod(B, W)
        lo = self.rank * q + min(self.rank, r)
        return idx[lo:lo + q + (1 if self.rank < r else 0)]

    def all_reduce_gradients(self, parameters: Sequence[torch.nn.Parameter], local: int, total: int) -> None:
        """Replace each gradient of the shard-mean loss by the global-batch-mean gradient: ``Σ_r (b_r/B) ∇_r``.

        A rank with an empty shard contributes zeros (its parameters' ``grad`` may be None)."""
        if total <= 0:
            raise ValueError(f"total must be a positive batch size; got {total}.")
        params = [p for p in parameters if p.requires_grad]
        grads = []
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
        flat = torch.cat([g.reshape(-1) for g in grads]) * (float(local) / float(total))
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset:offset + n].view_as(g))
            offset += n

    def sum_scalar(self, value: float, device: torch.device | str = "cpu") -> float:
        """The sum of ``value`` over all ranks (float64)."""
        t = torch.tensor([float(value)], dtype=torch.float64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return float(t.item())

    def broadcast_model(self, module: torch.nn.Module) -> None:
        """Copy rank 0's parameters and buffers to every rank (all ranks start from the same weights)."""
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)

    def barrier(self) -> None:
        """Wait for every rank."""
        dist.barrier()


def from_env(device: torch.device | str | None = None) -> DistContext | None:
    """A :class:`DistContext` from torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR``, ``MASTER_PORT``), initialising the default process group if needed (NCCL when ``device``
    is CUDA, gloo otherwise). None when ``WORLD_SIZE`` is unset or 1: training is single-process."""
    ws = os.environ.get("WORLD_SIZE")
    if ws is None or int(ws) <= 1:
        return None
    world_size = int(ws)
    if "RANK" not in os.environ:
        raise ValueError(f"WORLD_SIZE={world_size} is set but RANK is not; start the processes with torchrun.")
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        cuda = device is not None and torch.device(device).type == "cuda"
        dist.init_process_group(backend="nccl" if cuda else "gloo", rank=rank, world_size=world_size)
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that is free now (for ``MASTER_PORT`` of a local run)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def local_worker_env(rank: int, world_size: int, port: int, host: str = "127.0.0.1") -> dict[str, str]:
    """The environment torchrun gives process ``rank`` of ``world_size`` on one machine (``RANK``,
    ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``): what
    :func:`from_env` reads."""
    for name, v, low in (("world_size", world_size, 1), ("rank", rank, 0)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"{name} must be an int >= {low}; got {v!r}.")
    if rank >= world_size:
        raise ValueError(f"rank must be below world_size ({world_size}); got {rank}.")
    return {"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world_size),
            "LOCAL_WORLD_SIZE": str(world_size), "MASTER_ADDR": host, "MASTER_PORT": str(int(port))}


def leave_process_group() -> None:
    """Destroy the default process group if this process joined one (an exit with the group still open ends in
    ``terminate called without an active exception``, SIGABRT, on gloo)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


__all__ = ["DistContext", "free_port", "from_env", "leave_process_group", "local_worker_env"]
