"""PALM for sparse blind source separation (LPALM paper, Fahes et al. 2022, eq. 6; Bolte, Sabach &
Teboulle 2014).

Problem::

    min_{A, S}  ½‖X − A S‖²_F + λ‖S‖₁ + ι{‖A_i‖₂ ≤ 1 for every column i}

One iteration (eq. 6), both lines computed by the shared iterates of :mod:`semiblind.solvers.iterates`::

    S ← ST_{λ/L_S}(S − (1/L_S)·Aᵀ(A S − X)),            L_S = ‖AᵀA‖₂     (sparse_step_s, W = A/L_S, θ = λ/L_S)
    A ← Π_{‖·‖₂≤1}(A − (1/L_A)·(A S − X) Sᵀ),           L_A = ‖S Sᵀ‖₂    (gradient_step_a, with the new S)

Stopping: ``‖S_{k+1} − S_k‖_F < tol`` and ``‖A_{k+1} − A_k‖_F < tol`` (absolute Frobenius norms, paper:
1e-7), or ``max_iter``. In a batch each sample stops on its own: converged samples are frozen with a
mask while the others continue (the whole batch is still computed as batched matrix products).

Pixel chunks (:func:`palm_chunked`, ``PALM(chunk_pixels=N)``, ``semiblind separate --chunk-pixels N``): both lines
need X only through ``WᵀX``, ``XSᵀ`` and ``SSᵀ``, sums over pixels, so one mixture too large to copy (e.g. a
memory-mapped FITS cube) is read N pixels at a time, once per iteration, with S held in memory.

Degenerate steps: if ``S`` becomes all zero (λ above ``‖AᵀX‖_∞``), ``L_A = 0`` and the A step is skipped
(A kept); if ``A`` is all zero, ``L_S = 0`` and the S step is skipped. Such a sample then converges at
once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from .. import metrics
from .._backend import as_tensor, make_rng, resolve_dtype, spectral_norm_sq, to_numpy
from .._validation import NONE, Interval, Options, check_data, check_initial_mixing, check_n_sources
from ..prox import project_columns_l2_ball, project_columns_sphere
from ._chunked import ChunkedFitMixin, PixelChunks
from .base import COMMON_CONSTRAINTS, BaseSeparator, FitResult, register
from .driver import iterate, summary_line
from .ista import ARRAY, _batched_matrix, ista
from .iterates import gradient_step_a, palm_step_params, palm_step_size_a, sparse_step_s

INITS = ("given", "random", "ones")


def initial_mixing(
    X: torch.Tensor,
    n_sources: int,
    init: str | None = None,
    A0: Any = None,
    rng: Any = None,
) -> torch.Tensor:
    """The starting mixing matrix ``(B, m, n)`` for a batch ``X (B, m, t)``.

    - ``"given"``: ``A0`` (``(m, n)`` shared or ``(B, m, n)``), projected onto the unit column ball.
    - ``"random"``: i.i.d. standard normal entries drawn from ``rng`` (a seed or Generator), columns
      normalised.
    - ``"ones"``: the all-ones matrix with unit-norm columns (``1/√m``). All columns are equal, so
      PALM's updates keep them equal: useful as the common start of unrolled networks, not for classical
      PALM with ``n > 1``.
    - ``None``: ``"given"`` when ``A0`` is given, else ``"random"``.
    """
    B, m, _ = X.shape
    if init is None:
        init = "given" if A0 is not None else "random"
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(repr(i) for i in INITS)}; got {init!r}.")
    if init == "given":
        if A0 is None:
            raise ValueError("A0 must be given (an array (channels, sources)) when init='given'; got None.")
        A = check_initial_mixing(A0, batch=B, n_channels=m, n_sources=n_sources, dtype=X.dtype,
                                 device=X.device)
        return project_columns_l2_ball(A)
    if init == "random":
        G = make_rng(rng).standard_normal((B, m, n_sources))
        A = torch.as_tensor(G, dtype=X.dtype, device=X.device)
    else:
        A = torch.ones(B, m, n_sources, dtype=X.dtype, device=X.device)
    return project_columns_sphere(A)


def _objective_gram(
    X_sq: torch.Tensor, AtX: torch.Tensor, AtA: torch.Tensor, S: torch.Tensor, lam: torch.Tensor
) -> torch.Tensor:
    """``½‖X − AS‖² + λ‖S‖₁ = ½‖X‖² − ⟨AᵀX, S⟩ + ½⟨AᵀA S, S⟩ + λ‖S‖₁`` from precomputed ``‖X‖²``
    and ``AᵀX``."""
    return (0.5 * X_sq - (AtX * S).sum((-2, -1)) + 0.5 * ((AtA @ S) * S).sum((-2, -1))
            + lam * S.abs().sum((-2, -1)))


def _check_run(max_iter: Any, tol: Any, lam: Any, B: int, dtype: torch.dtype, device: Any) -> torch.Tensor:
    """Check ``max_iter``, ``tol`` and ``lam``; returns λ as a ``(B, 1, 1)`` tensor."""
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be an int >= 1; got {max_iter!r}.")
    if not np.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be a finite float >= 0; got {tol!r}.")
    lam_t = torch.as_tensor(np.asarray(to_numpy(lam), dtype=float), dtype=dtype, device=device).reshape(-1)
    if lam_t.numel() not in (1, B) or bool((lam_t < 0).any()) or not bool(torch.isfinite(lam_t).all()):
        raise ValueError(f"lam must be a finite scalar >= 0 or one such value per sample ({B}); got {lam!r}.")
    return lam_t.expand(B).reshape(B, 1, 1)


def palm(
    X: Any,
    n_sources: int,
    lam: Any,
    *,
    A0: Any = None,
    init: str | None = None,
    S0: Any = None,
    max_iter: int = 5000,
    tol: float = 1e-7,
    rng: Any = None,
    dtype: Any = None,
    device: Any = None,
    record_history: bool = True,
    history_window: int | None = None,
    callback: Any = None,
    verbose: bool = False,
) -> FitResult:
    """Run PALM (LPALM paper eq. 6) on a batch ``X (B, m, t)``; functional core of :class:`PALM`.

    Parameters
    ----------
    X : ``(B, m, t)`` data, NumPy or torch.
    n_sources : n.
    lam : λ ≥ 0; a scalar or one value per sample ``(B,)`` (e.g. one λ per copy of a sample).
    A0, init, rng : starting mixing matrix, see :func:`initial_mixing`. ``S0`` defaults to ``A0⁺X`` as
        in the paper.
    max_iter, tol : stop a sample when ``‖ΔS‖_F < tol`` and ``‖ΔA‖_F < tol``, or after ``max_iter``
        iterations.
    dtype, device : computation dtype (default float32; a float64 tensor input stays float64) and device.
    record_history : record, for the first sample, ``objective`` (``½‖X − AS‖² + λ‖S‖₁`` at the iterates
        ``0 … K``, so ``K+1`` values), ``delta_S`` and ``delta_A`` (``K`` values each); ``history_window``
        keeps only the last so many values (memory never grows with ``max_iter``, only with the iterations run).
    callback : ``callback(k, ctx) -> bool`` after each iteration (:func:`semiblind.solvers.driver.iterate`);
        True stops. verbose : tqdm progress bar.

    Returns
    -------
    FitResult with ``A (B, m, n)``, ``S (B, n, t)``, ``n_iter (B,)``, ``converged (B,)`` (torch
    tensors). No warning is raised here; :class:`PALM` warns when ``max_iter`` is hit.
    """
    dt = resolve_dtype(dtype if dtype is not None else (X.dtype if isinstance(X, torch.Tensor) else None))
    Xt = as_tensor(X, dtype=dt, device=device)
    if Xt.ndim != 3:
        raise ValueError(
            f"X must be a 3-D batch (B, channels, pixels); got an array of shape {tuple(Xt.shape)}."
        )
    B, m, t = Xt.shape
    n = check_n_sources(n_sources, m)
    lam_b = _check_run(max_iter, tol, lam, B, dt, Xt.device)

    A = initial_mixing(Xt, n, init, A0, rng)
    if S0 is None:
        S = torch.linalg.pinv(A) @ Xt
    else:
        S = _batched_matrix(S0, name="S0", batch=B, rows=n, cols=t, dtype=dt, device=Xt.device,
                            what="(sources, pixels)").expand(B, n, t).clone()

    X0_sq = Xt[0].square().sum()

    def step(k, state, ctx):
        A, S = state["A"], state["S"]
        W, theta = palm_step_params(A, lam_b)
        WtX = W.mT @ Xt
        trace = None
        if ctx.record:  # objective at the current iterate (before this step), first sample; AᵀX = L_S·WᵀX
            AtX0 = WtX[0] * spectral_norm_sq(A[0])
            trace = {"objective": _objective_gram(X0_sq, AtX0, A[0].mT @ A[0], S[0], lam_b[0, 0, 0])}
        S_new = sparse_step_s(S, A, Xt, W, theta, WtX=WtX)
        SSt = S_new @ S_new.mT  # shared by L_A = ‖SSᵀ‖₂ and the A step
        A_new = gradient_step_a(A, S_new, Xt, palm_step_size_a(SSt), SSt=SSt)
        dS = torch.linalg.vector_norm(S_new - S, dim=(-2, -1))
        dA = torch.linalg.vector_norm(A_new - A, dim=(-2, -1))
        if trace is not None:
            trace.update(delta_S=dS[0], delta_A=dA[0])
        return {"A": A_new, "S": S_new}, (dS < tol) & (dA < tol), trace

    run = iterate(step, {"A": A, "S": S}, batch=B, max_iter=max_iter, record_history=record_history,
                  history_window=history_window, callback=callback, verbose=verbose, desc="PALM")
    A, S, n_iter, converged = run.values["A"], run.values["S"], run.n_iter, run.converged
    history: dict[str, list[float]] = {}
    if record_history:
        final = _objective_gram(X0_sq, A[0].mT @ Xt[0], A[0].mT @ A[0], S[0], lam_b[0, 0, 0])
        history = {
            "objective": run.history.get("objective", []) + [float(final)],
            "delta_S": run.history.get("delta_S", []),
            "delta_A": run.history.get("delta_A", []),
        }
    return FitResult(A=A, S=S, n_iter=n_iter, converged=converged, history=history)


def palm_chunked(
    X: PixelChunks,
    n_sources: int,
    lam: Any,
    *,
    A0: Any = None,
    init: str | None = None,
    S0: Any = None,
    max_iter: int = 5000,
    tol: float = 1e-7,
    rng: Any = None,
    record_history: bool = True,
    history_window: int | None = None,
    callback: Any = None,
    verbose: bool = False,
) -> FitResult:
    """:func:`palm` on one mixture read in pixel chunks (:class:`~semiblind.solvers._chunked.PixelChunks`):
    the same iterations, with every product with X accumulated over the chunks, so X is never copied whole.

    Per iteration one pass over X: for each chunk ``X_c`` the S-step of its columns
    (:func:`~semiblind.solvers.iterates.sparse_step_s` with ``WᵀX_c``, in place in S), and its shares of
    ``XSᵀ`` and ``SSᵀ`` (with the new S); then the A-step from the two sums
    (:func:`~semiblind.solvers.iterates.gradient_step_a` with ``XSt=``, ``SSt=``). ``‖ΔS‖_F`` and the recorded
    objective are sums over chunks too. S ``(1, n, t)`` stays in memory; X is read in the chunks' dtype
    (that of ``X.dtype``). The result equals :func:`palm` up to the order of the floating-point sums (measured in
    ``tests/solvers/test_chunked.py``). Parameters as in :func:`palm`, for one sample (λ a scalar).
    """
    B, m, t = X.shape
    n = check_n_sources(n_sources, m)
    dt, dev = X.dtype, X.device
    lam_b = _check_run(max_iter, tol, lam, B, dt, dev)
    like = X.like()  # the shape, dtype and device of X, without its data
    A = initial_mixing(like, n, init, A0, rng)
    X_sq = torch.zeros((), dtype=dt, device=dev)
    if S0 is None:
        S = torch.empty((B, n, t), dtype=dt, device=dev)
        pinvA = torch.linalg.pinv(A)
        for a, b, Xb in X:
            S[..., a:b] = pinvA @ Xb
            if record_history:
                X_sq += Xb[0].square().sum()
    else:
        S = _batched_matrix(S0, name="S0", batch=B, rows=n, cols=t, dtype=dt, device=dev,
                            what="(sources, pixels)").expand(B, n, t).clone()
        if record_history:
            for _, _, Xb in X:
                X_sq += Xb[0].square().sum()
    zero = torch.zeros((), dtype=dt, device=dev)

    def objective(A: torch.Tensor, S: torch.Tensor, AtX_of) -> torch.Tensor:
        """``½‖X − AS‖² + λ‖S‖₁`` of the first sample as the sum of :func:`_objective_gram` over the chunks."""
        AtA = A[0].mT @ A[0]
        return sum(_objective_gram(X_sq if a == 0 else zero, AtX_of(a, b, Xb), AtA, S[0, :, a:b], lam_b[0, 0, 0])
                   for a, b, Xb in X)

    def step(k, state, ctx):
        A, S = state["A"], state["S"]  # S is updated in place, chunk by chunk (one sample: nothing is frozen)
        W, theta = palm_step_params(A, lam_b)
        L_S0 = spectral_norm_sq(A[0])
        AtA0 = A[0].mT @ A[0]
        XSt = torch.zeros((B, m, n), dtype=dt, device=dev)
        SSt = torch.zeros((B, n, n), dtype=dt, device=dev)
        dS_sq = torch.zeros((B,), dtype=dt, device=dev)
        obj = zero
        for a, b, Xb in X:
            Sb = S[..., a:b]
            WtX = W.mT @ Xb
            if ctx.record:  # objective at the current iterate (before this step); AᵀX = L_S·WᵀX
                obj = obj + _objective_gram(X_sq if a == 0 else zero, WtX[0] * L_S0, AtA0, Sb[0], lam_b[0, 0, 0])
            Sb_new = sparse_step_s(Sb, A, Xb, W, theta, WtX=WtX)
            dS_sq += (Sb_new - Sb).square().sum((-2, -1))
            S[..., a:b] = Sb_new
            XSt += (Sb_new @ Xb.mT).mT  # S Xᵀ: X read in its own layout (faster)
            SSt += Sb_new @ Sb_new.mT
        A_new = gradient_step_a(A, S, None, palm_step_size_a(SSt), SSt=SSt, XSt=XSt)
        dS = dS_sq.sqrt()
        dA = torch.linalg.vector_norm(A_new - A, dim=(-2, -1))
        trace = {"objective": obj, "delta_S": dS[0], "delta_A": dA[0]} if ctx.record else None
        return {"A": A_new, "S": S}, (dS < tol) & (dA < tol), trace

    run = iterate(step, {"A": A, "S": S}, batch=B, max_iter=max_iter, record_history=record_history,
                  history_window=history_window, callback=callback, verbose=verbose, desc="PALM (chunks)")
    A, S = run.values["A"], run.values["S"]
    history: dict[str, list[float]] = {}
    if record_history:
        final = objective(A, S, lambda a, b, Xb: A[0].mT @ Xb[0])
        history = {
            "objective": run.history.get("objective", []) + [float(final)],
            "delta_S": run.history.get("delta_S", []),
            "delta_A": run.history.get("delta_A", []),
        }
    return FitResult(A=A, S=S, n_iter=run.n_iter, converged=run.converged, history=history,
                     info={"chunk_pixels": X.chunk_pixels, "chunks": X.n_chunks})


@register
class PALM(ChunkedFitMixin, BaseSeparator):
    """PALM (LPALM paper, Fahes et al. 2022, eq. 6; Bolte et al. 2014) for
    ``min ½‖X − AS‖²_F + λ‖S‖₁ + ι{‖A_i‖₂ ≤ 1}``.

    Parameters (keyword-only)
    -------------------------
    n_sources : number of sources n.
    lam : λ ≥ 0 in the units of ``X`` (default 0.01); pick it on training data with :func:`select_lambda`.
    max_iter : default 5000 (the paper's runs need a few thousand iterations at tol=1e-7).
    tol : default 1e-7 (the paper's), applied to the absolute ``‖ΔS‖_F`` and ``‖ΔA‖_F``. float32
        rounding alone moves a large S by about 1e-7·‖S‖_F per step, so use ``dtype="float64"`` for
        tolerances this tight; in float32 a looser tol (e.g. 1e-5·‖X‖_F) is reached.
    init : ``"given"`` (needs ``A0``), ``"random"`` (standard normal, unit columns, from
        ``random_state``), ``"ones"`` (all-ones unit columns; a symmetric start that PALM leaves only
        through rounding errors) or None (``"given"`` if ``A0`` is given, else ``"random"``). S starts
        at ``A0⁺X`` (the paper's choice).
    A0 : ``(m, n)`` starting mixing matrix (or ``(B, m, n)`` with :meth:`fit_batch`).
    chunk_pixels : None (default: X converted to one tensor) or an int ≥ 1: :meth:`fit` reads X ``(m, t)`` or
        ``(m, H, W)`` — e.g. a read-only ``np.memmap`` of a FITS file — in chunks of this many pixels and never
        copies it whole (:func:`palm_chunked`; CLI ``--chunk-pixels``). Same result up to the order of the
        floating-point sums; :meth:`transform` and :meth:`fit_batch` keep the in-memory path.
    random_state, dtype (``"float32"`` default, or ``"float64"``), device, verbose : as in every separator.

    Fitted attributes: ``mixing_``, ``sources_``, ``n_iter_``, ``converged_``, ``history_``
    (``objective`` at every iterate, ``delta_S``, ``delta_A``; first sample), ``seconds_``.
    :meth:`transform` solves the lasso in S with the fitted A (ISTA, same λ).
    """

    name: ClassVar[str] = "palm"
    family: ClassVar[str] = "sparse BSS, ℓ1 on S, columns of A in the unit ball"
    reference: ClassVar[str] = "Bolte et al. 2014; LPALM paper eq. 6"
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **COMMON_CONSTRAINTS,
        "lam": [Interval(float, 0, None, closed="left")],
        "max_iter": [Interval(int, 1, None, closed="left")],
        "tol": [Interval(float, 0, None, closed="left")],
        "init": [Options(INITS), NONE],
        "A0": [ARRAY, NONE],
        "chunk_pixels": [Interval(int, 1, None, closed="left"), NONE],
    }

    def __init__(
        self,
        *,
        n_sources: int = 2,
        lam: float = 0.01,
        max_iter: int = 5000,
        tol: float = 1e-7,
        init: str | None = None,
        A0: Any = None,
        chunk_pixels: int | None = None,
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        self.n_sources = n_sources
        self.lam = lam
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.A0 = A0
        self.chunk_pixels = chunk_pixels
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        if self.init == "given" and self.A0 is None:
            raise ValueError("A0 must be given (an array (channels, sources)) when init='given'; got None.")
        if isinstance(X, PixelChunks):
            res = palm_chunked(X, self.n_sources, self.lam, A0=self.A0, init=self.init, max_iter=self.max_iter,
                               tol=self.tol, rng=self._rng(), verbose=self.verbose)
        else:
            res = palm(X, self.n_sources, self.lam, A0=self.A0, init=self.init, max_iter=self.max_iter,
                       tol=self.tol, rng=self._rng(), dtype=X.dtype, device=X.device, verbose=self.verbose)
        if self.verbose:
            print(summary_line("PALM", res.n_iter, res.converged))
        return res

    def _transform_batch(self, X: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        return ista(X, A, self.lam, max_iter=self.max_iter, tol=self.tol, dtype=X.dtype, device=X.device,
                    record_history=False).S


# ------------------------------------------------------------------------------------------------- choosing λ


def lambda_max(A: Any, X: Any) -> float:
    """The scale of λ for PALM/ISTA: the median over samples of ``‖AᵀX‖_∞`` (above it the first S-step gives
    ``S = 0``). ``A`` ``(m, n)`` or ``(B, m, n)``, ``X`` ``(m, t)`` or ``(B, m, t)`` (NumPy or torch)."""
    At = as_tensor(A, dtype=torch.float64) if not isinstance(A, torch.Tensor) else A
    Xt = as_tensor(X, dtype=At.dtype, device=At.device) if not isinstance(X, torch.Tensor) else X.to(At)
    if At.ndim == 2:
        At = At.unsqueeze(0)
    if Xt.ndim == 2:
        Xt = Xt.unsqueeze(0)
    return float(torch.median((At.mT @ Xt).abs().amax(dim=(-2, -1))))


def lambda_grid(lam_max: float, num: int = 30, low: float = 1e-5) -> np.ndarray:
    """``num`` values of λ log-spaced from ``low·lam_max`` to ``lam_max`` (the LPALM paper's Figure 2a grid;
    :func:`select_lambda`'s default)."""
    if not (np.isfinite(lam_max) and lam_max >= 0):
        raise ValueError(f"lam_max must be a finite float >= 0; got {lam_max!r}.")
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"num must be an int >= 1; got {num!r}.")
    if not (np.isfinite(low) and 0 < low <= 1):
        raise ValueError(f"low must be a float in (0, 1]; got {low!r}.")
    return float(lam_max) * np.logspace(np.log10(low), 0, int(num))


@dataclass
class LambdaSelection:
    """Result of :func:`select_lambda` (the LPALM paper's Figure 2a: median NMSE and iterations versus λ).

    ``lambdas (K,)``; ``median_nmse (K,)`` median over training samples of NMSE(S) (linear) after
    alignment; ``median_iterations (K,)``; ``per_sample_nmse (K, N)``; ``per_sample_iterations (K, N)``;
    ``best_lambda`` the λ with the smallest median NMSE; ``lambda_max`` the scale of the default grid.
    """

    best_lambda: float
    lambdas: np.ndarray
    median_nmse: np.ndarray
    median_iterations: np.ndarray
    per_sample_nmse: np.ndarray
    per_sample_iterations: np.ndarray
    lambda_max: float


def _aligned_sources(
    A_est: np.ndarray, S_est: np.ndarray, S_true: np.ndarray, A_true: np.ndarray | None
) -> np.ndarray:
    """Align a batch of estimates with :func:`semiblind.metrics.align`: on the mixing matrices when
    ``A_true`` is given, else on the source rows (matched by cosine, rescaled to the true rows' norms)."""
    if A_true is not None:
        return np.asarray(metrics.align(A_est, S_est, A_true, S_true)[1])
    S_al_t, _ = metrics.align(np.swapaxes(S_est, -1, -2), np.swapaxes(A_est, -1, -2),
                              np.swapaxes(S_true, -1, -2))
    return np.swapaxes(np.asarray(S_al_t), -1, -2)


def select_lambda(
    X_train: Any,
    S_train: Any,
    n_sources: int,
    lambdas: Any = None,
    *,
    A_train: Any = None,
    A0: Any = None,
    init: str | None = None,
    max_iter: int = 5000,
    tol: float = 1e-7,
    rng: Any = None,
    dtype: Any = None,
    device: Any = None,
    max_batch_elements: int = 2**24,
) -> LambdaSelection:
    """Pick PALM's λ on a training set (LPALM paper §4, Figure 2a): run PALM for every λ of a grid
    on all training samples at once (batched runs, several λ per run within ``max_batch_elements``),
    align each estimate, and keep the λ with the smallest median NMSE(S).

    Parameters
    ----------
    X_train : ``(N, m, t)`` training mixtures. S_train : ``(N, n, t)`` their true sources.
    n_sources : n.
    lambdas : the grid; default 30 values log-spaced from ``1e-5·λ_max`` to ``λ_max``, where ``λ_max``
        is the median over samples of ``‖A_initᵀX‖_∞`` (above it the first S-step gives S = 0).
    A_train : ``(N, m, n)`` true mixing matrices; when given, estimates are aligned on A (permutation,
        sign and scale from A, :func:`semiblind.metrics.align`), otherwise on the rows of S.
    A0, init, rng : the common starting point (:func:`initial_mixing`), drawn once and shared by every λ.
    max_iter, tol, dtype, device : as in :func:`palm`.
    max_batch_elements : several λ run in one batch (the training set repeated once per λ) as long as
        the repeated data holds at most this many entries (default 2²⁴, 128 MiB in float64).
    """
    Xc = check_data(X_train, name="X_train", batched=True, allow_cube=False)
    dt = resolve_dtype(dtype if dtype is not None else (Xc.dtype if isinstance(Xc, torch.Tensor) else None))
    Xt = as_tensor(Xc, dtype=dt, device=device)
    N, m, t = Xt.shape
    n = check_n_sources(n_sources, m)
    S_true = np.asarray(to_numpy(S_train), dtype=float)
    if S_true.shape != (N, n, t):
        raise ValueError(f"S_train must have shape ({N}, {n}, {t}) to match X_train and n_sources; "
                         f"got {S_true.shape}.")
    A_true = None
    if A_train is not None:
        A_true = np.asarray(to_numpy(A_train), dtype=float)
        if A_true.shape != (N, m, n):
            raise ValueError(f"A_train must have shape ({N}, {m}, {n}); got {A_true.shape}.")
    A_init = initial_mixing(Xt, n, init, A0, rng)
    lam_max = lambda_max(A_init, Xt)
    if lambdas is None:
        grid = lambda_grid(lam_max)
    else:
        grid = np.asarray(lambdas, dtype=float).reshape(-1)
        if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid < 0):
            raise ValueError(f"lambdas must be a non-empty list of finite values >= 0; got {lambdas!r}.")
    # Several λ share one batched run (each sample repeated once per λ, λ-major), within a memory budget.
    per_run = max(1, int(max_batch_elements // (N * m * t)))
    per_nmse = np.empty((grid.size, N))
    per_iter = np.empty((grid.size, N), dtype=int)
    for start in range(0, grid.size, per_run):
        lams = grid[start:start + per_run]
        k = lams.size
        res = palm(Xt.repeat(k, 1, 1), n, np.repeat(lams, N), A0=A_init.repeat(k, 1, 1), init="given",
                   max_iter=max_iter, tol=tol, dtype=dt, device=Xt.device, record_history=False)
        A_est = to_numpy(res.A).astype(float)
        S_est = to_numpy(res.S).astype(float)
        S_al = _aligned_sources(A_est, S_est, np.tile(S_true, (k, 1, 1)),
                                None if A_true is None else np.tile(A_true, (k, 1, 1)))
        per_nmse[start:start + k] = np.asarray(
            metrics.nmse(S_al, np.tile(S_true, (k, 1, 1)), batched=True), dtype=float
        ).reshape(k, N)
        per_iter[start:start + k] = to_numpy(res.n_iter).reshape(k, N)
    med = np.median(per_nmse, axis=1)
    return LambdaSelection(
        best_lambda=float(grid[int(np.nanargmin(med))]),
        lambdas=grid,
        median_nmse=med,
        median_iterations=np.median(per_iter, axis=1),
        per_sample_nmse=per_nmse,
        per_sample_iterations=per_iter,
        lambda_max=lam_max,
    )
