"""The iterate functions: one function per update equation, shared by classical solvers and unrolled networks.

A classical solver calls them with fixed, analytically chosen parameters (e.g. ``W = A/L_S``, ``θ = λ/L_S``); its
unrolled twin calls the same function with learned per-layer parameters. All are batched over a leading ``B`` and
differentiable; every product is a batched matrix product in Gram form, so the data ``X (B, m, t)`` is read as few
times as possible.

Shapes: X ``(B, m, t)``, A ``(B, m, n)``, S ``(B, n, t)``, W ``(B, m, n)`` or ``(m, n)``.
"""

from __future__ import annotations

import torch

from .._backend import spectral_norm_sq
from ..prox import project_columns_l2_ball, soft_threshold


def inverse_lipschitz(L: torch.Tensor) -> torch.Tensor:
    """The safe step ``1/L`` of a Lipschitz constant ``L (...)``, with **one** behaviour at ``L = 0``: step 0.

    ``L = 0`` means the smooth term is flat in that block (``A = 0`` for the S-step, ``S = 0`` for the A-step):
    a zero step leaves the block unchanged (the soft threshold at ``θ = λ·0 = 0`` is the identity), so the
    step is skipped instead of dividing by a floor. Used by PALM, ISTA and LPALM's ``"ista"`` S-update.
    """
    return torch.where(L > 0, 1.0 / L.clamp_min(torch.finfo(L.dtype).tiny), torch.zeros_like(L))


def palm_step_params(A: torch.Tensor, lam: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """PALM's / ISTA's S-step parameters (LPALM paper eq. 6, first line): ``W = A/L_S``, ``θ = λ/L_S``.

    ``L_S = ‖AᵀA‖₂`` per matrix of ``A (B or 1, m, n)``; ``1/L_S`` by :func:`inverse_lipschitz` (0 when
    ``A = 0``, which skips the step). ``lam``: a scalar, or ``(B, 1, 1)``. Returns ``W`` (the shape of ``A``) and
    ``θ`` ``(B or 1, 1, 1)``, the arguments of :func:`sparse_step_s`.
    """
    inv_L = inverse_lipschitz(spectral_norm_sq(A)).reshape(*A.shape[:-2], 1, 1)
    return A * inv_L, lam * inv_L


def palm_step_size_a(SSt: torch.Tensor) -> torch.Tensor:
    """PALM's A-step size (LPALM paper eq. 6, second line): ``1/L_A`` with ``L_A = ‖SSᵀ‖₂``, from the Gram
    matrix ``SSᵀ (B, n, n)`` of the new S; 0 when ``S = 0`` (the A-step is skipped). Returns ``(B, 1, 1)``."""
    L_A = torch.linalg.eigvalsh(SSt)[..., -1].clamp_min(0)
    return inverse_lipschitz(L_A).reshape(*SSt.shape[:-2], 1, 1)


def batched_left_matmul(M: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """``M @ X`` for a shared ``M (p, m)`` (or batched ``(B, p, m)``) and a batch ``X (B, m, t)``.

    torch evaluates a 2-D @ 3-D product by folding the batch into the rows of ``Xᵀ``, which copies the whole of
    ``X`` every call; expanding ``M`` to the batch (a stride-0 view) keeps it a batched product that reads ``X``
    in place.
    """
    if M.ndim == 2 and X.ndim == 3:
        M = M.expand(X.shape[0], *M.shape)
    return M @ X


def sparse_step_s(
    S: torch.Tensor,
    A: torch.Tensor,
    X: torch.Tensor,
    W: torch.Tensor,
    theta: torch.Tensor | float,
    *,
    WtX: torch.Tensor | None = None,
) -> torch.Tensor:
    """Proximal-gradient step on S: ``S ← ST_θ(S − Wᵀ(A S − X))``.

    - PALM / ISTA (LPALM paper eq. 6, first line; Daubechies et al. 2004): ``W = A/L_S``, ``θ = λ/L_S``,
      ``L_S = ‖AᵀA‖₂``.
    - ISTA-LLT: ``W = A/L^(k)``, ``θ = θ^(k)`` learned.
    - LISTA-CP (Chen et al. 2018) and LPALM's S-update (LPALM paper eq. 8): ``W = W^(k)``, ``θ = θ^(k)`` learned.

    Gram form: ``(I − WᵀA) S + WᵀX``. ``WtX`` may be passed precomputed (it does not change when A is fixed).
    ``theta``: scalar, ``(B, 1, 1)``, per-source ``(B or 1, n, 1)``, or elementwise.
    """
    Wt = W.mT
    if WtX is None:
        WtX = batched_left_matmul(Wt, X)
    # (I − WᵀA) S + WᵀX as one fused product-and-add: a single pass over S.
    M = torch.eye(S.shape[-2], dtype=S.dtype, device=S.device) - Wt @ A
    if M.ndim == 3 and S.ndim == 3 and WtX.ndim == 3:
        return soft_threshold(torch.baddbmm(WtX, M, S), theta)
    return soft_threshold(M @ S + WtX, theta)


def gradient_step_a(
    A: torch.Tensor,
    S: torch.Tensor,
    X: torch.Tensor,
    step: torch.Tensor | float,
    *,
    project: bool = True,
    SSt: torch.Tensor | None = None,
    XSt: torch.Tensor | None = None,
) -> torch.Tensor:
    """Projected gradient step on A: ``A ← Π_{‖A_i‖₂ ≤ 1}(A − step·(A S − X) Sᵀ)``.

    - PALM (LPALM paper eq. 6, second line; Bolte et al. 2014): ``step = 1/L_A``, ``L_A = ‖SSᵀ‖₂`` computed with
      the new S.
    - LPALM (paper eq. 8): ``step = 1/L_A^(k)`` learned per layer.

    Gram form: ``A − step·(A (SSᵀ) − X Sᵀ)``; ``step`` is a scalar or ``(B, 1, 1)``. ``SSt`` may be passed
    precomputed (PALM also needs it for ``L_A``); so may ``XSt`` (e.g. accumulated over pixel blocks, then ``S``
    and ``X`` are not read).
    """
    if SSt is None:
        SSt = S @ S.mT
    if XSt is None:
        XSt = (S @ X.mT).mT  # S Xᵀ reads X in its own layout: ~2× faster than X Sᵀ for skinny S
    A_new = A - step * (A @ SSt - XSt)
    return project_columns_l2_ball(A_new) if project else A_new


def lista_step_s(
    S: torch.Tensor,
    X: torch.Tensor,
    W1: torch.Tensor,
    W2: torch.Tensor,
    theta: torch.Tensor | float,
) -> torch.Tensor:
    """LISTA layer (Gregor & LeCun 2010): ``S ← ST_θ(W1 S + W2 X)`` with ``W1 (n, n)``, ``W2 (n, m)``."""
    return soft_threshold(W1 @ S + batched_left_matmul(W2, X), theta)
