"""PALM benchmarks (issue #4).

1. Time per PALM iteration on a 65 × 16,384 problem (4 sources, float32, 2 threads) versus the time of
   the matrix products one iteration needs: AᵀX (n·m·t), (AᵀA)S (n²·t), SSᵀ (n²·t) and XSᵀ (m·n·t). Aim:
   ratio ≤ 1.5.
2. ``--xray``: iterations to convergence of PALM at a good λ on the papers' Chandra/Cas A spectra
   (``../shared/data/xray/chandra_casa_spectra_65ch.npz``; mixing matrix i = row i of synchrotron,
   thermal, iron_1, iron_2 as columns, normalised), generalised-Gaussian sources (β = 0.3, t = 500, rows
   normalised), SNR 30 dB, tol 1e-7, float64, a few samples; λ picked by
   :func:`semiblind.solvers.palm.select_lambda` on other samples. The LPALM paper reports a median of
   about 2,000 iterations.

Usage: ``python benchmarks/bench_palm.py [--threads 2] [--iters 200] [--xray] [--samples 10]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from semiblind.mixing import add_noise
from semiblind.solvers.palm import palm, select_lambda


def _best_of(fn, repeats: int = 7) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_iteration(iters: int) -> None:
    rng = np.random.default_rng(0)
    m, n, t = 65, 4, 16384
    A = np.abs(rng.standard_normal((m, n)))
    A /= np.linalg.norm(A, axis=0)
    S = rng.standard_normal((n, t)) * (rng.random((n, t)) < 0.1)
    X = torch.as_tensor(A @ S + 0.01 * rng.standard_normal((m, t)), dtype=torch.float32)[None]
    At = torch.as_tensor(A, dtype=torch.float32)[None]
    St = torch.as_tensor(S, dtype=torch.float32)[None]
    palm(X, n, 0.01, A0=A, max_iter=5, tol=0.0, record_history=False)  # warm-up

    def products() -> None:
        for _ in range(iters):
            AtX = At.mT @ X
            _ = (At.mT @ At) @ St + AtX
            _ = St @ St.mT
            _ = X @ St.mT

    t_prod = _best_of(products) / iters
    t_palm = _best_of(lambda: palm(X, n, 0.01, A0=A, max_iter=iters, tol=0.0, record_history=False)) / iters
    t_hist = _best_of(lambda: palm(X, n, 0.01, A0=A, max_iter=iters, tol=0.0, record_history=True)) / iters
    print(f"65 x 16384, n=4, float32, {torch.get_num_threads()} thread(s), {iters} iterations")
    print(f"  matrix products of one iteration: {t_prod * 1e3:7.3f} ms")
    print(f"  PALM iteration (no history):      {t_palm * 1e3:7.3f} ms  ratio {t_palm / t_prod:.2f}")
    print(f"  PALM iteration (with history):    {t_hist * 1e3:7.3f} ms  ratio {t_hist / t_prod:.2f}")


def _ggd_sources(rng: np.random.Generator, count: int, n: int, t: int) -> np.ndarray:
    from scipy.stats import gennorm

    S = gennorm.rvs(0.3, size=(count, n, t), random_state=rng)
    return S / np.linalg.norm(S, axis=-1, keepdims=True)


def bench_xray(samples: int, max_iter: int, n_lambdas: int) -> None:
    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "xray" / "chandra_casa_spectra_65ch.npz"
    if not path.is_file():
        print(f"skipped: {path} not found")
        return
    with np.load(path, allow_pickle=False) as d:
        fams = [np.asarray(d[k], dtype=float) for k in ("synchrotron", "thermal", "iron_1", "iron_2")]
    rng = np.random.default_rng(2022)
    total = 2 * samples
    rows = rng.choice(min(len(f) for f in fams), size=total, replace=False)
    A = np.stack([np.stack([f[i] for f in fams], axis=1) for i in rows])  # (2N, 65, 4)
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    S = _ggd_sources(rng, total, 4, 500)
    X, _ = add_noise(A @ S, 30.0, rng)
    A0 = A[:samples].mean(0)  # start: the mean training matrix
    A0 /= np.linalg.norm(A0, axis=0)
    t0 = time.perf_counter()
    sel = select_lambda(X[:samples], S[:samples], 4, np.logspace(-3.5, -1.5, n_lambdas), A_train=A[:samples], A0=A0,
                        max_iter=max_iter, tol=1e-7, dtype="float64")
    t_sel = time.perf_counter() - t0
    print(f"select_lambda on {samples} training samples ({t_sel:.0f} s): best λ = {sel.best_lambda:.3g}")
    for lam, med, it in zip(sel.lambdas, sel.median_nmse, sel.median_iterations):
        print(f"  λ = {lam:9.3g}  median NMSE(S) = {med:9.3g} ({10 * np.log10(med):6.1f} dB)  "
              f"median iterations = {it:6.0f}")
    t0 = time.perf_counter()
    res = palm(X[samples:], 4, sel.best_lambda, A0=A0, max_iter=max_iter, tol=1e-7, dtype="float64",
               record_history=False)
    it = res.n_iter.numpy()
    print(f"test samples ({samples}, {time.perf_counter() - t0:.0f} s): iterations median {np.median(it):.0f}, "
          f"min {it.min()}, max {it.max()}, converged {int(res.converged.sum())}/{samples}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--xray", action="store_true")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--max-iter", type=int, default=10000)
    ap.add_argument("--n-lambdas", type=int, default=9)
    ap.add_argument("--skip-iteration", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not args.skip_iteration:
        bench_iteration(args.iters)
    if args.xray:
        bench_xray(args.samples, args.max_iter, args.n_lambdas)


if __name__ == "__main__":
    main()
