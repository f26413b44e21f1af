"""Source generators: GGD statistics, the App. B fit, natural images, Cas A–like maps, pixel shuffling."""

from __future__ import annotations

import numpy as np
import pytest

from semiblind.data import sources as src


def test_ggd_sources_shape_norm_and_seed():
    S = src.ggd_sources(4, 300, 7)
    assert S.shape == (4, 300)
    np.testing.assert_allclose(np.linalg.norm(S, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(S, src.ggd_sources(4, 300, 7))
    assert not np.array_equal(S, src.ggd_sources(4, 300, 8))
    B = src.ggd_sources(3, 50, 0, n_samples=5)
    assert B.shape == (5, 3, 50)


def test_ggd_sources_moment_matches_shape_parameter():
    # For gennorm(β) with unit scale, |x|^β ~ Gamma(1/β, 1): E|x|^β = 1/β, Var = 1/β.
    beta = 0.3
    S = src.ggd_sources(1, 200_000, 3, beta=beta, normalize=None)
    m = np.mean(np.abs(S) ** beta)
    assert abs(m - 1 / beta) < 5 * np.sqrt((1 / beta) / S.size)


def test_ggd_sources_exact_sparsity():
    S = src.ggd_sources(5, 1000, 1, sparsity=0.85, n_samples=3)
    np.testing.assert_array_equal((S == 0).sum(axis=-1), 850)
    # zero positions differ between rows
    assert not np.array_equal(S[0, 0] == 0, S[0, 1] == 0)
    with pytest.raises(ValueError, match="sparsity"):
        src.ggd_sources(2, 10, 0, sparsity=1.0)
    with pytest.raises(ValueError, match="beta"):
        src.ggd_sources(2, 10, 0, beta=-1.0)


def test_fit_ggd_recovers_gaussian_detail_coefficients():
    # 1-D white noise: the finest starlet detail w1 = x − h*x is Gaussian with variance ‖δ − h‖² σ², where
    # δ − h = [−1, −4, 10, −4, −1]/16, so ‖δ − h‖² = 134/256. A GGD fit must give β ≈ 2 and, for β = 2, scale
    # √2·σ_w; every coefficient is non-zero (p = 1).
    x = np.random.default_rng(0).standard_normal(20_000)
    fit = src.fit_ggd_to_map(x, 1, max_coefficients=20_000)
    assert abs(fit.beta - 2.0) < 0.15
    assert abs(fit.scale - np.sqrt(2 * 134 / 256)) < 0.04
    assert abs(fit.loc) < 0.03
    assert fit.p == 1.0


def test_fit_ggd_to_one_scale():
    # scale j of 1-D white noise alone: w_j = c_{j-1} − c_j has a smaller variance than w_1 for j > 1 (the
    # smoothed signals carry less power), so the fitted scale falls; only_scale=1 equals the first-scale fit
    x = np.random.default_rng(0).standard_normal(20_000)
    one = src.fit_ggd_to_map(x, 1, max_coefficients=20_000)
    assert src.fit_ggd_to_map(x, 3, max_coefficients=20_000, only_scale=1) == one
    third = src.fit_ggd_to_map(x, 3, max_coefficients=20_000, only_scale=3)
    assert third.scale < 0.5 * one.scale and abs(third.beta - 2.0) < 0.3
    with pytest.raises(ValueError, match="only_scale"):
        src.fit_ggd_to_map(x, 2, only_scale=3)


def test_fit_ggd_nonzero_fraction_of_a_compact_map():
    # A 4×4 square in a 64×64 map: with 3 scales the B3 kernels reach 2 + 4 + 8 = 14 pixels, so non-zero
    # detail coefficients live in a (4 + 2·14)² window at most, at every scale.
    m = np.zeros((64, 64))
    m[30:34, 30:34] = 1.0
    fit = src.fit_ggd_to_map(m, 3)
    assert 0 < fit.p <= (4 + 28) ** 2 / 64**2
    with pytest.raises(ValueError, match="structure"):
        src.fit_ggd_to_map(np.ones((16, 16)), 2)


def test_ggd_fit_sources_pads_zeros_and_shuffles():
    ref = src.casa_like_maps(48, 48, 3)
    fits = [src.fit_ggd_to_map(r) for r in ref]
    S = src.sample_ggd_fit(fits, 400, 5, n_samples=6)
    assert S.shape == (6, 4, 400)
    for i, f in enumerate(fits):
        np.testing.assert_array_equal((S[:, i] != 0).sum(axis=-1), round(400 * f.p))
    assert not np.array_equal(S[0, 0] != 0, S[1, 0] != 0)
    S1 = src.ggd_fit_sources(ref, 400, 5)
    assert S1.shape == (4, 400)
    np.testing.assert_allclose(np.linalg.norm(S1, axis=1), 1.0)


def test_natural_image_sources():
    S = src.natural_image_sources(4, 24, 20, 0, n_samples=3)
    assert S.shape == (3, 4, 24, 20)
    assert S.min() >= 0
    np.testing.assert_allclose(np.linalg.norm(S.reshape(3, 4, -1), axis=-1), 1.0, rtol=1e-6)
    F = S.reshape(3, 4, -1)
    cos = np.einsum("bit,bjt->bij", F, F)
    assert np.all(cos[:, ~np.eye(4, dtype=bool)] < 0.9999)  # distinct images within a sample
    np.testing.assert_array_equal(S, src.natural_image_sources(4, 24, 20, 0, n_samples=3))


def _centroid_angle(M: np.ndarray, cy: float, cx: float) -> float:
    yy, xx = np.mgrid[: M.shape[0], : M.shape[1]]
    return float(np.arctan2((M * (yy - cy)).sum(), (M * (xx - cx)).sum()))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_casa_like_morphology(seed):
    H = W = 96
    M = src.casa_like_maps(H, W, seed)
    assert M.shape == (4, H, W)
    assert M.min() >= 0
    assert np.allclose(M.reshape(4, -1).max(axis=1), 1.0)
    nz = (M > 0).mean(axis=(1, 2))
    assert np.all((nz > 0.03) & (nz < 0.9)), nz
    # sparse: no map covers the whole field
    assert np.all(nz < 0.9)
    # flux-weighted radius: the synchrotron shell lies outside the thermal ring and the iron clumps
    tot = M.sum(axis=0)
    yy, xx = np.mgrid[:H, :W]
    cy, cx = (tot * yy).sum() / tot.sum(), (tot * xx).sum() / tot.sum()
    r = np.hypot(yy - cy, xx - cx)
    mean_r = (M * r).sum(axis=(1, 2)) / M.sum(axis=(1, 2))
    assert mean_r[0] > mean_r[1] and mean_r[0] > mean_r[2] and mean_r[0] > mean_r[3]
    # the two iron groups sit on opposite sides of the remnant
    d = _centroid_angle(M[2], cy, cx) - _centroid_angle(M[3], cy, cx)
    assert np.cos(d) < -0.5
    # partial overlap: the thermal ring shares pixels with the iron clumps
    assert np.any((M[1] > 0) & ((M[2] > 0) | (M[3] > 0)))


def test_casa_like_seeds_and_batches():
    a = src.casa_like_maps(40, 40, 11, n_maps=3)
    assert a.shape == (3, 4, 40, 40)
    np.testing.assert_array_equal(a, src.casa_like_maps(40, 40, 11, n_maps=3))
    assert not np.array_equal(a, src.casa_like_maps(40, 40, 12, n_maps=3))
    assert not np.array_equal(a[0], a[1])


def test_randomize_pixels_permutes_each_row_independently():
    S = np.arange(2 * 3 * 50, dtype=float).reshape(2, 3, 50)
    P = src.randomize_pixels(S, 0)
    assert P.shape == S.shape
    np.testing.assert_array_equal(np.sort(P, axis=-1), S)
    assert not np.array_equal(P[0, 0] - P[0, 0].min(), P[0, 1] - P[0, 1].min())
    # a single cube (n, H, W) needs batched=False and is permuted over all H·W pixels
    C = np.arange(2 * 4 * 5, dtype=float).reshape(2, 4, 5)
    Q = src.randomize_pixels(C, 1, batched=False)
    np.testing.assert_array_equal(np.sort(Q.reshape(2, -1), axis=-1), C.reshape(2, -1))
    assert not np.array_equal(Q, C)
    with pytest.raises(ValueError, match="S must be"):
        src.randomize_pixels(np.zeros(5), 0)
