"""The CNNAEU torch module (Palsson et al. 2021): shapes, abundance simplex, endmember read-out, loss, checks."""

from __future__ import annotations

import math

import pytest
import torch

from semiblind.unrolled.cnnaeu import CNNAEU, sad_loss


def test_forward_shapes_simplex_and_endmembers():
    torch.manual_seed(0)
    net = CNNAEU(n_channels=12, n_sources=3, kernel_size=5).eval()
    X = torch.rand(2, 12, 10, 9)
    S, X_hat = net(X)
    assert S.shape == (2, 3, 10, 9) and X_hat.shape == X.shape
    assert S.min() >= 0
    torch.testing.assert_close(S.sum(1), torch.ones(2, 10, 9))
    A = net.endmembers()
    assert A.shape == (12, 3)
    torch.testing.assert_close(A, net.decoder.weight.mean(dim=(-2, -1)))
    # a spatially constant abundance map reproduces kernel-area × A·s away from the borders
    s = torch.tensor([0.2, 0.5, 0.3])
    const = net.decoder(s.view(1, 3, 1, 1).expand(1, 3, 9, 9).contiguous())
    torch.testing.assert_close(const[0, :, 4, 4], 25 * (A @ s), rtol=1e-5, atol=1e-6)


def test_sad_loss_is_the_mean_pixel_angle():
    X = torch.rand(1, 6, 4, 4) + 0.1
    assert float(sad_loss(X, 3 * X)) < 1e-3  # scale-invariant, ~0 up to the clamp
    Y = torch.zeros_like(X)
    Y[:, 0], X2 = 1.0, torch.zeros_like(X)
    X2[:, 1] = 1.0
    assert math.isclose(float(sad_loss(X2, Y)), math.pi / 2, rel_tol=1e-4)
    Z = X.clone().requires_grad_(True)
    sad_loss(Z, X.flip(1)).backward()
    assert torch.isfinite(Z.grad).all() and Z.grad.abs().sum() > 0


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        CNNAEU(n_channels=5, n_sources=2, kernel_size=4)
    with pytest.raises(ValueError, match="n_sources"):
        CNNAEU(n_channels=5, n_sources=0)
    net = CNNAEU(n_channels=5, n_sources=2, kernel_size=5)
    with pytest.raises(ValueError, match="4-D tensor"):
        net(torch.rand(5, 8, 8))
    with pytest.raises(ValueError, match="larger than 2 pixels"):
        net(torch.rand(1, 5, 2, 8))
