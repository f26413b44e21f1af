"""Forward model and exact-SNR noise of semiblind.mixing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semiblind.mixing import add_noise, realised_snr_db


def _snr(Xc: np.ndarray, N: np.ndarray, axes) -> np.ndarray:
    """10·log10(‖X‖²/‖N‖²), written out independently of the module under test."""
    sig = (Xc.astype(np.float64) ** 2).sum(axis=axes)
    return 10 * np.log10(sig / (N.astype(np.float64) ** 2).sum(axis=axes))


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 30.0, 60.0])
def test_add_noise_exact_snr_per_sample_float64(snr_db):
    rng = np.random.default_rng(1)
    # samples of very different power: each must reach snr_db on its own
    X = rng.random((5, 4, 50)) * np.array([1e-3, 1.0, 7.0, 1e2, 1e4])[:, None, None]
    Xn, N = add_noise(X, snr_db, rng=3)
    assert Xn.shape == X.shape and N.dtype == np.float64
    np.testing.assert_allclose(Xn - X, N, rtol=0, atol=1e-9 * np.abs(X).max())
    np.testing.assert_allclose(_snr(X, N, (1, 2)), snr_db, rtol=0, atol=1e-9)
    np.testing.assert_allclose(realised_snr_db(X, N), snr_db, rtol=0, atol=1e-9)


def test_add_noise_single_sample_and_cube():
    X = np.arange(1.0, 13.0).reshape(3, 4)
    _, N = add_noise(X, 20.0, rng=0)
    assert _snr(X, N, None) == pytest.approx(20.0, abs=1e-9)
    cube = np.arange(1.0, 25.0).reshape(2, 3, 4)
    _, Nc = add_noise(cube, 15.0, rng=0, batched=False)  # one (m, H, W) cube: one SNR over all of it
    assert _snr(cube, Nc, None) == pytest.approx(15.0, abs=1e-9)
    _, Nb = add_noise(cube, 15.0, rng=0)  # default: 3-D is a batch of two (3, 4) samples
    np.testing.assert_allclose(_snr(cube, Nb, (1, 2)), 15.0, atol=1e-9)
    assert realised_snr_db(cube, Nc, batched=False) == pytest.approx(15.0, abs=1e-9)


def test_add_noise_seeded_reproducible():
    X = np.random.default_rng(2).random((3, 4, 20))
    _, N1 = add_noise(X, 10.0, rng=42)
    _, N2 = add_noise(X, 10.0, rng=np.random.default_rng(42))
    _, N3 = add_noise(X, 10.0, rng=43)
    np.testing.assert_array_equal(N1, N2)
    assert not np.allclose(N1, N3)
    # a Generator is consumed: two calls give different noise
    g = np.random.default_rng(5)
    _, Na = add_noise(X, 10.0, rng=g)
    _, Nb = add_noise(X, 10.0, rng=g)
    assert not np.allclose(Na, Nb)


def test_add_noise_dtypes_and_tensors():
    X = np.random.default_rng(3).random((2, 3, 30))
    Xn32, N32 = add_noise(X.astype(np.float32), 25.0, rng=0)
    assert Xn32.dtype == np.float32 and N32.dtype == np.float32
    np.testing.assert_allclose(_snr(X.astype(np.float32), N32, (1, 2)), 25.0, atol=1e-4)
    Xi, Ni = add_noise(np.arange(1, 13).reshape(3, 4), 10.0, rng=0)
    assert Xi.dtype == np.float64
    Xt = torch.as_tensor(X)
    Xtn, Nt = add_noise(Xt, 25.0, rng=0)
    assert isinstance(Xtn, torch.Tensor) and Nt.dtype == torch.float64
    np.testing.assert_allclose(_snr(X, Nt.numpy(), (1, 2)), 25.0, atol=1e-9)
    # same seed, same noise whether the input is a tensor or an array
    _, Nn = add_noise(X, 25.0, rng=0)
    np.testing.assert_array_equal(Nt.numpy(), Nn)


def test_add_noise_infinite_snr_is_noiseless():
    X = np.random.default_rng(4).random((3, 10))
    Xn, N = add_noise(X, np.inf, rng=0)
    np.testing.assert_array_equal(N, 0.0)
    np.testing.assert_array_equal(Xn, X)


@pytest.mark.parametrize("bad", [np.nan, -np.inf])
def test_add_noise_rejects_bad_snr(bad):
    with pytest.raises(ValueError, match="snr_db"):
        add_noise(np.ones((2, 3)), bad, rng=0)


@pytest.mark.parametrize("bad", ["20", None, [20.0]])
def test_add_noise_rejects_non_numeric_snr(bad):
    with pytest.raises(TypeError, match="snr_db must be a real number"):
        add_noise(np.ones((2, 3)), bad, rng=0)


def test_add_noise_rejects_zero_sample_and_1d():
    X = np.ones((2, 3, 4))
    X[1] = 0.0
    with pytest.raises(ValueError, match="X_clean must not contain an all-zero sample"):
        add_noise(X, 10.0, rng=0)
    with pytest.raises(ValueError, match="X_clean must have at least 2 dimensions"):
        add_noise(np.ones(5), 10.0, rng=0)
