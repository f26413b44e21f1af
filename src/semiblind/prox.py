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
        out = xt - torch.maximum(torch.minimum(xt, th), -th)
    return like_input(out, x)


def hard_threshold(x: Any, threshold: Any) -> Any:
    """Hard thresholding: keep ``x`` where ``|x| > θ``, zero elsewhere (prox of the ℓ0 penalty ``θ²/2·‖·‖₀``).

    ``threshold`` broadcasts as in :func:`soft_threshold`.
    """
    xt = _in(x)
    th = _thr(threshold, xt)
    out = torch.where(xt.abs() > th, xt, torch.zeros_like(xt))
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


def project_nonnegative(x: Any) -> Any:
    """Projection onto the nonnegative orthant, ``max(x, 0)``."""
    xt = _in(x)
    return like_input(xt.clamp_min(0), x)


def project_simplex(x: Any, dim: int = -2, radius: float = 1.0) -> Any:
    """Exact Euclidean projection onto the simplex ``{v ≥ 0, Σ v = radius}`` along ``dim``.

    Sort-based algorithm (Held, Wolfe & Crowder 1974; Duchi et al. 2008): sort descending, find the largest
    ``ρ`` with ``u_ρ − (Σ_{i≤ρ} u_i − r)/ρ > 0``, shift by ``τ = (Σ_{i≤ρ} u_i − r)/ρ`` and clip at zero.
    Default ``dim=-2`` projects each column of an abundance matrix S ``(n, t)`` (sum over sources equals one
    for every pixel).
    """
    xt = _in(x)
    v = xt.movedim(dim, -1)
    u, _ = torch.sort(v, dim=-1, descending=True)
    css = torch.cumsum(u, dim=-1) - radius
    k = torch.arange(1, v.shape[-1] + 1, device=v.device, dtype=v.dtype)
    cond = u - css / k > 0
    # cond holds for a prefix of indices (always for the first); the largest k among them gives ρ.
    rho = (cond * k).argmax(-1, keepdim=True)
    tau = css.gather(-1, rho) / (rho + 1).to(v.dtype)
    out = (v - tau).clamp_min(0).movedim(-1, dim)
    return like_input(out, x)
