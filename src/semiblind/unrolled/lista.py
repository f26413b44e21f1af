"""Unrolled sparse coders with the mixing matrix known: ISTA-LLT, LISTA and LISTA-CP (torch modules).

These networks estimate S only (used in the LPALM paper, Fahes et al. ICLR 2022, §2 and Appendix D, as the
S-update variants). From ``S(0) = 0``, layer ``k`` computes

- **ISTA-LLT** (ISTA with learned step and threshold): ``S ← ST_θ(k)(S − (A/L(k))ᵀ(A S − X))``; learned
  ``L(k) > 0``, ``θ(k) ≥ 0``. Calls :func:`semiblind.solvers.iterates.sparse_step_s` with ``W = A/L(k)``.
- **LISTA** (Gregor & LeCun 2010): ``S ← ST_θ(k)(W1(k) S + W2(k) X)``; learned ``W1(k) (n, n)``,
  ``W2(k) (n, m)``, ``θ(k)``. Calls :func:`semiblind.solvers.iterates.lista_step_s`.
- **LISTA-CP** (Chen, Liu, Wang & Yin 2018): ``S ← ST_θ(k)(S + W(k)ᵀ(X − A S))``; learned ``W(k) (m, n)``,
  ``θ(k)``. Calls :func:`semiblind.solvers.iterates.sparse_step_s` with ``W = W(k)``.

Which A. Each network stores a reference mixing matrix ``A_ref (m, n)`` (a buffer saved with the weights). The
library's training (``for_training``) sets it to the **mean of the training set's mixing matrices**, and
initialises as ISTA with that A: ``L_S = λ_max(A_refᵀA_ref)``, ``θ(k) = α/L_S`` (α = 1e-5, as LPALM),
``W(k) = A_ref/L_S``, ``W1(k) = I − A_refᵀA_ref/L_S``, ``W2(k) = A_refᵀ/L_S``, ``L(k) = L_S``.
``forward(X, A=None)`` uses ``A_ref`` unless a batch of matrices ``A (B, m, n)`` (or one ``(m, n)``) is
passed. With ``mixing="fixed"`` (default) the training engine uses ``A_ref`` for every sample; with
``mixing="given"`` it passes each training sample's true A (the paper's "varying A" setting). Separation from X
alone (``semiblind.separate(..., method="lista")``) always uses ``A_ref``, the networks being semi-blind only
through it.

θ and L are clamped in the forward pass and projected after each training step (see
:mod:`semiblind.unrolled.base`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from .._backend import as_tensor, spectral_norm_sq
from ..solvers.iterates import lista_step_s, sparse_step_s
from .base import UnrolledNet, clamp_lipschitz, clamp_theta, register_model

ALPHA_INIT = 1e-5
"""α of the paper's initialisation θ(k) = α / L_S (LPALM paper App. A), shared by every unrolled S-update."""

THRESHOLDS = ("scalar", "per-source")


def _threshold_shape(K: int, n: int, threshold: str) -> tuple[int, ...]:
    return (K,) if threshold == "scalar" else (K, n)

MIXING_MODES = ("fixed", "given")


class SparseCodingNet(UnrolledNet):
    """Base of the S-only networks (ISTA-LLT, LISTA, LISTA-CP): reference A, thresholds, the layer loop.

    Parameters
    ----------
    n_channels, n_sources, layers, tied, threshold, alpha, dtype : as :class:`semiblind.unrolled.lpalm.LPALM`.
    mixing : ``"fixed"`` (train and separate with ``A_ref``) or ``"given"`` (train with each sample's true A).
    A_ref : the reference mixing matrix ``(m, n)`` (a pair ``(A_ref, S)`` is accepted, S unused); without it
        ``A_ref`` and the weights are zeros and L ones, to be filled by :meth:`load_state_dict`.

    A layer is the class's :meth:`layer` (one iterate of :mod:`semiblind.solvers.iterates`) with the parameters
    made by :meth:`initial_parameters`; LPALM's S-update variants call these same two functions.
    """

    estimates_mixing: ClassVar[bool] = False

    @classmethod
    def for_training(cls, A: torch.Tensor, S: torch.Tensor, *, layers: int = 25, dtype: Any = None,
                     **options: Any) -> SparseCodingNet:
        """A freshly initialised network for training triplets ``A (N, m, n)``, ``S (N, n, t)``: ``A_ref`` is the
        mean of the training mixing matrices; ``options`` go to the constructor."""
        return cls(n_channels=int(A.shape[1]), n_sources=int(A.shape[2]), layers=layers, A_ref=A.mean(dim=0),
                   dtype=dtype, **options)

    def __init__(
        self,
        *,
        n_channels: int,
        n_sources: int,
        layers: int = 25,
        tied: bool = False,
        threshold: str = "scalar",
        mixing: str = "fixed",
        A_ref: Any = None,
        alpha: float = ALPHA_INIT,
        dtype: Any = None,
    ) -> None:
        super().__init__(n_channels=n_channels, n_sources=n_sources, layers=layers, dtype=dtype)
        init = A_ref
        if threshold not in THRESHOLDS:
            raise ValueError(f"threshold must be one of {', '.join(map(repr, THRESHOLDS))}; got "
                             f"{threshold!r}.")
        if mixing not in MIXING_MODES:
            raise ValueError(f"mixing must be one of {', '.join(map(repr, MIXING_MODES))}; got {mixing!r}.")
        self.tied = bool(tied)
        self.threshold = threshold
        self.mixing = mixing
        dt = self._param_dtype
        if init is not None:
            A0 = init[0] if isinstance(init, (tuple, list)) else init
            A0 = as_tensor(A0, dtype=dt).detach().cpu()
            if A0.shape != (self.m, self.n):
                raise ValueError(
                    f"A_ref must have shape ({self.m}, {self.n}) (channels, sources); got {tuple(A0.shape)}."
                )
            if not torch.isfinite(A0).all() or float(spectral_norm_sq(A0)) == 0:
                raise ValueError("A_ref must be finite and not all zeros.")
            L_S = spectral_norm_sq(A0)
            theta0 = float(alpha) / L_S
        else:
            A0 = torch.zeros(self.m, self.n, dtype=dt)
            L_S = torch.ones((), dtype=dt)
            theta0 = torch.zeros((), dtype=dt)
        self.register_buffer("A_ref", A0.clone())
        P = 1 if self.tied else self.layers
        self.theta = nn.Parameter(theta0.expand(_threshold_shape(P, self.n, threshold)).clone())
        for name, value in self.initial_parameters(A0, L_S, P, initialised=init is not None).items():
            setattr(self, name, nn.Parameter(value))

    @staticmethod
    def initial_parameters(A0: torch.Tensor, L_S: torch.Tensor, P: int, *, initialised: bool
                           ) -> dict[str, torch.Tensor]:
        """The learned weights of ``P`` layers, initialised as ISTA with ``A0 (m, n)``, ``L_S = ‖A0ᵀA0‖₂``."""
        raise TypeError("SparseCodingNet is abstract; use ISTALLT, LISTA or LISTACP.")

    @staticmethod
    def layer(S: torch.Tensor, A: torch.Tensor, X: torch.Tensor, params: Mapping[str, torch.Tensor],
              theta: torch.Tensor) -> torch.Tensor:
        """One S-update with one layer's ``params`` (the entries of :meth:`initial_parameters`) and θ."""
        raise TypeError("SparseCodingNet is abstract; use ISTALLT, LISTA or LISTACP.")

    def architecture(self) -> dict[str, Any]:
        arch = super().architecture()
        return {**arch, "tied": self.tied, "threshold": self.threshold, "mixing": self.mixing}

    def layer_theta(self, k: int) -> torch.Tensor:
        th = clamp_theta(self.theta[self._layer(k)])
        return th if self.threshold == "scalar" else th.unsqueeze(-1)

    def s_step(self, S: torch.Tensor, A: torch.Tensor, X: torch.Tensor, k: int) -> torch.Tensor:
        kk = self._layer(k)
        params = {name: getattr(self, name)[kk] for name in self.parameter_names}
        return self.layer(S, A, X, params, self.layer_theta(k))

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.named_parameters(recurse=False) if name != "theta")

    def forward(self, X: torch.Tensor, A: torch.Tensor | None = None, return_layers: bool = False) -> tuple:
        """Estimate S for a batch ``X (B, m, t)`` with ``A`` (``(B, m, n)``, ``(m, n)`` or None: ``A_ref``).

        Returns ``(A, S)`` with the A used broadcast to ``(B, m, n)``, or ``(A, S, A_layers, S_layers)``.
        """
        self._check_input(X)
        X = X.to(self.dtype)
        B, m, t = X.shape
        if A is None:
            A = self.A_ref
        A = A.to(dtype=X.dtype, device=X.device)
        if A.shape[-2:] != (self.m, self.n) or A.ndim not in (2, 3) or (A.ndim == 3 and A.shape[0] != B):
            raise ValueError(
                f"A must have shape ({B}, {self.m}, {self.n}) or ({self.m}, {self.n}); got {tuple(A.shape)}."
            )
        A = A.expand(B, self.m, self.n)
        S = torch.zeros((B, self.n, t), dtype=X.dtype, device=X.device)
        Ss: list[torch.Tensor] = []
        for k in range(self.layers):
            S = self.s_step(S, A, X, k)
            if return_layers:
                Ss.append(S)
        return (A, S, [A] * self.layers, Ss) if return_layers else (A, S)


@register_model
class ISTALLT(SparseCodingNet):
    """ISTA with learned step ``1/L(k)`` and threshold ``θ(k)`` per layer: ``S ← ST_θ(k)(S − (A/L(k))ᵀ(AS −
    X))``."""

    kind: ClassVar[str] = "ista-llt"

    @staticmethod
    def initial_parameters(A0, L_S, P, *, initialised):
        return {"L": L_S.expand(P).clone()}

    @staticmethod
    def layer(S, A, X, params, theta):
        return sparse_step_s(S, A, X, A / clamp_lipschitz(params["L"]), theta)


@register_model
class LISTA(SparseCodingNet):
    """LISTA (Gregor & LeCun 2010): ``S ← ST_θ(k)(W1(k) S + W2(k) X)``; A is not used by the layers."""

    kind: ClassVar[str] = "lista"

    @staticmethod
    def initial_parameters(A0, L_S, P, *, initialised):
        m, n = A0.shape
        eye = torch.eye(n, dtype=A0.dtype)
        W1 = eye - (A0.mT @ A0) / L_S if initialised else torch.zeros(n, n, dtype=A0.dtype)
        return {"W1": W1.expand(P, n, n).clone(), "W2": (A0.mT / L_S).expand(P, n, m).clone()}

    @staticmethod
    def layer(S, A, X, params, theta):
        return lista_step_s(S, X, params["W1"], params["W2"], theta)


@register_model
class LISTACP(SparseCodingNet):
    """LISTA-CP (Chen et al. 2018): ``S ← ST_θ(k)(S + W(k)ᵀ(X − A S))`` with A given (or ``A_ref``)."""

    kind: ClassVar[str] = "lista-cp"

    @staticmethod
    def initial_parameters(A0, L_S, P, *, initialised):
        return {"W": (A0 / L_S).expand(P, *A0.shape).clone()}

    @staticmethod
    def layer(S, A, X, params, theta):
        return sparse_step_s(S, A, X, params["W"], theta)


__all__ = [
    "ALPHA_INIT",
    "ISTALLT",
    "LISTA",
    "LISTACP",
    "MIXING_MODES",
    "SparseCodingNet",
    "THRESHOLDS",
]
