"""sGMCA timings (issue: one exact projection of four spectra; a full run on 75 × 346²; fast-only vs exact SAD gap).

Uses the shipped ``iae-sgmca75-*`` models and the sGMCA paper's mixtures (:func:`semiblind.experiments.sgmca_paper.
make_mixtures`). Prints one JSON line. ``python benchmarks/sgmca_timing.py [--size 346] [--runs 1] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from semiblind.estimators.sgmca import SGMCA
from semiblind.experiments.sgmca_paper import make_mixtures
from semiblind.metrics import evaluate
from semiblind.priors.iae import exact_projection
from semiblind.training.iae import load_iae


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=346)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--gap-runs", type=int, default=6)
    ap.add_argument("--gap-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    names = [f"iae-sgmca75-{f}" for f in ("synchrotron", "thermal", "line", "line")]
    nets = [load_iae(n) for n in names]
    d = make_mixtures(max(args.runs, 1), size=args.size, snr=40.0, delta=16, k=1.0, seed=5, data_path=None)
    four = torch.as_tensor(d["A"][0].T, dtype=torch.float32)
    best = {}
    for method in ("gauss-newton", "lbfgs", "adam"):
        t_best, err = np.inf, None
        for _ in range(3):
            t = time.perf_counter()
            out = [exact_projection(nets[j], four[j:j + 1], method=method, max_iter=100 if method != "gauss-newton"
                                    else 30)[0] for j in range(4)]
            t_best = min(t_best, time.perf_counter() - t)
        p = torch.cat(out)
        err = float(((p - four) ** 2).sum())
        best[method] = {"seconds_4_spectra": t_best, "residual": err}
    res = {"exact_projection": best}
    X = d["X"].reshape(-1, 75, args.size, args.size)
    secs, sads = [], []
    for b in range(args.runs):
        t = time.perf_counter()
        est = SGMCA(n_sources=4, models=names).fit(X[b])
        secs.append(time.perf_counter() - t)
        sads.append(evaluate(est.mixing_, est.sources_.reshape(4, -1), d["A"][b], d["S"][b])["sad_db_A"])
    res["full_run"] = {"size": args.size, "seconds": secs, "sad_db": sads, "n_iter": int(est.n_iter_),
                       "threads": args.threads}
    g = make_mixtures(args.gap_runs, size=args.gap_size, snr=40.0, delta=16, k=1.0, seed=6, data_path=None)
    Xg = g["X"].reshape(-1, 75, args.gap_size, args.gap_size)
    gap = {}
    for proj in ("exact", "fast"):
        t = time.perf_counter()
        est = SGMCA(n_sources=4, models=names, projection=proj).fit_batch(Xg)
        r = evaluate(est.mixing_, est.sources_.reshape(len(Xg), 4, -1), g["A"], g["S"])
        gap[proj] = {"median_sad_db": float(np.median(r["sad_db_A"])), "per_run": r["sad_db_A"].tolist(),
                     "seconds": time.perf_counter() - t}
    res["fast_vs_exact"] = gap
    print(json.dumps(res))


if __name__ == "__main__":
    main()
