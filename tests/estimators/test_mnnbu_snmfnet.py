"""MNNBU and SNMF-net: unsupervised networks trained on one image inside ``fit`` (registry, constraints, training
lowers the reconstruction error, generalisation to other images, the CLI)."""

import numpy as np
import pytest
import torch

import semiblind
from semiblind import metrics
from semiblind.api import get_method
from semiblind.data import realistic
from semiblind.estimators.mnnbu import mnnbu_lr


@pytest.fixture(scope="module")
def cubes():
    _, A_te, _ = realistic.mixing_matrices("simulator", n_train=1, n_test=3, seed=0)
    return realistic.direct_test_set(A_te, image=(16, 16), seed=0)


@pytest.mark.parametrize("method", ["mnnbu", "snmf-net"])
def test_registered_trains_and_generalises(method, cubes):
    cls = get_method(method)
    assert cls.nonnegative
    est = cls(n_sources=4, epochs=25, random_state=0).fit(cubes.X[0])
    assert est.mixing_.shape == (65, 4) and est.sources_.shape == (4, 16, 16)
    assert np.isfinite(est.mixing_).all() and (est.mixing_ >= 0).all() and (est.sources_ >= 0).all()
    loss = est.history_["loss"]
    assert len(loss) == 25 and loss[-1] < loss[0]  # the per-image training lowers its own loss
    A, S = est.apply_network(torch.as_tensor(cubes.X[1:].reshape(2, 65, -1)))
    assert A.shape == (2, 65, 4) and S.shape == (2, 4, 256) and torch.isfinite(S).all()
    ev = metrics.evaluate(est.mixing_, est.sources_, cubes.A[0], cubes.S[0])
    assert ev["nmse_A"] < 1.0


def test_mnnbu_sum_to_one_and_normalisation(cubes):
    est = get_method("mnnbu")(n_sources=4, epochs=5, random_state=0).fit(cubes.X[0])
    S = est.sources_.reshape(4, -1)
    c = float(np.median(S.sum(0)))
    np.testing.assert_allclose(S.sum(0), c, rtol=1e-4)  # sum-to-one, times the data scale c
    norm = get_method("mnnbu")(n_sources=4, epochs=5, random_state=0, normalise_sources=True).fit(cubes.X[0])
    np.testing.assert_allclose(np.linalg.norm(norm.sources_.reshape(4, -1), axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(norm.mixing_ @ norm.sources_.reshape(4, -1), est.mixing_ @ S, rtol=1e-4, atol=1e-6)
    # the aligned metrics do not see the normalisation
    a = metrics.evaluate(est.mixing_, est.sources_, cubes.A[0], cubes.S[0])
    b = metrics.evaluate(norm.mixing_, norm.sources_, cubes.A[0], cubes.S[0])
    assert a["nmse_A"] == pytest.approx(b["nmse_A"], rel=1e-4)


def test_schedule_and_separate():
    assert mnnbu_lr(0) == mnnbu_lr(99) == 0.002
    assert mnnbu_lr(100) == pytest.approx(0.002 / 1.2) and mnnbu_lr(150) == pytest.approx(0.002 / 1.2**2)
    with pytest.raises(ValueError, match="epochs"):
        semiblind.separate(np.ones((8, 20)), 2, "mnnbu", epochs=0)


def test_negative_data_rejected():
    X = np.random.default_rng(0).standard_normal((8, 50))
    with pytest.raises(ValueError, match="nonnegative"):
        semiblind.separate(X, 2, "snmf-net", epochs=2)
