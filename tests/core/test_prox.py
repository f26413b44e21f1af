"""Proximal operators and projections of semiblind.prox: known answers, references and gradients."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from semiblind.prox import (
    hard_threshold,
    project_columns_l2_ball,
    project_columns_sphere,
    project_nonnegative,
    project_simplex,
    soft_threshold,
)

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


def test_hard_threshold_known_values_and_gradient():
    x = np.array([[-3.0, -1.0, 0.5, 1.0, 2.0]])
    np.testing.assert_array_equal(hard_threshold(x, 1.0), [[-3.0, 0.0, 0.0, 0.0, 2.0]])  # |x| = θ is zeroed
    np.testing.assert_array_equal(hard_threshold(x, np.array([[0.0, 2.0, 0.4, 0.9, 2.0]])),
                                  [[-3.0, 0.0, 0.5, 1.0, 0.0]])
    xx = np.vstack([x, x])
    np.testing.assert_array_equal(hard_threshold(xx, np.array([[0.6], [2.5]])),
                                  [[-3.0, -1.0, 0.0, 1.0, 2.0], [-3.0, 0.0, 0.0, 0.0, 0.0]])
    xt = torch.tensor(x, requires_grad=True)
    hard_threshold(xt, 1.0).sum().backward()
    np.testing.assert_array_equal(xt.grad.numpy(), [[1.0, 0.0, 0.0, 0.0, 1.0]])


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


def test_nonnegative():
    x = np.array([[-1.0, 0.0, 2.0], [3.0, -0.5, 0.1]])
    np.testing.assert_array_equal(project_nonnegative(x), [[0.0, 0.0, 2.0], [3.0, 0.0, 0.1]])
    xt = torch.tensor([[-1.0, 2.0], [3.0, -0.5]], requires_grad=True)
    project_nonnegative(xt).sum().backward()
    np.testing.assert_array_equal(xt.grad.numpy(), [[0.0, 1.0], [1.0, 0.0]])


def _simplex_bruteforce(v: np.ndarray, r: float = 1.0) -> np.ndarray:
    """Exact projection onto {x ≥ 0, Σx = r} by enumerating supports.

    For a support K, the closest point of the affine set {x_K with Σ = r, 0 elsewhere} is
    x_K = v_K − (Σv_K − r)/|K|. The projection is the closest nonnegative candidate (it is one of them,
    and all of them are feasible).
    """
    n = v.size
    best, best_d = None, np.inf
    for k in range(1, n + 1):
        for K in itertools.combinations(range(n), k):
            K = list(K)
            x = np.zeros(n)
            x[K] = v[K] - (v[K].sum() - r) / k
            if (x >= -1e-15).all():
                d = np.sum((x - v) ** 2)
                if d < best_d:
                    best, best_d = x, d
    return best


def test_simplex_known_values():
    # v = (0.5, 0.5, 0.5): shift by τ = 1/6 -> (1/3, 1/3, 1/3)
    np.testing.assert_allclose(project_simplex(np.array([[0.5], [0.5], [0.5]])), [[1 / 3]] * 3, rtol=1e-15)
    # v = (2, 0, -1): support {0}, -> (1, 0, 0)
    np.testing.assert_allclose(project_simplex(np.array([[2.0], [0.0], [-1.0]])), [[1.0], [0.0], [0.0]])
    # v = (0.8, 0.6, 0.0): τ = 0.2 -> (0.6, 0.4, 0)
    out = project_simplex(np.array([0.8, 0.6, 0.0]), dim=-1)
    np.testing.assert_allclose(out, [0.6, 0.4, 0.0], rtol=1e-15)
    # radius 2: v = (1, 1, 1) -> (2/3, 2/3, 2/3)
    np.testing.assert_allclose(project_simplex(np.ones(3), dim=0, radius=2.0), [2 / 3] * 3, rtol=1e-15)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 4)),
              elements=st.floats(-5, 5, allow_nan=False, allow_subnormal=False)))
def test_simplex_matches_bruteforce(S):
    out = project_simplex(S)  # every column of S (n, t) onto the simplex
    assert (out >= 0).all()
    np.testing.assert_allclose(out.sum(axis=0), 1.0, rtol=1e-12)
    for j in range(S.shape[1]):
        np.testing.assert_allclose(out[:, j], _simplex_bruteforce(S[:, j]), atol=1e-12)
    np.testing.assert_allclose(project_simplex(out), out, atol=1e-14)  # idempotent


def test_simplex_matches_qp_reference_batched():
    from scipy.optimize import minimize

    rng = np.random.default_rng(7)
    X = rng.normal(size=(3, 6, 4))  # (B, n, t): project each of the B·t columns (dim=-2)
    out = project_simplex(torch.as_tensor(X))
    assert isinstance(out, torch.Tensor) and out.shape == X.shape
    for b in range(3):
        for j in range(4):
            v = X[b, :, j]
            res = minimize(
                lambda x, v=v: 0.5 * np.sum((x - v) ** 2),
                np.full(6, 1 / 6),
                jac=lambda x, v=v: x - v,
                bounds=[(0, None)] * 6,
                constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1, "jac": lambda x: np.ones(6)}],
                method="SLSQP",
                options={"ftol": 1e-14, "maxiter": 500},
            )
            np.testing.assert_allclose(out[b, :, j].numpy(), res.x, atol=1e-6)
    # float32 stays float32; the gradient flows
    Xt = torch.tensor(X[0], dtype=torch.float32, requires_grad=True)
    o = project_simplex(Xt)
    assert o.dtype == torch.float32
    (o * torch.arange(6.0).unsqueeze(-1)).sum().backward()
    assert torch.isfinite(Xt.grad).all()


@pytest.mark.parametrize("fn", [soft_threshold, hard_threshold])
def test_thresholds_accept_torch_threshold_on_numpy_input(fn):
    x = np.array([[2.0, -0.5]])
    out = fn(x, torch.tensor([[1.0]]))
    assert isinstance(out, np.ndarray)
    assert out[0, 1] == 0.0 and out[0, 0] in (1.0, 2.0)
