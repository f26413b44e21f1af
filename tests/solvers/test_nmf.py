"""NMF solvers: update equations checked by hand, exact low-rank recovery, batching, seeds, bad data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from semiblind.solvers.base import ConvergenceWarning
from semiblind.solvers.nmf import (
    HALS,
    MU,
    NMFCD,
    SparseNMF,
    hals_sweep_a,
    hals_sweep_s,
    mu_update_a,
    mu_update_s,
    nnls_hals,
)


def mean_cosine(A_true: np.ndarray, A_est: np.ndarray) -> float:
    """Mean cosine between the columns of A_true and the best-matched columns of A_est (1 = perfect)."""
    a = A_true / np.linalg.norm(A_true, axis=0)
    b = A_est / np.maximum(np.linalg.norm(A_est, axis=0), 1e-300)
    C = a.T @ b
    r, c = linear_sum_assignment(-C)
    return float(C[r, c].mean())


def exact_problem(seed: int = 0, m: int = 20, n: int = 3, t: int = 400, zero_frac: float = 0.6):
    """Nonnegative A (m, n) and sparse nonnegative S (n, t), X = A S exactly.

    Every source is alone in some pixels (S contains the identity) and alone in some channels (A contains
    the identity): then any other exact nonnegative factorisation A Q, Q⁻¹ S needs Q ≥ 0 and Q⁻¹ ≥ 0, so Q
    is a scaled permutation and the factorisation is unique up to scale and permutation (without the zero
    rows of A, strictly positive spectra leave a continuum of exact factorisations and no solver can be
    expected to find A).
    """
    rng = np.random.default_rng(seed)
    A = rng.random((m, n)) + 0.05
    A[:n] = np.eye(n)  # pure channels
    S = rng.exponential(size=(n, t)) * (rng.random((n, t)) > zero_frac)
    S[:, :n] = np.eye(n)  # pure pixels
    return A, S, A @ S


# ------------------------------------------------------------------------------------------- update equations


def test_mu_updates_by_hand():
    # 1×1: A ← A·(XSᵀ)/(ASSᵀ) = 1·(8·2)/(1·2·2) = 4; S ← S·AᵀX/(AᵀAS + λ) = 2·(1·8)/(1·1·2 + 2) = 4.
    A = torch.tensor([[[1.0]]], dtype=torch.float64)
    S = torch.tensor([[[2.0]]], dtype=torch.float64)
    X = torch.tensor([[[8.0]]], dtype=torch.float64)
    assert mu_update_a(A, S, X).item() == pytest.approx(4.0)
    assert mu_update_a(A, S, X, mask=torch.tensor([[0.5]], dtype=torch.float64)).item() == pytest.approx(2.0)
    assert mu_update_s(A, S, X).item() == pytest.approx(8.0)
    assert mu_update_s(A, S, X, lam=2.0).item() == pytest.approx(4.0)


def test_mu_fixed_point_and_mask_one():
    A, S, X = (torch.as_tensor(v)[None] for v in exact_problem(1))
    # The exact factors are a fixed point of both updates (ratios equal one).
    assert torch.allclose(mu_update_a(A, S, X), A, rtol=1e-10)
    assert torch.allclose(mu_update_s(A, S, X), S.clamp_min(1e-12), rtol=1e-10, atol=1e-12)
    A1 = A * 1.3
    assert torch.equal(mu_update_a(A1, S, X, mask=torch.ones_like(A1)), mu_update_a(A1, S, X))


def test_hals_sweeps_single_component_is_least_squares():
    # With one component the sweep is the exact nonnegative LS solution: a = XSᵀ/(SSᵀ), s = AᵀX/(AᵀA).
    rng = np.random.default_rng(2)
    X = torch.as_tensor(rng.random((1, 6, 30)))
    S = torch.as_tensor(rng.random((1, 1, 30)))
    A = torch.as_tensor(rng.random((1, 6, 1)))
    a = hals_sweep_a(A, X @ S.mT, S @ S.mT)
    assert torch.allclose(a, (X @ S.mT) / (S @ S.mT))
    s = hals_sweep_s(S, A.mT @ X, A.mT @ A)
    assert torch.allclose(s, (A.mT @ X) / (A.mT @ A))


def test_nnls_hals_recovers_sources_with_true_a():
    A, S, X = (torch.as_tensor(v)[None] for v in exact_problem(3))
    S_hat = nnls_hals(A, X, max_sweeps=500, tol=1e-12)
    assert torch.allclose(S_hat, S, atol=1e-8)
    assert bool((S_hat >= 0).all())


# --------------------------------------------------------------------------------------------- recovery


@pytest.mark.parametrize(
    ("cls", "kw"),
    [(MU, {"max_iter": 1000, "tol": 1e-10}), (HALS, {"max_iter": 200, "tol": 1e-10})],
)
def test_exact_low_rank_recovery(cls, kw):
    A, S, X = exact_problem(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = cls(n_sources=3, dtype="float64", **kw).fit(X)
    assert mean_cosine(A, est.mixing_) > 0.999  # stated tolerance: SAD (mean matched cosine) > 0.999
    assert est.mixing_.min() >= 0 and est.sources_.min() >= 0
    rel = np.linalg.norm(X - est.mixing_ @ est.sources_) / np.linalg.norm(X)
    assert rel < 1e-2


def test_mu_objective_never_increases():
    # Lee & Seung (2001), Theorem 1: the Frobenius objective is non-increasing under the MU updates.
    _, _, X = exact_problem(4)
    X = X + 0.05 * np.random.default_rng(0).random(X.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MU(n_sources=3, max_iter=200, tol=0.0, dtype="float64", init="random", random_state=0).fit(X)
    f = np.asarray(est.history_["objective"])
    assert len(f) == 201
    assert np.all(np.diff(f) <= 1e-9 * f[0])


def test_hals_from_true_a0_stays_there():
    A, _, X = exact_problem(5)
    est = HALS(n_sources=3, A0=A, dtype="float64", max_iter=50).fit(X)
    assert mean_cosine(A, est.mixing_) > 0.99999


def test_snmf_lambda_increases_sparsity():
    A, S, X = exact_problem(6, zero_frac=0.3)
    X = X + 0.02 * np.random.default_rng(1).random(X.shape)
    zeros, l1 = [], []
    for lam in (0.0, 0.5, 2.0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = SparseNMF(n_sources=3, lam=lam, max_iter=500, dtype="float64").fit(X)
        np.testing.assert_allclose(np.linalg.norm(est.mixing_, axis=0), 1.0, rtol=1e-10)  # unit columns
        Sh = est.sources_
        zeros.append(float((Sh < 1e-3 * Sh.max()).mean()))
        l1.append(float(Sh.sum()))
    assert zeros[0] < zeros[1] < zeros[2]
    assert l1[0] > l1[1] > l1[2]


def test_nmfcd_transposition_matches_sklearn():
    from sklearn.decomposition import NMF

    A, S, X = exact_problem(7, t=300)
    est = NMFCD(n_sources=3, init="nndsvda", max_iter=200, tol=1e-4, dtype="float64").fit(X)
    ref = NMF(n_components=3, init="nndsvda", solver="cd", max_iter=200, tol=1e-4)
    W = ref.fit_transform(X.T)  # V = Xᵀ (pixels, channels)
    np.testing.assert_allclose(est.mixing_, ref.components_.T, rtol=1e-10, atol=1e-12)  # A = H.T
    np.testing.assert_allclose(est.sources_, W.T, rtol=1e-10, atol=1e-12)  # S = W.T
    assert est.mixing_.shape == (20, 3) and est.sources_.shape == (3, 300)
    assert mean_cosine(A, est.mixing_) > 0.99


# ---------------------------------------------------------------------------------------------- data checks


@pytest.mark.parametrize("cls", [MU, HALS, SparseNMF, NMFCD])
def test_clearly_negative_data_is_rejected(cls):
    _, _, X = exact_problem(8)
    with pytest.raises(ValueError, match="nonnegative"):
        cls(n_sources=3).fit(X - X.mean())


@pytest.mark.parametrize("cls", [MU, HALS, SparseNMF, NMFCD])
def test_noise_level_negatives_are_clipped_with_count(cls):
    _, _, X = exact_problem(9)
    X = X.copy()
    X[0, 10], X[3, 20], X[5, 30] = (-1e-4 * X.max(),) * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match=r"\b3 slightly negative"):
            est = cls(n_sources=3, max_iter=20).fit(X)
    assert est.sources_.min() >= 0


# ---------------------------------------------------------------------------------------- batching and seeds


@pytest.mark.parametrize(
    ("cls", "kw"),
    [
        (MU, {"max_iter": 80, "tol": 1e-5}),
        (HALS, {"max_iter": 20, "tol": 1e-5}),
        (SparseNMF, {"max_iter": 80, "lam": 0.1, "tol": 1e-5}),
        (MU, {"max_iter": 60, "init": "random", "random_state": 3}),
    ],
)
def test_batched_equals_one_by_one(cls, kw):
    Xs = np.stack([exact_problem(s, t=200)[2] * (1 + s) for s in range(3)])
    Xs[1] += 0.1 * np.random.default_rng(0).random(Xs[1].shape)  # samples stop at different iterations
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        batch = cls(n_sources=3, dtype="float64", **kw).fit_batch(Xs)
        for b in range(3):
            one = cls(n_sources=3, dtype="float64", **kw).fit(Xs[b])
            np.testing.assert_allclose(batch.mixing_[b], one.mixing_, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(batch.sources_[b], one.sources_, rtol=1e-9, atol=1e-12)
            assert batch.n_iter_[b] == one.n_iter_


@pytest.mark.parametrize("cls", [MU, HALS, NMFCD])
def test_same_seed_same_result(cls):
    _, _, X = exact_problem(10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        r1 = cls(n_sources=3, init="random", random_state=42, max_iter=30).fit(X)
        r2 = cls(n_sources=3, init="random", random_state=42, max_iter=30).fit(X)
        r3 = cls(n_sources=3, init="random", random_state=43, max_iter=30).fit(X)
    np.testing.assert_array_equal(r1.mixing_, r2.mixing_)
    assert not np.allclose(r1.mixing_, r3.mixing_)


def test_convergence_warning_and_cube_input():
    _, _, X = exact_problem(11, t=400)
    cube = X.reshape(20, 20, 20)
    with pytest.warns(ConvergenceWarning):
        est = MU(n_sources=3, max_iter=3, tol=0.0).fit(cube)
    assert est.sources_.shape == (3, 20, 20) and est.n_iter_ == 3 and not est.converged_


def test_transform_is_nonnegative_and_fits_data():
    A, S, X = exact_problem(12)
    est = HALS(n_sources=3, dtype="float64", max_iter=200, tol=1e-12).fit(X)
    S_new = est.transform(X)
    assert S_new.min() >= 0
    assert np.linalg.norm(X - est.mixing_ @ S_new) <= 1.0001 * np.linalg.norm(X - est.mixing_ @ est.sources_)


def test_bad_parameters():
    _, _, X = exact_problem(13)
    with pytest.raises(ValueError, match="init"):
        MU(n_sources=3, init="svd").fit(X)
    with pytest.raises(ValueError, match="A0 must have shape"):
        MU(n_sources=3, A0=np.ones((20, 2))).fit(X)
    with pytest.raises(ValueError, match="A0 must be nonnegative"):
        HALS(n_sources=3, A0=-np.ones((20, 3))).fit(X)


def test_registered_names():
    from semiblind.api import methods

    table = methods()
    for name, cls in [("mu", MU), ("hals", HALS), ("snmf", SparseNMF), ("nmf-cd", NMFCD)]:
        assert table[name] is cls and cls.nonnegative
