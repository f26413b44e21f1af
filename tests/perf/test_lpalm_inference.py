"""LPALM's inference paths (stacked WᵀX, pixel blocks) give the training path's numbers up to rounding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import semiblind.unrolled.lpalm as lpalm_module
from semiblind.unrolled import LPALM


def _pair(m: int, n: int, t: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    A = np.abs(rng.standard_normal((m, n)))
    A /= np.linalg.norm(A, axis=0)
    S = rng.standard_normal((n, t)) * (rng.random((n, t)) < 0.2)
    return A, S


def _model(s_update: str = "lista-cp", dtype: str = "float64", **kw) -> LPALM:
    A, S = _pair(12, 3, 200, 0)
    extra = {"lam": 1e-3} if s_update == "ista" else {}
    return LPALM(n_channels=12, n_sources=3, layers=6, init_pair=(A, S), s_update=s_update, dtype=dtype,
                 **extra, **kw).eval()


def _data(B: int, t: int, dtype=torch.float64, seed: int = 1) -> torch.Tensor:
    A, S = _pair(12, 3, t, seed)
    rng = np.random.default_rng(seed + 1)
    X = np.stack([A @ _pair(12, 3, t, seed + 2 + b)[1] for b in range(B)]) + 0.01 * rng.standard_normal((B, 12, t))
    return torch.as_tensor(X, dtype=dtype)


def _reference(model: LPALM, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        A, S, _, _ = model(X, return_layers=True)  # the training path (driver.unroll on the whole batch)
    return A, S


@pytest.mark.parametrize("s_update", ["lista-cp", "ista-llt", "lista", "ista"])
def test_blocked_path_equals_training_path_float64(monkeypatch, s_update):
    model = _model(s_update)
    X = _data(2, 700)
    A_ref, S_ref = _reference(model, X)
    monkeypatch.setattr(lpalm_module, "INFERENCE_BLOCK_BYTES", 12 * 64 * 8)  # blocks of 64 pixels, 11 blocks
    with torch.no_grad():
        assert model.inference_path(X) == "blocked"
        A, S = model(X)
    np.testing.assert_allclose(S.numpy(), S_ref.numpy(), rtol=0, atol=1e-10 * float(S_ref.abs().max()))
    np.testing.assert_allclose(A.numpy(), A_ref.numpy(), rtol=0, atol=1e-10)


def test_stacked_path_equals_training_path():
    for dtype, tdtype, tol in (("float64", torch.float64, 1e-12), ("float32", torch.float32, 1e-5)):
        model = _model(dtype=dtype)
        X = _data(5, 300, dtype=tdtype)
        A_ref, S_ref = _reference(model, X)
        with torch.no_grad():
            assert model.inference_path(X) == "stacked"
            A, S = model(X)
        assert torch.allclose(S, S_ref, rtol=0, atol=tol * float(S_ref.abs().max()))
        assert torch.allclose(A, A_ref, rtol=0, atol=tol)


def test_tied_and_wavelet_models_use_the_fast_paths(monkeypatch):
    for kw in ({"tied": True}, {"wavelet": True, "n_scales": 2}, {"threshold": "per-source"}):
        model = _model(**kw)
        X = _data(2, 256)
        A_ref, S_ref = _reference(model, X)
        with torch.no_grad():
            A, S = model(X)
            monkeypatch.setattr(lpalm_module, "INFERENCE_BLOCK_BYTES", 12 * 50 * 8)
            A_b, S_b = model(X)
            monkeypatch.undo()
        for got in (S, S_b):
            assert torch.allclose(got, S_ref, rtol=0, atol=1e-10 * float(S_ref.abs().max())), kw
        assert torch.allclose(A_b, A_ref, rtol=0, atol=1e-10), kw


def test_gradients_take_the_training_path():
    model = _model()
    X = _data(2, 100)
    with torch.no_grad():
        assert model.inference_path(X) == "stacked"
    with torch.enable_grad():
        assert model.inference_path(X) == "training"
        A, S = model(X)
        S.sum().backward()
    assert model.W.grad is not None and torch.isfinite(model.W.grad).all()
    assert model.inference_path(X, return_layers=True) == "training"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_forward_equals_cpu():
    model = _model()
    X = _data(3, 400)
    with torch.no_grad():
        A_ref, S_ref = model(X)
        A, S = model.to("cuda")(X.to("cuda"))
        assert model.inference_path(X.to("cuda")) == "stacked"
    assert torch.allclose(S.cpu(), S_ref, rtol=0, atol=1e-10 * float(S_ref.abs().max()))
    assert torch.allclose(A.cpu(), A_ref, rtol=0, atol=1e-10)
