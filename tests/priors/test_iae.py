"""IAE: barycentric weights (KKT), generator, fast and exact projections, training with exact resume, model files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from semiblind.priors.iae import (
    IAE,
    barycentric_weights,
    exact_projection,
    fast_projection,
    sum_to_one_basis,
)
from semiblind.training.iae import load_iae, projection_sad_db, save_iae, train_iae


def _kkt(z: torch.Tensor, Phi: torch.Tensor) -> torch.Tensor:
    d, k = Phi.shape
    K = torch.zeros(k + 1, k + 1, dtype=Phi.dtype)
    K[:k, :k] = Phi.T @ Phi
    K[:k, k] = 1
    K[k, :k] = 1
    rhs = torch.cat([z @ Phi, torch.ones(z.shape[0], 1, dtype=Phi.dtype)], dim=1)
    return torch.linalg.solve(K, rhs.T).T[:, :k]


def test_barycentric_weights_match_the_kkt_solution():
    g = torch.Generator().manual_seed(0)
    Phi = torch.randn(20, 3, generator=g, dtype=torch.float64)
    z = torch.randn(7, 20, generator=g, dtype=torch.float64)
    lam = barycentric_weights(z, Phi)
    torch.testing.assert_close(lam, _kkt(z, Phi), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(lam.sum(-1), torch.ones(7, dtype=torch.float64))
    # a code on the affine hull is reproduced exactly
    w = torch.tensor([[0.2, 0.5, 0.3], [1.5, -0.25, -0.25]], dtype=torch.float64)
    torch.testing.assert_close(barycentric_weights(w @ Phi.T, Phi), w, rtol=1e-5, atol=1e-6)


def test_barycentric_weights_rank_deficient_anchors_are_finite_and_minimal():
    Phi = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)  # anchors 1 and 2 coincide
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    lam = barycentric_weights(z, Phi)
    assert torch.isfinite(lam).all()
    torch.testing.assert_close(lam.sum(-1), torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(lam @ Phi.T, z, rtol=1e-6, atol=1e-6)  # still an exact fit
    # minimum norm: the weight is split between the twins
    torch.testing.assert_close(lam[:, 0], lam[:, 1], rtol=1e-6, atol=1e-6)
    Q = sum_to_one_basis(4, dtype=torch.float64)
    torch.testing.assert_close(Q.T @ Q, torch.eye(3, dtype=torch.float64))
    torch.testing.assert_close(Q.sum(0), torch.zeros(3, dtype=torch.float64), rtol=0, atol=1e-12)


def test_iae_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_anchors"):
        IAE(m=10, n_anchors=1)
    with pytest.raises(ValueError, match="activation"):
        IAE(m=10, n_anchors=2, activation="sigmoidish")
    with pytest.raises(ValueError, match="anchors must have shape"):
        IAE(m=10, n_anchors=2).set_anchors(torch.ones(3, 10))


def _toy_family(n: int, m: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Power-law-like continua ``exp(−γ·c/m)`` with γ in [0.5, 3]: a 1-D manifold; anchors at both ends."""
    gen = np.random.default_rng(seed)
    ch = np.arange(m) / m
    g = gen.uniform(0.5, 3.0, n)
    x = np.exp(-g[:, None] * ch[None])
    anchors = np.exp(-np.array([[0.5], [3.0]]) * ch[None])
    return x, anchors


@pytest.fixture(scope="module")
def toy_model():
    x, anchors = _toy_family(300)
    r = train_iae(x, anchors, layers=2, epochs=25, lr=3e-3, lr_final=1e-4, batch_size=50, seed=1, family="bump")
    return r, x


def test_training_lowers_the_loss_and_projections_fit(toy_model):
    r, x = toy_model
    assert r.train_loss[-1] < 0.5 * r.train_loss[0]
    test, _ = _toy_family(40, seed=5)
    fast = projection_sad_db(r.model, test)
    exact = projection_sad_db(r.model, test, exact=True)
    untrained = IAE(m=x.shape[1], n_anchors=2, layers=2)
    untrained.set_anchors(torch.as_tensor(_toy_family(1)[1], dtype=torch.float32))
    assert np.median(fast) > 10.0
    assert np.median(fast) > np.median(projection_sad_db(untrained, test)) + 5.0
    assert np.all(exact >= fast - 1e-3)  # the exact projection starts from the fast one and never gets worse


def test_fast_and_exact_projection_shapes_and_scale(toy_model):
    model = toy_model[0].model
    a = torch.as_tensor(_toy_family(5, seed=7)[0], dtype=torch.float32) * 3.0
    p, lam, rho = fast_projection(model, a)
    assert p.shape == a.shape and lam.shape == (5, 2) and rho.shape == (5,)
    torch.testing.assert_close(lam.sum(-1), torch.ones(5))
    pe, lame, rhoe, it = exact_projection(model, a, return_iterations=True)
    assert it >= 1 and bool((rhoe >= 0).all())
    torch.testing.assert_close(lame.sum(-1), torch.ones(5))
    err_f = ((a - p) ** 2).sum(-1)
    err_e = ((a - pe) ** 2).sum(-1)
    assert bool((err_e <= err_f + 1e-6).all())
    # the fast projection is differentiable (an unrolled network trains through it)
    a.requires_grad_(True)
    fast_projection(model, a)[0].sum().backward()
    assert a.grad is not None and torch.isfinite(a.grad).all()
    for method in ("lbfgs", "adam"):
        pm = exact_projection(model, a.detach(), method=method, max_iter=50)[0]
        assert bool((((a.detach() - pm) ** 2).sum(-1) <= err_f.detach() * 1.01 + 1e-6).all())
    with pytest.raises(ValueError, match="method"):
        exact_projection(model, a.detach(), method="newton")


def test_model_file_round_trip(toy_model, tmp_path):
    model = toy_model[0].model
    d = save_iae(model, tmp_path / "iae-bump")
    back = load_iae(d)
    assert back.family == "bump" and back.m == model.m and back.n_anchors == 2
    x = torch.as_tensor(_toy_family(4, seed=3)[0], dtype=torch.float32)
    torch.testing.assert_close(back(x), model(x))
    import json
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["data_contract"]["preprocessing"]["normalisation"] == "unit_l2"
    assert cfg["data_contract"]["family"] == "bump" and cfg["architecture"]["class"] == "IAE"
    with pytest.raises(ValueError, match="channels"):
        load_iae(d, m=model.m + 1)


def test_resume_is_exact(tmp_path):
    x, anchors = _toy_family(60, m=12)
    anchors = anchors[:, :12]
    kw = {"layers": 1, "lr": 1e-3, "batch_size": 20, "seed": 3}
    full = train_iae(x, anchors, epochs=6, **kw)
    ck = tmp_path / "ck"
    train_iae(x, anchors, epochs=3, checkpoint_dir=ck, checkpoint_every=3, **kw)
    resumed = train_iae(x, anchors, epochs=6, checkpoint_dir=ck, resume=True, **kw)
    for (k, v), (_, w) in zip(full.model.state_dict().items(), resumed.model.state_dict().items()):
        torch.testing.assert_close(v, w, rtol=0, atol=0, msg=k)
    assert resumed.train_loss == pytest.approx(full.train_loss, rel=1e-12)
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        train_iae(x, anchors, epochs=2, checkpoint_dir=tmp_path / "none", resume=True, **kw)
    with pytest.raises(ValueError, match="train"):
        train_iae(np.full((3, 12), math.nan), anchors, epochs=1)
