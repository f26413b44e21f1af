"""Where do more CPU threads start to pay?  PALM and GMCA on X = 65 x t, t = 10^3 ... 10^6.

A fixed number of iterations (tol = 0) so every run does the same work; thread counts are interleaved for each
size (one run each) and the wall-clock seconds printed as a Markdown table. Used to choose the command line's
default thread rule (``semiblind.cli._runtime.auto_threads``)::

    python benchmarks/threads_scaling.py --threads 1 2 --sizes 1000 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

import semiblind

ITERS = {1000: 200, 10000: 100, 100000: 30, 1000000: 10}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--sizes", type=int, nargs="+", default=sorted(ITERS))
    ap.add_argument("--methods", nargs="+", default=["palm", "gmca"])
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"cpu_count {os.cpu_count()}, load {os.getloadavg()[0]:.2f}")
    print("| method | m × t | iterations | " + " | ".join(f"{k} thr (s)" for k in args.threads) + " |")
    print("|---|---|---|" + "---|" * len(args.threads))
    for t in args.sizes:
        A = np.abs(rng.standard_normal((65, 4))).astype(np.float32)
        S = (rng.standard_normal((4, t)) * (rng.random((4, t)) < 0.2)).astype(np.float32)
        X = A @ S + 0.01 * rng.standard_normal((65, t)).astype(np.float32)
        iters = ITERS.get(t, 10)
        for method in args.methods:
            secs = []
            for k in args.threads:
                torch.set_num_threads(k)
                t0 = time.perf_counter()
                semiblind.separate(X, 4, method=method, random_state=0, max_iter=iters, tol=0.0)
                secs.append(time.perf_counter() - t0)
            print(f"| {method} | 65 × {t} | {iters} | " + " | ".join(f"{s:.3f}" for s in secs) + " |", flush=True)


if __name__ == "__main__":
    main()
