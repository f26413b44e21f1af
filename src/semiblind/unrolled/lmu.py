"""Unrolled multiplicative updates: NALMU, ALMU (Kervazo, Chetoui & Cohen, "Deep unrolling of the
multiplicative updates algorithm for blind source separation, with application to hyperspectral unmixing",
EUSIPCO 2024; J. E. Cohen, "Unrolled MU for data-driven NMF") and the DNMF baseline (Nasser, Eldar & Sharan
2022, "Deep unfolding for non-negative matrix factorization with application to mutation signature analysis").

Shapes (channels first): X ``(B, m, t)``, A ``(B, m, n)``, S ``(B, n, t)``.

**NALMU** (Algorithm 1). From a positive start ``(A₀, S₀)``, layer ``l = 1..L``:

    A ← max(ε, A ⊙ W_A^(l) ⊙ (X Sᵀ) / (A S Sᵀ))         :func:`semiblind.solvers.nmf.mu_update_a` (``mask``)
    S ← max(ε, S ⊙ (Aᵀ X) / (Aᵀ A S))                    :func:`semiblind.solvers.nmf.mu_update_s` (new A)

run by :func:`semiblind.solvers.driver.unroll`. The masks are ``W_A^(l) = exp(w^(l))`` with trainable
``w^(l) ∈ R^{m×n}``, untied, initialised at ``w = 0``: an untrained NALMU **is** MU run for ``L`` iterations
from the same start (to float precision), and a mask stays positive whatever the optimiser does.

**ALMU** (Algorithm 2). ``A₀', S₀' = NALMU(X)`` with ``L_NALMU`` layers (25 in the paper), then ``L_ALMU``
(25) more layers of the same update with ``W_A^(l) = MLP_l(vec(A₀'))``: three linear layers (widths ``m·n →
130 → 75 → m·n``, the paper's hidden widths) with ReLU between. Positivity of the output (the paper does not
say how): ``W = exp(κ·tanh(z/κ))`` with ``κ = 5``, i.e. ``exp(z)`` for small ``z`` and bounded in ``[e⁻⁵, e⁵]``
so that no layer can blow up. The last linear layer starts at zero, so an untrained ALMU is MU for ``L_NALMU +
L_ALMU`` iterations. The MLP reads A₀' with unit-l2 columns (the scale of A is arbitrary in NMF).

**Scale and initialisation** (NALMU and ALMU alike, the chapter's advice to fix the scale before learning).
Each sample is divided by its RMS pixel norm ``c = ‖X‖_F / √t`` (a global factor: MU is equivariant to it, and
unlike a per-pixel normalisation it does not reweight the pixels in ``X Sᵀ``). The start is NNDSVDa
(:func:`semiblind.solvers.nmf.nndsvd_init`, deterministic, positive) on ``X / c``, with A's columns rescaled to
unit l2 norm and S's rows inversely (MU's update factors are invariant to this column scaling, so only ε is
affected). The returned S is multiplied back by ``c``; A keeps the scale MU gives it.

**DNMF** (Nasser, Eldar & Sharan 2022): MU unrolled for S only, with ``Aᵀ`` and ``AᵀA`` replaced by trainable
nonnegative matrices per layer: ``h ← h ⊙ (W₂^(l) x) / (W₁^(l) h)`` (:func:`dnmf_update_s`), ``W₂ ∈ R^{n×m}``,
``W₁ ∈ R^{n×n}``, initialised at ``W₂ = A₀ᵀ``, ``W₁ = A₀ᵀA₀`` (MU with A₀ fixed). It is trained per image,
without ground truth; see :class:`semiblind.estimators.lmu.DNMFSeparator`.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from .._backend import as_tensor
from ..solvers.driver import unroll
from ..solvers.nmf import mu_update_a, mu_update_s, nndsvd_init
from .base import UnrolledNet, register_model

EPS = 1e-12
"""Floor of the MU denominators and factors (the ε of :func:`~semiblind.solvers.nmf.mu_update_a`)."""

MASK_BOUND = 5.0
"""κ of ALMU's positive output ``exp(κ·tanh(z/κ))``: masks lie in ``[e^-κ, e^κ]``."""

HIDDEN = (130, 75)
"""The paper's hidden widths of ALMU's MLPs."""


# ------------------------------------------------------------------------------------------------ helpers


def data_scale(X: torch.Tensor) -> torch.Tensor:
    """Per-sample RMS pixel norm ``c = ‖X‖_F / √t``, ``(B, 1, 1)``, floored at the dtype's tiny."""
    t = X.shape[-1]
    c = torch.linalg.vector_norm(X, dim=(-2, -1), keepdim=True) / math.sqrt(t)
    return c.clamp_min(torch.finfo(X.dtype).tiny)


def unit_columns(A: torch.Tensor, S: torch.Tensor | None = None, eps: float = EPS) -> tuple[torch.Tensor, Any]:
    """A with unit-l2 columns and S with its rows scaled inversely (``A S`` unchanged)."""
    norms = torch.linalg.vector_norm(A, dim=-2, keepdim=True).clamp_min(eps)
    return A / norms, (None if S is None else S * norms.mT)


@torch.no_grad()
def mu_start(Xn: torch.Tensor, n: int, eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """The positive start of NALMU/ALMU/MU on normalised data ``Xn (B, m, t)``: NNDSVDa, unit-norm columns
    of A, floored at ``eps``."""
    A, S = nndsvd_init(Xn, n, fill="mean", eps=eps)
    A, S = unit_columns(A.clamp_min(eps), S.clamp_min(eps), eps)
    return A.clamp_min(eps), S.clamp_min(eps)


def mu_layers(A: torch.Tensor, S: torch.Tensor, X: torch.Tensor, masks: Any, layers: int, eps: float = EPS,
              keep: bool = False) -> tuple[torch.Tensor, torch.Tensor, list, list]:
    """``layers`` MU iterations (A-update with ``masks(l)`` — a tensor broadcasting against A, or None — then
    the S-update with the new A), through :func:`semiblind.solvers.driver.unroll`. Returns the final A, S and,
    with ``keep``, the per-layer lists."""

    def step(k: int, v: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        A_new = mu_update_a(v["A"], v["S"], X, eps, mask=masks(k))
        return {"A": A_new, "S": mu_update_s(A_new, v["S"], X, eps)}

    values, per = unroll(step, {"A": A, "S": S}, layers=layers, keep=("A", "S") if keep else ())
    return values["A"], values["S"], per.get("A", []), per.get("S", [])


def positive_mask(z: torch.Tensor, bound: float = MASK_BOUND) -> torch.Tensor:
    """ALMU's positive mask ``exp(κ·tanh(z/κ))`` (``= exp(z)`` to first order, within ``[e^-κ, e^κ]``)."""
    return torch.exp(bound * torch.tanh(z / bound))


def dnmf_update_s(S: torch.Tensor, X: torch.Tensor, W1: torch.Tensor, W2: torch.Tensor,
                  eps: float = EPS) -> torch.Tensor:
    """DNMF's layer (Nasser, Eldar & Sharan 2022): ``h ← max(ε, h ⊙ (W₂ x) / (W₁ h))`` for every pixel.

    ``S (B, n, t)``, ``X (B, m, t)``, ``W1 (n, n)`` or ``(B, n, n)`` (replaces ``AᵀA``), ``W2 (n, m)`` or
    ``(B, n, m)`` (replaces ``Aᵀ``). ``W₁ = AᵀA``, ``W₂ = Aᵀ`` is Lee & Seung's S-update. The denominator is
    floored at ``eps`` and so is the result.
    """
    return (S * ((W2 @ X) / (W1 @ S).clamp_min(eps))).clamp_min(eps)


# ------------------------------------------------------------------------------------------------ NALMU


@register_model
class NALMU(UnrolledNet):
    """NALMU (Kervazo, Chetoui & Cohen 2024, Algorithm 1): MU unrolled with a learned positive mask on every
    A-update.

    Parameters (keyword-only)
    -------------------------
    n_channels, n_sources : m and n.
    layers : number of layers L (paper: 50).
    eps : ε of the MU updates.
    dtype : ``"float32"`` (default) or ``"float64"``.

    Trainable: ``w_A (L, m, n)``, the mask of layer l is ``exp(w_A[l])`` (zeros at init: exactly MU).
    ``forward(X (B, m, t), return_layers=False) -> (A (B, m, n), S (B, n, t))`` (+ per-layer lists). Negative
    entries of X (noise) are clipped to 0; the separators reject clearly negative data before (as MU does).
    Scale and start: see the module docstring.
    """

    estimates_mixing: ClassVar[bool] = True
    kind: ClassVar[str] = "nalmu"

    @classmethod
    def for_training(cls, A: torch.Tensor, S: torch.Tensor, *, layers: int = 50, dtype: Any = None,
                     **options: Any) -> NALMU:
        """An untrained NALMU (= MU) sized for training triplets ``A (N, m, n)``, ``S (N, n, t)``."""
        return cls(n_channels=int(A.shape[1]), n_sources=int(A.shape[2]), layers=layers, dtype=dtype, **options)

    def __init__(self, *, n_channels: int, n_sources: int, layers: int = 50, eps: float = EPS,
                 dtype: Any = None) -> None:
        super().__init__(n_channels=n_channels, n_sources=n_sources, layers=layers, dtype=dtype)
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (0 < eps < 1e-3):
            raise ValueError(f"eps must be a float in (0, 1e-3); got {eps!r}.")
        self.eps = float(eps)
        self.w_A = nn.Parameter(torch.zeros(self.layers, self.m, self.n, dtype=self._param_dtype))

    def architecture(self) -> dict[str, Any]:
        return {**super().architecture(), "eps": self.eps}

    def mask(self, k: int) -> torch.Tensor:
        """The positive mask ``exp(w_A[k])`` of layer k, ``(m, n)``."""
        return torch.exp(self.w_A[k])

    def prepare(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(X / c, c, A₀, S₀)``: normalised data, its scale and the positive start."""
        self._check_input(X)
        X = X.to(self.dtype).clamp_min(0)  # noise-level negatives (the separators check X first)
        c = data_scale(X)
        Xn = X / c
        A0, S0 = mu_start(Xn, self.n, self.eps)
        return Xn, c, A0, S0

    def run(self, Xn: torch.Tensor, A0: torch.Tensor, S0: torch.Tensor, return_layers: bool = False):
        """The L layers on normalised data from ``(A₀, S₀)``; returns ``(A, S, A_layers, S_layers)``."""
        return mu_layers(A0, S0, Xn, self.mask, self.layers, self.eps, keep=return_layers)

    def forward(self, X: torch.Tensor, return_layers: bool = False, image_shape: Any = None) -> tuple:
        """Separate ``X (B, m, t)``: ``(A, S)`` or ``(A, S, A_layers, S_layers)`` (S on the scale of X)."""
        Xn, c, A0, S0 = self.prepare(X)
        A, S, As, Ss = self.run(Xn, A0, S0, return_layers)
        if return_layers:
            return A, S * c, As, [s * c for s in Ss]
        return A, S * c


# ------------------------------------------------------------------------------------------------ ALMU


@register_model
class ALMU(UnrolledNet):
    """ALMU (Kervazo, Chetoui & Cohen 2024, Algorithm 2): a NALMU of ``nalmu_layers`` layers, then ``layers −
    nalmu_layers`` MU layers whose A-masks are predicted from NALMU's A by one MLP per layer.

    Parameters (keyword-only)
    -------------------------
    n_channels, n_sources : m and n.
    layers : total number of layers (paper: 25 + 25 = 50).
    nalmu_layers : layers of the NALMU stage (paper: 25; default ``layers // 2``); ``layers − nalmu_layers ≥ 1``
        adaptive layers.
    hidden : the MLPs' two hidden widths (paper: 130, 75).
    eps, dtype : as :class:`NALMU`.

    Submodules: ``nalmu`` (a :class:`NALMU`) and ``mlps`` (one ``Sequential(Linear, ReLU, Linear, ReLU,
    Linear)`` per adaptive layer). Mask of adaptive layer l: ``exp(κ tanh(MLP_l(vec Â)/κ))`` with Â NALMU's A
    with unit columns; the last Linear starts at zero (mask 1, MU). Two-stage training: train the NALMU stage
    first (as a NALMU, then :meth:`load_nalmu`), then :meth:`freeze_nalmu` and train the MLPs.
    ``forward`` returns all ``layers`` per-layer estimates (NALMU's first).
    """

    estimates_mixing: ClassVar[bool] = True
    kind: ClassVar[str] = "almu"

    @classmethod
    def for_training(cls, A: torch.Tensor, S: torch.Tensor, *, layers: int = 50, dtype: Any = None,
                     **options: Any) -> ALMU:
        """An untrained ALMU (= MU) sized for training triplets ``A (N, m, n)``, ``S (N, n, t)``."""
        return cls(n_channels=int(A.shape[1]), n_sources=int(A.shape[2]), layers=layers, dtype=dtype, **options)

    def __init__(self, *, n_channels: int, n_sources: int, layers: int = 50, nalmu_layers: int | None = None,
                 hidden: Any = HIDDEN, eps: float = EPS, dtype: Any = None) -> None:
        super().__init__(n_channels=n_channels, n_sources=n_sources, layers=layers, dtype=dtype)
        if nalmu_layers is None:
            nalmu_layers = max(1, self.layers // 2)
        if isinstance(nalmu_layers, bool) or not isinstance(nalmu_layers, int) or not 1 <= nalmu_layers < layers:
            raise ValueError(f"nalmu_layers must be an int in [1, layers) = [1, {layers}); got {nalmu_layers!r}.")
        hid = tuple(hidden) if isinstance(hidden, (tuple, list)) else hidden
        if not (isinstance(hid, tuple) and len(hid) == 2 and all(isinstance(h, int) and not isinstance(h, bool)
                                                                  and h >= 1 for h in hid)):
            raise ValueError(f"hidden must be two positive ints (the MLPs' hidden widths); got {hidden!r}.")
        self.nalmu_layers = int(nalmu_layers)
        self.hidden = hid
        self.nalmu = NALMU(n_channels=n_channels, n_sources=n_sources, layers=self.nalmu_layers, eps=eps,
                           dtype=dtype)
        self.eps = self.nalmu.eps
        d = self.m * self.n
        dt = self._param_dtype
        mlps = []
        for _ in range(self.layers - self.nalmu_layers):
            last = nn.Linear(hid[1], d, dtype=dt)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            mlps.append(nn.Sequential(nn.Linear(d, hid[0], dtype=dt), nn.ReLU(), nn.Linear(hid[0], hid[1], dtype=dt),
                                      nn.ReLU(), last))
        self.mlps = nn.ModuleList(mlps)

    def architecture(self) -> dict[str, Any]:
        return {**super().architecture(), "nalmu_layers": self.nalmu_layers, "hidden": list(self.hidden),
                "eps": self.eps}

    @property
    def adaptive_layers(self) -> int:
        return self.layers - self.nalmu_layers

    @torch.no_grad()
    def load_nalmu(self, nalmu: NALMU) -> None:
        """Copy the masks of a trained :class:`NALMU` with ``nalmu_layers`` layers into the first stage."""
        if not isinstance(nalmu, NALMU) or nalmu.layers != self.nalmu_layers or (nalmu.m, nalmu.n) != (self.m,
                                                                                                        self.n):
            got = (f"{type(nalmu).__name__} with {getattr(nalmu, 'layers', '?')} layers, "
                   f"{getattr(nalmu, 'm', '?')} channels, {getattr(nalmu, 'n', '?')} sources")
            raise ValueError(f"nalmu must be a NALMU with {self.nalmu_layers} layers, {self.m} channels and "
                             f"{self.n} sources; got a {got}.")
        self.nalmu.w_A.copy_(nalmu.w_A.to(self.nalmu.w_A))

    def freeze_nalmu(self, frozen: bool = True) -> None:
        """Stop (or restart) gradients to the NALMU stage (second stage of the paper's training)."""
        self.nalmu.w_A.requires_grad_(not frozen)

    def adaptive_masks(self, A_first: torch.Tensor) -> torch.Tensor:
        """The masks of the adaptive layers for NALMU's output ``A_first (B, m, n)``: ``(L_ALMU, B, m, n)``."""
        B = A_first.shape[0]
        a = unit_columns(A_first, None, self.eps)[0].reshape(B, -1)
        z = torch.stack([mlp(a) for mlp in self.mlps])  # a loop over layers
        return positive_mask(z).reshape(len(self.mlps), B, self.m, self.n)

    def forward(self, X: torch.Tensor, return_layers: bool = False, image_shape: Any = None) -> tuple:
        """Separate ``X (B, m, t)``: ``(A, S)`` or ``(A, S, A_layers, S_layers)`` over all ``layers``."""
        Xn, c, A0, S0 = self.nalmu.prepare(X)
        A1, S1, As, Ss = self.nalmu.run(Xn, A0, S0, return_layers)
        masks = self.adaptive_masks(A1)
        A, S, As2, Ss2 = mu_layers(A1, S1, Xn, lambda k: masks[k], self.adaptive_layers, self.eps,
                                   keep=return_layers)
        if return_layers:
            return A, S * c, As + As2, [s * c for s in Ss + Ss2]
        return A, S * c


# ------------------------------------------------------------------------------------------------ DNMF


class DNMF(nn.Module):
    """DNMF (Nasser, Eldar & Sharan 2022): ``layers`` layers of :func:`dnmf_update_s` with trainable
    nonnegative ``W1 (B, L, n, n)`` and ``W2 (B, L, n, m)``, mapping pixels ``X (B, m, t)`` to ``S (B, n, t)``.

    ``A0`` ``(m, n)`` or ``(B, m, n)`` (nonnegative, required) sets the start ``W₂ = A0ᵀ``, ``W₁ = A0ᵀA0`` of
    every layer (MU with A0 fixed) and the first estimate ``h⁰ = max(ε, A0⁺ x)``. One set of weights per sample
    ``B``: DNMF is retrained on every image, and a batch of images is trained at once (the losses add up and Adam
    acts per coordinate, so each sample's weights follow their own problem). Nonnegativity of W is kept by the
    trainer (:meth:`project_`, a clamp at 0 after every step). Not a model file.
    """

    def __init__(self, *, A0: Any, layers: int = 10, eps: float = EPS, dtype: Any = None) -> None:
        super().__init__()
        A = as_tensor(A0, dtype=dtype).detach()
        if A.ndim == 2:
            A = A.unsqueeze(0)
        if A.ndim != 3 or not bool(torch.isfinite(A).all()) or bool((A < 0).any()):
            raise ValueError(f"A0 must be a finite nonnegative (m, n) or (B, m, n) matrix; got shape "
                             f"{tuple(A.shape)}.")
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
            raise ValueError(f"layers must be a positive int; got {layers!r}.")
        self.layers = int(layers)
        self.eps = float(eps)
        self.register_buffer("A0", A.clone())
        L = self.layers
        self.W1 = nn.Parameter((A.mT @ A).unsqueeze(1).expand(-1, L, -1, -1).clone())
        self.W2 = nn.Parameter(A.mT.unsqueeze(1).expand(-1, L, -1, -1).clone())

    @torch.no_grad()
    def project_(self) -> None:
        """Clamp W1, W2 at 0 (projected gradient)."""
        self.W1.clamp_(min=0)
        self.W2.clamp_(min=0)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """``S (B, n, t)`` for ``X (B, m, t)`` (B as at construction)."""
        S = (torch.linalg.pinv(self.A0) @ X).clamp_min(self.eps)

        def step(k: int, v: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            return {"S": dnmf_update_s(v["S"], X, self.W1[:, k], self.W2[:, k], self.eps)}

        return unroll(step, {"S": S}, layers=self.layers)[0]["S"]


__all__ = ["ALMU", "DNMF", "EPS", "HIDDEN", "MASK_BOUND", "NALMU", "data_scale", "dnmf_update_s", "mu_layers",
           "mu_start", "positive_mask", "unit_columns"]
