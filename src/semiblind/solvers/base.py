"""The shared solver interface: the :class:`Separation` result and the scikit-learn-style :class:`BaseSeparator`.

Every method (classical or learned) is an estimator class with keyword-only hyper-parameters declared in
``_parameter_constraints``. Subclasses implement one batched method, :meth:`BaseSeparator._fit_batch`, on torch
tensors ``X (B, m, t)``; the base class handles validation, NumPy/torch conversion, cube flattening
(``(m, H, W) -> (m, H·W)`` and back), timing, fitted attributes and the ``ConvergenceWarning``.
"""

from __future__ import annotations

import inspect
import re
import time
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from .. import _registry
from .._backend import as_tensor, make_rng, resolve_device, resolve_dtype, to_numpy
from .._ranges import check_dynamic_range, check_finite_result
from .._registry import register as register  # re-exported: `from semiblind.solvers.base import register`
from .._validation import (
    BOOL,
    RANDOM_STATE,
    Interval,
    Options,
    Predicate,
    check_data,
    check_n_sources,
    validate_params,
)


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at ``max_iter`` before meeting its tolerance."""


@dataclass
class FitResult:
    """What :meth:`BaseSeparator._fit_batch` returns (batched torch tensors)."""

    A: torch.Tensor  # (B, m, n)
    S: torch.Tensor  # (B, n, t)
    n_iter: torch.Tensor | int  # (B,) or scalar
    converged: torch.Tensor | bool  # (B,) or scalar
    history: dict[str, list[float]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # e.g. {"model": "lpalm-xray65"}


@dataclass
class Separation:
    """Result of :func:`semiblind.separate`.

    Attributes
    ----------
    A : ``(m, n)`` estimated mixing matrix (spectra as columns); ``(B, m, n)`` for batched input.
    S : ``(n, t)`` estimated sources, or ``(n, H, W)`` when the input was a cube ``(m, H, W)``; batched adds ``B``.
    n_iter : iterations (or layers) run; an array for batched input.
    converged : whether the stopping tolerance was met; an array for batched input.
    history : per-iteration traces when cheap to record (e.g. ``"objective"``, ``"delta_S"``), first sample.
    method, params : the method name and the hyper-parameters used.
    seconds : wall-clock time of the fit.
    info : extra facts (e.g. the model used by a learned method).
    """

    A: np.ndarray
    S: np.ndarray
    n_iter: int | np.ndarray
    converged: bool | np.ndarray
    history: dict[str, list[float]]
    method: str
    params: dict[str, Any]
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)


def _is_device(value: Any) -> bool:
    """A device this library can name: ``"cpu"``, ``"mps"``, ``"cuda"``, ``"cuda:<index>"``, a CUDA index ≥ 0 or a
    ``torch.device`` of those types (whether it is usable here is :func:`~semiblind._backend.resolve_device`'s
    business, at fit time)."""
    if isinstance(value, torch.device):
        return value.type in ("cpu", "cuda", "mps")
    if isinstance(value, str):
        return re.fullmatch(r"cpu|mps|cuda(:\d+)?", value.strip()) is not None
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0


COMMON_CONSTRAINTS: dict[str, list] = {
    "n_sources": [Interval(int, 1, None, closed="left")],
    "random_state": [RANDOM_STATE],
    "dtype": [Options(("float32", "float64"))],
    "device": [Predicate(_is_device, "'cpu', 'cuda', 'cuda:<index>', 'mps', a CUDA index >= 0 or a torch.device")],
    "verbose": [BOOL],
}


class BaseSeparator(ABC):
    """Base class of every separation method.

    Subclasses set ``name`` (the registry key), extend ``_parameter_constraints``, define ``__init__`` with
    keyword-only hyper-parameters stored under the same names, and implement :meth:`_fit_batch` (and
    :meth:`_transform_batch` if estimating S with A fixed is not plain least squares).

    Fitted attributes: ``mixing_`` ``(m, n)``, ``sources_`` ``(n, t)`` or ``(n, H, W)``, ``n_iter_``,
    ``converged_``, ``history_``, ``seconds_`` (batched fits give arrays with a leading ``B``).
    """

    # Registry attributes (see :func:`semiblind.solvers.base.register`); a registered class must set the first
    # three itself.
    name: ClassVar[str]  # the ``--method`` key
    family: ClassVar[str]  # e.g. "sparse BSS", "NMF", "unrolled network"
    reference: ClassVar[str]  # the paper(s), e.g. "Bolte et al. 2014"
    nonnegative: ClassVar[bool] = False  # True for methods that need X ≥ 0
    _parameter_constraints: ClassVar[dict[str, list]] = COMMON_CONSTRAINTS

    # ----------------------------------------------------------------------------------------- parameters
    @classmethod
    def param_names(cls) -> list[str]:
        """The constructor's keyword arguments, in signature order (as scikit-learn's ``_get_param_names``)."""
        init = cls.__init__
        if init is object.__init__:
            return []
        params = inspect.signature(init).parameters.values()
        if any(p.kind == p.VAR_KEYWORD or p.kind == p.VAR_POSITIONAL for p in params):
            raise TypeError(f"{cls.__name__}.__init__ must list its hyper-parameters explicitly (no *args or "
                            "**kwargs).")
        return [p.name for p in params if p.name != "self"]

    def get_params(self) -> dict[str, Any]:
        """Hyper-parameter name → value, read from the attributes named after the constructor's arguments."""
        return {k: getattr(self, k) for k in self.param_names()}

    def set_params(self, **params: Any) -> BaseSeparator:
        valid = self.param_names()
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise ValueError(f"{type(self).__name__} has no parameter {', '.join(map(repr, unknown))}; valid "
                             f"parameters are: {', '.join(valid)}.")
        validate_params(params, self._parameter_constraints, type(self).__name__)
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def _validate_params(self) -> None:
        validate_params(self.get_params(), self._parameter_constraints, type(self).__name__)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ----------------------------------------------------------------------------------------- helpers
    @property
    def _dtype(self) -> torch.dtype:
        return resolve_dtype(getattr(self, "dtype", "float32"))

    @property
    def _device(self) -> torch.device:
        return resolve_device(getattr(self, "device", "cpu"))  # a sentence for a device torch cannot use

    def _rng(self) -> np.random.Generator:
        return make_rng(getattr(self, "random_state", None))

    def _prepare(self, X: Any, batched: bool) -> tuple[torch.Tensor, tuple[int, ...] | None]:
        """Validate and convert to ``(B, m, t)``; return the tensor and the image shape ``(H, W)`` or None.

        Fitting rejects data whose every channel is constant across pixels; :meth:`transform`, which only
        estimates S with A known, accepts them (it clears ``_fitting`` while it runs).
        """
        x = check_data(X, batched=batched, require_variation=getattr(self, "_fitting", True))
        m = int(x.shape[1] if batched else x.shape[0])
        check_n_sources(self.n_sources, m)
        check_dynamic_range(x, self._dtype)  # finite but overflowing/underflowing in this precision: refused
        Xt = as_tensor(x, dtype=self._dtype, device=self._device)
        if not batched:
            Xt = Xt.unsqueeze(0)
        image_shape = tuple(int(s) for s in Xt.shape[2:]) if Xt.ndim == 4 else None
        Xt = Xt.reshape(Xt.shape[0], Xt.shape[1], -1)
        return Xt, image_shape

    # ----------------------------------------------------------------------------------------- public API
    def fit(self, X: Any, y: Any = None) -> BaseSeparator:
        """Estimate A and S from ``X (m, t)`` or a cube ``X (m, H, W)``. Returns ``self``."""
        return self._fit(X, batched=False)

    def fit_batch(self, X: Any) -> BaseSeparator:
        """Estimate A and S for every sample of ``X (B, m, t)`` or ``(B, m, H, W)`` at once (per-sample stopping)."""
        return self._fit(X, batched=True)

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        return self.fit(X).sources_

    def _fit(self, X: Any, batched: bool) -> BaseSeparator:
        self._validate_params()
        Xt, image_shape = self._prepare(X, batched)
        t0 = time.perf_counter()
        with torch.no_grad():
            res = self._fit_batch(Xt, image_shape=image_shape)
        self.seconds_ = time.perf_counter() - t0
        A, S = res.A, res.S
        check_finite_result(type(self).__name__, A=A, S=S)  # never a silent NaN
        if image_shape is not None:
            S = S.reshape(S.shape[0], S.shape[1], *image_shape)
        n_iter = np.broadcast_to(np.asarray(to_numpy(torch.as_tensor(res.n_iter))), (A.shape[0],)).astype(int)
        conv = np.broadcast_to(np.asarray(to_numpy(torch.as_tensor(res.converged))), (A.shape[0],)).astype(bool)
        if not batched:
            self.mixing_, self.sources_ = to_numpy(A[0]), to_numpy(S[0])
            self.n_iter_, self.converged_ = int(n_iter[0]), bool(conv[0])
        else:
            self.mixing_, self.sources_ = to_numpy(A), to_numpy(S)
            self.n_iter_, self.converged_ = n_iter.copy(), conv.copy()
        self.history_ = res.history
        self.info_ = res.info
        self.image_shape_ = image_shape
        if self._reports_convergence() and not conv.all():
            warnings.warn(
                f"{type(self).__name__} stopped at max_iter={getattr(self, 'max_iter', '?')} before reaching "
                f"tol={getattr(self, 'tol', '?')} for {int((~conv).sum())} of {conv.size} sample(s); "
                "increase max_iter or tol.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _reports_convergence(self) -> bool:
        return hasattr(self, "max_iter") and hasattr(self, "tol")

    def transform(self, X: Any) -> np.ndarray:
        """Estimate S for new data ``X (m, t)`` or ``(m, H, W)`` with the fitted A held fixed."""
        if not hasattr(self, "mixing_"):
            raise ValueError(f"This {type(self).__name__} instance is not fitted yet; call fit(X) first.")
        batched = np.ndim(self.mixing_) == 3
        self._fitting = False
        try:
            Xt, image_shape = self._prepare(X, batched)
        finally:
            del self._fitting
        A = as_tensor(self.mixing_, dtype=self._dtype, device=self._device)
        if not batched:
            A = A.unsqueeze(0)
        if A.shape[-2] != Xt.shape[1]:
            raise ValueError(
                f"X must have {A.shape[-2]} channels, as the data this {type(self).__name__} was fitted on; "
                f"got {Xt.shape[1]}."
            )
        with torch.no_grad():
            S = self._transform_batch(Xt, A)
        if image_shape is not None:
            S = S.reshape(S.shape[0], S.shape[1], *image_shape)
        return to_numpy(S if batched else S[0])

    # ----------------------------------------------------------------------------------------- to implement
    @abstractmethod
    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        """Fit on ``X (B, m, t)``; ``image_shape`` is ``(H, W)`` when the pixels come from a cube."""

    def _transform_batch(self, X: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        """S with A fixed; default: least squares ``A⁺X`` (batched)."""
        return torch.linalg.lstsq(A, X).solution


# ------------------------------------------------------------------------------------------------ registry
# The registry itself lives in :mod:`semiblind._registry` (core layer); ``register`` is re-exported here so that a
# solver module writes ``from .base import register`` and decorates its class.


def registered() -> dict[str, type[BaseSeparator]]:
    """The classes registered so far (see :func:`semiblind.api.methods` for the complete, discovered list)."""
    return _registry.methods()
