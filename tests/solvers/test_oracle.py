"""Oracles: S from the true A and A from the true S recover the truth on noiseless data."""

from __future__ import annotations

import numpy as np
import pytest

import semiblind
from semiblind.solvers.oracle import OracleA, OracleS


def test_oracle_s_is_exact_on_noiseless_data(rng):
    A = rng.standard_normal((8, 3))
    S = rng.standard_normal((3, 5, 6))
    X = np.einsum("mn,nhw->mhw", A, S)
    est = OracleS(A=A, dtype="float64").fit(X)
    assert est.sources_.shape == (3, 5, 6)
    np.testing.assert_allclose(est.sources_, S, atol=1e-10)
    assert est.n_iter_ == 1 and est.converged_


def test_oracle_s_threshold_on_orthonormal_mixing(rng):
    Q, _ = np.linalg.qr(rng.standard_normal((6, 2)))
    X = rng.standard_normal((6, 40))
    proj = Q.T @ X  # A⁺X for orthonormal columns
    expected = np.sign(proj) * np.maximum(np.abs(proj) - 0.5, 0)
    sep = semiblind.separate(X, 2, method="oracle-s", A=Q, lam=0.5, dtype="float64")
    np.testing.assert_allclose(sep.S, expected, atol=1e-12)


def test_oracle_a_is_exact_and_projects(rng):
    A = 3 * rng.standard_normal((7, 2))  # columns of norm ≈ 3·√7 > 1
    S = rng.standard_normal((2, 100))
    X = A @ S
    est = OracleA(S=S, dtype="float64").fit(X)
    np.testing.assert_allclose(est.mixing_, A, atol=1e-10)
    np.testing.assert_array_equal(est.sources_, S)
    proj = OracleA(S=S, project=True, dtype="float64").fit(X)
    np.testing.assert_allclose(np.linalg.norm(proj.mixing_, axis=0), 1.0)
    np.testing.assert_allclose(proj.mixing_, A / np.linalg.norm(A, axis=0), atol=1e-10)


def test_oracles_batched_and_cube(rng):
    A = rng.standard_normal((2, 6, 2))
    S = rng.standard_normal((2, 2, 4, 5))
    X = np.einsum("bmn,bnhw->bmhw", A, S)
    est = OracleA(S=S, dtype="float64").fit_batch(X)  # one S per sample
    np.testing.assert_allclose(est.mixing_, A, atol=1e-10)
    est = OracleS(A=A, dtype="float64").fit_batch(X)
    np.testing.assert_allclose(est.sources_, S, atol=1e-10)
    shared = OracleA(S=S[0], dtype="float64").fit_batch(X[:1])  # one S shared by the batch
    np.testing.assert_allclose(shared.mixing_[0], A[0], atol=1e-10)


def test_oracle_errors(rng):
    X = rng.standard_normal((6, 40))
    with pytest.raises(ValueError, match="'S' parameter of OracleA must be an array"):
        OracleA().fit(X)
    with pytest.raises(ValueError, match="as many pixels as X"):
        OracleA(S=rng.standard_normal((2, 39))).fit(X)
    with pytest.raises(ValueError, match="n_sources must equal"):
        OracleS(A=rng.standard_normal((6, 2)), n_sources=3).fit(X)
