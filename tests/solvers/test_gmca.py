"""GMCA: its iterate functions on hand-made cases, recovery of sparse sources, images, batching, seeds."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats
import torch

from semiblind.metrics import align, nmse
from semiblind.mixing import add_noise
from semiblind.solvers.base import ConvergenceWarning
from semiblind.solvers.gmca import (
    GMCA,
    gmca_init_pca,
    gmca_pinv,
    gmca_thresholds,
    gmca_update_a,
    gmca_update_s,
    mad_std,
    propagated_noise_std,
    support_fraction_schedule,
)


def _gaussian_spectra(m: int, n: int, rng: np.random.Generator) -> np.ndarray:
    e = np.linspace(0.0, 1.0, m)
    centres = np.linspace(0.15, 0.85, n) + rng.uniform(-0.05, 0.05, n)
    widths = rng.uniform(0.08, 0.2, n)
    A = np.exp(-0.5 * ((e[:, None] - centres) / widths) ** 2)
    return A / np.linalg.norm(A, axis=0)


def _random_positive_spectra(m: int, n: int, rng: np.random.Generator) -> np.ndarray:
    A = rng.uniform(0.0, 1.0, (m, n))
    return A / np.linalg.norm(A, axis=0)


def _ggd_sources(n: int, shape, rng: np.random.Generator) -> np.ndarray:
    return scipy.stats.gennorm.rvs(0.3, size=(n, *shape), random_state=rng)


# ------------------------------------------------------------------------------------------ iterate functions


def test_mad_std_by_hand():
    # odd length: median 3, |x − 3| = [2, 1, 0, 1, 97], median 1.
    assert float(mad_std(torch.tensor([1.0, 2.0, 3.0, 4.0, 100.0]))) == pytest.approx(1 / 0.6745)
    # even length: median (2 + 3)/2 = 2.5, |x − 2.5| = [1.5, 0.5, 0.5, 1.5], median (0.5 + 1.5)/2 = 1.
    assert float(mad_std(torch.tensor([4.0, 1.0, 3.0, 2.0]))) == pytest.approx(1 / 0.6745)


def test_mad_std_numpy_and_torch_paths_agree_with_numpy(rng):
    x = rng.standard_normal((6, 1000))
    x[:, :7] += 50.0  # outliers barely move the MAD
    ref = np.median(np.abs(x - np.median(x, axis=-1, keepdims=True)), axis=-1) / 0.6745
    fast = mad_std(torch.tensor(x))
    xt = torch.tensor(x, requires_grad=True)  # with gradients the torch selection path runs
    slow = mad_std(xt)
    np.testing.assert_allclose(fast.numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(slow.detach().numpy(), ref, rtol=1e-12)
    assert np.all(np.abs(ref - 1.0) < 0.15)  # Gaussian noise of unit standard deviation


def test_thresholds_by_hand():
    # One source, one scale, P = 20: seven coefficients above kσ = 3 (σ given as 1), the rest below.
    row = torch.tensor([10.0, -9, 8, 7, -6, 5, 4] + [0.5] * 13, dtype=torch.float64).view(1, 1, 1, 20)
    sigma = torch.ones(1, 1, 1, dtype=torch.float64)
    # K = 0.5: keep ⌊0.5·7⌋ = 3 → threshold = 4th largest |c| = 7.
    thr, _ = gmca_thresholds(row, k=3.0, support_fraction=0.5, min_coefficients=2, sigma=sigma)
    assert float(thr) == 7.0
    # at least 5 coefficients: keep 5 → threshold = 6th largest = 5.
    thr, _ = gmca_thresholds(row, k=3.0, support_fraction=0.5, min_coefficients=5, sigma=sigma)
    assert float(thr) == 5.0
    # keeping everything → threshold 0.
    thr, _ = gmca_thresholds(row, k=3.0, support_fraction=1.0, min_coefficients=20, sigma=sigma)
    assert float(thr) == 0.0
    # soft thresholding at the K-threshold keeps exactly n_keep coefficients, shrunk by it.
    A = torch.eye(1, dtype=torch.float64).view(1, 1, 1)
    S = gmca_update_s(A, row, k=3.0, support_fraction=0.5, min_coefficients=2,
                      noise_std=torch.ones(1, 1, dtype=torch.float64),
                      scale_std=torch.ones(1, dtype=torch.float64))
    np.testing.assert_allclose(S.flatten()[:4].numpy(), [3.0, -2.0, 1.0, 0.0])
    assert int((S != 0).sum()) == 3


def test_reweighting_by_hand():
    # thr / (|S_prev|/(kσ) + 1): with |S_prev| = kσ the threshold halves.
    row = torch.tensor([10.0, -9, 8, 7, -6, 5, 4] + [0.5] * 13, dtype=torch.float64).view(1, 1, 1, 20)
    A = torch.eye(1, dtype=torch.float64).view(1, 1, 1)
    S_prev = torch.zeros_like(row)
    S_prev[..., 3] = 3.0  # kσ = 3
    S = gmca_update_s(A, row, k=3.0, support_fraction=0.5, min_coefficients=2, S_prev=S_prev,
                      noise_std=torch.ones(1, 1, dtype=torch.float64),
                      scale_std=torch.ones(1, dtype=torch.float64))
    assert float(S.flatten()[3]) == pytest.approx(7.0 - 3.5)
    assert float(S.flatten()[0]) == pytest.approx(3.0)


def test_thresholds_batched_rows_match_sort(rng):
    # Rows with very different supports: the single-partition selection equals a per-row sort.
    C = torch.tensor(rng.standard_normal((2, 3, 2, 500)) * rng.uniform(0.5, 3, (2, 3, 2, 1)))
    C[0, 1, 0, :200] *= 30
    thr, sig = gmca_thresholds(C, k=3.0, support_fraction=0.4, min_coefficients=5)
    # with gradients recorded the torch implementation (sort and gather) runs instead of NumPy's partition
    thr_t, sig_t = gmca_thresholds(C.clone().requires_grad_(True), k=3.0, support_fraction=0.4,
                                   min_coefficients=5)
    np.testing.assert_allclose(thr_t.detach().numpy(), thr.numpy(), rtol=1e-14)
    np.testing.assert_allclose(sig_t.detach().numpy(), sig.numpy(), rtol=1e-14)
    rows = C.reshape(-1, 500).numpy()
    for r, (row, s) in enumerate(zip(rows, sig.flatten().numpy())):
        n_keep = max(int(np.floor(0.4 * np.sum(np.abs(row) > 3 * s))), 5)
        assert float(thr.flatten()[r]) == np.sort(np.abs(row))[::-1][n_keep]


def test_propagated_noise_by_hand():
    pinvA = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])
    noise = torch.tensor([[1.0, 3.0]])
    sig = propagated_noise_std(pinvA, noise, torch.tensor([1.0, 0.5]))
    np.testing.assert_allclose(sig.numpy(), [[[1.0, 0.5], [6.0, 3.0]]])


def test_pinv_floors_singular_values():
    U, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 2)))
    A = torch.tensor(U @ np.diag([1.0, 1e-6]))[None]
    P = gmca_pinv(A, 1e-3)
    assert float(torch.linalg.matrix_norm(P, ord=2)) == pytest.approx(1e3, rel=1e-9)
    A_ok = torch.tensor(U @ np.diag([1.0, 0.5]))[None]
    np.testing.assert_allclose(gmca_pinv(A_ok, 1e-3)[0].numpy(), np.linalg.pinv(A_ok[0].numpy()), atol=1e-12)


def test_update_a_exact_and_nonnegative(rng):
    A = np.abs(rng.standard_normal((8, 3)))
    A /= np.linalg.norm(A, axis=0)
    S = rng.standard_normal((3, 2, 100))
    Xw = torch.tensor(np.einsum("mn,njp->mjp", A, S))[None]
    A_est = gmca_update_a(Xw, torch.tensor(S)[None])
    np.testing.assert_allclose(A_est[0].numpy(), A, atol=1e-10)
    # the nonnegative option clips before normalising
    A_neg = A.copy()
    A_neg[0, 0] = -0.5
    Xw2 = torch.tensor(np.einsum("mn,njp->mjp", A_neg, S))[None]
    A2 = gmca_update_a(Xw2, torch.tensor(S)[None], nonnegative=True)[0].numpy()
    assert A2.min() >= 0 and A2[0, 0] == 0
    np.testing.assert_allclose(np.linalg.norm(A2, axis=0), 1.0)


def test_pca_init_sorted_by_eigenvalue(rng):
    # Data X = U diag(s) Vᵀ with orthonormal U, V and s deliberately not in decreasing order: the covariance
    # has eigenvalues s² with eigenvectors U; the init must return U's columns ordered by decreasing s.
    m, r, N = 10, 4, 300
    U, _ = np.linalg.qr(rng.standard_normal((m, r)))
    V, _ = np.linalg.qr(rng.standard_normal((N, r)))
    s = np.array([2.0, 7.0, 1.0, 4.0])
    X = torch.tensor(U @ np.diag(s) @ V.T)[None]
    A = gmca_init_pca(X, 3)[0].numpy()
    order = [1, 3, 0]
    np.testing.assert_allclose(np.abs(A.T @ U[:, order]), np.eye(3), atol=1e-10)
    assert np.all(A.sum(axis=0) >= 0)


def test_support_fraction_schedule():
    assert support_fraction_schedule(0, 0.5, 10) == pytest.approx(0.05)
    assert support_fraction_schedule(4, 0.5, 10) == pytest.approx(0.25)
    assert support_fraction_schedule(9, 0.5, 10) == 0.5
    assert support_fraction_schedule(50, 0.5, 10) == 0.5


# ------------------------------------------------------------------------------------------ the solver


@pytest.mark.parametrize("spectra", ["gaussian", "random_positive"])
def test_recovers_sparse_ggd_sources_at_30db(spectra):
    rng = np.random.default_rng(2024)
    m, n, t = 65, 4, 2000
    A = _gaussian_spectra(m, n, rng) if spectra == "gaussian" else _random_positive_spectra(m, n, rng)
    S = _ggd_sources(n, (t,), rng)
    X, _ = add_noise(A @ S, 30.0, rng)
    with warnings.catch_warnings():
        # ΔS decreases with occasional jumps (coefficients entering or leaving the support); whether it is
        # below tol by iteration 100 is not what this test is about.
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = GMCA(n_sources=n, max_iter=100, tol=1e-5).fit(X)
    A_al, S_al = align(est.mixing_, est.sources_, A, S)
    assert nmse(A_al, A) < 1e-2  # measured: 4e-4 (Gaussian-shaped spectra), 2e-4 (random positive)
    assert nmse(S_al, S) < 1e-2  # measured: 7e-4
    np.testing.assert_allclose(np.linalg.norm(est.mixing_, axis=0), 1.0, rtol=1e-5)
    assert len(est.history_["delta_S"]) == est.n_iter_


def test_known_noise_level_recovers_too():
    rng = np.random.default_rng(7)
    m, n, t = 30, 3, 2000
    A = _gaussian_spectra(m, n, rng)
    S = _ggd_sources(n, (t,), rng)
    X, N = add_noise(A @ S, 30.0, rng)
    est = GMCA(n_sources=n, max_iter=80, noise_std=float(N.std()), nonnegative_mixing=True).fit(X)
    A_al, _ = align(est.mixing_, est.sources_, A, S)
    assert nmse(A_al, A) < 1e-2
    assert est.mixing_.min() >= 0


def test_image_input_returns_maps_and_separates():
    rng = np.random.default_rng(3)
    m, n, H, W = 20, 3, 48, 40
    A = _gaussian_spectra(m, n, rng)
    # sparse images: a few smooth blobs per source, sparse in the 2-D starlet domain
    yy, xx = np.mgrid[:H, :W]
    S = np.zeros((n, H, W))
    for i in range(n):
        for _ in range(6):
            cy, cx, r = rng.uniform(0, H), rng.uniform(0, W), rng.uniform(1.0, 3.0)
            S[i] += rng.uniform(1, 5) * np.exp(-0.5 * ((yy - cy) ** 2 + (xx - cx) ** 2) / r**2)
    X, _ = add_noise(np.einsum("mn,nhw->mhw", A, S), 30.0, rng, batched=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = GMCA(n_sources=n, max_iter=60, n_scales=2).fit(X)
    assert est.sources_.shape == (n, H, W)
    assert est.mixing_.shape == (m, n)
    A_al, _ = align(est.mixing_, est.sources_, A, S)
    assert nmse(A_al, A) < 1e-2
    # 2-D processing differs from treating the flattened pixels as a 1-D signal
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        flat = GMCA(n_sources=n, max_iter=60, n_scales=2).fit(X.reshape(m, H * W))
    assert not np.allclose(flat.mixing_, est.mixing_)


def test_batched_equals_one_by_one():
    rng = np.random.default_rng(11)
    m, n, t, B = 12, 3, 400, 3
    Xs = []
    for _ in range(B):
        A = _gaussian_spectra(m, n, rng)
        Xs.append(add_noise(A @ _ggd_sources(n, (t,), rng), 25.0, rng)[0])
    Xb = np.stack(Xs)
    params = dict(n_sources=n, max_iter=60, n_ramp=15, tol=1e-5, dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        batch = GMCA(**params).fit_batch(Xb)
        singles = [GMCA(**params).fit(x) for x in Xs]
    assert batch.mixing_.shape == (B, m, n) and batch.sources_.shape == (B, n, t)
    for b, single in enumerate(singles):
        assert batch.n_iter_[b] == single.n_iter_
        np.testing.assert_allclose(batch.mixing_[b], single.mixing_, atol=1e-8)
        np.testing.assert_allclose(batch.sources_[b], single.sources_, atol=1e-8)
    assert len(set(batch.n_iter_.tolist())) > 1  # samples really stopped at different iterations


def test_same_seed_same_result():
    rng = np.random.default_rng(5)
    m, n, t = 10, 2, 500
    X = add_noise(_gaussian_spectra(m, n, rng) @ _ggd_sources(n, (t,), rng), 30.0, rng)[0]
    kw = dict(n_sources=n, max_iter=30, init="random")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = GMCA(random_state=3, **kw).fit(X)
        b = GMCA(random_state=3, **kw).fit(X)
        c = GMCA(random_state=4, max_iter=1, n_sources=n, init="random").fit(X)
        d = GMCA(random_state=3, max_iter=1, n_sources=n, init="random").fit(X)
    np.testing.assert_array_equal(a.mixing_, b.mixing_)
    np.testing.assert_array_equal(a.sources_, b.sources_)
    assert not np.allclose(c.mixing_, d.mixing_)


def test_transform_is_least_squares_and_separate_works(rng):
    from semiblind import separate

    m, n, t = 10, 2, 400
    X = add_noise(_gaussian_spectra(m, n, rng) @ _ggd_sources(n, (t,), rng), 30.0, rng)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = GMCA(n_sources=n, max_iter=20).fit(X)
        sep = separate(X, n, method="gmca", max_iter=20)
    tol = 1e-5 * float(np.abs(est.sources_).max())  # float32 products of entries this large
    np.testing.assert_allclose(est.transform(X), np.linalg.pinv(est.mixing_) @ X, rtol=1e-4, atol=tol)
    np.testing.assert_allclose(est.transform(X), est.sources_, rtol=1e-4, atol=tol)  # final_s least squares
    assert sep.method == "gmca" and sep.A.shape == (m, n) and sep.S.shape == (n, t)


def test_bad_parameters(rng):
    X = rng.standard_normal((6, 100))
    with pytest.raises(ValueError, match="K_max"):
        GMCA(n_sources=2, K_max=1.5).fit(X)
    with pytest.raises(ValueError, match="noise_std"):
        GMCA(n_sources=2, noise_std=np.ones(4)).fit(X)
    with pytest.raises(ValueError, match="A0"):
        GMCA(n_sources=2, init="given").fit(X)
    with pytest.raises(ValueError, match="final_s"):
        GMCA(n_sources=2, final_s="sparse").fit(X)


# ------------------------------------------------------------------------------------------ sparsity domain


def _nmse_a(est, A):
    A_al, _ = align(est.mixing_, None, A)
    return float(nmse(A_al, A))


def test_default_domain_is_direct_for_pixel_lists_and_starlet_for_cubes(rng):
    m, n = 8, 2
    A = _gaussian_spectra(m, n, rng)
    X = add_noise(A @ _ggd_sources(n, (300,), rng), 30.0, rng)[0]
    cube = add_noise(np.einsum("mn,nhw->mhw", A, _ggd_sources(n, (12, 12), rng)), 30.0, rng)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert GMCA(n_sources=n, max_iter=10).fit(X).info_["transform"] == "none"
        assert GMCA(n_sources=n, max_iter=10).fit(cube).info_["transform"] == "starlet"
        assert GMCA(n_sources=n, max_iter=10, sparse_transform="starlet").fit(X).info_["transform"] == "starlet"
        assert GMCA(n_sources=n, max_iter=10, sparse_transform="none").fit(cube).info_["transform"] == "none"
    with pytest.raises(ValueError, match="sparse_transform"):
        GMCA(n_sources=n, sparse_transform="wavelet").fit(X)


def test_direct_domain_beats_starlet_on_iid_sparse_sources(rng):
    """Sources sparse pixel by pixel (i.i.d. GGD, β = 0.3) have no sparser starlet coefficients: seeking sparsity
    in the direct domain recovers A better (median over 3 mixtures)."""
    m, n, t = 12, 3, 1500
    errs = {"none": [], "starlet": []}
    for _ in range(3):
        A = _random_positive_spectra(m, n, rng)
        X = add_noise(A @ _ggd_sources(n, (t,), rng), 30.0, rng)[0]
        for dom in errs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                errs[dom].append(_nmse_a(GMCA(n_sources=n, sparse_transform=dom, max_iter=100).fit(X), A))
    assert np.median(errs["none"]) < np.median(errs["starlet"])
