"""NonnegativeLPALM: LPALM's layers with S ≥ 0 and A ≥ 0 (in ‖·‖₂ ≤ 1), in training and in inference."""

from __future__ import annotations

import torch

from semiblind.unrolled.lpalm import LPALM
from semiblind.unrolled.lpalm_nonneg import NonnegativeLPALM


def test_projections_hold_on_every_path_and_weights_are_shared():
    g = torch.Generator().manual_seed(0)
    A = torch.rand(20, 3, generator=g)
    A = A / A.norm(dim=0)
    S = torch.rand(3, 200, generator=g)
    net = LPALM(n_channels=20, n_sources=3, layers=4, init_pair=(A, S))
    nn_net = NonnegativeLPALM.from_lpalm(net)
    assert nn_net.architecture()["class"] == "NonnegativeLPALM"
    for k, v in net.state_dict().items():
        torch.testing.assert_close(nn_net.state_dict()[k], v)
    X = (A @ S + 0.3 * torch.randn(20, 200, generator=g))[None]
    with torch.no_grad():  # inference: LPALM itself would take its fast path here
        A_hat, S_hat = nn_net(X)
    _, S_plain = net(X)
    assert S_plain.min() < 0  # the plain network does produce negative values on this noisy input
    assert S_hat.min() >= 0 and A_hat.min() >= 0
    assert float(A_hat.norm(dim=1).max()) <= 1 + 1e-6
    with torch.no_grad():
        A_t, S_t, As, Ss = nn_net(X, return_layers=True)
    torch.testing.assert_close(S_t, S_hat)
    assert all(float(s.min()) >= 0 for s in Ss)
