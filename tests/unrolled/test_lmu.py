"""Unrolled MU networks: NALMU at init is MU, ALMU at init is MU, positivity, no NaN, DNMF's update, eq. 3 loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from semiblind.solvers.nmf import mu_update_a, mu_update_s
from semiblind.training.lmu_loss import LMUSADLoss, linear_layer_weights, matched_sad
from semiblind.unrolled.lmu import ALMU, DNMF, NALMU, data_scale, dnmf_update_s, mu_start, positive_mask


def _data(seed=0, B=3, m=12, n=3, t=64):
    g = torch.Generator().manual_seed(seed)
    A = torch.rand(B, m, n, generator=g, dtype=torch.float64)
    S = torch.rand(B, n, t, generator=g, dtype=torch.float64)
    return A @ S, A, S


def _mu_reference(X, n, L):
    c = data_scale(X)
    A, S = mu_start(X / c, n)
    for _ in range(L):
        A = mu_update_a(A, S, X / c)
        S = mu_update_s(A, S, X / c)
    return A, S * c


def test_nalmu_at_init_is_mu_to_float_precision():
    X, _, _ = _data()
    net = NALMU(n_channels=12, n_sources=3, layers=7, dtype="float64")
    A, S, As, Ss = net(X, return_layers=True)
    A_ref, S_ref = _mu_reference(X, 3, 7)
    torch.testing.assert_close(A, A_ref, rtol=1e-12, atol=0)
    torch.testing.assert_close(S, S_ref, rtol=1e-12, atol=0)
    assert len(As) == len(Ss) == 7 and torch.equal(As[-1], A)


def test_almu_at_init_is_mu_and_has_the_paper_sizes():
    X, _, _ = _data(1)
    net = ALMU(n_channels=12, n_sources=3, layers=6, nalmu_layers=2, dtype="float64")
    A, S, As, _ = net(X, return_layers=True)
    A_ref, S_ref = _mu_reference(X, 3, 6)
    torch.testing.assert_close(A, A_ref, rtol=1e-12, atol=0)
    torch.testing.assert_close(S, S_ref, rtol=1e-12, atol=0)
    assert len(As) == 6 and len(net.mlps) == 4
    lin = [mod for mod in net.mlps[0] if isinstance(mod, torch.nn.Linear)]
    assert [(x.in_features, x.out_features) for x in lin] == [(36, 130), (130, 75), (75, 36)]


def test_masks_change_the_result_and_stay_positive():
    X, _, _ = _data(2)
    net = NALMU(n_channels=12, n_sources=3, layers=4, dtype="float64")
    with torch.no_grad():
        net.w_A.fill_(-50.0)  # a huge negative w: mask exp(-50) > 0, A floored at eps, never NaN
    A, S = net(X)
    assert bool(torch.isfinite(A).all() and torch.isfinite(S).all()) and bool((A > 0).all())
    assert not torch.allclose(A, _mu_reference(X, 3, 4)[0])
    z = torch.tensor([-1e6, 0.0, 1e6])
    m = positive_mask(z)
    assert float(m[1]) == 1.0 and 0 < float(m[0]) and float(m[2]) == pytest.approx(math.exp(5.0))


def test_dead_row_of_S_gives_no_nan_and_gradients_are_finite():
    X, A, S = _data(3)
    S = S.clone()
    S[:, 1] = 0.0  # a dead source: X has rank 2
    X = A @ S
    net = ALMU(n_channels=12, n_sources=3, layers=4, nalmu_layers=2)
    A_h, S_h, As, Ss = net(X.float(), return_layers=True)
    assert bool(torch.isfinite(A_h).all() and torch.isfinite(S_h).all())
    loss = LMUSADLoss()(As, Ss, A.float(), (S + 1e-3).float())
    loss.backward()
    for p in net.parameters():
        if p.grad is not None:
            assert bool(torch.isfinite(p.grad).all())
    # all-zero data: no NaN either
    A0, S0 = NALMU(n_channels=12, n_sources=3, layers=3)(torch.zeros(1, 12, 16))
    assert bool(torch.isfinite(A0).all() and torch.isfinite(S0).all())


def test_scale_equivariance():
    X, _, _ = _data(4)
    net = NALMU(n_channels=12, n_sources=3, layers=5, dtype="float64")
    with torch.no_grad():
        net.w_A.normal_(0, 0.3, generator=torch.Generator().manual_seed(0))
    A1, S1 = net(X)
    A2, S2 = net(1000.0 * X)
    torch.testing.assert_close(A1, A2, rtol=1e-9, atol=0)
    torch.testing.assert_close(1000.0 * S1, S2, rtol=1e-9, atol=0)


def test_dnmf_update_is_mu_when_w_is_a():
    X, A, S = _data(5)
    S0 = torch.rand_like(S) + 0.1
    torch.testing.assert_close(dnmf_update_s(S0, X, A.mT @ A, A.mT), mu_update_s(A, S0, X), rtol=1e-12, atol=0)
    net = DNMF(A0=A[0], layers=3, dtype="float64")
    out = net(X[:1])
    ref = (torch.linalg.pinv(A[0]) @ X[:1]).clamp_min(1e-12)
    for _ in range(3):
        ref = mu_update_s(A[:1], ref, X[:1])
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="A0"):
        DNMF(A0=-A[0])


def test_eq3_loss_weights_matching_and_value():
    assert linear_layer_weights(3) == [0.0, 0.5, 1.0]
    _, A, S = _data(6)
    perm = [2, 0, 1]
    ca, cs = matched_sad(A[:, :, perm], S[:, perm], A, S)  # permuted estimate: matched cosines are 1
    np.testing.assert_allclose(ca.numpy(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(cs.numpy(), 1.0, rtol=1e-12)
    loss = LMUSADLoss()([A, A, 2 * A], [S, S, S], A, S)
    assert float(loss) == pytest.approx(-(0.5 * 2 + 1.0 * 2))
    with pytest.raises(ValueError, match="layer_weights"):
        LMUSADLoss([0.0, 0.0])
    with pytest.raises(ValueError, match="one weight per layer"):
        LMUSADLoss([1.0])([A, A], [S, S], A, S)


def test_constructor_errors_name_the_argument():
    with pytest.raises(ValueError, match="nalmu_layers"):
        ALMU(n_channels=12, n_sources=3, layers=4, nalmu_layers=4)
    with pytest.raises(ValueError, match="hidden"):
        ALMU(n_channels=12, n_sources=3, layers=4, nalmu_layers=2, hidden=(3,))
    with pytest.raises(ValueError, match="layers"):
        NALMU(n_channels=12, n_sources=3, layers=0)
    with pytest.raises(ValueError, match="channels"):
        NALMU(n_channels=12, n_sources=3, layers=2)(torch.ones(1, 5, 4))
