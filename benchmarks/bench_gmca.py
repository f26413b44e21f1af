"""Time per GMCA iteration versus the time of the matrix products one iteration needs.

Problem: m = 65 channels, t = 16,384 pixels, n = 4 sources (generalised-Gaussian β = 0.3, Gaussian-shaped
spectra, 30 dB), J = 3 starlet scales, so the detail coefficients hold N = J·t = 49,152 columns.

- Iteration time (1): one full iteration, :func:`semiblind.solvers.gmca.gmca_iteration` (S-step with MAD
  thresholds, support fraction K_max and ℓ1 reweighting; A-step; ΔS), on the state reached after 20
  iterations of ``gmca``; the minimum over many repeats, interleaved with the products' timing so that both
  see the same machine load.
- Iteration time (2), end to end: ``gmca`` run with ``tol = 0`` for ``hi`` and ``lo`` iterations;
  (time_hi − time_lo)/(hi − lo) cancels the one-off costs (starlet transform, PCA initialisation, final
  estimate) and includes the loop's own bookkeeping. Both runs are past the support-fraction ramp
  (``n_ramp`` = 5). More sensitive to machine load than (1).
- Matrix products of one iteration: ``A⁺ X_w`` (n×m by m×N), ``X_w S_wᵀ`` (m×N by N×n) and ``S_w S_wᵀ``
  (n×N by N×n), on the same tensors.

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
from semiblind.solvers.gmca import gmca, gmca_iteration, gmca_pinv, gmca_update_s
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
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--lo", type=int, default=10)
    ap.add_argument("--hi", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    m, n, t, J = 65, 4, 16384, 3
    X = torch.as_tensor(_problem(m, n, t), dtype=torch.float32, device=device).unsqueeze(0)

    # (1) one iteration versus its matrix products, from a realistic state
    Xw, _ = starlet_forward(X, J)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        A = gmca(X, n, n_scales=J, max_iter=20, tol=0.0, n_ramp=5).A
    S_prev = gmca_update_s(A, Xw, k=3.0, support_fraction=0.5, min_coefficients=5)
    pinvA = gmca_pinv(A)
    Xw_flat = Xw.reshape(1, m, J * t)
    S_flat = S_prev.reshape(1, n, J * t)

    def iteration() -> None:
        gmca_iteration(A, Xw, S_prev, k=3.0, support_fraction=0.5, min_coefficients=5, reweight=True)

    def products() -> None:
        pinvA @ Xw_flat
        Xw_flat @ S_flat.mT
        S_flat @ S_flat.mT

    iteration()
    products()
    t_it, t_mm = [], []
    for _ in range(args.repeats):
        t_it.append(_best_time(iteration, 1, device))
        t_mm.append(_best_time(products, 1, device))
    it_min, mm_min = min(t_it), min(t_mm)

    # (2) end to end
    def run(iters: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gmca(X, n, n_scales=J, max_iter=iters, tol=0.0, n_ramp=5)

    reps = max(1, args.repeats // 10)
    t_lo = _best_time(lambda: run(args.lo), reps, device)
    t_hi = _best_time(lambda: run(args.hi), reps, device)
    per_iter = (t_hi - t_lo) / (args.hi - args.lo)

    print(f"GMCA iteration, m={m}, t={t}, n={n}, J={J}, float32, device={device}, threads={args.threads}")
    print(f"{'matrix products':>34s}: {mm_min * 1e3:8.2f} ms (min of {args.repeats})")
    print(f"{'one iteration (gmca_iteration)':>34s}: {it_min * 1e3:8.2f} ms   ratio {it_min / mm_min:5.2f}")
    print(f"{'one iteration, end to end':>34s}: {per_iter * 1e3:8.2f} ms   ratio {per_iter / mm_min:5.2f}")


if __name__ == "__main__":
    main()
