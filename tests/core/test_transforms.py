"""Starlet transform: exact reconstruction, known answers, separability, batching, boundaries, layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semiblind.transforms import (
    starlet_forward,
    starlet_inverse,
    starlet_max_scales,
    starlet_noise_std,
    starlet_smooth,
)


def _rel_err(a, b) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# ----------------------------------------------------------------------------------------- known answers


def test_one_smoothing_step_by_hand_impulse():
    # x = δ at index 2 of length 5, scale 0: out[i] = Σ_k h_k x[mirror(i + k − 2)], h = [1, 4, 6, 4, 1]/16.
    # out[0] reads indices (−2, −1, 0, 1, 2) → mirrored (2, 1, 0, 1, 2): the impulse is hit by h_0 and h_4.
    x = np.array([0.0, 0.0, 1.0, 0.0, 0.0])
    expected = np.array([2, 4, 6, 4, 2]) / 16
    np.testing.assert_allclose(starlet_smooth(x, 0), expected, rtol=0, atol=1e-15)


def test_one_smoothing_step_by_hand_repeated_mirror():
    # x = [1, 2, 3], scale 1 (taps at offsets −4, −2, 0, 2, 4): the kernel is wider than the signal, so
    # indices fold with period 2(L − 1) = 4: −4→0, −2→2, 6→2, −3→1, −1→1, 3→1, 5→1.
    # out[0] = (1·1 + 4·3 + 6·1 + 4·3 + 1·1)/16 = 2; out[1] = 2 (all taps on x[1]);
    # out[2] = (3 + 4 + 18 + 4 + 3)/16 = 2.
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(starlet_smooth(x, 1), [2.0, 2.0, 2.0], rtol=0, atol=1e-15)


@pytest.mark.parametrize("length", [1, 2, 3, 5, 9, 17, 64])
@pytest.mark.parametrize("pad", [1, 2, 4, 8, 16, 63, 64])
def test_mirror_padding_by_slices_equals_index_folding(length, pad):
    # the fast path (flipped slices, one reflection) and the index folding (any number of reflections) agree
    from semiblind.transforms import _mirror_indices, _mirror_pad

    y = torch.arange(3 * length, dtype=torch.float64).reshape(3, length) ** 1.5
    for dim in (-1, 0) if length == 3 else (-1,):
        expected = y.index_select(dim, _mirror_indices(y.shape[dim], pad, y.device))
        torch.testing.assert_close(_mirror_pad(y, pad, dim), expected, rtol=0, atol=0)


def test_details_by_hand_first_scale():
    # w_1 = x − h * x; for the impulse above: [0,0,1,0,0] − [2,4,6,4,2]/16.
    x = np.array([0.0, 0.0, 1.0, 0.0, 0.0])
    details, coarse = starlet_forward(x, 1)
    assert details.shape == (1, 5)
    np.testing.assert_allclose(details[0], x - np.array([2, 4, 6, 4, 2]) / 16, atol=1e-15)
    np.testing.assert_allclose(coarse, np.array([2, 4, 6, 4, 2]) / 16, atol=1e-15)


# ----------------------------------------------------------------------------------------- reconstruction


@pytest.mark.parametrize("ndim,shape", [(1, (3, 4, 300)), (2, (3, 40, 37))])
def test_reconstruction_float64(ndim, shape, rng):
    x = rng.standard_normal(shape)
    details, coarse = starlet_forward(x, 4, ndim=ndim)
    assert details.dtype == np.float64
    assert _rel_err(starlet_inverse(details, coarse, ndim=ndim), x) < 1e-12


@pytest.mark.parametrize("ndim,shape", [(1, (3, 4, 300)), (2, (3, 40, 37))])
def test_reconstruction_float32(ndim, shape, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    details, coarse = starlet_forward(x, 5, ndim=ndim)
    assert details.dtype == np.float32 and coarse.dtype == np.float32
    assert _rel_err(starlet_inverse(details, coarse, ndim=ndim), x) < 1e-5


def test_reconstruction_with_kernel_wider_than_signal(rng):
    # 6 scales on 10 samples: half-width 2^6 = 64 > 9, the mirror is applied repeatedly; still exact.
    x = rng.standard_normal((2, 10))
    details, coarse = starlet_forward(x, 6)
    assert np.all(np.isfinite(details))
    assert _rel_err(starlet_inverse(details, coarse), x) < 1e-12


# ----------------------------------------------------------------------------------------- properties


@pytest.mark.parametrize("ndim,shape", [(1, (2, 50)), (2, (2, 17, 23))])
def test_details_of_constant_are_zero(ndim, shape):
    x = np.full(shape, 3.7)
    details, coarse = starlet_forward(x, 4, ndim=ndim)
    np.testing.assert_allclose(details, 0.0, atol=1e-13)
    np.testing.assert_allclose(coarse, 3.7, rtol=1e-13)


def test_smoothing_preserves_mean_of_interior_signal():
    # Away from the boundaries the kernel sums to one: a wide impulse response keeps its mass.
    x = np.zeros(101)
    x[50] = 1.0
    _, coarse = starlet_forward(x, 3)
    assert coarse.sum() == pytest.approx(1.0, abs=1e-14)


@pytest.mark.parametrize("J", [1, 2, 3])
def test_2d_equals_1d_rows_then_columns(J, rng):
    # The 2-D smoothing at each scale is h^(j) ⊗ h^(j) and row and column smoothings commute, so the 2-D
    # coarse approximation c_J equals the 1-D coarse along rows followed by the 1-D coarse along columns;
    # the details c_{j−1} − c_j then agree too.
    img = rng.standard_normal((2, 19, 26))
    d2, c2 = starlet_forward(img, J, ndim=2)
    _, c_rows = starlet_forward(img, J, ndim=1)
    _, c_both = starlet_forward(np.swapaxes(c_rows, -1, -2), J, ndim=1)
    np.testing.assert_allclose(c2, np.swapaxes(c_both, -1, -2), atol=1e-13)
    # Details: compare with the same construction one scale shorter.
    if J > 1:
        _, c2_prev = starlet_forward(img, J - 1, ndim=2)
        np.testing.assert_allclose(d2[:, J - 1], c2_prev - c2, atol=1e-13)


def test_batched_equals_looped(rng):
    x = rng.standard_normal((3, 5, 64)).astype(np.float32)
    d, c = starlet_forward(x, 3)
    for b in range(3):
        for i in range(5):
            db, cb = starlet_forward(x[b, i], 3)
            np.testing.assert_allclose(d[b, i], db, atol=1e-6)
            np.testing.assert_allclose(c[b, i], cb, atol=1e-6)
    img = rng.standard_normal((4, 12, 9))
    d2, c2 = starlet_forward(img, 2, ndim=2)
    for b in range(4):
        db, cb = starlet_forward(img[b], 2, ndim=2)
        np.testing.assert_allclose(d2[b], db, atol=1e-13)
        np.testing.assert_allclose(c2[b], cb, atol=1e-13)


def test_layout_scale_axis_before_pixels(rng):
    d1, c1 = starlet_forward(rng.standard_normal((2, 3, 40)), 4)
    assert d1.shape == (2, 3, 4, 40) and c1.shape == (2, 3, 40)
    d2, c2 = starlet_forward(rng.standard_normal((3, 16, 20)), 3, ndim=2)
    assert d2.shape == (3, 3, 16, 20) and c2.shape == (3, 16, 20)


def test_torch_in_torch_out_and_differentiable(rng):
    x = torch.tensor(rng.standard_normal((2, 32)), dtype=torch.float64, requires_grad=True)
    d, c = starlet_forward(x, 3)
    assert isinstance(d, torch.Tensor) and d.dtype == torch.float64
    # The inverse is the identity, so the gradient of Σ (inverse(forward(x)) · g) is g.
    g = torch.tensor(rng.standard_normal((2, 32)))
    (starlet_inverse(d, c) * g).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), g.numpy(), atol=1e-12)


def test_noise_std_matches_monte_carlo(rng):
    sig = starlet_noise_std(3)
    # Finest starlet scale: w_1 = (δ − h) * x, ‖δ − h‖² = (10/16)² + 2(4/16)² + 2(1/16)² = 134/256.
    assert sig[0] == pytest.approx(np.sqrt(134 / 256), rel=1e-12)
    d, _ = starlet_forward(rng.standard_normal(200_000), 3)
    np.testing.assert_allclose(d[:, 100:-100].std(axis=-1), sig, rtol=0.02)
    sig2 = starlet_noise_std(2, ndim=2)
    d2, _ = starlet_forward(rng.standard_normal((400, 400)), 2, ndim=2)
    np.testing.assert_allclose(d2[:, 20:-20, 20:-20].std(axis=(-1, -2)), sig2, rtol=0.02)


def test_max_scales():
    assert starlet_max_scales(16384) == 13
    assert starlet_max_scales(17) == 4  # 2^4 = 16 ≤ 16
    assert starlet_max_scales(16) == 3
    assert starlet_max_scales((64, 9)) == 3
    assert starlet_max_scales(2) == 0


def test_bad_input():
    with pytest.raises(ValueError, match="n_scales"):
        starlet_forward(np.zeros(8), 0)
    with pytest.raises(ValueError, match="ndim"):
        starlet_forward(np.zeros(8), 1, ndim=3)
    with pytest.raises(ValueError, match="pixel"):
        starlet_forward(np.zeros(8), 1, ndim=2)
    with pytest.raises(TypeError, match="real numbers"):
        starlet_forward(np.array(["a", "b"]), 1)
    d, c = starlet_forward(np.zeros((2, 8)), 2)
    with pytest.raises(ValueError, match="details"):
        starlet_inverse(d[..., :4], c)
