"""Issue #4 closing table: every classical solver on one simulated X-ray set.

Simulates one Cas A-like cube (nonnegative sources, so the NMF family applies) with the project's X-ray simulator,
runs each method through ``semiblind.separate`` and prints NMSE(A), NMSE(S), SAD(A) in dB, iterations and seconds
after alignment (``semiblind.metrics.evaluate``).

    python benchmarks/solver_table.py [--image 64] [--snr 30] [--seed 1] [--threads 1]
"""

from __future__ import annotations

import argparse
import warnings

import torch

import semiblind
from semiblind.data import simulate_xray
from semiblind.metrics import evaluate
from semiblind.report import format_table

METHODS = {
    "palm": {"lam": 1e-3, "dtype": "float64", "max_iter": 3000},
    "gmca": {},
    "mu": {},
    "hals": {},
    "snmf": {"lam": 1e-3},
    "nmf-cd": {},
    "vca-fcls": {},
    "lpalm": {},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", type=int, default=64)
    p.add_argument("--snr", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ms = simulate_xray(1, image=(args.image, args.image), sources="casa-like", snr_db=args.snr, rng=args.seed,
                       dtype="float64")
    X, A, S = ms.X[0], ms.A[0], ms.S[0]
    rows = []
    for method, params in METHODS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = semiblind.separate(X, 4, method=method, random_state=0, **params)
        ev = evaluate(res.A, res.S, A, S)
        rows.append([method, ev["nmse_A"], ev["nmse_S"], ev["sad_db_A"], res.n_iter, round(res.seconds, 3)])
    print(f"Cas A-like cube {args.image}×{args.image}, 65 channels, 4 sources, SNR {args.snr:g} dB, "
          f"seed {args.seed}, {args.threads} thread(s)")
    print(format_table(["method", "NMSE A", "NMSE S", "SAD A (dB)", "iterations", "seconds"], rows))


if __name__ == "__main__":
    main()
