"""Proximal operators and projections, batched and differentiable where torch allows.

All functions take and return torch tensors (NumPy arrays are accepted and returned as NumPy). Matrices follow
the project's shapes: projections of *columns* act on A ``(..., m, n)`` column by column; thresholds act
elementwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._backend import as_tensor, float_dtype_of, like_input


def _in(x: Any) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else as_tensor(x, dtype=float_dtype_of(x))


def _thr(threshold: Any, x: torch.Tensor) -> torch.Tensor | float:
    if isinstance(threshold, (int, float)):
        return float(threshold)
    t = threshold if isinstance(threshold, torch.Tensor) else torch.as_tensor(np.asarray(threshold))
    return t.to(dtype=x.dtype, device=x.device)


def soft_threshold(x: Any, threshold: Any) -> Any:
    """Soft thresholding ``ST_θ(x) = sign(x)·max(|x| − θ, 0)``, the prox of ``θ‖·‖₁``.

    ``threshold`` broadcasts against ``x``: a scalar, a per-row column ``(..., n, 1)`` (one threshold per
    source) or an elementwise array. Written as ``x − clamp(x, −θ, θ)`` so the gradient is defined everywhere,
    including with respect to a learned ``θ``.
    """
    xt = _in(x)
    th = _thr(threshold, xt)
    if isinstance(th, float):
        out = xt - xt.clamp(-th, th)
    else:
        out = xt - xt.clamp(-th, th)
    return like_input(out, x)


def project_columns_l2_ball(A: Any, radius: float = 1.0) -> Any:
    """Project each column of ``A (..., m, n)`` onto the l2 ball ``‖a‖₂ ≤ radius``: only columns with a larger
    norm are divided by their norm (times ``radius``); the others are left unchanged."""
    At = _in(A)
    norms = torch.linalg.vector_norm(At, dim=-2, keepdim=True)
    shrink = radius / norms.clamp_min(torch.finfo(At.dtype).tiny)
    scale = torch.where(norms > radius, shrink, torch.ones_like(norms))
    return like_input(At * scale, A)


def project_columns_sphere(A: Any, radius: float = 1.0, eps: float = 1e-12) -> Any:
    """Normalise each column of ``A (..., m, n)`` to l2 norm ``radius``; an all-zero column stays zero."""
    At = _in(A)
    norms = torch.linalg.vector_norm(At, dim=-2, keepdim=True)
    return like_input(At * (radius / norms.clamp_min(eps)) * (norms > 0), A)
