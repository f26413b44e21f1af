"""``semiblind train ... --workers N``: the same command in N local data-parallel processes.

The command line is run again (without ``--workers``) as N processes ``python -m semiblind train ...``, each with
the environment torchrun would give it (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR=127.0.0.1``, a free
``MASTER_PORT``: :func:`semiblind.training.distributed.local_worker_env`); each joins the process group from it
(:mod:`semiblind.training.distributed`). Started directly rather than under ``torch.distributed.run`` so that an
error stays one line with exit code 2 (torchrun reports a failed worker with its own traceback and exit code 1):
the first process to fail has printed its sentence; the others are then stopped. On a cluster start torchrun
yourself (``docs/distributed.md``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
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
    """Run the command in ``args.workers`` local processes and return 0 when all succeed, 2 when one fails
    (after stopping the others); None when this process should train itself (no ``--workers``, ``--workers 1``,
    or already inside a data-parallel process)."""
    workers = getattr(args, "workers", None)
    if workers is None or in_distributed_run():
        return None
    if workers < 1:
        raise ValueError(f"--workers must be a positive integer; got {workers}.")
    if workers == 1:
        return None
    from ..training.distributed import free_port, local_worker_env

    argv = getattr(args, "command_line", None)
    if not argv:
        raise ValueError("--workers needs the command line to relaunch; call semiblind.cli.main(argv).")
    port = free_port()
    base = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    cmd = [sys.executable, "-m", "semiblind", *without_workers(argv)]
    procs = [subprocess.Popen(cmd, env={**base, **local_worker_env(r, workers, port)}) for r in range(workers)]
    try:
        while True:
            codes = [p.poll() for p in procs]
            failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                for p in procs:
                    if p.poll() is None:
                        p.terminate()
                for p in procs:
                    p.wait()
                rank, code = failed[0]
                if code < 0:  # killed by a signal: it could not say why itself
                    print(f"semiblind {getattr(args, 'verb', 'train')}: error: worker process {rank} of {workers} "
                          f"ended with signal {-code}.", file=sys.stderr)
                return 2
            if all(c == 0 for c in codes):
                return 0
            time.sleep(0.1)
    except BaseException:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        raise


__all__ = ["add_workers", "in_distributed_run", "relaunch", "without_workers"]
