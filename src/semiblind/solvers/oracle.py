"""Oracle separators for benchmarks: one factor is the truth, the other is estimated in one closed-form step.

- ``"oracle-s"``: A is the true mixing matrix; ``S = ST_λ(A⁺X)`` (least squares, then soft thresholding
  at λ; ``lam=0`` gives plain least squares). The best a method that knows A exactly can do without a
  sparsity model beyond one threshold.
- ``"oracle-a"``: S is the true sources; ``A = X S⁺`` (least squares), optionally projected onto the
  unit column ball as PALM's constraint ``‖A_i‖₂ ≤ 1`` (``project=True``).

Both accept one matrix shared by a batch or one per sample. They run one step: ``n_iter = 1``,
``converged = True``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from .._backend import as_tensor
from .._validation import BOOL, NONE, InstanceOf, Interval
from ..prox import project_columns_l2_ball, soft_threshold
from .base import COMMON_CONSTRAINTS, BaseSeparator, FitResult, register
from .driver import summary_line
from .ista import KNOWN_A, _batched_matrix, _KnownMatrixMixin, _n_cols


def oracle_sources(X: torch.Tensor, A: torch.Tensor, lam: float = 0.0) -> torch.Tensor:
    """``S = ST_λ(A⁺X)`` for ``X (B, m, t)`` and ``A (B or 1, m, n)``; ``lam = 0``: least squares ``A⁺X``."""
    S = torch.linalg.pinv(A) @ X
    return soft_threshold(S, float(lam)) if lam > 0 else S


def oracle_mixing(X: torch.Tensor, S: torch.Tensor, project: bool = False) -> torch.Tensor:
    """``A = X S⁺`` for ``X (B, m, t)`` and ``S (B or 1, n, t)``; ``project`` applies ``Π_{‖A_i‖₂ ≤ 1}``."""
    A = X @ torch.linalg.pinv(S)
    return project_columns_l2_ball(A) if project else A


@register
class OracleS(_KnownMatrixMixin, BaseSeparator):
    """Sources from the true mixing matrix: ``S = ST_λ(A⁺X)`` (``lam=0``: least squares).

    Parameters (keyword-only): ``A`` ``(m, n)`` true mixing matrix (or ``(B, m, n)`` with
    :meth:`fit_batch`), required; ``n_sources`` (None: read from ``A``); ``lam`` ≥ 0 (default 0);
    random_state (unused), dtype, device, verbose.
    """

    name: ClassVar[str] = "oracle-s"
    family: ClassVar[str] = "oracle: S = ST_λ(A⁺X) from the true A"
    reference: ClassVar[str] = "—"
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **COMMON_CONSTRAINTS,
        "n_sources": [Interval(int, 1, None, closed="left"), NONE],
        "A": [KNOWN_A],
        "lam": [Interval(float, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        A: Any = None,
        n_sources: int | None = None,
        lam: float = 0.0,
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        self.A = A
        self.n_sources = n_sources
        self.lam = lam
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _known_n_sources(self) -> int:
        if self.A is None:
            raise ValueError("A must be given to OracleS (the true mixing matrix); got None.")
        return _n_cols(self.A, "A", "(channels, sources)")

    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        B, m, _ = X.shape
        A = _batched_matrix(self.A, name="A", batch=B, rows=m, cols=None, dtype=X.dtype, device=X.device,
                            what="(channels, sources)")
        S = oracle_sources(X, A, self.lam)
        if self.verbose:
            print(summary_line("oracle-s (closed form)", 1, torch.ones(B, dtype=torch.bool)))
        return FitResult(A=A.expand(B, -1, -1).clone(), S=S, n_iter=1, converged=True)

    def _transform_batch(self, X: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        return oracle_sources(X, A, self.lam)


@register
class OracleA(_KnownMatrixMixin, BaseSeparator):
    """Mixing matrix from the true sources: ``A = X S⁺`` (optionally projected onto ``‖A_i‖₂ ≤
    1``); S is returned as given.

    Parameters (keyword-only): ``S`` ``(n, t)`` or ``(n, H, W)`` true sources (or a batch ``(B, n,
    ...)`` with :meth:`fit_batch`), required; ``n_sources`` (None: read from ``S``); ``project``
    (default False); random_state (unused), dtype, device, verbose. :meth:`transform` gives least
    squares ``A⁺X`` with the fitted A.
    """

    name: ClassVar[str] = "oracle-a"
    family: ClassVar[str] = "oracle: A by least squares from the true S"
    reference: ClassVar[str] = "—"
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **COMMON_CONSTRAINTS,
        "n_sources": [Interval(int, 1, None, closed="left"), NONE],
        "S": [InstanceOf((np.ndarray, torch.Tensor, list, tuple),
                         "an array (sources, pixels) or (sources, height, width) holding the true sources")],
        "project": [BOOL],
    }

    def __init__(
        self,
        *,
        S: Any = None,
        n_sources: int | None = None,
        project: bool = False,
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        self.S = S
        self.n_sources = n_sources
        self.project = project
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _known_n_sources(self) -> int:
        return self._n_known

    def _prepare(self, X: Any, batched: bool) -> tuple[torch.Tensor, tuple[int, ...] | None]:
        S = np.asarray(self.S) if isinstance(self.S, (list, tuple)) else self.S
        x_ndim = np.ndim(X) if not isinstance(X, torch.Tensor) else X.ndim
        # One sample: S (n, t) or (n, H, W). Batch: S shared by every sample (one dimension less than X) or one
        # S per sample (as many dimensions as X).
        ok = (S.ndim in (2, x_ndim)) if not batched else (S.ndim in (x_ndim - 1, x_ndim))
        if not hasattr(S, "ndim") or not ok:
            got = f"an array of shape {tuple(S.shape)}" if hasattr(S, "shape") else type(S).__name__
            raise ValueError(f"S must have the layout of X with sources in place of channels (one sample, or "
                             f"one per sample of a batch); got {got} for X with {x_ndim} dimensions.")
        self._s_batched = bool(batched and S.ndim == x_ndim)
        self._n_known = int(S.shape[1] if self._s_batched else S.shape[0])
        return super()._prepare(X, batched)

    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        B, _, t = X.shape
        S_in = as_tensor(self.S, dtype=X.dtype, device=X.device)
        if self._s_batched:
            S_b = S_in.reshape(S_in.shape[0], S_in.shape[1], -1)
        else:
            S_b = S_in.reshape(1, S_in.shape[0], -1)
        S = _batched_matrix(S_b, name="S", batch=B, rows=None, cols=t, dtype=X.dtype, device=X.device,
                            what="(sources, pixels) with as many pixels as X")
        A = oracle_mixing(X, S, self.project)
        if self.verbose:
            print(summary_line("oracle-a (closed form)", 1, torch.ones(B, dtype=torch.bool)))
        return FitResult(A=A, S=S.expand(B, -1, -1).clone(), n_iter=1, converged=True)
