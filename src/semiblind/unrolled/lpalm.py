"""LPALM: PALM unrolled for sparse semi-blind source separation (Fahes, Kervazo, Bobin & Tupin, "Unrolling
PALM for
sparse semi-blind source separation", ICLR 2022, eq. 8 and Appendix A), and its ``"lpalm"`` separator.

From ``Ã(0) = 1/√m`` (every entry) and ``S̃(0) = 0``, layer ``k = 0 … K−1`` computes

    S̃(k+1) = ST_θ(k)( S̃(k) − W(k)ᵀ (Ã(k) S̃(k) − X) )                         (LISTA-CP-type S-update)
    Ã(k+1) = Π_{‖·‖₂≤1}( Ã(k) − (1/L_A(k)) (Ã(k) S̃(k+1) − X) S̃(k+1)ᵀ )       (PALM's A-update, with the new
    S)

with trainable ``θ(k) ≥ 0`` (one scalar per layer as in the paper, or one per source), ``W(k) ∈ R^{m×n}`` and
``L_A(k) > 0``. The two lines are :func:`semiblind.solvers.iterates.sparse_step_s` and
:func:`semiblind.solvers.iterates.gradient_step_a`, the functions PALM itself calls with ``W = A/L_S``,
``θ = λ/L_S`` and ``L_A = ‖SSᵀ‖₂``. Both are evaluated in Gram form (``WᵀX``, ``(WᵀA)S``, ``XSᵀ``,
``A(SSᵀ)``), so a
layer reads X twice; the whole batch is processed at once (a Python loop runs over layers only).

Initialisation (paper App. A) from one training pair ``(A, S)``: ``L_S = λ_max(AᵀA)``, ``θ(k) = α/L_S`` with
``α = 1e-5``, ``W(k) = A/L_S``, ``L_A(k) = λ_max(SSᵀ)``.

Constraints: θ is clamped at 0 and L_A at ``L_MIN`` in the forward pass, and the training engine projects the
stored
values after every step (see :mod:`semiblind.unrolled.base`).

Wavelet mode (App. A): X is starlet-transformed (:func:`semiblind.transforms.starlet_forward`, ``n_scales``
detail
scales, along the pixels for ``(B, m, t)`` data, in 2-D for images), the network runs on the detail
coefficients
with the scales laid side by side as pixels, the coarse scale of S is ``Ã⁺ c_X`` with the final (or layer's)
Ã,
and S is the inverse transform (sum of scales).

Variants of the S-update (paper App. D) are available through ``s_update``: ``"lista-cp"`` (eq. 8, default),
``"ista-llt"`` (``W = Ã(k)/L_S(k)`` with a learned ``L_S(k)``), ``"lista"`` (``S ← ST_θ(W1 S + W2 X)``) and
``"ista"``, PALM's own S-step (paper eq. 6, first line):

    S̃(k+1) = ST_{λ/L_S}( S̃(k) − (1/L_S) Ã(k)ᵀ (Ã(k) S̃(k) − X) ),   L_S = ‖Ã(k)ᵀÃ(k)‖₂

with ``L_S`` computed from the current estimate Ã(k) in every layer and sample, and λ a single fixed
hyper-parameter (constructor argument ``lam``, stored in the architecture); only the A-steps ``1/L_A(k)``
are learned. It is :func:`~semiblind.solvers.iterates.sparse_step_s` with ``W = Ã(k)/L_S`` and
``θ = λ/L_S``, i.e. PALM truncated to K iterations with learned A-step sizes.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from .._backend import as_tensor, spectral_norm_sq
from ..solvers.iterates import gradient_step_a, lista_step_s, sparse_step_s
from ..transforms import starlet_forward, starlet_inverse
from .base import UnrolledNet, clamp_lipschitz, clamp_theta, register_model

ALPHA_INIT = 1e-5
"""α of the paper's initialisation θ(k) = α / L_S (App. A)."""

S_UPDATES = ("lista-cp", "ista-llt", "lista", "ista")
THRESHOLDS = ("scalar", "per-source")


def _pair_tensors(pair: Any, m: int, n: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate an initialisation pair ``(A (m, n), S (n, t))`` and return float tensors."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"init must be a pair (A, S) of arrays; got {type(pair).__name__}.")
    A = as_tensor(pair[0], dtype=dtype).detach().cpu()
    S = as_tensor(pair[1], dtype=dtype).detach().cpu()
    if A.shape != (m, n):
        raise ValueError(f"init A must have shape ({m}, {n}) (channels, sources); got {tuple(A.shape)}.")
    if S.ndim != 2 or S.shape[0] != n:
        raise ValueError(f"init S must have shape ({n}, t) (sources, pixels); got {tuple(S.shape)}.")
    if not (torch.isfinite(A).all() and torch.isfinite(S).all()):
        raise ValueError("init must contain only finite values; got NaN or infinite entries in A or S.")
    if float(spectral_norm_sq(A)) == 0 or float(spectral_norm_sq(S)) == 0:
        raise ValueError("init A and S must not be all zeros; their largest singular value is 0.")
    return A, S


def _threshold_shape(K: int, n: int, threshold: str) -> tuple[int, ...]:
    return (K,) if threshold == "scalar" else (K, n)


@register_model
class LPALM(UnrolledNet):
    """LPALM (Fahes et al., ICLR 2022, eq. 8) as a batched ``torch.nn.Module``.

    Parameters
    ----------
    m, n : channels and sources.
    layers : number of layers K (paper: 25).
    tied : share one set of parameters across all layers (default: untied, as in the paper).
    threshold : ``"scalar"`` (one θ per layer, the paper) or ``"per-source"`` (one θ per layer and source).
    s_update : ``"lista-cp"`` (eq. 8), ``"ista-llt"``, ``"lista"`` or ``"ista"`` (App. D variants). With
        ``"ista"`` the S-step is PALM's (``W = Ã(k)/L_S``, ``θ = λ/L_S``, ``L_S = ‖Ã(k)ᵀÃ(k)‖₂``); it has no
        threshold parameter, so ``threshold`` must be ``"scalar"``, and only ``L_A(k)`` is trained.
    lam : λ of the ``"ista"`` S-update, a fixed (not learned) float ``>= 0`` on the scale of ``AᵀX``; required
        with ``s_update="ista"`` and not accepted with the learned S-updates.
    wavelet : run on starlet detail coefficients (App. A).
    n_scales : number of starlet detail scales in wavelet mode.
    init : a training pair ``(A (m, n), S (n, t))`` for the paper's initialisation; without it the parameters
    are
        zeros (θ, W) and ones (L), to be filled by :meth:`load_state_dict` (this is what loading a model file
        does).
    alpha : α of ``θ(k) = α/L_S``.
    dtype : ``"float32"`` (default) or ``"float64"``.

    ``forward(X (B, m, t), return_layers=False, image_shape=None) -> (A (B, m, n), S (B, n, t))`` and, with
    ``return_layers=True``, also the lists of per-layer ``A`` and ``S`` (length K; the last equals the
    output).
    """

    estimates_mixing: ClassVar[bool] = True
    kind: ClassVar[str] = "lpalm"

    @classmethod
    def for_training(cls, A: torch.Tensor, S: torch.Tensor, *, layers: int = 25, dtype: Any = None,
                     **options: Any) -> LPALM:
        """A freshly initialised LPALM for training triplets ``A (N, m, n)``, ``S (N, n, t)``: the paper's App. A
        initialisation from the first pair ``(A[0], S[0])``; ``options`` go to the constructor."""
        return cls(m=int(A.shape[1]), n=int(A.shape[2]), layers=layers, init=(A[0], S[0]), dtype=dtype, **options)

    def __init__(
        self,
        *,
        m: int,
        n: int,
        layers: int = 25,
        tied: bool = False,
        threshold: str = "scalar",
        s_update: str = "lista-cp",
        wavelet: bool = False,
        n_scales: int = 3,
        init: Any = None,
        alpha: float = ALPHA_INIT,
        lam: float | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(m=m, n=n, layers=layers, dtype=dtype)
        if threshold not in THRESHOLDS:
            raise ValueError(f"threshold must be one of {', '.join(map(repr, THRESHOLDS))}; got "
                             f"{threshold!r}.")
        if s_update not in S_UPDATES:
            raise ValueError(f"s_update must be one of {', '.join(map(repr, S_UPDATES))}; got {s_update!r}.")
        if isinstance(n_scales, bool) or not isinstance(n_scales, int) or n_scales < 1:
            raise ValueError(f"n_scales must be a positive int; got {n_scales!r}.")
        if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"alpha must be a finite float >= 0; got {alpha!r}.")
        if s_update == "ista":
            if isinstance(lam, bool) or not (isinstance(lam, (int, float)) and math.isfinite(lam) and lam >= 0):
                raise ValueError(f"lam must be a finite float >= 0 when s_update is 'ista'; got {lam!r}.")
            if threshold != "scalar":
                raise ValueError(f"threshold must be 'scalar' when s_update is 'ista' (its threshold λ/L_S is "
                                 f"not learned); got {threshold!r}.")
        elif lam is not None:
            raise ValueError(f"lam must be None when s_update is {s_update!r} (only the 'ista' S-update uses a "
                             f"fixed λ); got {lam!r}.")
        self.lam = None if lam is None else float(lam)
        self.tied = bool(tied)
        self.threshold = threshold
        self.s_update = s_update
        self.wavelet = bool(wavelet)
        self.n_scales = int(n_scales)
        dt = self._param_dtype
        P = 1 if self.tied else self.layers
        m, n = self.m, self.n
        if init is not None:
            A0, S0 = _pair_tensors(init, m, n, dt)
            L_S = spectral_norm_sq(A0)
            L_A = spectral_norm_sq(S0)
            theta0 = float(alpha) / L_S
        else:
            A0 = torch.zeros(m, n, dtype=dt)
            L_S = torch.ones((), dtype=dt)
            L_A = torch.ones((), dtype=dt)
            theta0 = torch.zeros((), dtype=dt)
        if s_update != "ista":  # the "ista" S-step has the fixed threshold λ/L_S
            self.theta = nn.Parameter(theta0.expand(_threshold_shape(P, n, threshold)).clone())
        if s_update == "lista-cp":
            self.W = nn.Parameter((A0 / L_S).expand(P, m, n).clone())
        elif s_update == "ista-llt":
            self.L_S = nn.Parameter(L_S.expand(P).clone())
        elif s_update == "lista":
            G = A0.mT @ A0
            eye = torch.eye(n, dtype=dt)
            W1 = eye - G / L_S if init is not None else torch.zeros(n, n, dtype=dt)
            self.W1 = nn.Parameter(W1.expand(P, n, n).clone())
            self.W2 = nn.Parameter((A0.mT / L_S).expand(P, n, m).clone())
        self.L_A = nn.Parameter(L_A.expand(P).clone())

    # ------------------------------------------------------------------------------------------ description
    def architecture(self) -> dict[str, Any]:
        arch = {
            **super().architecture(),
            "tied": self.tied,
            "threshold": self.threshold,
            "s_update": self.s_update,
            "wavelet": self.wavelet,
            "n_scales": self.n_scales,
        }
        if self.s_update == "ista":
            arch["lam"] = self.lam
        return arch

    # ------------------------------------------------------------------------------------------ layers
    def layer_theta(self, k: int) -> torch.Tensor:
        """θ(k) as used by layer k: a 0-d tensor (scalar mode) or ``(n, 1)`` (per-source), clamped at 0.

        The ``"ista"`` S-update has no learned θ (its threshold λ/L_S depends on the current Ã); asking for it
        raises ``ValueError``.
        """
        if self.s_update == "ista":
            raise ValueError("layer_theta needs a learned threshold; s_update 'ista' uses the fixed λ/L_S "
                             "instead.")
        th = clamp_theta(self.theta[self._layer(k)])
        return th if self.threshold == "scalar" else th.unsqueeze(-1)

    def s_step(self, S: torch.Tensor, A: torch.Tensor, X: torch.Tensor, k: int) -> torch.Tensor:
        """The S-update of layer ``k`` (first line of eq. 8 for ``s_update="lista-cp"``; first line of PALM's
        eq. 6 for ``s_update="ista"``)."""
        if self.s_update == "ista":
            # L_S = ‖ÃᵀÃ‖₂ of the current estimate, per sample: W = Ã/L_S, θ = λ/L_S (PALM / ISTA step).
            L_S = clamp_lipschitz(spectral_norm_sq(A)).unsqueeze(-1).unsqueeze(-1)
            return sparse_step_s(S, A, X, A / L_S, self.lam / L_S)
        kk = self._layer(k)
        theta = self.layer_theta(k)
        if self.s_update == "lista-cp":
            return sparse_step_s(S, A, X, self.W[kk], theta)
        if self.s_update == "ista-llt":
            return sparse_step_s(S, A, X, A / clamp_lipschitz(self.L_S[kk]), theta)
        return lista_step_s(S, X, self.W1[kk], self.W2[kk], theta)

    def a_step(self, A: torch.Tensor, S: torch.Tensor, X: torch.Tensor, k: int) -> torch.Tensor:
        """The A-update of layer ``k`` (second line of eq. 8): projected gradient step with step
        ``1/L_A(k)``."""
        return gradient_step_a(A, S, X, 1.0 / clamp_lipschitz(self.L_A[self._layer(k)]))

    def initial_estimates(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``Ã(0) = 1/√m`` (all entries) and ``S̃(0) = 0`` for a batch ``X (B, m, t)``."""
        B, m, t = X.shape
        A = torch.full((B, m, self.n), 1.0 / math.sqrt(m), dtype=X.dtype, device=X.device)
        S = torch.zeros((B, self.n, t), dtype=X.dtype, device=X.device)
        return A, S

    def _run(self, X: torch.Tensor, return_layers: bool) -> tuple[torch.Tensor, torch.Tensor, list, list]:
        A, S = self.initial_estimates(X)
        As: list[torch.Tensor] = []
        Ss: list[torch.Tensor] = []
        for k in range(self.layers):
            S = self.s_step(S, A, X, k)
            A = self.a_step(A, S, X, k)
            if return_layers:
                As.append(A)
                Ss.append(S)
        return A, S, As, Ss

    def forward(
        self, X: torch.Tensor, return_layers: bool = False, image_shape: tuple[int, int] | None = None
    ) -> tuple:
        """Separate a batch ``X (B, m, t)``; returns ``(A, S)`` or ``(A, S, A_layers, S_layers)``.

        ``image_shape=(H, W)`` (with ``t = H·W``) makes the wavelet mode transform in 2-D; it is ignored
        otherwise.
        """
        self._check_input(X)
        X = X.to(self.dtype)
        if not self.wavelet:
            A, S, As, Ss = self._run(X, return_layers)
            return (A, S, As, Ss) if return_layers else (A, S)
        B, m, t = X.shape
        if image_shape is not None:
            H, W = (int(s) for s in image_shape)
            if H * W != t:
                raise ValueError(f"image_shape must multiply to the {t} pixels of X; got "
                                 f"{tuple(image_shape)}.")
            details, coarse = starlet_forward(X.reshape(B, m, H, W), self.n_scales, ndim=2)
            ndim = 2
        else:
            details, coarse = starlet_forward(X, self.n_scales, ndim=1)
            ndim = 1
        Xd = details.reshape(B, m, -1)
        A, Sd, As, Sds = self._run(Xd, return_layers)

        def reconstruct(A_: torch.Tensor, Sd_: torch.Tensor) -> torch.Tensor:
            cS = torch.linalg.pinv(A_) @ coarse.reshape(B, m, -1)  # coarse scale of S = Ã⁺ c_X
            dS = Sd_.reshape(B, self.n, *details.shape[2:])
            S_ = starlet_inverse(dS, cS.reshape(B, self.n, *coarse.shape[2:]), ndim=ndim)
            return S_.reshape(B, self.n, t)

        S = reconstruct(A, Sd)
        if not return_layers:
            return A, S
        Ss = [S if k == len(Sds) - 1 else reconstruct(a, s) for k, (a, s) in enumerate(zip(As, Sds))]
        return A, S, As, Ss


__all__ = ["ALPHA_INIT", "LPALM", "S_UPDATES", "THRESHOLDS"]
