"""Training schedules on the LPALM paper's Table 1 protocol: schedule → wall-clock → median test NMSE(S).

Data: :func:`semiblind.experiments.lpalm_paper.paper_data` at full size (750 training mixtures of 65 × 500,
150 test mixtures; GGD β = 0.3, 30 dB), 25-layer LPALM (paper App. A initialisation). Validation (for the
best-epoch selection): 64 extra mixtures simulated on training mixing matrices with another seed. The median
test NMSE(S) after alignment on A, as in Table 1 (paper: 0.00085).

Usage: ``python benchmarks/train_schedules.py NAME [--epochs E] [--lr LR] [--batch-size B] [--lr-schedule S]
[--warmup W] [--clip-grad C] [--max-seconds T] [--threads 1] [--json-lines FILE]`` where NAME is a schedule of
:data:`semiblind.training.engine.SCHEDULES`; the flags override its values. Needs ``../shared/data/xray``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from semiblind.data.mixtures import simulate_paper_xray
from semiblind.experiments import lpalm_paper
from semiblind.training import build_model, train
from semiblind.training.engine import resolve_schedule

PAPER_LPALM_NMSE = 0.00085


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("schedule")
    for flag, typ in (("--epochs", int), ("--lr", float), ("--batch-size", int), ("--lr-schedule", str),
                      ("--warmup", float), ("--clip-grad", float), ("--max-seconds", float)):
        p.add_argument(flag, type=typ, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-valid", type=int, default=64)
    p.add_argument("--train-repeats", type=int, default=1,
                   help="R: a training set R times the paper's (each of the 750 training matrices "
                   "with R independent source draws; R = 10 is the issue's 10× larger set)")
    p.add_argument("--json-lines", default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    sched = resolve_schedule(a.schedule, epochs=a.epochs, lr=a.lr, batch_size=a.batch_size,
                             lr_schedule=a.lr_schedule, warmup=a.warmup, clip_grad=a.clip_grad)
    tr, te = lpalm_paper.paper_data(lpalm_paper.FULL, a.seed)
    if a.train_repeats > 1:  # more source draws on the same training matrices, each from its own seed
        from semiblind.data import casa
        from semiblind.data.mixtures import MixtureSet

        tr_idx, _ = casa.lpalm_split(casa.paper_mixing_matrices(None))
        extra = [simulate_paper_xray(None, 65, subset=tr_idx, rng=np.random.default_rng([a.seed, 7, r]),
                                     pixels=500, sources="ggd", beta=0.3, snr_db=30.0, progress=False)
                 for r in range(1, a.train_repeats)]
        tr = MixtureSet(X=np.concatenate([tr.X] + [e.X for e in extra]),
                        A=np.concatenate([tr.A] + [e.A for e in extra]),
                        S=np.concatenate([tr.S] + [e.S for e in extra]), meta=tr.meta)
    va = None
    if a.n_valid > 0:
        from semiblind.data import casa

        bank = casa.paper_mixing_matrices(None)
        tr_idx, _ = casa.lpalm_split(bank)
        va = simulate_paper_xray(None, 65, subset=tr_idx[: a.n_valid], rng=a.seed + 1000, pixels=500,
                                 sources="ggd", beta=0.3, snr_db=30.0, progress=False)
    torch.manual_seed(a.seed)
    model = build_model("lpalm", tr, layers=25)
    t0 = time.perf_counter()
    res = train(model, tr, va, seed=a.seed, progress=False, max_seconds=a.max_seconds, **sched)
    wall = time.perf_counter() - t0
    with torch.no_grad():
        A_l, S_l = res.model.eval()(torch.as_tensor(te.X, dtype=torch.float32))
    med = float(np.median(lpalm_paper._aligned_nmse(A_l.double().numpy(), S_l.double().numpy(), te.A, te.S)))
    row = {"schedule": a.schedule, **sched, "n_train": int(len(tr.X)), "max_seconds": a.max_seconds,
           "threads": a.threads,
           "wall_seconds": wall, "epochs_run": res.epochs_run, "best_epoch": res.best_epoch,
           "median_test_nmse_S": med, "paper": PAPER_LPALM_NMSE,
           "curve": [(r["epoch"], r.get("valid_nmse_S"), r["seconds"]) for r in res.history]}
    print(json.dumps(row))
    if a.json_lines:
        with open(a.json_lines, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
