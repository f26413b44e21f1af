"""Self-supervised LPALM: train LPALM on a synthetic set built from the image to unmix, then apply it to that
image (the seeds' talk; Hadjeres, Kervazo & Tupin 2024). No ground truth is used at any step: the only input is
the data ``X (m, t)`` (or a cube ``(m, H, W)``), channels first.

Stages (each takes its own seed, derived from ``seed`` with ``SeedSequence``; each shows a tqdm bar unless
``progress=False``):

1. **Spectra library** — :func:`spectra_library`: VCA (Nascimento & Dias 2005) is run ``n_runs`` times, each on
   a random subset of the pixels and with its own random directions (VCA's step 3 projects the data on random
   directions); every run's endmembers are matched to those of a reference run (the first, on all pixels) by
   the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) on the spectral-angle matrix, giving
   ``n`` families. Runs whose matched endmembers lie unusually far from the family medians (mean angle above
   median + 3·MAD over runs) are dropped.
2. **Augmentation** — :func:`augment_spectra`: each synthetic mixing matrix ``A*_i`` takes one random member
   of every family and multiplies it by a piecewise-linear function of the band ``1 + v·u(λ)`` through random
   knots with ``|u| ≤ 1`` (the multiplicative variability model of Thouvenin, Dobigeon & Tourneret 2016, IEEE
   TSP 64(2), in the piecewise-linear form of :func:`semiblind.data.remote.spectral_variability`).
3. **Abundances** — ``A_ref`` is the mean of the ``A*_i``; ``S_ref = argmin_{S ≥ 0} ½‖X − A_ref S‖²_F`` by the
   batched exact coordinate descent :func:`semiblind.solvers.nmf.nnls_hals` (or FCLS,
   :func:`semiblind.solvers.vca.fcls`, with ``sum_to_one=True``). The columns of ``S_ref``, divided by their
   sums, are modelled by a **mixture of Dirichlet distributions** fitted by EM with a weighted
   method-of-moments M-step (:func:`fit_dirichlet_mixture`; why: closed form and vectorised over pixels,
   whereas the exact maximum-likelihood M-step needs a Newton iteration per component (Minka 2000); the
   mixture only has to produce plausible abundances, and the E-step uses the exact Dirichlet densities).
   New abundances are drawn from the mixture and multiplied by column sums resampled from ``S_ref`` (the
   per-pixel brightness), unless ``sum_to_one``.
4. **Synthetic set** — ``X̃_i = A*_i S*_i + N_i`` with Gaussian noise whose per-band standard deviation is
   estimated from X by multiple regression (:func:`estimate_noise_std`, the noise estimator of HySime,
   Bioucas-Dias & Nascimento 2008, IEEE TGRS 46(8), §III-A: the residual of regressing each band on all the
   others).
5. **Training** — LPALM (:class:`semiblind.unrolled.lpalm.LPALM`, built by
   :func:`semiblind.training.build_model` and trained by :func:`semiblind.training.train`, loss NMSE(S) + mean
   spectral angle of A) on pairs whose ``A*_i`` are divided by one constant (all columns inside LPALM's unit
   ball, relative brightness kept) and whose ``S*_i`` are the abundances times that constant; optionally
   its nonnegative variant (:class:`semiblind.unrolled.lpalm_nonneg.NonnegativeLPALM`).
   The network is applied to X in chunks of ``n_pixels`` pixels (a random partition of the pixels, run as one
   batch; the synthetic images had that many pixels, and LPALM's learned A-steps depend on it); A is the mean
   of the chunks' unit-norm estimates, and S the network's S of every chunk. A's columns are then put back on
   the scale of ``A_ref`` (S divided accordingly), so S is on the abundance scale; by default one alternating
   least-squares refinement follows (``refine``: A given the abundances, then the abundances given A; why: see
   :func:`selfsup_unmix`).

:func:`selfsup_unmix` runs all five and returns a :class:`SelfSupResult`.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.special import gammaln

from ._backend import make_rng
from ._validation import check_data, check_n_sources
from .data.remote import spectral_variability
from .solvers.nmf import nnls_hals
from .solvers.vca import fcls, vca

__all__ = [
    "DirichletMixture",
    "SelfSupResult",
    "SpectraLibrary",
    "augment_spectra",
    "estimate_noise_std",
    "fit_dirichlet_mixture",
    "reference_abundances",
    "refine_endmembers",
    "selfsup_unmix",
    "spectra_library",
    "spectral_angles",
    "synthetic_training_set",
]

STAGES = ("library", "augmentation", "abundances", "synthesis", "training", "application")


# ----------------------------------------------------------------------------------------------- checks


def _int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {type(value).__name__} {value!r}.")
    if int(value) < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {int(value)}.")
    return int(value)


def _real(value: Any, name: str, low: float, high: float | None = None, *, open_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise TypeError(f"{name} must be a finite float; got {value!r}.")
    v = float(value)
    if v < low or (open_low and v == low) or (high is not None and v > high):
        rng = f"{'(' if open_low else '['}{low}, {high if high is not None else '∞'}{']' if high is not None else ')'}"
        raise ValueError(f"{name} must be in {rng}; got {v!r}.")
    return v


def _bar(total: int, desc: str, progress: bool) -> Any:
    from ._progress import tqdm  # bar on a terminal, one line per stage in a log

    return tqdm(total=total, desc=desc, disable=not progress, leave=False)


def spectral_angles(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Angle in radians between every column of ``A (m, p)`` and every column of ``B (m, q)``: ``(p, q)``."""
    An = A / np.maximum(np.linalg.norm(A, axis=0, keepdims=True), 1e-300)
    Bn = B / np.maximum(np.linalg.norm(B, axis=0, keepdims=True), 1e-300)
    return np.arccos(np.clip(An.T @ Bn, -1.0, 1.0))


# ----------------------------------------------------------------------------------------- 1. library


@dataclass
class SpectraLibrary:
    """Endmember families from randomised VCA.

    members : ``(R, m, n)`` the matched endmembers of the kept runs (family j = ``members[:, :, j]``).
    reference : ``(m, n)`` the reference run (VCA on all pixels), in the family order.
    angles : ``(R, n)`` angle (rad) of each member to its family median.
    kept : ``(n_runs,)`` which runs were kept.
    """

    members: np.ndarray
    reference: np.ndarray
    angles: np.ndarray
    kept: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """Family means ``(m, n)``."""
        return self.members.mean(axis=0)


def spectra_library(
    X: Any, n_sources: int, *, n_runs: int = 40, pixel_fraction: float = 0.5, rng: Any = None,
    progress: bool = False,
) -> SpectraLibrary:
    """Randomised VCA on ``X (m, t)``: ``n_runs`` runs (the first on all pixels, the others on a random
    ``pixel_fraction`` of them, each with its own random directions), matched into ``n_sources`` families by
    the Hungarian algorithm on spectral angles to the first run, outlier runs dropped (see the module
    docstring)."""
    x = np.asarray(X, dtype=np.float64)
    m, t = x.shape
    n = _int(n_sources, "n_sources")
    R = _int(n_runs, "n_runs")
    frac = _real(pixel_fraction, "pixel_fraction", 0.0, 1.0, open_low=True)
    gen = make_rng(rng)
    k = max(n, int(round(frac * t)))
    members = np.empty((R, m, n))
    bar = _bar(R, "selfsup 1/6 spectra library (VCA runs)", progress)
    for r in range(R):  # loop over runs (each run is batched over pixels)
        cols = np.arange(t) if r == 0 else np.sort(gen.choice(t, size=k, replace=False))
        A_r, _ = vca(x[:, cols], n, rng=gen)
        if r == 0:
            members[0] = A_r
        else:
            _, order = linear_sum_assignment(spectral_angles(members[0], A_r))
            members[r] = A_r[:, order]
        bar.update(1)
    bar.close()
    # drop runs far from the family medians (a run that picked an outlier pixel)
    med = np.median(members, axis=0)
    ang = np.stack([np.diagonal(spectral_angles(med, members[r])) for r in range(R)])  # (R, n)
    score = ang.mean(axis=1)
    mad = np.median(np.abs(score - np.median(score)))
    kept = score <= np.median(score) + 3 * 1.4826 * mad + 1e-12
    kept[0] = True
    return SpectraLibrary(members=members[kept], reference=members[0].copy(), angles=ang[kept], kept=kept)


# ----------------------------------------------------------------------------------------- 2. augmentation


def augment_spectra(
    library: SpectraLibrary, n_samples: int, *, amplitude: float = 0.1, n_knots: int = 5,
    wavelengths: Any = None, rng: Any = None,
) -> np.ndarray:
    """``n_samples`` mixing matrices ``A*_i (m, n)``: one random library member per family, each multiplied by
    its own piecewise-linear function of the band (values ``1 + amplitude·u``, ``u ~ U(−1, 1)`` at ``n_knots``
    knots: both band ends and random interior positions). ``wavelengths (m,)`` place the knots (default: the
    band index). Returns ``(n_samples, m, n)``, nonnegative."""
    N = _int(n_samples, "n_samples")
    amp = _real(amplitude, "amplitude", 0.0, 1.0)
    K = _int(n_knots, "n_knots", 2)
    gen = make_rng(rng)
    Mb = library.members
    R, m, n = Mb.shape
    lam = np.arange(m, dtype=np.float64) if wavelengths is None else np.asarray(wavelengths, dtype=np.float64)
    if lam.shape != (m,):
        raise ValueError(f"wavelengths must have one value per band ({m}); got shape {lam.shape}.")
    pick = gen.integers(0, R, size=(N, n))
    base = Mb[pick, :, np.arange(n)[None, :]]  # (N, n, m)
    flat = base.reshape(N * n, m).T  # (m, N·n): one column per spectrum to perturb
    pert = spectral_variability(flat, lam, gen, amplitude=amp, n_knots=K)
    return pert.T.reshape(N, n, m).transpose(0, 2, 1).copy()


# ----------------------------------------------------------------------------------------- 3. abundances


def reference_abundances(X: Any, A_ref: Any, *, sum_to_one: bool = False) -> np.ndarray:
    """``S_ref (n, t)``: ``argmin_{S ≥ 0} ½‖X − A_ref S‖²_F`` by batched coordinate descent (:func:`nnls_hals`,
    up to 500 sweeps) or, with ``sum_to_one``, FCLS (Heinz & Chang 2001)."""
    x = np.asarray(X, dtype=np.float64)
    A = np.asarray(A_ref, dtype=np.float64)
    if sum_to_one:
        return fcls(x, A)
    S = nnls_hals(torch.as_tensor(A)[None], torch.as_tensor(x)[None], max_sweeps=500, tol=1e-7)
    return S[0].numpy()


def refine_endmembers(X: Any, S: Any) -> np.ndarray:
    """``A = argmin_{A ≥ 0} ½‖X − A S‖²_F`` for fixed abundances ``S (n, t)``: the batched coordinate descent
    :func:`nnls_hals` on the transposed problem ``Xᵀ ≈ Sᵀ Aᵀ`` (exact per-column steps). Returns ``A (m, n)``."""
    x = torch.as_tensor(np.asarray(X, dtype=np.float64).T)[None]
    St = torch.as_tensor(np.asarray(S, dtype=np.float64).T)[None]
    return nnls_hals(St, x, max_sweeps=500, tol=1e-7)[0].numpy().T.copy()


@dataclass
class DirichletMixture:
    """A mixture of Dirichlet distributions on the simplex of ``n`` abundances.

    weights : ``(K,)`` mixing weights; alphas : ``(K, n)`` concentration parameters; log_likelihood : mean log
    density of the fitted points per EM iteration.
    """

    weights: np.ndarray
    alphas: np.ndarray
    log_likelihood: list[float] = field(default_factory=list)

    def log_density(self, P: np.ndarray) -> np.ndarray:
        """``log p_k(P_{:i}) + log w_k`` for every component and column of ``P (n, t)``: ``(K, t)``."""
        logP = np.log(P)
        a = self.alphas
        norm = gammaln(a.sum(1)) - gammaln(a).sum(1)  # (K,)
        return np.log(self.weights)[:, None] + norm[:, None] + (a - 1) @ logP

    def sample(self, t: int, rng: Any = None) -> np.ndarray:
        """``t`` draws, returned as columns ``(n, t)`` (component by ``weights``, then gamma variates)."""
        gen = make_rng(rng)
        comp = gen.choice(len(self.weights), size=_int(t, "t"), p=self.weights)
        G = gen.standard_gamma(self.alphas[comp].T)  # (n, t)
        return G / np.maximum(G.sum(0, keepdims=True), 1e-300)


def _moments(P: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Weighted method-of-moments Dirichlet ``α (K, n)`` from points ``P (n, t)`` and weights ``r (K, t)``."""
    w = r.sum(1, keepdims=True) + 1e-300  # (K, 1)
    mu = (r @ P.T) / w  # (K, n)
    var = (r @ (P.T**2)) / w - mu**2
    var = np.maximum(var, 1e-10)
    s = np.median(mu * (1 - mu) / var - 1.0, axis=1, keepdims=True)  # precision Σα, one per component
    s = np.clip(s, 1e-2, 1e6)
    return np.maximum(s * mu, 1e-3)


def fit_dirichlet_mixture(
    S: Any, n_components: int = 4, *, max_iter: int = 100, tol: float = 1e-6, floor: float = 1e-4,
    rng: Any = None,
) -> DirichletMixture:
    """Fit a mixture of ``n_components`` Dirichlet distributions to the columns of ``S (n, t)`` (each column is
    first divided by its sum and floored at ``floor``, pure pixels lying on the simplex's faces).

    EM: k-means++ initialisation; E-step with the exact Dirichlet log-densities; M-step by the weighted method
    of moments (mean ``μ_k`` and per-coordinate variances; precision ``s_k = median_j(μ_kj(1 − μ_kj)/σ²_kj −
    1)``, ``α_k = s_k μ_k``), which is closed form and vectorised; iterations stop when the mean
    log-likelihood improves by less than ``tol`` (absolute), and the best-likelihood parameters are kept.
    """
    P = np.asarray(S, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] < 2:
        raise ValueError(f"S must be a 2-D array (sources, pixels) with at least 2 pixels; got shape {P.shape}.")
    K = _int(n_components, "n_components")
    it_max = _int(max_iter, "max_iter")
    gen = make_rng(rng)
    P = np.clip(P, 0, None)
    tot = P.sum(0, keepdims=True)
    P = np.where(tot > 0, P / np.where(tot > 0, tot, 1.0), 1.0 / P.shape[0])
    P = np.maximum(P, floor)
    P = P / P.sum(0, keepdims=True)
    n, t = P.shape
    K = min(K, t)
    # k-means++ seeding, then a few Lloyd iterations (vectorised over pixels)
    centres = [P[:, gen.integers(t)]]
    for _ in range(1, K):
        d2 = np.min(((P[:, :, None] - np.stack(centres, 1)[:, None, :]) ** 2).sum(0), axis=1)
        centres.append(P[:, gen.choice(t, p=d2 / d2.sum()) if d2.sum() > 0 else gen.integers(t)])
    C = np.stack(centres, 1)  # (n, K)
    for _ in range(10):
        lab = (((P[:, :, None] - C[:, None, :]) ** 2).sum(0)).argmin(1)
        C = np.stack([P[:, lab == k].mean(1) if np.any(lab == k) else C[:, k] for k in range(K)], 1)
    r = np.zeros((K, t))
    r[lab, np.arange(t)] = 1.0
    mix = DirichletMixture(weights=np.maximum(r.mean(1), 1e-12), alphas=_moments(P, r))
    mix.weights /= mix.weights.sum()
    best, best_ll, prev = mix, -np.inf, -np.inf
    lls: list[float] = []
    for _ in range(it_max):
        L = mix.log_density(P)
        top = L.max(0, keepdims=True)
        ll = float(np.mean(top[0] + np.log(np.exp(L - top).sum(0))))
        lls.append(ll)
        if ll > best_ll:
            best, best_ll = DirichletMixture(mix.weights.copy(), mix.alphas.copy()), ll
        if abs(ll - prev) < tol:
            break
        prev = ll
        r = np.exp(L - top)
        r /= r.sum(0, keepdims=True)
        w = np.maximum(r.mean(1), 1e-12)
        mix = DirichletMixture(weights=w / w.sum(), alphas=_moments(P, r))
    best.log_likelihood = lls
    return best


# ----------------------------------------------------------------------------------------- 4. synthesis


def estimate_noise_std(X: Any, *, ridge: float = 1e-6) -> np.ndarray:
    """Per-band noise standard deviation ``(m,)`` of ``X (m, t)`` by multiple regression (HySime's noise
    estimator, Bioucas-Dias & Nascimento 2008, §III-A): band i is regressed on all the other bands by least
    squares and the residual's root mean square is its noise level. All bands at once: with ``Q = (X Xᵀ + ρI)⁻¹``
    the residuals are ``(Q X)_i / Q_ii`` (partitioned inverse); ``ρ = ridge · trace(X Xᵀ)/m``. Assumes white
    noise uncorrelated across bands; correlated smooth signal is predicted from the neighbouring bands."""
    x = np.asarray(X, dtype=np.float64)
    m, t = x.shape
    if t <= m:
        raise ValueError(f"X must have more pixels than bands to estimate its noise; got {t} pixels and {m} bands.")
    R = x @ x.T
    R += (ridge * np.trace(R) / m) * np.eye(m)
    Q = np.linalg.inv(R)
    E = (Q @ x) / np.diag(Q)[:, None]
    return np.sqrt(np.mean(E**2, axis=1) * t / (t - (m - 1)))


def synthetic_training_set(
    A_star: np.ndarray, mixture: DirichletMixture, scales: np.ndarray | None, noise_std: np.ndarray, n_pixels: int,
    *, rng: Any = None, target_norm: str = "unit",
) -> dict[str, np.ndarray]:
    """``X̃_i = A*_i S*_i + N_i`` for every ``A*_i`` of ``A_star (N, m, n)``: ``S*_i`` are ``n_pixels`` draws of
    ``mixture`` times column sums resampled from ``scales`` (None: sum to one), ``N_i`` Gaussian with per-band
    standard deviation ``noise_std``. Returns ``X (N, m, t)`` and the training targets ``A (N, m, n)``, ``S (N, n,
    t)`` with ``A S`` unchanged: ``target_norm="unit"`` gives A unit columns and S rows carrying the column norms;
    ``"global"`` divides every A by one constant ``c`` (the largest column norm of the whole set, so all columns
    fit LPALM's unit ball) and multiplies S by it, keeping the endmembers' relative brightness in A and the
    abundances' common scale in S. The constant is returned as ``"c"``."""
    gen = make_rng(rng)
    N, m, n = A_star.shape
    t = _int(n_pixels, "n_pixels")
    P = mixture.sample(N * t, gen).reshape(n, N, t).transpose(1, 0, 2)  # (N, n, t)
    if scales is not None:
        P = P * gen.choice(scales, size=(N, 1, t))
    clean = A_star @ P
    X = clean + gen.standard_normal(clean.shape) * noise_std[None, :, None]
    norms = np.linalg.norm(A_star, axis=1, keepdims=True)  # (N, 1, n)
    norms = np.where(norms > 0, norms, 1.0)
    if target_norm == "global":
        c = float(norms.max())
        return {"X": X, "A": A_star / c, "S": P * c, "c": np.asarray(c)}
    if target_norm != "unit":
        raise ValueError(f"target_norm must be 'unit' or 'global'; got {target_norm!r}.")
    return {"X": X, "A": A_star / norms, "S": P * norms.transpose(0, 2, 1), "c": np.asarray(1.0)}


# ----------------------------------------------------------------------------------------- pipeline


@dataclass
class SelfSupResult:
    """What :func:`selfsup_unmix` returns.

    A : ``(m, n)`` endmembers on the scale of the library (data units); S : ``(n, t)`` or ``(n, H, W)``
    abundances. model : the trained network; history : its training log (one dict per epoch); library,
    A_ref, S_ref, mixture, noise_std : the intermediate products; timings : seconds per stage; settings : every
    option used (with the per-stage seeds); A_chunks_spread : mean angle (rad) of the per-chunk A estimates to
    their mean.
    """

    A: np.ndarray
    S: np.ndarray
    model: Any
    history: list[dict[str, Any]]
    library: SpectraLibrary
    A_ref: np.ndarray
    S_ref: np.ndarray
    mixture: DirichletMixture
    noise_std: np.ndarray
    timings: dict[str, float]
    settings: dict[str, Any]
    A_chunks_spread: float = 0.0
    image_shape: tuple[int, int] | None = None
    A_network: np.ndarray | None = None
    S_network: np.ndarray | None = None


def _stage_seeds(seed: int) -> dict[str, int]:
    kids = np.random.SeedSequence(int(seed)).spawn(len(STAGES))
    return {nm: int(k.generate_state(1, dtype=np.uint32)[0]) for nm, k in zip(STAGES, kids)}


def _apply(model: Any, x: np.ndarray, n_pixels: int, gen: np.random.Generator, batch: int = 64
           ) -> tuple[np.ndarray, np.ndarray, float]:
    """Run ``model`` on X in chunks of ``n_pixels`` pixels (a random partition, padded by repeating pixels)."""
    m, t = x.shape
    B = -(-t // n_pixels)
    perm = gen.permutation(t)
    idx = np.concatenate([perm, perm[: B * n_pixels - t]]) if B * n_pixels > t else perm
    chunks = torch.as_tensor(x[:, idx].reshape(m, B, n_pixels).transpose(1, 0, 2).copy(), dtype=model.dtype)
    As, Ss = [], []
    with torch.no_grad():
        for i in range(0, B, batch):
            A_b, S_b = model(chunks[i:i + batch])
            As.append(A_b)
            Ss.append(S_b)
    A_all = torch.cat(As).double().numpy()  # (B, m, n)
    S_all = torch.cat(Ss).double().numpy()  # (B, n, n_pixels)
    A_all = A_all / np.maximum(np.linalg.norm(A_all, axis=1, keepdims=True), 1e-300)
    A_hat = A_all.mean(0)
    A_hat /= np.maximum(np.linalg.norm(A_hat, axis=0, keepdims=True), 1e-300)
    spread = float(np.mean([np.diagonal(spectral_angles(A_hat, A_all[b])).mean() for b in range(B)]))
    S = np.empty((A_hat.shape[1], t))
    S[:, idx[:t]] = S_all.transpose(1, 0, 2).reshape(A_hat.shape[1], -1)[:, :t]
    return A_hat, S, spread


def selfsup_unmix(
    X: Any,
    n_sources: int,
    *,
    seed: int = 0,
    wavelengths: Any = None,
    n_runs: int = 40,
    pixel_fraction: float = 0.5,
    n_train: int = 160,
    n_valid: int = 16,
    n_pixels: int = 1024,
    amplitude: float = 0.1,
    n_knots: int = 5,
    n_components: int = 4,
    sum_to_one: bool = False,
    nonnegative: bool = False,
    layers: int = 15,
    epochs: int = 20,
    lr: float = 1e-3,
    batch_size: int = 8,
    abundances: str = "fcls",
    refine: int = 1,
    target_norm: str = "global",
    loss: str = "angle",
    model_dir: str | Path | None = None,
    dtype: str = "float32",
    progress: bool = True,
) -> SelfSupResult:
    """Unmix ``X (m, t)`` or a cube ``(m, H, W)`` into ``n_sources`` endmembers with a self-supervised LPALM.

    Parameters
    ----------
    X : the data only (never ground truth), channels first, nonnegative reflectances or radiances.
    n_sources : number of endmembers n.
    seed : master seed; each stage gets its own child seed (``settings["seeds"]``). Same seed, same numbers.
    wavelengths : ``(m,)`` band centres used to place the augmentation knots (default: band index).
    n_runs, pixel_fraction : randomised VCA (stage 1).
    n_train, n_valid, n_pixels : synthetic training / validation images and pixels per image (stage 4).
    amplitude, n_knots : piecewise-linear augmentation (stage 2).
    n_components : Dirichlet mixture components (stage 3). sum_to_one : FCLS instead of NNLS for ``S_ref``,
        and synthetic abundances on the simplex.
    nonnegative : train :class:`~semiblind.unrolled.lpalm_nonneg.NonnegativeLPALM` (S ≥ 0, A ≥ 0) instead of
        LPALM.
    layers, epochs, lr, batch_size : LPALM and its Adam training.
    loss : ``"angle"`` (default: NMSE(S) + mean spectral angle of A, which weighs every endmember alike
        whatever its brightness) or ``"nmse"`` (NMSE(S) + NMSE(A), LPALM eq. 9).
    target_norm : ``"global"`` (default: one constant for the whole set, so the abundances in S share one scale
        and LPALM's single step ``1/L_A(k)`` suits every column) or ``"unit"`` (unit-norm training columns, S
        rows carrying the norms: a dark endmember's row is then tiny and its column barely moves; see
        :func:`synthetic_training_set`). Measured on the Samson-like scene of ``selfsup-remote`` (quick sizes,
        one seed): network-only mean angle 0.132 rad (unit, nmse), 0.034 (global, nmse), 0.019 (global,
        angle), 0.125 (unit, angle); VCA 0.078.
    abundances : ``"network"`` (S of the network) or ``"nnls"`` / ``"fcls"`` (re-estimated with the learned A
        fixed).
    refine : number of alternating refinements after the network (default 1): A ← the nonnegative
        least-squares fit of X given the current abundances (:func:`refine_endmembers`), then the abundances
        again (FCLS, or NNLS with ``abundances="nnls"``). Why: LPALM's A-step has one learned step per layer,
        ``1/L_A(k)``, on unit-norm spectra whose source rows carry the norms, so a dark endmember (e.g. water,
        reflectance ≈ 0.05 beside soils at 0.3) gets a step hundreds of times too small and stays near its start;
        the exact per-column least-squares step fixes that. ``A_network`` / ``S_network`` keep the network's own
        estimate. 0: none.
    model_dir : folder for the trained model, its log and checkpoint (None: not written).
    dtype : ``"float32"`` or ``"float64"`` for the network.
    progress : tqdm bars per stage and per epoch.
    """
    from .training import build_model, train

    t_all = time.perf_counter()
    x, image_shape = _as_matrix(X)
    m, t = x.shape
    n = check_n_sources(n_sources, m)
    seed = _int(seed, "seed", 0)
    if abundances not in ("network", "nnls", "fcls"):
        raise ValueError(f"abundances must be 'network', 'nnls' or 'fcls'; got {abundances!r}.")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}.")
    n_pixels = _int(n_pixels, "n_pixels", n)
    seeds = _stage_seeds(seed)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    lib = spectra_library(x, n, n_runs=n_runs, pixel_fraction=pixel_fraction, rng=seeds["library"],
                          progress=progress)
    timings["library"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    n_tr, n_va = _int(n_train, "n_train"), _int(n_valid, "n_valid", 0)
    A_star = augment_spectra(lib, n_tr + n_va, amplitude=amplitude, n_knots=n_knots, wavelengths=wavelengths,
                             rng=seeds["augmentation"])
    timings["augmentation"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    bar = _bar(2, "selfsup 3/6 abundances (NNLS, Dirichlet mixture)", progress)
    A_ref = A_star.mean(0)
    S_ref = reference_abundances(x, A_ref, sum_to_one=sum_to_one)
    bar.update(1)
    mixture = fit_dirichlet_mixture(S_ref, n_components, rng=seeds["abundances"])
    bar.update(1)
    bar.close()
    sums = S_ref.sum(0)
    scales = None if sum_to_one else sums[sums > 0]
    if scales is not None and scales.size == 0:
        raise ValueError("X must not be orthogonal to every extracted endmember; the NNLS abundances are all zero.")
    timings["abundances"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    bar = _bar(1, "selfsup 4/6 synthetic set", progress)
    noise_std = estimate_noise_std(x)
    data = synthetic_training_set(A_star, mixture, scales, noise_std, n_pixels, rng=seeds["synthesis"],
                                  target_norm=target_norm)
    c_target = float(data.pop("c"))
    bar.update(1)
    bar.close()
    tr = {k: v[:n_tr] for k, v in data.items()}
    va = {k: v[n_tr:] for k, v in data.items()} if n_va else None
    timings["synthesis"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    net = build_model("lpalm", tr, layers=_int(layers, "layers"), dtype=dtype)
    if nonnegative:
        from .unrolled.lpalm_nonneg import NonnegativeLPALM

        net = NonnegativeLPALM.from_lpalm(net)
    if model_dir is not None:
        Path(model_dir).mkdir(parents=True, exist_ok=True)
    description = {"source": "semiblind.selfsup synthetic set built from the image itself",
                   "n_pixels": n_pixels, "seed": seed, "nonnegative": bool(nonnegative)}
    res = train(net, tr, va, epochs=_int(epochs, "epochs"), lr=lr, batch_size=_int(batch_size, "batch_size"),
                seed=seeds["training"], loss=loss, out_dir=model_dir, overwrite=True, progress=progress,
                description=description)
    timings["training"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    bar = _bar(1, "selfsup 6/6 application to X", progress)
    A_hat, S_hat, spread = _apply(res.model, x, n_pixels, make_rng(seeds["application"]))
    # back to the library's scale, S on the abundance scale; order the families as the library
    perm = linear_sum_assignment(spectral_angles(A_ref, A_hat))[1]
    A_hat, S_hat = A_hat[:, perm], S_hat[perm]
    norms = np.linalg.norm(A_ref, axis=0)
    A_out = A_hat * norms[None, :]
    S_out = S_hat / c_target if target_norm == "global" else S_hat / norms[:, None]
    A_net, S_net = A_out.copy(), S_out.copy()
    if abundances == "nnls":
        S_out = reference_abundances(x, A_out)
    elif abundances == "fcls":
        S_out = reference_abundances(x, A_out, sum_to_one=True)
    for _ in range(_int(refine, "refine", 0)):
        S_fit = S_out if abundances != "network" else reference_abundances(x, A_out, sum_to_one=True)
        A_out = refine_endmembers(x, S_fit)
        S_out = reference_abundances(x, A_out, sum_to_one=abundances != "nnls")
    bar.update(1)
    bar.close()
    timings["application"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_all

    settings = {"n_sources": n, "seed": seed, "seeds": seeds, "n_runs": n_runs, "pixel_fraction": pixel_fraction,
                "n_train": n_tr, "n_valid": n_va, "n_pixels": n_pixels, "amplitude": amplitude, "n_knots": n_knots,
                "n_components": n_components, "sum_to_one": bool(sum_to_one), "nonnegative": bool(nonnegative),
                "layers": layers, "epochs": epochs, "lr": lr, "batch_size": batch_size, "abundances": abundances,
                "refine": refine, "target_norm": target_norm, "loss": loss,
                "dtype": dtype, "runs_kept": int(lib.kept.sum()), "noise_estimator": "HySime multiple regression",
                "dirichlet_fit": "EM, method-of-moments M-step"}
    shape = (n, *image_shape) if image_shape is not None else S_out.shape
    return SelfSupResult(A=A_out, S=S_out.reshape(shape), model=res.model, history=res.history, library=lib,
                         A_ref=A_ref, S_ref=S_ref, mixture=mixture, noise_std=noise_std, timings=timings,
                         settings=settings, A_chunks_spread=spread, image_shape=image_shape, A_network=A_net,
                         S_network=S_net.reshape(shape))


def _as_matrix(X: Any) -> tuple[np.ndarray, tuple[int, int] | None]:
    x = check_data(X, allow_cube=True)
    arr = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    if arr.ndim == 3:
        return arr.reshape(arr.shape[0], -1), (int(arr.shape[1]), int(arr.shape[2]))
    return arr, None
