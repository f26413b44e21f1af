"""SNMF-net (Xiong, Zhou & Qian, "SNMF-Net: learning a deep alternating neural network for hyperspectral
unmixing", IEEE TGRS 2021): the multiplicative updates of ℓ1/2-sparse NMF unrolled into alternating A- and
S-layers with learned per-layer sparsity weights, trained without ground truth on the image it unmixes.

Shapes (channels first): X ``(B, m, t)``, A ``(B, m, n)``, S ``(B, n, t)``.

From ``(A(0), S(0))`` (VCA endmembers, trainable, and their FCLS abundances), layer ``k = 0 … K−1`` computes

    A ← max(ε, A ⊙ (X Sᵀ) / (A S Sᵀ))                                :func:`semiblind.solvers.nmf.mu_update_a`
    S ← max(ε, S ⊙ (Aᵀ X) / (AᵀA S + (λ(k)/2) S^(−1/2)))             :func:`l_half_update_s`

the ℓ1/2-NMF update (Qian et al. 2011), i.e. :func:`semiblind.solvers.nmf.mu_update_s` with the elementwise
penalty gradient ``(λ/2) S^(−1/2)`` as its ``lam``. Trainable: ``A(0)`` and ``λ(k) ≥ 0`` (start: the sparseness
estimate of Qian et al. 2011, see :func:`sparseness_lambda`). The loss sums the reconstruction error over the
layers (Xiong et al. 2021, eq. 5): ``Σ_k Σ_b ‖X_b − A_b(k) S_b(k)‖²_F / ‖X_b‖²_F``. No sum-to-one constraint.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..solvers.nmf import mu_update_a, mu_update_s
from .base import check_layers, check_start_pair

EPS = 1e-12


def l_half_update_s(A: torch.Tensor, S: torch.Tensor, X: torch.Tensor, lam: torch.Tensor,
                    eps: float = EPS) -> torch.Tensor:
    """ℓ1/2-sparse MU on S (Qian et al. 2011, eq. 13): :func:`~semiblind.solvers.nmf.mu_update_s` with the
    penalty gradient ``(λ/2) S^(−1/2)`` (S floored at ``eps`` first). ``lam``: scalar or ``(B, 1, 1)``."""
    return mu_update_s(A, S, X, eps, lam=0.5 * lam * S.clamp_min(eps).rsqrt())


def sparseness_lambda(X: torch.Tensor) -> torch.Tensor:
    """Qian et al.'s (2011) λ: ``(1/√m) Σ_l (√t − ‖x_l‖₁/‖x_l‖₂)/(√t − 1)`` over the channels ``x_l`` of
    ``X (B, m, t)``; ``(B, 1, 1)``."""
    m, t = X.shape[-2], X.shape[-1]
    r = X.abs().sum(-1) / torch.linalg.vector_norm(X, dim=-1).clamp_min(EPS)
    rt = math.sqrt(t)
    return ((rt - r) / max(rt - 1.0, EPS)).sum(-1).reshape(-1, 1, 1) / math.sqrt(m)


class SNMFNet(nn.Module):
    """SNMF-net as a batched ``torch.nn.Module`` for one batch of images (retrained per image, never saved).

    Parameters (keyword-only)
    -------------------------
    A0 : ``(B, m, n)`` positive start of A (VCA endmembers), trainable.
    S0 : ``(B, n, t)`` positive start of S (FCLS abundances), fixed.
    lam0 : ``(B, 1, 1)`` start of every layer's λ(k).
    layers : number of layers K.

    ``forward(X, return_layers=False) -> (A, S)`` (and the per-layer lists); :meth:`loss` is eq. 5.
    """

    def __init__(self, *, A0: torch.Tensor, S0: torch.Tensor, lam0: torch.Tensor, layers: int = 10,
                 dtype: Any = None) -> None:
        super().__init__()
        check_layers(layers)
        check_start_pair(A0, S0)
        dt = A0.dtype if dtype is None else dtype
        self.layers = int(layers)
        B = A0.shape[0]
        self.A0 = nn.Parameter(A0.detach().to(dt).clamp_min(EPS).clone())
        self.lam = nn.Parameter(lam0.detach().to(dt).reshape(B, 1, 1, 1).expand(B, self.layers, 1, 1).clone())
        self.register_buffer("S0", S0.detach().to(dt).clamp_min(EPS).clone())

    def forward(self, X: torch.Tensor, return_layers: bool = False, S0: torch.Tensor | None = None) -> tuple:
        """``(A(K), S(K))`` (and the per-layer lists) for ``X (B, m, t)``, from the trained ``A(0)`` and ``S0``
        (default: the stored start; another image needs its own, e.g. FCLS abundances for ``A(0)``)."""
        A, S = self.A0.expand(X.shape[0], -1, -1), (self.S0 if S0 is None else S0.clamp_min(EPS))
        As, Ss = [], []
        Xp = X.clamp_min(0)  # MU needs X ≥ 0: the noise's negative entries are clipped
        for k in range(self.layers):
            A = mu_update_a(A, S, Xp, EPS)
            S = l_half_update_s(A, S, Xp, self.lam[:, k], EPS)
            if return_layers:
                As.append(A)
                Ss.append(S)
        return (A, S, As, Ss) if return_layers else (A, S)

    def loss(self, X: torch.Tensor) -> torch.Tensor:
        """Eq. 5 of Xiong et al. (2021): reconstruction error summed over layers (and samples)."""
        _, _, As, Ss = self(X, return_layers=True)
        den = X.square().sum(dim=(-2, -1))
        return sum(((X - A @ S).square().sum(dim=(-2, -1)) / den).sum() for A, S in zip(As, Ss))

    @torch.no_grad()
    def project_(self) -> None:
        """A(0) ≥ ε, λ ≥ 0 (projected gradient)."""
        self.A0.clamp_(min=EPS)
        self.lam.clamp_(min=0)


__all__ = ["SNMFNet", "l_half_update_s", "sparseness_lambda"]
