"""Separators nalmu, almu (shipped or given models) and dnmf (trained per image)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import semiblind
from semiblind.api import methods
from semiblind.data.mixtures import simulate_xray
from semiblind.training.lmu_loss import matched_sad
from semiblind.training.model_files import shipped_models
from semiblind.unrolled.lmu import ALMU, NALMU


def _cube(seed=0, image=(8, 8)):
    d = simulate_xray(1, image=image, sources="natural", snr_db=60, rng=seed, progress=False)
    return d.X[0], d.A[0], d.S[0], d.energies


def _sad(A, S, A_true, S_true):
    ca, cs = matched_sad(torch.as_tensor(A)[None].double(), torch.as_tensor(S).reshape(1, A.shape[1], -1).double(),
                         torch.as_tensor(A_true)[None].double(),
                         torch.as_tensor(S_true).reshape(1, A.shape[1], -1).double())
    return float(ca[0]), float(cs[0])


def test_registered_with_their_attributes():
    table = methods()
    for name in ("nalmu", "almu", "dnmf"):
        assert name in table and table[name].nonnegative is True


def test_given_untrained_module_is_mu_and_shapes_follow_the_cube():
    X, A, S, _ = _cube()
    net = NALMU(n_channels=65, n_sources=4, layers=5)
    sep = semiblind.separate(X, 4, method="nalmu", model=net)
    assert sep.A.shape == (65, 4) and sep.S.shape == (4, 8, 8)
    assert np.isfinite(sep.A).all() and (sep.A > 0).all()
    with torch.no_grad():
        a, s = net(torch.as_tensor(X, dtype=torch.float32).reshape(1, 65, -1).clamp_min(0))
    np.testing.assert_allclose(sep.A, a[0].numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="ALMU"):
        semiblind.separate(X, 4, method="almu", model=net)


def test_negative_data_refused():
    X, *_ = _cube()
    with pytest.raises(ValueError, match="nonnegative"):
        semiblind.separate(X - X.mean(), 4, method="nalmu", model=NALMU(n_channels=65, n_sources=4, layers=2))


@pytest.mark.skipif(not {"nalmu-xray65", "almu-xray65"} <= set(shipped_models()), reason="models not trained yet")
def test_shipped_models_picked_by_grid_and_beat_mu_at_the_same_iterations():
    X, A, S, energies = _cube(5, image=(16, 16))
    res = {}
    for name in ("nalmu", "almu"):
        sep = semiblind.separate(X, 4, method=name, energies=energies)
        assert sep.info["model"] == f"{name}-xray65"
        res[name] = _sad(sep.A, sep.S, A, S)
    mu = semiblind.separate(X, 4, method="nalmu", model=NALMU(n_channels=65, n_sources=4, layers=50))
    mu_sad = _sad(mu.A, mu.S, A, S)
    assert res["almu"][0] > mu_sad[0] and res["nalmu"][0] > mu_sad[0]
    with pytest.raises(ValueError, match="energ"):
        semiblind.separate(X, 4, method="almu", energies=np.linspace(1.0, 9.0, 65))
    assert isinstance(semiblind.training.load_model("almu-xray65"), ALMU)


def test_dnmf_trains_per_image_and_validates():
    X, A, S, _ = _cube(2)
    sep = semiblind.separate(X, 4, method="dnmf", epochs=15, layers=3, progress=False)
    assert sep.A.shape == (65, 4) and sep.S.shape == (4, 8, 8)
    assert np.isfinite(sep.A).all() and (sep.A >= 0).all() and (sep.S >= 0).all()
    loss = sep.history["loss"]
    assert len(loss) == 15 and loss[-1] < loss[0]
    with pytest.raises(ValueError, match="lam"):
        semiblind.separate(X, 4, method="dnmf", lam=-1.0)
    with pytest.raises(ValueError, match="epochs"):
        semiblind.separate(X, 4, method="dnmf", epochs=0)
