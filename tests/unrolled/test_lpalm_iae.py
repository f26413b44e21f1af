"""LPALM inside the manifold: the modelled columns stay on their IAE manifold; gradients reach LPALM's parameters;
model files round-trip."""

from __future__ import annotations

import torch

from semiblind.priors.iae import fast_projection, unit_rows
from semiblind.training.iae import load_iae
from semiblind.training.model_files import load_model, save_model
from semiblind.unrolled.lpalm_iae import LPALMIAE


def test_lpalm_iae_projects_trains_and_round_trips(tmp_path):
    iae = load_iae("iae-xray65-synchrotron")
    g = torch.Generator().manual_seed(0)
    A = torch.rand(3, 65, 4, generator=g)
    S = torch.rand(3, 4, 50, generator=g)
    X = A @ S
    net = LPALMIAE(n_channels=65, n_sources=4, layers=3, iae=[iae], mapping=[0], init_pair=(A[0], S[0]))
    A_est, S_est = net(X)
    col = A_est[:, :, 0]
    proj = unit_rows(fast_projection(iae, col)[0])
    cos = (unit_rows(col) * proj).sum(-1)
    assert bool((cos > 0.995).all())  # on (near: the fast projection is not idempotent) the manifold
    loss = ((A_est @ S_est - X) ** 2).mean()
    loss.backward()
    assert net.L_A.grad is not None and torch.isfinite(net.L_A.grad).all() and net.L_A.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.iae.parameters())  # the IAE is frozen
    save_model(net, tmp_path / "m")
    back = load_model(tmp_path / "m")
    with torch.no_grad():
        torch.testing.assert_close(back(X)[0], net(X)[0])
