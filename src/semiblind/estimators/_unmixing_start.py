"""The common start of the per-image unmixing networks (MNNBU, SNMF-net): data scale, VCA endmembers and FCLS
abundances (Nascimento & Dias 2005; Heinz & Chang 2001), as both papers initialise them.

Shapes: X ``(B, m, t)``, A ``(B, m, n)``, S ``(B, n, t)``.
"""

from __future__ import annotations

from typing import Any

import torch

from ..solvers.vca import fcls_batch, vca_batch
from ..unrolled.lmu import data_scale


def vca_fcls_start(X: torch.Tensor, n: int, rng: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(c (B, 1, 1), A0 (B, m, n), S0 (B, n, t))`` for the normalised data ``X / c`` (``c = ‖X‖_F/√t``,
    :func:`semiblind.unrolled.lmu.data_scale`): VCA endmembers of ``X / c`` (:func:`~semiblind.solvers.vca.
    vca_batch`, floored at 0) and their FCLS abundances (:func:`~semiblind.solvers.vca.fcls_batch`, sum-to-one)."""
    c = data_scale(X)
    Xn = X / c
    A0, _, _ = vca_batch(Xn, n, rng)
    A0 = A0.to(X.dtype).clamp_min(0)
    return c, A0, fcls_start(Xn, A0)


def fcls_start(X: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """FCLS abundances ``(B, n, t)`` of ``X (B, m, t)`` for the endmembers ``A (B or 1, m, n)``."""
    return fcls_batch(X, A.expand(X.shape[0], -1, -1)).to(X.dtype)


def apply_to_new_images(net: Any, X: torch.Tensor, A_start: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a network trained on one image (MNNBU, SNMF-net) on other images ``X (B, m, t)``: each image divided
    by its own scale ``c``, started from the FCLS abundances for the trained ``A_start``; S scaled back."""
    c = data_scale(X)
    Xn = X / c
    A, S = net(Xn, S0=fcls_start(Xn, A_start))
    return A.detach().expand(X.shape[0], -1, -1), (S * c).detach()


__all__ = ["apply_to_new_images", "fcls_start", "vca_fcls_start"]
