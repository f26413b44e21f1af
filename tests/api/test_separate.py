"""semiblind.separate with the PALM / ISTA / oracle methods: the Separation record, cubes, parameter errors."""

from __future__ import annotations

import numpy as np
import pytest

import semiblind


def _cube(rng, m=8, n=2, H=6, W=7):
    A = rng.standard_normal((m, n))
    A /= np.linalg.norm(A, axis=0)
    S = rng.standard_normal((n, H, W)) * (rng.random((n, H, W)) < 0.3)
    return A, S, np.einsum("mn,nhw->mhw", A, S)


def test_methods_are_registered():
    names = semiblind.methods()
    for name in ("palm", "ista", "fista", "oracle-s", "oracle-a"):
        assert name in names


def test_palm_on_a_cube_returns_maps(rng):
    A, S, X = _cube(rng)
    sep = semiblind.separate(X, 2, method="palm", lam=1e-3, A0=A, max_iter=500, tol=1e-6, dtype="float64")
    assert sep.A.shape == (8, 2) and sep.S.shape == (2, 6, 7)
    assert sep.method == "palm" and sep.params["lam"] == 1e-3 and sep.seconds >= 0
    assert isinstance(sep.n_iter, int) and isinstance(sep.converged, bool)
    assert len(sep.history["objective"]) == sep.n_iter + 1
    rel = np.linalg.norm(sep.A @ sep.S.reshape(2, -1) - X.reshape(8, -1)) / np.linalg.norm(X)
    assert rel < 1e-2  # noiseless data, A0 = truth, tiny λ: the fit is close


@pytest.mark.filterwarnings("ignore::semiblind.solvers.base.ConvergenceWarning")
def test_random_start_is_reproducible(rng):
    _, _, X = _cube(rng)
    a = semiblind.separate(X, 2, method="palm", random_state=3, max_iter=20, tol=0.0)
    b = semiblind.separate(X, 2, method="palm", random_state=3, max_iter=20, tol=0.0)
    np.testing.assert_array_equal(a.A, b.A)


def test_oracles_through_separate(rng):
    A, S, X = _cube(rng)
    s = semiblind.separate(X, 2, method="oracle-s", A=A, dtype="float64")
    np.testing.assert_allclose(s.S, S, atol=1e-10)
    a = semiblind.separate(X, 2, method="oracle-a", S=S, dtype="float64")
    np.testing.assert_allclose(a.A, A, atol=1e-10)


def test_unknown_parameter_names_the_valid_ones(rng):
    _, _, X = _cube(rng)
    with pytest.raises(ValueError, match="no parameter 'lambda'.*lam"):
        semiblind.separate(X, 2, method="palm", **{"lambda": 0.1})
