"""Separation in pixel chunks (``chunk_pixels``) gives the in-memory result: PALM, GMCA (direct domain), LPALM.

Chunk sizes include ones that do not divide t and one larger than t (a single chunk). float64 agrees to ~1e-10
relative (the chunk sums are only added in another order); the float32 differences measured here are in the comments
next to their bounds.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from semiblind.estimators.lpalm import LPALMSeparator
from semiblind.solvers._chunked import PixelChunks
from semiblind.solvers.gmca import GMCA
from semiblind.solvers.palm import PALM, palm, palm_chunked
from semiblind.unrolled.lpalm import LPALM

M, N, H, W = 9, 3, 13, 17  # t = 221 = 13·17: chunks of 50 and 64 leave a remainder
CHUNKS = (50, 64, 7, 1000)


def _mixture(rng, m=M, n=N, t=H * W, nonneg=False):
    A = np.abs(rng.standard_normal((m, n)))
    A /= np.linalg.norm(A, axis=0)
    S = rng.standard_normal((n, t)) * (rng.random((n, t)) < 0.3)
    if nonneg:
        S = np.abs(S)
    return A, S, A @ S + 1e-3 * rng.standard_normal((m, t))


def _rel(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max())


def _fit(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: a fixed number of iterations here
        return est.fit(X)


@pytest.mark.parametrize("chunk", CHUNKS)
def test_palm_chunked_equals_in_memory_float64(rng, chunk):
    A, S, X = _mixture(rng)
    kw = dict(n_sources=N, lam=0.01, max_iter=80, tol=0.0, random_state=3, dtype="float64")
    ref = _fit(PALM(**kw), X)
    got = _fit(PALM(**kw, chunk_pixels=chunk), X)
    assert got.n_iter_ == ref.n_iter_ == 80
    assert _rel(got.mixing_, ref.mixing_) < 1e-10 and _rel(got.sources_, ref.sources_) < 1e-10
    obj, ref_obj = np.array(got.history_["objective"]), np.array(ref.history_["objective"])
    assert obj.shape == ref_obj.shape == (81,)
    assert np.abs(obj - ref_obj).max() < 1e-10 * np.abs(ref_obj).max()
    assert np.allclose(got.history_["delta_S"], ref.history_["delta_S"], rtol=1e-8, atol=1e-14)
    assert got.info_["chunk_pixels"] == chunk and got.info_["chunks"] == -(-X.shape[1] // chunk)


def test_palm_chunked_float32_and_cube_input(rng):
    """float32: measured max relative difference ~1e-6 after 150 iterations (bound 1e-4); a cube (m, H, W)
    gives (n, H, W) sources, the same as the in-memory fit of the cube."""
    A, S, X = _mixture(rng)
    cube = X.reshape(M, H, W).astype(np.float32)
    kw = dict(n_sources=N, lam=0.01, max_iter=150, tol=0.0, random_state=3)
    ref = _fit(PALM(**kw), cube)
    got = _fit(PALM(**kw, chunk_pixels=50), cube)
    assert got.sources_.shape == (N, H, W) and got.sources_.dtype == np.float32
    assert _rel(got.mixing_, ref.mixing_) < 1e-4 and _rel(got.sources_, ref.sources_) < 1e-4


def test_palm_chunked_stops_like_palm(rng):
    """The tolerance test runs on the chunk-summed ‖ΔS‖: same stopping iteration as the in-memory run."""
    A, S, X = _mixture(rng)
    kw = dict(lam=0.2, max_iter=2000, tol=1e-4, dtype=torch.float64, rng=0, A0=A, init="given")
    ref = palm(torch.as_tensor(X)[None], N, **kw)
    got = palm_chunked(PixelChunks(X, 64, dtype=torch.float64), N, **{k: v for k, v in kw.items() if k != "dtype"})
    assert bool(ref.converged[0]) and bool(got.converged[0])
    assert int(got.n_iter[0]) == int(ref.n_iter[0]) < 2000


# GMCA's support count #{|c| > kσ} is a step function of the data: on a mixture where a coefficient sits within
# an ulp of kσ, a last-bit difference of the chunk sums changes the thresholds and the runs part (seen on 2 of 6
# seeds: 1e-8 in float64 after 40 iterations). The GMCA tests use a seed without such a coefficient.
GMCA_SEED = 1


@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize("final_s", ["least_squares", "thresholded"])
def test_gmca_direct_domain_chunked_equals_in_memory(chunk, final_s):
    A, S, X = _mixture(np.random.default_rng(GMCA_SEED))
    kw = dict(n_sources=N, max_iter=40, random_state=0, dtype="float64", final_s=final_s)
    ref = _fit(GMCA(**kw, sparse_transform="none"), X)
    got = _fit(GMCA(**kw, chunk_pixels=chunk), X)
    assert got.info_["transform"] == "none" and got.n_iter_ == ref.n_iter_
    assert _rel(got.mixing_, ref.mixing_) < 1e-10 and _rel(got.sources_, ref.sources_) < 1e-10
    assert np.allclose(got.history_["delta_S"], ref.history_["delta_S"], rtol=1e-8, atol=1e-14)


def test_gmca_chunked_random_init_noise_and_float32():
    A, S, X = _mixture(np.random.default_rng(GMCA_SEED))
    kw = dict(n_sources=N, max_iter=40, random_state=0, init="random", noise_std=1e-3, nonnegative_mixing=True)
    ref = _fit(GMCA(**kw, sparse_transform="none", dtype="float64"), X)
    got = _fit(GMCA(**kw, chunk_pixels=64, dtype="float64"), X)
    assert _rel(got.mixing_, ref.mixing_) < 1e-10 and _rel(got.sources_, ref.sources_) < 1e-10
    # float32: measured ~1e-7 on A and ~5e-7 on S over 40 iterations (thresholds are rank statistics, so an
    # ulp can move one coefficient across; bound 1e-3)
    ref32 = _fit(GMCA(**kw, sparse_transform="none"), X.astype(np.float32))
    got32 = _fit(GMCA(**kw, chunk_pixels=64), X.astype(np.float32))
    assert _rel(got32.mixing_, ref32.mixing_) < 1e-3 and _rel(got32.sources_, ref32.sources_) < 1e-3


def test_gmca_chunked_cube_uses_the_direct_domain_and_refuses_starlet():
    A, S, X = _mixture(np.random.default_rng(GMCA_SEED))
    cube = X.reshape(M, H, W)
    got = _fit(GMCA(n_sources=N, max_iter=20, chunk_pixels=64, dtype="float64"), cube)
    ref = _fit(GMCA(n_sources=N, max_iter=20, sparse_transform="none", dtype="float64"), cube)
    assert got.info_["transform"] == "none" and got.sources_.shape == (N, H, W)
    assert _rel(got.sources_, ref.sources_) < 1e-10
    with pytest.raises(ValueError, match="sparse_transform must be 'none'.*starlet"):
        GMCA(n_sources=N, chunk_pixels=64, sparse_transform="starlet").fit(cube)


def _small_lpalm(A, S, s_update="lista-cp"):
    extra = {"lam": 0.01} if s_update == "ista" else {}
    net = LPALM.for_training(torch.as_tensor(A)[None], torch.as_tensor(S / np.linalg.norm(S, axis=1,
                                                                                              keepdims=True))[None],
                             layers=6, dtype="float64", s_update=s_update, **extra)
    net.contract = {"preprocessing": {"t_train": 100}}
    return net


@pytest.mark.parametrize("s_update", ["lista-cp", "ista", "lista"])
@pytest.mark.parametrize("input_scale", ["energy", "pixel", "none"])
def test_lpalm_chunked_equals_in_memory(rng, s_update, input_scale):
    A, S, X = _mixture(rng)
    net = _small_lpalm(A, S, s_update)
    ref = LPALMSeparator(n_sources=N, model=net, dtype="float64", input_scale=input_scale).fit(X)
    for chunk in (50, 7):
        got = LPALMSeparator(n_sources=N, model=net, dtype="float64", input_scale=input_scale,
                             chunk_pixels=chunk).fit(X)
        assert _rel(got.mixing_, ref.mixing_) < 1e-10 and _rel(got.sources_, ref.sources_) < 1e-10
        assert got.info_["chunk_pixels"] == chunk


def test_lpalm_forward_chunks_matches_every_inference_path(rng, monkeypatch):
    """The network's "blocked" path (X in memory, blocks of INFERENCE_BLOCK_BYTES) and forward_chunks are one
    code path: both equal the layer loop."""
    import semiblind.unrolled.lpalm as mod

    A, S, X = _mixture(rng)
    net = _small_lpalm(A, S)
    Xt = torch.as_tensor(X)[None]
    with torch.no_grad():
        A_train, S_train, _, _ = net(Xt, return_layers=True)  # "training": the layer loop
        monkeypatch.setattr(mod, "INFERENCE_BLOCK_BYTES", 8 * M * 40)  # blocks of 40 pixels
        assert net.inference_path(Xt) == "blocked"
        A_blk, S_blk = net(Xt)
    A_ch, S_ch = net.forward_chunks(PixelChunks(X, 33, dtype=torch.float64))
    for a, s in ((A_blk, S_blk), (A_ch, S_ch)):
        assert _rel(a, A_train) < 1e-10 and _rel(s, S_train) < 1e-10


def test_lpalm_chunked_shipped_pixel_model_on_a_cube(rng):
    """A cube in chunks runs the shipped pixel model (the image model is the in-memory default); an explicit
    wavelet-mode model is refused in one sentence."""
    A, S, X = _mixture(rng, m=65, n=4, nonneg=True)
    cube = X.reshape(65, H, W)
    got = LPALMSeparator(n_sources=4, chunk_pixels=50, dtype="float64").fit(cube)
    ref = LPALMSeparator(n_sources=4, model="lpalm-xray65", dtype="float64").fit(cube)
    assert got.info_["model"] == "lpalm-xray65" and got.sources_.shape == (4, H, W)
    assert _rel(got.sources_, ref.sources_) < 1e-10 and _rel(got.mixing_, ref.mixing_) < 1e-10
    # float32: measured ~1e-6 relative (bound 1e-4)
    got32 = LPALMSeparator(n_sources=4, chunk_pixels=50).fit(cube.astype(np.float32))
    ref32 = LPALMSeparator(n_sources=4, model="lpalm-xray65").fit(cube.astype(np.float32))
    assert _rel(got32.sources_, ref32.sources_) < 1e-4
    with pytest.raises(ValueError, match="pixel-model LPALM.*lpalm-xray65-image"):
        LPALMSeparator(n_sources=4, chunk_pixels=50, model="lpalm-xray65-image").fit(cube)


def test_memmap_big_endian_and_strided_cubes(tmp_path, rng):
    """X as a read-only big-endian memmap, and a cube whose pixel axes are not contiguous (read by image rows):
    the same numbers as the in-memory fit of a native copy."""
    A, S, X = _mixture(rng)
    cube = X.reshape(M, H, W)
    path = tmp_path / "x.dat"
    big = np.memmap(path, dtype=">f8", mode="w+", shape=cube.shape)
    big[:] = cube
    big.flush()
    ro = np.memmap(path, dtype=">f8", mode="r", shape=cube.shape)
    strided = np.moveaxis(np.ascontiguousarray(np.moveaxis(cube, 0, -1)), -1, 0)  # (m, H, W) view, m fastest
    assert not strided.flags.c_contiguous
    kw = dict(n_sources=N, lam=0.01, max_iter=30, tol=0.0, random_state=1, dtype="float64")
    ref = _fit(PALM(**kw), cube)
    for data in (ro, strided):
        got = _fit(PALM(**kw, chunk_pixels=40), data)
        assert _rel(got.sources_, ref.sources_) < 1e-10 and _rel(got.mixing_, ref.mixing_) < 1e-10
    assert not ro.flags.writeable  # never written through


def test_chunked_validation_matches_check_data(rng):
    """Bad data are refused chunk by chunk with the in-memory sentences."""
    A, S, X = _mixture(rng)
    cases = []
    bad = X.copy()
    bad[2, 150] = np.nan
    bad[4, 10] = np.nan
    cases.append((bad, "2 NaN value"))
    bad = X.copy()
    bad[0, 200] = np.inf
    cases.append((bad, "1 infinite value"))
    cases.append((np.zeros_like(X), "must not be all zeros"))
    cases.append((np.ones_like(X) * np.arange(M)[:, None], "must vary across pixels"))
    cases.append((X * 1e30, "too large to compute with in float32"))
    cases.append((X[:1], "at least 2 channels"))
    cases.append((X[:, :0], "must not be empty"))
    for data, message in cases:
        for chunk in (None, 64):
            with pytest.raises(ValueError, match=message):
                PALM(n_sources=1, chunk_pixels=chunk).fit(data)
    with pytest.raises(ValueError, match="chunk_pixels applies to fit"):
        PALM(n_sources=N, chunk_pixels=64).fit_batch(X[None])


@pytest.mark.parametrize("bad", [0, -5, 2.5, "10", True])
def test_bad_chunk_pixels_are_refused_by_name(rng, bad):
    A, S, X = _mixture(rng)
    for cls in (PALM, GMCA, LPALMSeparator):
        with pytest.raises((ValueError, TypeError), match="chunk_pixels"):
            cls(n_sources=N, chunk_pixels=bad).fit(X)


def test_transform_after_a_chunked_fit_is_the_in_memory_transform():
    A, S, X = _mixture(np.random.default_rng(GMCA_SEED))
    est = _fit(GMCA(n_sources=N, max_iter=20, chunk_pixels=50, dtype="float64"), X)
    ref = _fit(GMCA(n_sources=N, max_iter=20, sparse_transform="none", dtype="float64"), X)
    assert _rel(est.transform(X), ref.transform(X)) < 1e-10
