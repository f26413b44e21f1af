"""A nonnegative LPALM for unmixing: LPALM's layers (Fahes et al., ICLR 2022, eq. 8) followed by projections on
the nonnegative orthant.

Layer ``k``: ``S̃(k+1) = max(0, LPALM S-update)`` — for the soft threshold this is the one-sided threshold
``max(0, z − θ)``, the proximal operator of ``θ‖S‖₁ + ι_{S≥0}`` — and ``Ã(k+1) = Π_{‖·‖₂≤1}(max(0, Ã(k) −
(1/L_A(k)) (Ã(k)S̃(k+1) − X) S̃(k+1)ᵀ))``, the projection on the nonnegative part of the unit ball (projecting
on the orthant first and then on the ball is the exact projection on their intersection). Everything else —
parameters, initialisation, wavelet mode, model files — is LPALM's, so the class only overrides the two steps.
It is used by :mod:`semiblind.selfsup` (``nonnegative=True``), where abundances and reflectances are ≥ 0.
"""

from __future__ import annotations

from typing import Any

import torch

from ..solvers.iterates import gradient_step_a
from .base import clamp_lipschitz, register_model
from .lpalm import LPALM


@register_model
class NonnegativeLPALM(LPALM):
    """LPALM with S ≥ 0 and A ≥ 0 after every layer (see the module docstring). Same constructor as
    :class:`~semiblind.unrolled.lpalm.LPALM`."""

    def s_step(self, S: torch.Tensor, A: torch.Tensor, X: torch.Tensor, k: int) -> torch.Tensor:
        return super().s_step(S, A, X, k).clamp_min(0)

    def a_step(self, A: torch.Tensor, S: torch.Tensor, X: torch.Tensor, k: int) -> torch.Tensor:
        step = 1.0 / clamp_lipschitz(self.L_A[self._layer(k)])
        A_pos = gradient_step_a(A, S, X, step, project=False).clamp_min(0)  # the same A-step as LPALM, then
        norms = torch.linalg.vector_norm(A_pos, dim=-2, keepdim=True)  # the exact projection on orthant ∩ ball
        return A_pos / norms.clamp_min(1.0)

    def inference_path(self, X: torch.Tensor, return_layers: bool = False) -> str:
        """Always the layer loop: LPALM's fast inference paths ("stacked", "blocked") call the S-update and the
        A-step directly and would skip this class's projections."""
        return "training"

    @classmethod
    def from_lpalm(cls, net: LPALM) -> NonnegativeLPALM:
        """The nonnegative twin of an initialised (or trained) LPALM: same architecture and weights."""
        arch: dict[str, Any] = dict(net.architecture())
        arch.pop("class", None)
        twin = cls(**arch, dtype=net.dtype)
        twin.load_state_dict(net.state_dict())
        twin.contract = dict(net.contract)
        return twin


__all__ = ["NonnegativeLPALM"]
