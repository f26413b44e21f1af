"""Time per GMCA iteration versus the time of the matrix products one iteration needs.

Problem: m = 65 channels, t = 16,384 pixels, n = 4 sources (generalised-Gaussian β = 0.3, Gaussian-shaped
spectra, 30 dB), J = 3 starlet scales, so the detail coefficients hold N = J·t = 49,152 columns.

- Iteration time: ``gmca`` run with ``tol = 0`` for ``hi`` and ``lo`` iterations;
  (time_hi − time_lo)/(hi − lo) cancels the one-off costs (starlet transform, PCA initialisation, final
  estimate). Both runs are past the support-fraction ramp (``n_ramp`` = 5), so every timed iteration is a
  full reweighted one.
- Matrix products of one iteration: ``A⁺ X_w`` (n×m by m×N), ``X_w S_wᵀ`` (m×N by N×n) and ``S_w S_wᵀ``
  (n×N by N×n), on tensors of the same shapes and dtype.

Usage: ``python benchmarks/bench_gmca.py [--threads 1] [--device cpu] [--repeats 5]``. Prints one table.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import scipy.stats
import torch

from semiblind.mixing import add_noise
from semiblind.solvers.base import ConvergenceWarning
from semiblind.solvers.gmca import gmca
from semiblind.transforms import starlet_forward


def _problem(m: int, n: int, t: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    S = scipy.stats.gennorm.rvs(0.3, size=(n, t), random_state=rng)
    e = np.linspace(0.0, 1.0, m)
    centres, widths = rng.uniform(0.1, 0.9, n), rng.uniform(0.1, 0.3, n)
    A = np.exp(-0.5 * ((e[:, None] - centres) / widths) ** 2)
    A /= np.linalg.norm(A, axis=0)
    X, _ = add_noise(A @ S, 30.0, rng)
    return X


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _best_time(fn, repeats: int, device: torch.device) -> float:
    fn()
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--lo", type=int, default=10)
    ap.add_argument("--hi", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    m, n, t, J = 65, 4, 16384, 3
    X = torch.as_tensor(_problem(m, n, t), dtype=torch.float32, device=device).unsqueeze(0)

    def run(iters: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gmca(X, n, n_scales=J, max_iter=iters, tol=0.0, n_ramp=5)

    t_lo = _best_time(lambda: run(args.lo), args.repeats, device)
    t_hi = _best_time(lambda: run(args.hi), args.repeats, device)
    per_iter = (t_hi - t_lo) / (args.hi - args.lo)

    Xw, _ = starlet_forward(X, J)
    Xw = Xw.reshape(1, m, J * t)
    pinvA = torch.randn(1, n, m, device=device)
    S_w = torch.randn(1, n, J * t, device=device)

    def products() -> None:
        pinvA @ Xw
        Xw @ S_w.mT
        S_w @ S_w.mT

    t_mm = _best_time(lambda: [products() for _ in range(10)], args.repeats, device) / 10
    print(f"GMCA iteration, m={m}, t={t}, n={n}, J={J}, float32, device={device}, threads={args.threads}")
    print(f"{'time per iteration':>28s}: {per_iter * 1e3:8.2f} ms")
    print(f"{'matrix products':>28s}: {t_mm * 1e3:8.2f} ms")
    print(f"{'ratio':>28s}: {per_iter / t_mm:8.2f}")


if __name__ == "__main__":
    main()
