"""MNNBU (Qian, Xiong, Zhou, Sun & Gong, "Spectral mixture model inspired network architectures for
hyperspectral unmixing", IEEE TGRS 2020): ISTA unrolled for the abundances, with the endmember matrix as a
trainable layer, nonnegativity and sum-to-one; trained without ground truth on the image it unmixes.

Shapes (channels first): X ``(B, m, t)``, A ``(B, m, n)``, S ``(B, n, t)``.

From ``S(0)`` (FCLS abundances for the VCA endmembers ``A(0)``), layer ``k = 0 … K−1`` computes

    S ← Δ( max(0, ST_θ(k)(S − η(k) Aᵀ(A S − X))) )                          :func:`ista_simplex_step_s`

where ``ST`` is :func:`semiblind.solvers.iterates.sparse_step_s` (the ISTA step, ``W = η(k) A``), the clamp
keeps the abundances nonnegative and ``Δ`` divides every pixel by its sum (sum-to-one). The decoder ``X̂ = A
S(K)`` is the trainable endmember layer ``A`` (one per sample, initialised at ``A(0)``, kept ≥ 0). Trainable:
``A``, per-layer steps ``η(k) > 0`` (start ``1/‖A(0)ᵀA(0)‖₂``) and thresholds ``θ(k) ≥ 0`` (start 0). The
loss is the reconstruction error ``Σ_b ‖X_b − A_b S_b(K)‖²_F / ‖X_b‖²_F``; the samples of a batch do not
interact (Adam works elementwise), so a batch trains each image independently.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .._backend import spectral_norm_sq
from ..solvers.iterates import sparse_step_s
from .base import check_layers, check_start_pair

EPS = 1e-12


def ista_simplex_step_s(S: torch.Tensor, A: torch.Tensor, X: torch.Tensor, step: torch.Tensor,
                        theta: torch.Tensor, *, AtX: torch.Tensor | None = None) -> torch.Tensor:
    """MNNBU's layer: the ISTA step ``ST_θ(S − η Aᵀ(A S − X))`` (:func:`~semiblind.solvers.iterates.
    sparse_step_s` with ``W = η A``), clamped at 0, then every pixel divided by its sum (abundances on the
    simplex; a pixel whose entries all vanish becomes uniform ``1/n``). ``step``, ``theta``: scalars or
    ``(B, 1, 1)``. ``AtX = AᵀX`` may be passed precomputed (A is the same in every layer)."""
    WtX = None if AtX is None else step * AtX
    S = sparse_step_s(S, A, X, A * step, theta, WtX=WtX).clamp_min(0)
    total = S.sum(dim=-2, keepdim=True)
    n = S.shape[-2]
    return torch.where(total > EPS, S / total.clamp_min(EPS), torch.full_like(S, 1.0 / n))


class MNNBU(nn.Module):
    """MNNBU as a batched ``torch.nn.Module`` for one batch of images (retrained per image, never saved).

    Parameters (keyword-only)
    -------------------------
    A0 : ``(B, m, n)`` nonnegative start of the endmember layer (VCA endmembers).
    S0 : ``(B, n, t)`` start of the abundances (FCLS), fixed.
    layers : number of unrolled ISTA layers K.
    dtype : torch dtype of the parameters (that of ``A0`` by default).

    ``forward(X (B, m, t)) -> (A (B, m, n), S (B, n, t))``; :meth:`loss` is the training objective and
    :meth:`project_` the projection applied after each optimiser step.
    """

    def __init__(self, *, A0: torch.Tensor, S0: torch.Tensor, layers: int = 10, dtype: Any = None) -> None:
        super().__init__()
        check_layers(layers)
        check_start_pair(A0, S0)
        dt = A0.dtype if dtype is None else dtype
        self.layers = int(layers)
        A0 = A0.detach().to(dt).clamp_min(0)
        B = A0.shape[0]
        L = spectral_norm_sq(A0).clamp_min(EPS).reshape(B, 1, 1, 1)
        self.A = nn.Parameter(A0.clone())
        self.step = nn.Parameter((1.0 / L).expand(B, self.layers, 1, 1).clone())
        self.theta = nn.Parameter(torch.zeros(B, self.layers, 1, 1, dtype=dt))
        self.register_buffer("S0", S0.detach().to(dt).clone())

    def forward(self, X: torch.Tensor, S0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(A, S(K))`` for ``X (B, m, t)``, from ``S0`` (default: the stored start; another image needs its
        own start, e.g. the FCLS abundances for the trained ``A``)."""
        S = self.S0 if S0 is None else S0
        A = self.A.expand(X.shape[0], -1, -1)  # one trained A applied to a batch of other images
        AtX = A.mT @ X
        for k in range(self.layers):
            S = ista_simplex_step_s(S, A, X, self.step[:, k], self.theta[:, k], AtX=AtX)
        return A, S

    def loss(self, X: torch.Tensor) -> torch.Tensor:
        """Reconstruction error ``Σ_b ‖X_b − A_b S_b(K)‖²_F / ‖X_b‖²_F``."""
        A, S = self(X)
        return ((X - A @ S).square().sum(dim=(-2, -1)) / X.square().sum(dim=(-2, -1))).sum()

    @torch.no_grad()
    def project_(self) -> None:
        """A ≥ 0, θ ≥ 0, η ≥ 1e-8 (projected gradient)."""
        self.A.clamp_(min=0)
        self.theta.clamp_(min=0)
        self.step.clamp_(min=1e-8)


__all__ = ["MNNBU", "ista_simplex_step_s"]
