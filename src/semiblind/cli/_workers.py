"""``semiblind train ... --workers N``: the same command in N local data-parallel processes under torchrun.

The command line is run again as ``python -m torch.distributed.run --nproc-per-node N --master-addr 127.0.0.1
--master-port <free port> -m semiblind train ...`` (without ``--workers``); each process then joins the process
group from torchrun's environment (:mod:`semiblind.training.distributed`). On a cluster start torchrun yourself
(``docs/distributed.md``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
from collections.abc import Sequence
from typing import Any


def add_workers(p: argparse.ArgumentParser) -> None:
    """The ``--workers N`` option."""
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="data-parallel training in N local processes (torch.distributed: gloo on CPU, NCCL on "
                   "CUDA; each process takes its shard of every batch; the result equals one process's)")


def in_distributed_run() -> bool:
    """True inside a process started by torchrun with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1") or "1") > 1


def without_workers(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--workers N`` / ``--workers=N``."""
    out: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a == "--workers":
            skip = True
        elif not a.startswith("--workers="):
            out.append(a)
    return out


def relaunch(args: Any) -> int | None:
    """Run the command in ``args.workers`` processes and return torchrun's exit code; None when this process
    should train itself (no ``--workers``, ``--workers 1``, or already inside a torchrun process)."""
    workers = getattr(args, "workers", None)
    if workers is None or in_distributed_run():
        return None
    if workers < 1:
        raise ValueError(f"--workers must be a positive integer; got {workers}.")
    if workers == 1:
        return None
    from ..training.distributed import torchrun_command

    argv = getattr(args, "command_line", None)
    if not argv:
        raise ValueError("--workers needs the command line to relaunch; call semiblind.cli.main(argv).")
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.run(torchrun_command(workers, without_workers(argv)), env=env).returncode


__all__ = ["add_workers", "in_distributed_run", "relaunch", "without_workers"]
