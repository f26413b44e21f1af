"""GMCA in the direct (pixel) domain versus the starlet domain, FastICA and PALM on the papers' X-ray spectra.

Data (the LPALM paper's setting, Fahes et al. 2022, §5.2): mixing matrices ``A (65, 4)`` from the Chandra/Cas A
spectra (:func:`semiblind.data.casa.paper_mixing_matrices`), the first ``--mixtures`` matrices of the paper's
test split (:func:`semiblind.data.casa.lpalm_split`); sources i.i.d. generalised-Gaussian, β = 0.3
(:func:`semiblind.data.sources.ggd_sources`, unit ℓ2 rows), ``t = 2000`` pixels; white noise at 30 dB
(:func:`semiblind.mixing.add_noise`). Such sources are sparse pixel by pixel and their pixel order carries no
structure, so the starlet transform along the pixels has nothing to exploit.

Methods (score: NMSE(A) after alignment on A, :func:`semiblind.metrics.aligned_nmse`; median over mixtures):

- GMCA, ``sparse_transform="none"`` and ``"starlet"`` (defaults otherwise: 200 iterations, PCA start);
- FastICA (scikit-learn, ``whiten="unit-variance"``, seeded), the mixing matrix is ``mixing_`` (pixels as
  samples);
- PALM (float64, ``tol`` 1e-7, ``max_iter`` 5000) with λ chosen by :func:`semiblind.solvers.palm.select_lambda` on
  ``--train`` *training* mixtures (a 10-value grid :func:`~semiblind.solvers.palm.lambda_grid` from 1e-4·λ_max
  to λ_max), the common random start of select_lambda; λ is not tuned on the test mixtures.

Usage: ``python benchmarks/gmca_direct_domain.py [--mixtures 8] [--train 8] [--seed 0] [--data PATH]``. Needs
the papers' data (``../shared/data/xray``) and scikit-learn. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from semiblind.data import casa
from semiblind.data.sources import ggd_sources
from semiblind.metrics import aligned_nmse
from semiblind.mixing import add_noise
from semiblind.solvers.base import ConvergenceWarning
from semiblind.solvers.gmca import GMCA
from semiblind.solvers.palm import PALM, initial_mixing, lambda_grid, lambda_max, select_lambda


def _mixtures(As: np.ndarray, t: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    S = ggd_sources(As.shape[2], t, rng, beta=0.3, n_samples=As.shape[0])
    X = add_noise(As @ S, 30.0, rng)[0]
    return X, S


def _fastica(X: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.decomposition import FastICA

    ica = FastICA(n_components=n, whiten="unit-variance", random_state=seed, max_iter=1000, tol=1e-5)
    S = ica.fit_transform(X.T).T  # pixels are the samples
    return ica.mixing_, S


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mixtures", type=int, default=8)
    ap.add_argument("--train", type=int, default=8)
    ap.add_argument("--pixels", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=None)
    args = ap.parse_args()

    bank = casa.paper_mixing_matrices(args.data)
    tr_idx, te_idx = casa.lpalm_split(bank)
    rng = np.random.default_rng(args.seed)
    A_te = bank[te_idx[: args.mixtures]]
    A_tr = bank[tr_idx[: args.train]]
    X_te, S_te = _mixtures(A_te, args.pixels, rng)
    X_tr, S_tr = _mixtures(A_tr, args.pixels, rng)
    n = A_te.shape[2]

    rows: dict[str, dict] = {}

    def score(name: str, A_est: np.ndarray, S_est: np.ndarray, seconds: float, note: str = "") -> None:
        nS, nA = aligned_nmse(A_est, S_est, A_te, S_te, batched=True)
        rows[name] = {"nmse_A": np.asarray(nA), "nmse_S": np.asarray(nS), "seconds": seconds, "note": note}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for dom in ("none", "starlet"):
            t0 = time.perf_counter()
            est = GMCA(n_sources=n, sparse_transform=dom, random_state=args.seed).fit_batch(X_te)
            score(f"GMCA, sparse_transform={dom!r}", est.mixing_, est.sources_, time.perf_counter() - t0,
                  f"median iterations {int(np.median(est.n_iter_))}")
        t0 = time.perf_counter()
        out = [_fastica(X, n, args.seed) for X in X_te]
        score("FastICA (scikit-learn)", np.stack([o[0] for o in out]), np.stack([o[1] for o in out]),
              time.perf_counter() - t0)
        t0 = time.perf_counter()
        A_init = initial_mixing(torch.as_tensor(X_tr), n, "random", None, args.seed)
        grid = lambda_grid(lambda_max(A_init, torch.as_tensor(X_tr)), num=10, low=1e-4)
        sel = select_lambda(X_tr, S_tr, n, grid, A_train=A_tr, rng=args.seed, dtype="float64", max_iter=5000,
                            tol=1e-7)
        t_sel = time.perf_counter() - t0
        t0 = time.perf_counter()
        est = PALM(n_sources=n, lam=sel.best_lambda, dtype="float64", max_iter=5000, tol=1e-7,
                   random_state=args.seed).fit_batch(X_te)
        score("PALM (λ from training mixtures)", est.mixing_, est.sources_, time.perf_counter() - t0,
              f"λ = {sel.best_lambda:.3g} (λ selection {t_sel:.0f} s), median iterations "
              f"{int(np.median(est.n_iter_))}")

    print(f"{args.mixtures} test mixtures (LPALM paper's test split, 65 channels, 4 sources), t = {args.pixels}, "
          f"GGD β = 0.3, 30 dB, seed {args.seed}; λ of PALM chosen on {args.train} training mixtures.\n")
    print("| method | median NMSE(A) | median NMSE(S) | seconds | notes |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {np.median(r['nmse_A']):.3g} | {np.median(r['nmse_S']):.3g} | {r['seconds']:.1f} | "
              f"{r['note']} |")
    print("\nper mixture NMSE(A):")
    for name, r in rows.items():
        print(f"  {name}: " + ", ".join(f"{v:.2e}" for v in r["nmse_A"]))


if __name__ == "__main__":
    main()
