"""Proximal operators and projections of semiblind.prox: known answers, references and gradients."""

from __future__ import annotations

import numpy as np
import torch

from semiblind.prox import project_columns_l2_ball, project_columns_sphere, soft_threshold

# ------------------------------------------------------------------------------------------- thresholding


def test_soft_threshold_scalar_known_values():
    x = np.array([-3.0, -1.0, -0.5, 0.0, 0.25, 1.0, 2.5])
    np.testing.assert_array_equal(soft_threshold(x, 1.0), [-2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.5])
    np.testing.assert_array_equal(soft_threshold(x, 0.0), x)
    out = soft_threshold(x.astype(np.float32), np.float64(0.5))
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out, [-2.5, -0.5, 0.0, 0.0, 0.0, 0.5, 2.0])


def test_soft_threshold_per_row_and_elementwise():
    x = np.array([[3.0, -3.0, 1.0], [3.0, -3.0, 1.0]])
    per_row = np.array([[1.0], [2.5]])  # one threshold per source (row)
    np.testing.assert_array_equal(soft_threshold(x, per_row), [[2.0, -2.0, 0.0], [0.5, -0.5, 0.0]])
    elem = np.array([[0.0, 1.0, 2.0], [3.0, 0.5, 0.5]])
    np.testing.assert_array_equal(soft_threshold(x, elem), [[3.0, -2.0, 0.0], [0.0, -2.5, 0.5]])


def test_soft_threshold_batched_matches_loop_and_keeps_tensor():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 10, generator=g, dtype=torch.float64)
    th = torch.rand(4, 3, 1, generator=g, dtype=torch.float64)
    out = soft_threshold(x, th)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    for b in range(4):
        ref = np.sign(x[b].numpy()) * np.maximum(np.abs(x[b].numpy()) - th[b].numpy(), 0.0)
        np.testing.assert_allclose(out[b].numpy(), ref, rtol=0, atol=1e-15)


def test_soft_threshold_gradients_wrt_theta_and_x():
    x = torch.tensor([[3.0, -2.0, 0.2, 1.5], [-0.1, 0.4, -4.0, 2.0]], dtype=torch.float64, requires_grad=True)
    theta = torch.tensor([[1.0], [0.5]], dtype=torch.float64, requires_grad=True)
    soft_threshold(x, theta).sum().backward()
    # d/dθ Σ ST_θ(x) = −#{x > θ} + #{x < −θ} per row: row 0 → −2 + 1 = −1 ; row 1 → −1 + 1 = 0
    np.testing.assert_array_equal(theta.grad.numpy(), [[-1.0], [0.0]])
    # d/dx = 1 where |x| > θ, else 0
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    # gradcheck away from the kinks, with an elementwise learned threshold
    x2 = torch.tensor([[2.0, -1.7, 0.1], [0.3, -0.2, 3.0]], dtype=torch.float64)
    th2 = torch.full((2, 3), 0.6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: soft_threshold(x2, t), (th2,))


# -------------------------------------------------------------------------------------------- projections


def test_l2_ball_shrinks_only_long_columns():
    A = np.array([[3.0, 0.6, 0.0, 1.0], [4.0, 0.0, 0.0, 0.0], [0.0, 0.8, 0.0, 0.0]])  # norms 5, 1, 0, 1
    A[0, 3] = 0.5  # norm 0.5
    out = project_columns_l2_ball(A)
    np.testing.assert_allclose(out[:, 0], [0.6, 0.8, 0.0], rtol=1e-15)
    np.testing.assert_array_equal(out[:, 1:], A[:, 1:])  # norm ≤ 1: untouched, bit for bit
    out2 = project_columns_l2_ball(A, radius=2.0)
    np.testing.assert_allclose(out2[:, 0], [1.2, 1.6, 0.0], rtol=1e-15)
    np.testing.assert_array_equal(out2[:, 1:], A[:, 1:])


def test_l2_ball_batched_and_gradient_finite_at_zero():
    g = torch.Generator().manual_seed(1)
    A = 3 * torch.randn(5, 4, 3, generator=g, dtype=torch.float64)
    out = project_columns_l2_ball(A)
    norms = torch.linalg.vector_norm(A, dim=-2)
    out_norms = torch.linalg.vector_norm(out, dim=-2)
    np.testing.assert_allclose(out_norms.numpy(), np.minimum(norms.numpy(), 1.0), rtol=1e-14)
    Z = torch.zeros(4, 2, dtype=torch.float64, requires_grad=True)
    project_columns_l2_ball(Z).sum().backward()
    assert torch.isfinite(Z.grad).all()


def test_sphere_normalises_and_keeps_zero_columns():
    A = np.array([[3.0, 0.0, 0.1], [4.0, 0.0, 0.0]])
    out = project_columns_sphere(A)
    np.testing.assert_allclose(out, [[0.6, 0.0, 1.0], [0.8, 0.0, 0.0]], rtol=1e-15)
    np.testing.assert_allclose(project_columns_sphere(A, radius=2.0)[:, 0], [1.2, 1.6], rtol=1e-15)
    g = torch.Generator().manual_seed(2)
    B = torch.randn(3, 5, 4, generator=g, dtype=torch.float64)
    np.testing.assert_allclose(torch.linalg.vector_norm(project_columns_sphere(B), dim=-2).numpy(), 1.0,
                               rtol=1e-14)
    Z = torch.zeros(3, 2, dtype=torch.float64, requires_grad=True)
    project_columns_sphere(Z).sum().backward()
    assert torch.isfinite(Z.grad).all()


def test_threshold_accepts_torch_threshold_on_numpy_input():
    x = np.array([[2.0, -0.5]])
    out = soft_threshold(x, torch.tensor([[1.0]]))
    assert isinstance(out, np.ndarray)
    assert out[0, 1] == 0.0 and out[0, 0] == 1.0
