"""ISTA and FISTA: sparse coding of the sources with the mixing matrix known (non-blind).

Problem: ``min_S ½‖X − A S‖²_F + λ‖S‖₁`` with ``A`` fixed.

- ISTA (Daubechies, Defrise & De Mol 2004): ``S ← ST_{λ/L}(S − (1/L)·Aᵀ(A S − X))`` with ``L = ‖AᵀA‖₂``;
  this is exactly the S-line of PALM (LPALM paper eq. 6) and is computed by the shared iterate
  :func:`semiblind.solvers.iterates.sparse_step_s` with ``W = A/L`` and ``θ = λ/L``.
- FISTA (Beck & Teboulle 2009, eq. 4.1–4.3): the same step taken at the extrapolated point ``Y = S_k +
  ((τ_k − 1)/τ_{k+1})(S_k − S_{k−1})``, ``τ_{k+1} = (1 + √(1 + 4τ_k²))/2``, ``τ_1 = 1``.

Stopping rule (per sample of a batch): ``‖S_{k+1} − S_k‖_F < tol`` or ``max_iter``. Converged samples of
a batch are frozen with a mask while the others continue.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch

from .._backend import as_tensor, resolve_dtype
from .._validation import (
    BOOL,
    NONE,
    InstanceOf,
    Interval,
    check_data,
    check_finite,
)
from .base import COMMON_CONSTRAINTS, BaseSeparator, FitResult, register
from .driver import iterate, summary_line
from .iterates import palm_step_params, sparse_step_s

ARRAY = InstanceOf((np.ndarray, torch.Tensor, list, tuple), "an array")
KNOWN_A = InstanceOf((np.ndarray, torch.Tensor, list, tuple),
                     "an array (channels, sources) holding the known mixing matrix")


def _shape(x: Any) -> str:
    return "(" + ", ".join(str(int(s)) for s in x.shape) + ")"


def _batched_matrix(
    M: Any, *, name: str, batch: int, rows: int | None, cols: int | None, dtype: torch.dtype, device: Any,
    what: str,
) -> torch.Tensor:
    """Validate a known matrix given as ``(rows, cols)`` (shared by the batch) or ``(B, rows,
    cols)``; return it as
    a ``(B or 1, rows, cols)`` tensor. ``rows``/``cols`` set to None are not checked."""
    if isinstance(M, (list, tuple)):
        M = np.asarray(M)
    if not isinstance(M, (np.ndarray, torch.Tensor)) or M.ndim not in (2, 3):
        got = f"an array of shape {_shape(M)}" if hasattr(M, "shape") else type(M).__name__
        raise ValueError(f"{name} must be a 2-D array {what} or a 3-D batch of them; got {got}.")
    check_finite(M, name=name)
    T = as_tensor(M, dtype=dtype, device=device)
    if T.ndim == 2:
        T = T.unsqueeze(0)
    if T.shape[0] not in (1, batch):
        raise ValueError(
            f"{name} must hold one matrix or one per sample ({batch}); got {T.shape[0]} matrices."
        )
    if (rows is not None and T.shape[1] != rows) or (cols is not None and T.shape[2] != cols):
        want = f"({rows if rows is not None else '·'}, {cols if cols is not None else '·'})"
        raise ValueError(f"{name} must have shape {want} {what}; got {_shape(T[0])}.")
    return T


def lasso_objective(
    X: torch.Tensor, A: torch.Tensor, S: torch.Tensor, lam: torch.Tensor | float
) -> torch.Tensor:
    """``½‖X − A S‖²_F + λ‖S‖₁`` for each sample of a batch ``(B,)`` (direct formula)."""
    lam_t = torch.as_tensor(lam, dtype=X.dtype, device=X.device).reshape(-1)
    R = X - A @ S
    return 0.5 * R.square().sum((-2, -1)) + lam_t * S.abs().sum((-2, -1))


def ista(
    X: Any,
    A: Any,
    lam: Any,
    *,
    max_iter: int = 1000,
    tol: float = 1e-7,
    accelerated: bool = False,
    S0: Any = None,
    dtype: Any = None,
    device: Any = None,
    record_history: bool = True,
    callback: Any = None,
    verbose: bool = False,
) -> FitResult:
    """Solve ``min_S ½‖X − A S‖²_F + λ‖S‖₁`` by ISTA (or FISTA with ``accelerated=True``) for a batch.

    Parameters
    ----------
    X : ``(B, m, t)`` data (NumPy or torch).
    A : ``(m, n)`` shared or ``(B, m, n)`` per-sample mixing matrix, held fixed.
    lam : λ ≥ 0, a scalar or one value per sample ``(B,)``.
    max_iter, tol : stop a sample when ``‖ΔS‖_F < tol`` or after ``max_iter`` iterations.
    accelerated : FISTA extrapolation (Beck & Teboulle 2009) instead of plain ISTA.
    S0 : initial sources ``(B, n, t)``; default zeros.
    dtype, device : computation dtype (default float32) and device.
    record_history : record ``objective`` (at ``S_0 … S_K``) and ``delta_S`` of the first sample.
    callback, verbose : as in :func:`semiblind.solvers.driver.iterate` (stop hook; tqdm bar).

    Returns
    -------
    FitResult with ``A`` (the given matrix, broadcast to ``(B, m, n)``), ``S (B, n, t)``, ``n_iter
    (B,)``, ``converged (B,)``. No warning is raised here; estimator classes warn at ``max_iter``.
    """
    dt = resolve_dtype(dtype if dtype is not None else (X.dtype if isinstance(X, torch.Tensor) else None))
    Xt = as_tensor(X, dtype=dt, device=device)
    if Xt.ndim != 3:
        raise ValueError(f"X must be a 3-D batch (B, channels, pixels); got an array of shape {_shape(Xt)}.")
    B, m, t = Xt.shape
    At = _batched_matrix(A, name="A", batch=B, rows=m, cols=None, dtype=dt, device=Xt.device,
                         what="(channels, sources)")
    n = At.shape[-1]
    lam_t = torch.as_tensor(lam, dtype=dt, device=Xt.device).reshape(-1)
    if lam_t.numel() not in (1, B) or bool((lam_t < 0).any()) or not bool(torch.isfinite(lam_t).all()):
        raise ValueError(f"lam must be a finite scalar >= 0 or one such value per sample ({B}); got {lam!r}.")
    lam_b = lam_t.expand(B).reshape(B, 1, 1)

    A_full = At.expand(B, m, n)
    W, theta = palm_step_params(A_full, lam_b)  # W = A/L, θ = λ/L (L = ‖AᵀA‖₂; step skipped when A = 0)
    WtX = W.mT @ Xt  # (B, n, t): fixed, computed once

    if S0 is None:
        S = torch.zeros(B, n, t, dtype=dt, device=Xt.device)
    else:
        S = _batched_matrix(S0, name="S0", batch=B, rows=n, cols=t, dtype=dt, device=Xt.device,
                            what="(sources, pixels)").expand(B, n, t).clone()

    def objective(S_):
        return lasso_objective(Xt[:1], A_full[:1], S_[:1], lam_b[:1].reshape(-1))[0]

    tau = [1.0]  # FISTA's τ_k (one scalar for the whole batch, as the iteration count is shared)

    def step(k, state, ctx):
        S_cur = state["S"]
        if accelerated:
            tau_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * tau[0] * tau[0]))
            Y = S_cur + ((tau[0] - 1.0) / tau_next) * (S_cur - state["S_prev"])
            tau[0] = tau_next
        else:
            Y = S_cur
        S_new = sparse_step_s(Y, A_full, Xt, W, theta, WtX=WtX)
        dS = torch.linalg.vector_norm(S_new - S_cur, dim=(-2, -1))
        trace = {"delta_S": dS[0], "objective": objective(S_new)} if ctx.record else None
        new = {"S": S_new, "S_prev": S_cur} if accelerated else {"S": S_new}
        return new, dS < tol, trace

    state = {"S": S, "S_prev": S} if accelerated else {"S": S}
    obj0 = float(objective(S)) if record_history else None
    run = iterate(step, state, batch=B, max_iter=max_iter, record_history=record_history, callback=callback,
                  verbose=verbose, desc="FISTA" if accelerated else "ISTA")
    S, n_iter, converged = run.values["S"], run.n_iter, run.converged
    history: dict[str, list[float]] = {}
    if record_history:
        history = {"objective": [obj0] + run.history.get("objective", []),
                   "delta_S": run.history.get("delta_S", [])}
    return FitResult(A=A_full.clone(), S=S, n_iter=n_iter, converged=converged, history=history)


class _KnownMatrixMixin:
    """Data preparation for methods that are given a true/known matrix: ``n_sources`` may be None
    (read from it)."""

    def _known_n_sources(self) -> int:  # pragma: no cover - overridden
        raise AttributeError

    def _prepare(self, X: Any, batched: bool) -> tuple[torch.Tensor, tuple[int, ...] | None]:
        x = check_data(X, batched=batched)
        n = self._known_n_sources()
        if self.n_sources is not None and int(self.n_sources) != n:
            raise ValueError(
                f"n_sources must equal the number of sources of the given matrix ({n}); got {self.n_sources}."
            )
        Xt = as_tensor(x, dtype=self._dtype, device=self._device)
        if not batched:
            Xt = Xt.unsqueeze(0)
        image_shape = tuple(int(s) for s in Xt.shape[2:]) if Xt.ndim == 4 else None
        return Xt.reshape(Xt.shape[0], Xt.shape[1], -1), image_shape


def _n_cols(M: Any, name: str, what: str) -> int:
    if isinstance(M, (list, tuple)):
        M = np.asarray(M)
    if not hasattr(M, "ndim") or M.ndim not in (2, 3):
        got = f"an array of shape {_shape(M)}" if hasattr(M, "shape") else type(M).__name__
        raise ValueError(f"{name} must be a 2-D array {what} or a 3-D batch of them; got {got}.")
    return int(M.shape[-1])


@register
class ISTA(_KnownMatrixMixin, BaseSeparator):
    """Sparse coding with a known mixing matrix by ISTA (Daubechies et al. 2004), or FISTA (Beck &
    Teboulle 2009) with ``accelerated=True``.

    Solves ``min_S ½‖X − A S‖²_F + λ‖S‖₁`` with ``A`` given; each step is the S-line of PALM (LPALM
    paper eq. 6), ``S ← ST_{λ/L}(S − (1/L)·Aᵀ(A S − X))``, ``L = ‖AᵀA‖₂``.

    Parameters (keyword-only)
    -------------------------
    A : ``(m, n)`` known mixing matrix (``(B, m, n)`` allowed with :meth:`fit_batch`). Required.
    n_sources : None (read from ``A``) or ``A``'s number of columns.
    lam : λ ≥ 0 (default 0.01, in the units of ``X``).
    max_iter : default 1000. tol : ``‖ΔS‖_F`` threshold, default 1e-7 (use ``dtype="float64"`` for such
        a tight tolerance on large maps: float32 rounding alone changes S by ~1e-7·‖S‖_F per step).
    accelerated : FISTA when True. dtype, device, verbose, random_state (unused; accepted for a uniform
        interface).
    """

    name: ClassVar[str] = "ista"
    family: ClassVar[str] = "sparse coding, A known"
    reference: ClassVar[str] = "Daubechies et al. 2004"
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **COMMON_CONSTRAINTS,
        "n_sources": [Interval(int, 1, None, closed="left"), NONE],
        "A": [KNOWN_A],
        "lam": [Interval(float, 0, None, closed="left")],
        "max_iter": [Interval(int, 1, None, closed="left")],
        "tol": [Interval(float, 0, None, closed="left")],
        "accelerated": [BOOL],
    }

    def __init__(
        self,
        *,
        A: Any = None,
        n_sources: int | None = None,
        lam: float = 0.01,
        max_iter: int = 1000,
        tol: float = 1e-7,
        accelerated: bool = False,
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        self.A = A
        self.n_sources = n_sources
        self.lam = lam
        self.max_iter = max_iter
        self.tol = tol
        self.accelerated = accelerated
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _known_n_sources(self) -> int:
        if self.A is None:
            raise ValueError(f"A must be given to {type(self).__name__} (the known mixing matrix); got None.")
        return _n_cols(self.A, "A", "(channels, sources)")

    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        res = ista(X, self.A, self.lam, max_iter=self.max_iter, tol=self.tol, accelerated=self.accelerated,
                   dtype=self._dtype, device=X.device, verbose=self.verbose)
        if self.verbose:
            print(summary_line(type(self).__name__, res.n_iter, res.converged))
        return res

    def _transform_batch(self, X: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        return ista(X, A, self.lam, max_iter=self.max_iter, tol=self.tol, accelerated=self.accelerated,
                    dtype=X.dtype, device=X.device, record_history=False).S


@register
class FISTA(ISTA):
    """FISTA (Beck & Teboulle 2009): :class:`ISTA` with ``accelerated=True`` by default."""

    name: ClassVar[str] = "fista"
    family: ClassVar[str] = "sparse coding, A known, accelerated"
    reference: ClassVar[str] = "Beck & Teboulle 2009"

    def __init__(
        self,
        *,
        A: Any = None,
        n_sources: int | None = None,
        lam: float = 0.01,
        max_iter: int = 1000,
        tol: float = 1e-7,
        accelerated: bool = True,
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        super().__init__(A=A, n_sources=n_sources, lam=lam, max_iter=max_iter, tol=tol,
                         accelerated=accelerated, random_state=random_state, dtype=dtype, device=device,
                         verbose=verbose)
