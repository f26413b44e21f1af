"""ISTA / FISTA with A known: lasso optimality, the orthonormal closed form, monotone ISTA objective, errors."""

from __future__ import annotations

import numpy as np
import pytest

import semiblind
from semiblind.solvers.ista import FISTA, ISTA, ista


def _problem(rng, m=15, n=4, t=200):
    A = rng.standard_normal((m, n))
    A /= np.linalg.norm(A, axis=0)
    S = rng.standard_normal((n, t)) * (rng.random((n, t)) < 0.2)
    return A, S, A @ S + 0.02 * rng.standard_normal((m, t))


@pytest.mark.parametrize("accelerated", [False, True])
def test_solution_satisfies_lasso_optimality(rng, accelerated):
    # KKT conditions of min ½‖X − AS‖² + λ‖S‖₁: g = Aᵀ(X − AS) equals λ·sign(S) where S ≠ 0 and |g| ≤ λ elsewhere
    A, _, X = _problem(rng)
    lam = 0.05
    res = ista(X[None], A, lam, max_iter=5000, tol=1e-11, accelerated=accelerated, dtype="float64")
    assert bool(res.converged[0])
    S = res.S[0].numpy()
    g = A.T @ (X - A @ S)
    nz = S != 0
    np.testing.assert_allclose(g[nz], lam * np.sign(S[nz]), atol=1e-7)
    assert np.all(np.abs(g[~nz]) <= lam + 1e-7)


def test_orthonormal_mixing_gives_soft_thresholded_projection(rng):
    # with AᵀA = I the lasso separates: S* = ST_λ(AᵀX), reached by ISTA's first step from S = 0 (L = 1)
    Q, _ = np.linalg.qr(rng.standard_normal((10, 3)))
    X = rng.standard_normal((10, 50))
    lam = 0.3
    AtX = Q.T @ X
    expected = np.sign(AtX) * np.maximum(np.abs(AtX) - lam, 0)
    res = ista(X[None], Q, lam, max_iter=10, tol=1e-12, dtype="float64")
    np.testing.assert_allclose(res.S[0].numpy(), expected, atol=1e-12)
    assert int(res.n_iter[0]) == 2  # step 1 reaches S*, step 2 sees ΔS = 0


def test_ista_objective_never_increases_and_fista_agrees(rng):
    A, _, X = _problem(rng)
    slow = ISTA(A=A, lam=0.05, max_iter=3000, tol=1e-10, dtype="float64").fit(X)
    obj = np.array(slow.history_["objective"])
    assert np.all(np.diff(obj) <= 1e-12 * obj[0])
    fast = FISTA(A=A, lam=0.05, max_iter=3000, tol=1e-10, dtype="float64").fit(X)
    assert fast.accelerated and fast.converged_
    np.testing.assert_allclose(fast.sources_, slow.sources_, atol=1e-8)
    np.testing.assert_array_equal(fast.mixing_, A)


def test_fista_is_ahead_on_an_ill_conditioned_problem(rng):
    # singular values 1 … 0.05: after the same number of steps FISTA's objective is lower (O(1/k²) vs O(1/k))
    A, _, X = _problem(rng)
    U, _, Vt = np.linalg.svd(A, full_matrices=False)
    A = U @ np.diag([1.0, 0.4, 0.15, 0.05]) @ Vt
    plain = ista(X[None], A, 0.05, max_iter=100, tol=0.0, dtype="float64")
    accel = ista(X[None], A, 0.05, max_iter=100, tol=0.0, accelerated=True, dtype="float64")
    assert accel.history["objective"][-1] < plain.history["objective"][-1]


def test_batched_with_per_sample_matrices(rng):
    (A1, _, X1), (A2, _, X2) = _problem(rng), _problem(rng)
    est = ISTA(A=np.stack([A1, A2]), lam=0.05, max_iter=2000, tol=1e-9, dtype="float64")
    est.fit_batch(np.stack([X1, X2]))
    for i, (A, X) in enumerate([(A1, X1), (A2, X2)]):
        one = ISTA(A=A, lam=0.05, max_iter=2000, tol=1e-9, dtype="float64").fit(X)
        assert one.n_iter_ == est.n_iter_[i]
        np.testing.assert_allclose(one.sources_, est.sources_[i], atol=1e-12)


def test_separate_and_errors(rng):
    A, _, X = _problem(rng)
    sep = semiblind.separate(X, 4, method="fista", A=A, lam=0.05, max_iter=2000, tol=1e-6)
    assert sep.S.shape == (4, 200) and sep.method == "fista"
    with pytest.raises(ValueError, match="'A' parameter of ISTA must be an array"):
        ISTA(lam=0.1).fit(X)
    with pytest.raises(ValueError, match="n_sources must equal"):
        ISTA(A=A, n_sources=3).fit(X)
    with pytest.raises(ValueError, match=r"A must have shape \(15, ·\)"):
        ISTA(A=A[:5]).fit(X)
    with pytest.raises(ValueError, match="A must be a 2-D array"):
        ISTA(A=A[:, 0]).fit(X)
