"""method="cnnaeu": per-image training inside fit, seeding, the registry, input checks."""

from __future__ import annotations

import numpy as np
import pytest

import semiblind
from semiblind.api import methods


def _cube(seed: int = 0, m: int = 16, H: int = 14, W: int = 14) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lam = np.linspace(0, 1, m)
    A = 0.1 + np.exp(-0.5 * ((lam[:, None] - np.array([0.2, 0.5, 0.8])[None, :]) / 0.15) ** 2)
    S = rng.dirichlet(np.ones(3) * 0.5, size=H * W).T
    return (A @ S).reshape(m, H, W), A


def test_cnnaeu_is_registered_and_trains_inside_fit():
    assert "cnnaeu" in methods()
    X, _ = _cube()
    kw = dict(epochs=25, patch_size=10, batch_size=4, kernel_size=5, lr=3e-3)
    sep = semiblind.separate(X, 3, "cnnaeu", random_state=0, **kw)
    assert sep.A.shape == (16, 3) and sep.S.shape == (3, 14, 14)
    np.testing.assert_allclose(sep.S.sum(0), 1.0, atol=1e-5)
    loss = sep.history["loss"]
    assert len(loss) == sep.n_iter == 25  # 4 patches (at least one batch), one step per epoch
    assert np.mean(loss[-5:]) < 0.8 * np.mean(loss[:5])  # training lowers the spectral-angle loss
    again = semiblind.separate(X, 3, "cnnaeu", random_state=0, **kw)
    np.testing.assert_array_equal(sep.A, again.A)
    other = semiblind.separate(X, 3, "cnnaeu", random_state=1, **kw)
    assert not np.array_equal(sep.A, other.A)


def test_cnnaeu_needs_a_cube():
    X, _ = _cube()
    with pytest.raises(ValueError, match="cube"):
        semiblind.separate(X.reshape(16, -1), 3, "cnnaeu", epochs=1)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        semiblind.separate(X, 3, "cnnaeu", epochs=1, kernel_size=4)
