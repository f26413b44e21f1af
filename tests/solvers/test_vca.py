"""VCA, FCLS, NNLS and the "vca-fcls" estimator: pure pixels, constraints, KKT optimality, batching, seeds."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.optimize import nnls

from semiblind.mixing import add_noise
from semiblind.solvers.vca import EXACT_MAX_SOURCES, VCAFCLS, fcls, nnls_abundances, vca


def simplex_problem(seed: int = 0, m: int = 30, n: int = 4, t: int = 1500):
    """Endmembers A (m, n) ≥ 0, abundances on the simplex (Dirichlet), one planted pure pixel per endmember.

    Mixed pixels are kept away from the vertices (abundances in [0.05, 0.85]), so the pure pixels are the
    unique vertices of the data simplex.
    """
    rng = np.random.default_rng(seed)
    A = rng.random((m, n)) + 0.1
    S = rng.dirichlet(np.ones(n), t).T
    S = 0.2 / n + 0.8 * S  # abundances in [0.05, 0.85]: no mixed pixel at a vertex
    pure = rng.choice(t, n, replace=False)
    S[:, pure] = np.eye(n)
    return A, S, A @ S, pure


# -------------------------------------------------------------------------------------------------------- VCA


@pytest.mark.parametrize("snr", [None, 40.0, 5.0])  # None: estimated (noiseless → projective); 5 dB: subspace
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vca_finds_planted_pure_pixels(seed, snr):
    A, _, X, pure = simplex_problem(seed)
    A_hat, idx = vca(X, 4, rng=seed, snr=snr)
    assert sorted(idx.tolist()) == sorted(pure.tolist())
    np.testing.assert_array_equal(A_hat, X[:, idx])  # endmembers are data columns
    order = [int(np.flatnonzero(pure == i)[0]) for i in idx]  # which true endmember each index is
    np.testing.assert_allclose(A_hat, A[:, order], rtol=1e-12)


def test_vca_same_seed_same_result_with_noise():
    _, _, X, _ = simplex_problem(3)
    Xn, _ = add_noise(X, 20.0, rng=0)
    _, i1 = vca(Xn, 4, rng=7)
    _, i2 = vca(Xn, 4, rng=7)
    np.testing.assert_array_equal(i1, i2)


def test_vca_bad_input():
    _, _, X, _ = simplex_problem(4)
    with pytest.raises(ValueError, match="n must be at most"):
        vca(X, 31)
    with pytest.raises(ValueError, match="snr"):
        vca(X, 4, snr=float("nan"))


# ------------------------------------------------------------------------------------------- FCLS and NNLS


def test_fcls_constraints_and_kkt_on_noisy_data():
    A, _, X, _ = simplex_problem(5, t=600)
    Xn, _ = add_noise(X, 15.0, rng=1)
    S = fcls(Xn, A)
    assert S.shape == (4, 600)
    assert S.min() >= -1e-12  # nonnegativity
    assert np.abs(S.sum(0) - 1).max() <= 1e-8  # sum-to-one
    # KKT of min ½‖x − As‖² s.t. s ≥ 0, 1ᵀs = 1: g = Aᵀ(As − x) equals −μ on the support and is ≥ −μ off it.
    G = A.T @ (A @ S - Xn)
    scale = np.abs(G).max()
    for i in range(S.shape[1]):
        on = S[:, i] > 1e-9
        mu = -G[on, i].mean()
        assert np.abs(G[on, i] + mu).max() <= 1e-6 * scale
        assert (G[~on, i] + mu >= -1e-6 * scale).all()


def test_fcls_exact_on_noiseless_data():
    A, S, X, _ = simplex_problem(6, t=300)
    np.testing.assert_allclose(fcls(X, A), S, atol=1e-8)


def test_nnls_abundances_kkt():
    A, _, X, _ = simplex_problem(7, t=300)
    Xn, _ = add_noise(X, 10.0, rng=2)
    S = nnls_abundances(Xn, A)
    assert S.min() >= 0
    G = A.T @ (A @ S - Xn)  # KKT: G = 0 where S > 0, G ≥ 0 where S = 0
    scale = np.abs(A.T @ Xn).max()
    assert np.abs(G[S > 0]).max() <= 1e-9 * scale
    assert (G[S == 0] >= -1e-9 * scale).all()


def test_fcls_bad_input():
    A, _, X, _ = simplex_problem(8, t=50)
    with pytest.raises(ValueError, match="A must have 30 rows"):
        fcls(X, A[:10])


def _scipy_fcls(X, A):
    """The former per-pixel reference: scipy's NNLS on the augmented system [A; δ1ᵀ] s ≈ [x; δ]."""
    delta = 1e5 * np.linalg.norm(A, axis=0).max()
    Aug = np.vstack([A, np.full((1, A.shape[1]), delta)])
    S = np.stack([nnls(Aug, np.append(X[:, i], delta))[0] for i in range(X.shape[1])], 1)
    return S / S.sum(0)


@pytest.mark.parametrize("n", [3, 4, 6, 12])  # 12 > EXACT_MAX_SOURCES: the iterative solvers
def test_batched_abundances_equal_scipy_per_pixel(n):
    rng = np.random.default_rng(n)
    exact = n <= EXACT_MAX_SOURCES
    # exact solver: correlated positive spectra; iterative one (its speed depends on the conditioning; it
    # reached 2e-4 in 5000 iterations on the correlated case with n = 12, m = 20): a well-conditioned A
    A = np.abs(rng.normal(1.0, 0.3, (20, n))) + 0.5 if exact else rng.random((40, n))
    X = A @ rng.dirichlet(np.full(n, 0.5), 100).T + 0.05 * rng.standard_normal((A.shape[0], 100))
    tol = 1e-9 if exact else 1e-7
    np.testing.assert_allclose(fcls(X, A), _scipy_fcls(X, A), atol=tol)
    ref = np.stack([nnls(A, X[:, i])[0] for i in range(X.shape[1])], 1)
    np.testing.assert_allclose(nnls_abundances(X, A), ref, atol=tol * np.abs(ref).max())


def test_verbose_shows_the_abundance_progress(capsys):
    A, _, X, _ = simplex_problem(3, t=100)
    VCAFCLS(n_sources=4, random_state=0, verbose=True).fit(X)
    assert "FCLS supports" in capsys.readouterr().err
    VCAFCLS(n_sources=4, random_state=0).fit(X)
    assert capsys.readouterr().err == ""


def test_fcls_speed_65x4_16k():
    rng = np.random.default_rng(0)
    A = rng.random((65, 4))
    X = A @ rng.dirichlet(np.ones(4), 16384).T + 0.01 * rng.standard_normal((65, 16384))
    t0 = time.perf_counter()
    S = fcls(X, A)
    seconds = time.perf_counter() - t0
    assert np.abs(S.sum(0) - 1).max() <= 1e-8
    assert seconds < 20.0  # about 0.3 s on one idle core; generous for a shared test machine


# ------------------------------------------------------------------------------------------------ estimator


def test_vcafcls_estimator():
    A, S, X, pure = simplex_problem(9)
    est = VCAFCLS(n_sources=4, random_state=0, dtype="float64").fit(X)
    idx = np.asarray(est.info_["indices"][0])
    assert sorted(idx.tolist()) == sorted(pure.tolist())
    np.testing.assert_array_equal(est.mixing_, X[:, idx])
    order = [int(np.flatnonzero(pure == i)[0]) for i in idx]
    np.testing.assert_allclose(est.sources_, S[order], atol=1e-8)
    np.testing.assert_allclose(est.transform(X), est.sources_, atol=1e-12)
    assert est.n_iter_ == 4 and est.converged_


def test_vcafcls_batched_equals_one_by_one_and_seed():
    Xs = np.stack([add_noise(simplex_problem(s, t=400)[2], 25.0, rng=s)[0] for s in range(3)])
    batch = VCAFCLS(n_sources=4, random_state=11).fit_batch(Xs)
    for b in range(3):
        one = VCAFCLS(n_sources=4, random_state=11).fit(Xs[b])
        np.testing.assert_array_equal(batch.mixing_[b], one.mixing_)
        np.testing.assert_allclose(batch.sources_[b], one.sources_, atol=1e-6)
    again = VCAFCLS(n_sources=4, random_state=11).fit_batch(Xs)
    np.testing.assert_array_equal(again.mixing_, batch.mixing_)


def test_vcafcls_nnls_option_and_registry():
    from semiblind.api import methods

    assert methods()["vca-fcls"] is VCAFCLS
    A, _, X, _ = simplex_problem(10, t=300)
    est = VCAFCLS(n_sources=4, abundances="nnls", random_state=0).fit(X)
    assert est.sources_.min() >= 0
    with pytest.raises(ValueError, match="abundances"):
        VCAFCLS(n_sources=4, abundances="sunsal").fit(X)
