"""PALM (LPALM paper eq. 6): monotone objective, batched = one by one, recovery, stopping, degenerate steps,
λ choice."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from semiblind.solvers.base import ConvergenceWarning
from semiblind.solvers.ista import ista
from semiblind.solvers.palm import PALM, initial_mixing, palm, select_lambda


def _problem(rng, m=12, n=3, t=400, p=0.15, noise=0.0, batch=None):
    shape_a = (m, n) if batch is None else (batch, m, n)
    shape_s = (n, t) if batch is None else (batch, n, t)
    A = rng.standard_normal(shape_a)
    A /= np.linalg.norm(A, axis=-2, keepdims=True)
    S = rng.standard_normal(shape_s) * (rng.random(shape_s) < p)
    X = A @ S + noise * rng.standard_normal((*shape_s[:-2], m, t))
    return A, S, X


def _aligned_errors(A_est, S_est, A, S):
    """Relative errors after matching columns by |cosine| (brute force over the n! permutations, n small)."""
    from itertools import permutations

    n = A.shape[1]
    best = None
    for perm in permutations(range(n)):
        Ap = A_est[:, perm]
        signs = np.sign(np.sum(Ap * A, axis=0))
        scale = np.linalg.norm(A, axis=0) / np.linalg.norm(Ap, axis=0)
        Aa = Ap * signs * scale
        Sa = S_est[list(perm)] * (signs / scale)[:, None]
        err = (np.sum((Aa - A) ** 2) / np.sum(A**2), np.sum((Sa - S) ** 2) / np.sum(S**2))
        if best is None or err[0] < best[0]:
            best = err
    return best


def test_objective_never_increases(rng):
    A, S, X = _problem(rng, noise=0.01)
    A0 = A + 0.3 * rng.standard_normal(A.shape)
    res = palm(X[None], 3, 0.02, A0=A0, max_iter=400, tol=1e-9, dtype="float64")
    obj = np.array(res.history["objective"])
    assert obj.size == int(res.n_iter[0]) + 1
    assert len(res.history["delta_S"]) == len(res.history["delta_A"]) == int(res.n_iter[0])
    # PALM with steps 1/L_S, 1/L_A decreases the objective at every half-step (Bolte et al. 2014, Lemma 3);
    # only float64 rounding (relative 1e-12 of the objective) may show up.
    assert np.all(np.diff(obj) <= 1e-12 * obj[0])
    assert obj[-1] < 0.5 * obj[0]


def test_objective_history_matches_direct_formula(rng):
    A, S, X = _problem(rng, noise=0.01)
    lam = 0.03
    res = palm(X[None], 3, lam, A0=A, max_iter=7, tol=0.0, dtype="float64")
    A_k, S_k = res.A[0].numpy(), res.S[0].numpy()
    direct = 0.5 * np.sum((X - A_k @ S_k) ** 2) + lam * np.abs(S_k).sum()
    assert res.history["objective"][-1] == pytest.approx(direct, rel=1e-10)
    S0 = np.linalg.pinv(A) @ X  # the paper's start S0 = A0⁺X (A has unit columns: already in the ball)
    first = 0.5 * np.sum((X - A @ S0) ** 2) + lam * np.abs(S0).sum()
    assert res.history["objective"][0] == pytest.approx(first, rel=1e-10)


def test_batched_equals_one_by_one(rng):
    A, S, X = _problem(rng, batch=3, noise=0.01)
    A0 = A + 0.2 * rng.standard_normal(A.shape)
    est = PALM(n_sources=3, lam=0.02, A0=A0, max_iter=3000, tol=1e-8, dtype="float64")
    est.fit_batch(X)
    A_b, S_b, it_b = est.mixing_, est.sources_, est.n_iter_
    assert len(set(it_b.tolist())) > 1  # samples stopped at different iterations: the mask is exercised
    for i in range(3):
        one = PALM(n_sources=3, lam=0.02, A0=A0[i], max_iter=3000, tol=1e-8, dtype="float64").fit(X[i])
        assert one.n_iter_ == it_b[i]
        np.testing.assert_allclose(one.mixing_, A_b[i], rtol=0, atol=1e-10)
        np.testing.assert_allclose(one.sources_, S_b[i], rtol=0, atol=1e-10)


def test_per_sample_lambda_equals_separate_runs(rng):
    A, S, X = _problem(rng, noise=0.01)
    lams = [0.005, 0.05]
    both = palm(np.stack([X, X]), 3, lams, A0=A, max_iter=200, tol=1e-9, dtype="float64")
    for i, lam in enumerate(lams):
        one = palm(X[None], 3, lam, A0=A, max_iter=200, tol=1e-9, dtype="float64")
        np.testing.assert_allclose(both.S[i].numpy(), one.S[0].numpy(), atol=1e-12)


def test_recovers_well_conditioned_sparse_problem(rng):
    # 12 channels, 3 sources with 15 % nonzeros, noiseless; start 0.2 away from the truth. With a small λ the
    # lasso bias is about λ/|s| ~ 1e-3 relative, so the aligned errors must be well below 1e-3 (A) and 1e-2 (S).
    A, S, X = _problem(rng, t=600)
    A0 = A + 0.2 * rng.standard_normal(A.shape)
    est = PALM(n_sources=3, lam=1e-3, A0=A0, max_iter=5000, tol=1e-9, dtype="float64").fit(X)
    assert est.converged_
    err_A, err_S = _aligned_errors(est.mixing_, est.sources_, A, S)
    assert err_A < 1e-3
    assert err_S < 1e-2
    assert np.all(np.linalg.norm(est.mixing_, axis=0) <= 1 + 1e-12)  # ‖A_i‖₂ ≤ 1


def test_convergence_warning_at_max_iter(rng):
    _, _, X = _problem(rng, noise=0.01)
    est = PALM(n_sources=3, lam=0.01, max_iter=3, tol=1e-12, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        est.fit(X)
    assert est.n_iter_ == 3 and not est.converged_


def test_large_lambda_gives_zero_sources_and_skips_the_a_step(rng):
    A, _, X = _problem(rng)
    lam = 10 * np.abs(A.T @ X).max() * 10  # above ‖AᵀX‖_∞ (and the S0 part): the first S-step gives S = 0
    res = palm(X[None], 3, lam, A0=A, max_iter=50, tol=1e-9, dtype="float64")
    assert torch.all(res.S == 0)
    np.testing.assert_array_equal(res.A[0].numpy(), A)  # L_A = 0: A kept as it was
    assert bool(res.converged[0]) and int(res.n_iter[0]) == 2


def test_initialisations(rng):
    X = torch.as_tensor(rng.standard_normal((2, 6, 50)))
    ones = initial_mixing(X, 3, "ones")
    np.testing.assert_allclose(ones.numpy(), np.full((2, 6, 3), 1 / np.sqrt(6)))
    r1 = initial_mixing(X, 3, "random", rng=7)
    r2 = initial_mixing(X, 3, "random", rng=7)
    assert torch.equal(r1, r2)
    np.testing.assert_allclose(torch.linalg.vector_norm(r1, dim=-2).numpy(), 1.0)
    big = np.full((6, 3), 2.0)
    given = initial_mixing(X, 3, "given", A0=big)  # projected onto the unit ball
    np.testing.assert_allclose(torch.linalg.vector_norm(given, dim=-2).numpy(), 1.0)
    with pytest.raises(ValueError, match="A0 must be given"):
        initial_mixing(X, 3, "given")
    with pytest.raises(ValueError, match="A0 must have shape"):
        initial_mixing(X, 3, "given", A0=np.ones((5, 3)))


def test_ones_start_keeps_columns_equal(rng):
    # documented: the all-ones start is symmetric and both PALM steps map equal columns to equal columns; only
    # rounding (amplified slowly, the symmetric point being unstable) separates them
    _, _, X = _problem(rng)
    res = palm(X[None], 3, 0.01, init="ones", max_iter=20, tol=0.0, dtype="float64")
    A = res.A[0].numpy()
    assert np.abs(A[:, 0] - A[:, 1]).max() < 1e-6 and np.abs(A[:, 1] - A[:, 2]).max() < 1e-6
    assert np.abs(A[:, 0] - A[:, 0].mean()).max() > 1e-2  # while the column itself did move


def test_parameter_errors():
    X = np.random.default_rng(0).standard_normal((5, 40))
    with pytest.raises(ValueError, match="'lam' parameter of PALM"):
        PALM(n_sources=2, lam=-1.0).fit(X)
    with pytest.raises(ValueError, match="A0 must be given"):
        PALM(n_sources=2, init="given").fit(X)
    with pytest.raises(ValueError, match="lam must be"):
        palm(X[None], 2, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="n_sources must be at most"):
        PALM(n_sources=6).fit(X)


def test_transform_is_lasso_with_fitted_a(rng):
    A, _, X = _problem(rng, noise=0.01)
    est = PALM(n_sources=3, lam=0.02, A0=A, max_iter=300, tol=1e-8, dtype="float64").fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        S_new = est.transform(X[:, :100])
    ref = ista(X[None, :, :100], est.mixing_, 0.02, max_iter=300, tol=1e-8, dtype="float64").S[0].numpy()
    np.testing.assert_allclose(S_new, ref, atol=1e-12)


def test_select_lambda_prefers_a_moderate_lambda(rng):
    A, S, X = _problem(rng, batch=4, t=200, noise=0.0)
    X = X + 0.01 * rng.standard_normal(X.shape)
    A0 = A.mean(0) + 0.05 * rng.standard_normal(A.shape[1:])
    lam_huge = 1e3
    sel = select_lambda(X, S, 3, [1e-3, 0.02, lam_huge], A_train=A, A0=A0, max_iter=300, tol=1e-7,
                        dtype="float64")
    assert sel.per_sample_nmse.shape == (3, 4) and sel.per_sample_iterations.shape == (3, 4)
    # λ above ‖AᵀX‖_∞ zeroes S: NMSE(S) = ‖0 − S‖²/‖S‖² = 1 exactly
    np.testing.assert_allclose(sel.per_sample_nmse[2], 1.0)
    assert sel.best_lambda != lam_huge
    assert sel.median_nmse.min() < 0.05
    np.testing.assert_allclose(sel.median_nmse, np.median(sel.per_sample_nmse, axis=1))
    # aligning on S (no A_train) gives the same choice here; the default grid spans 1e-5·λ_max … λ_max
    sel2 = select_lambda(X, S, 3, A0=A0, max_iter=30, tol=1e-6, dtype="float64", max_batch_elements=10**5)
    assert sel2.lambdas.size == 30
    np.testing.assert_allclose(sel2.lambdas[[0, -1]], [1e-5 * sel2.lambda_max, sel2.lambda_max])
