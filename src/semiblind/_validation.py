"""Input validation with one clear sentence per error (argument, expectation, what came).

The wording follows scikit-learn: ``"The 'lam' parameter of PALM must be a float in the range [0, inf); got -1
instead."``. Library code raises ``ValueError``/``TypeError``; the command line turns them into exit code 2.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

# ------------------------------------------------------------------------------------------------------- data


def _shape_str(shape: Iterable[int]) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(tuple(shape)) == 1 else "") + ")"


def check_array(x: Any, *, name: str = "X", allow_tensor: bool = True) -> np.ndarray | torch.Tensor:
    """Return ``x`` as a NumPy array (or the tensor itself) if it is numeric, else raise ``TypeError``."""
    if isinstance(x, torch.Tensor):
        if not allow_tensor:
            raise TypeError(f"{name} must be a NumPy array; got a torch.Tensor.")
        if not (x.is_floating_point() or x.dtype in (torch.int32, torch.int64, torch.int16, torch.uint8)):
            raise TypeError(f"{name} must hold real numbers; got a tensor of dtype {x.dtype}.")
        return x
    if x is None:
        raise TypeError(f"{name} must be an array of real numbers; got None.")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise TypeError(f"{name} must be an array of real numbers; got {type(x).__name__} ({exc}).") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be an array of real numbers; got an array of dtype {arr.dtype}.")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be an array of real numbers; got complex values.")
    return arr


def check_finite(x: np.ndarray | torch.Tensor, *, name: str = "X") -> None:
    """Reject NaN and infinite entries, saying how many there are."""
    if isinstance(x, torch.Tensor):
        bad_nan = int(torch.isnan(x).sum())
        bad_inf = int(torch.isinf(x).sum())
    else:
        arr = np.asarray(x, dtype=float)
        bad_nan = int(np.isnan(arr).sum())
        bad_inf = int(np.isinf(arr).sum())
    if bad_nan:
        raise ValueError(f"{name} must contain only finite values; got {bad_nan} NaN value(s).")
    if bad_inf:
        raise ValueError(f"{name} must contain only finite values; got {bad_inf} infinite value(s).")


def check_data(
    X: Any,
    *,
    name: str = "X",
    batched: bool = False,
    allow_cube: bool = True,
    min_channels: int = 2,
    require_variation: bool = True,
) -> np.ndarray | torch.Tensor:
    """Validate observed data ``X``.

    Single data: ``(m, t)`` (channels, pixels) or, if ``allow_cube``, ``(m, H, W)`` (channels, height, width).
    Batched (``batched=True``): the same with a leading batch dimension ``B``.
    Rejects: non-numeric, wrong number of dimensions, empty arrays, fewer than ``min_channels`` channels,
    NaN/Inf, all-zero data and, with ``require_variation`` (the default, for separation), data whose every
    channel is constant across pixels (no spatial variation at all: ``X = a·1ᵀ`` has rank one and carries no
    information to tell sources apart). A single constant channel (e.g. a dead detector channel) is legitimate
    and accepted; batched data are checked sample by sample.
    """
    x = check_array(X, name=name)
    nd = x.ndim - (1 if batched else 0)
    ok_nd = (2, 3) if allow_cube else (2,)
    if nd not in ok_nd:
        lead = "(B, " if batched else "("
        expect = f"a {2 + batched}-D array {lead}channels, pixels)"
        if allow_cube:
            expect += f" or a {3 + batched}-D cube {lead}channels, height, width)"
        raise ValueError(f"{name} must be {expect}; got an array of shape {_shape_str(x.shape)}.")
    if any(int(s) == 0 for s in x.shape):
        raise ValueError(f"{name} must not be empty; got an array of shape {_shape_str(x.shape)}.")
    m = int(x.shape[1 if batched else 0])
    if m < min_channels:
        raise ValueError(
            f"{name} must have at least {min_channels} channels along its first "
            f"{'non-batch ' if batched else ''}axis; got {m} channel(s) in an array of shape "
            f"{_shape_str(x.shape)}."
        )
    check_finite(x, name=name)
    if isinstance(x, torch.Tensor):
        if bool((x == 0).all()):
            raise ValueError(f"{name} must not be all zeros; every entry of the array is 0.")
    else:
        if not np.any(x):
            raise ValueError(f"{name} must not be all zeros; every entry of the array is 0.")
    if require_variation:
        _check_variation(x, name=name, batched=batched)
    return x


def _check_variation(x: np.ndarray | torch.Tensor, *, name: str, batched: bool) -> None:
    """Reject data (or a batch sample) whose every channel is constant across pixels."""
    lead = 2 if batched else 1  # sample and channel axes
    if isinstance(x, torch.Tensor):
        flat = x.reshape(*x.shape[:lead], -1)
        spread = flat.amax(dim=-1) - flat.amin(dim=-1)  # (B, m) or (m,)
        flat_sample = (spread == 0).all(dim=-1)
        bad = [int(i) for i in torch.nonzero(flat_sample.reshape(-1)).flatten()]
    else:
        flat = np.asarray(x).reshape(*x.shape[:lead], -1)
        spread = np.ptp(flat, axis=-1)
        flat_sample = np.all(spread == 0, axis=-1)
        bad = [int(i) for i in np.flatnonzero(flat_sample)]
    if not bad:
        return
    n_pix = int(np.prod(x.shape[lead:]))
    if n_pix == 1:
        raise ValueError(
            f"{name} must have at least 2 pixels to be separated; got an array of shape {_shape_str(x.shape)}."
        )
    if batched:
        which = ", ".join(str(i) for i in bad[:5]) + (", ..." if len(bad) > 5 else "")
        raise ValueError(
            f"{name} must vary across pixels; every channel of sample(s) {which} is constant, so no source "
            "can be separated."
        )
    raise ValueError(
        f"{name} must vary across pixels; every channel is constant, so no source can be separated."
    )


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """The one integer check: ``value`` must be an int (not a bool; NumPy integers accepted) ``>= minimum``.

    ``TypeError`` for a non-int (a whole float gets a hint), ``ValueError`` below ``minimum``; both messages name
    ``name``. Returns ``int(value)``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and float(value).is_integer():
            raise TypeError(f"{name} must be an int; got the float {value!r} (write {int(value)}).")
        raise TypeError(f"{name} must be an int; got {type(value).__name__} {value!r}.")
    if int(value) < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {int(value)}.")
    return int(value)


def check_n_sources(n_sources: Any, n_channels: int | None = None, *, name: str = "n_sources") -> int:
    """``n_sources`` must be an int with ``1 <= n_sources <= n_channels``."""
    n = check_int(n_sources, name)
    if n_channels is not None and n > n_channels:
        raise ValueError(
            f"{name} must be at most the number of channels ({n_channels}); got {n}."
        )
    return n


def check_nonnegative_data(
    X: torch.Tensor, *, name: str = "X", tol: float = 1e-2, method: str = ""
) -> torch.Tensor:
    """Prepare data for NMF-type methods.

    Entries above ``-tol * max|X|`` but below zero are noise: they are clipped to zero with a warning that
    says how many. Clearly negative data (any entry below ``-tol * max|X|``, e.g. mean-subtracted data) raises
    ``ValueError``.
    """
    import warnings

    scale = float(X.abs().max())
    neg = X < 0
    n_neg = int(neg.sum())
    if n_neg == 0:
        return X
    floor = -tol * scale
    n_bad = int((X < floor).sum())
    who = f" for method {method!r}" if method else ""
    if n_bad:
        raise ValueError(
            f"{name} must be nonnegative{who}; got {n_bad} entries below -{tol:g}·max|{name}| "
            f"(minimum {float(X.min()):.4g}); mean-subtracted or background-subtracted data cannot be "
            "factorised by NMF."
        )
    warnings.warn(
        f"{name} has {n_neg} slightly negative entries (>= -{tol:g}·max|{name}|, noise level); they were "
        f"clipped to zero{who}.",
        UserWarning,
        stacklevel=3,
    )
    return X.clamp_min(0)


# ----------------------------------------------------------------------------------------- hyper-parameters


@dataclass(frozen=True)
class Interval:
    """A numeric range: ``Interval(float, 0, None, closed="left")`` means a float in ``[0, inf)``."""

    kind: type  # numbers.Real/float or numbers.Integral/int
    low: float | None
    high: float | None
    closed: str = "both"  # "both", "left", "right", "neither"

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.kind in (int, numbers.Integral):
            if not isinstance(value, numbers.Integral):
                return False
        elif not isinstance(value, numbers.Real):
            return False
        v = float(value)
        if math.isnan(v):
            return False
        left_ok = self.low is None or (v >= self.low if self.closed in ("both", "left") else v > self.low)
        right_closed = self.closed in ("both", "right")
        right_ok = self.high is None or (v <= self.high if right_closed else v < self.high)
        return left_ok and right_ok

    def __str__(self) -> str:
        kind = "an int" if self.kind in (int, numbers.Integral) else "a float"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        lb = "[" if self.closed in ("both", "left") and self.low is not None else "("
        rb = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        return f"{kind} in the range {lb}{lo}, {hi}{rb}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: tuple

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, (np.ndarray, torch.Tensor)):  # `in` would compare elementwise (ambiguous truth)
            return False
        try:
            return value in self.values
        except (TypeError, ValueError):
            return False

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class InstanceOf:
    """An instance of a type (e.g. ``InstanceOf(np.ndarray)``), with a readable description."""

    types: tuple
    description: str

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, self.types)

    def __str__(self) -> str:
        return self.description


@dataclass(frozen=True)
class Predicate:
    """A free-form check with a readable description."""

    func: Callable[[Any], bool]
    description: str

    def is_satisfied_by(self, value: Any) -> bool:
        try:
            return bool(self.func(value))
        except Exception:
            return False

    def __str__(self) -> str:
        return self.description


class InvalidParameterError(ValueError, TypeError):
    """A hyper-parameter of the wrong type or out of range (a ``ValueError`` and a ``TypeError``, as in
    scikit-learn, so callers may catch either)."""


NONE = InstanceOf((type(None),), "None")
BOOL = InstanceOf((bool, np.bool_), "a bool")
RANDOM_STATE = Predicate(
    lambda v: v is None
    or isinstance(v, np.random.Generator)
    or (isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) >= 0),
    "None, a nonnegative int or a numpy.random.Generator",
)


_INT64_MAX = 2**63 - 1


def validate_params(params: Mapping[str, Any], constraints: Mapping[str, list], owner: str) -> None:
    """Check every parameter against its list of accepted constraints (any one may match).

    Unknown parameters raise ``ValueError`` naming them and the valid ones; a value that fits no constraint
    raises :class:`InvalidParameterError` (both a ``ValueError`` and a ``TypeError``) in scikit-learn's
    wording.
    """
    unknown = sorted(set(params) - set(constraints))
    if unknown:
        raise ValueError(
            f"{owner} got unknown parameter(s) {', '.join(repr(u) for u in unknown)}; valid parameters are: "
            f"{', '.join(sorted(constraints))}."
        )
    for key, value in params.items():
        cons = constraints[key]
        if any(c.is_satisfied_by(value) for c in cons):
            if isinstance(value, numbers.Integral) and not isinstance(value, bool) and abs(int(value)) > _INT64_MAX:
                # torch counters are int64: a larger count cannot even be stored (issue #16)
                raise InvalidParameterError(
                    f"The {key!r} parameter of {owner} must be an int of magnitude at most 2**63 - 1 "
                    f"({_INT64_MAX}); got {value!r} instead."
                )
            continue
        if len(cons) == 1:
            expect = str(cons[0])
        else:
            expect = ", ".join(str(c) for c in cons[:-1]) + " or " + str(cons[-1])
        raise InvalidParameterError(
            f"The {key!r} parameter of {owner} must be {expect}; got {value!r} instead."
        )


# ------------------------------------------------------------------------------------------------------- A0


def check_initial_mixing(
    A0: Any,
    *,
    batch: int,
    n_channels: int,
    n_sources: int,
    dtype: torch.dtype,
    device: Any = None,
    nonnegative: bool = False,
    name: str = "A0",
) -> torch.Tensor:
    """Validate a given starting mixing matrix and return it as a fresh ``(B, m, n)`` tensor (the one
    validator of ``A0`` used by every solver).

    ``A0`` is ``(m, n)`` (channels, sources; shared by the batch) or ``(B, m, n)`` (or ``(1, m, n)``), NumPy,
    torch or nested lists. Rejected, with a message naming ``name``: another shape, non-finite entries, an
    all-zero column (a start without a spectrum) and, with ``nonnegative``, negative entries (NMF).
    Normalisation is the caller's (e.g. :func:`semiblind.prox.project_columns_l2_ball`).
    """
    if isinstance(A0, (list, tuple)):
        A0 = np.asarray(A0)
    if not isinstance(A0, (np.ndarray, torch.Tensor)):
        raise ValueError(f"{name} must be an array ({n_channels}, {n_sources}) (channels, sources); got "
                         f"{type(A0).__name__}.")
    if (A0.is_complex() if isinstance(A0, torch.Tensor) else np.iscomplexobj(A0)):
        raise TypeError(f"{name} must hold real numbers; got complex values (semiblind never drops an imaginary "
                        "part silently).")
    shape = tuple(int(s) for s in A0.shape)
    ok = (len(shape) == 2 and shape == (n_channels, n_sources)) or (
        len(shape) == 3 and shape[1:] == (n_channels, n_sources) and shape[0] in (1, batch))
    if not ok:
        alt = f" or ({batch}, {n_channels}, {n_sources})" if batch > 1 else ""
        raise ValueError(f"{name} must have shape ({n_channels}, {n_sources}){alt} (channels, sources); got "
                         f"{_shape_str(shape)}.")
    check_finite(A0, name=name)
    if isinstance(A0, torch.Tensor):
        A = A0.detach().to(dtype=dtype, device=device)
    else:
        A = torch.as_tensor(np.asarray(A0), dtype=dtype, device=device)
    if A.ndim == 2:
        A = A.unsqueeze(0)
    if nonnegative and bool((A < 0).any()):
        raise ValueError(f"{name} must be nonnegative for NMF; got {int((A < 0).sum())} negative entries.")
    if bool((torch.linalg.vector_norm(A, dim=-2) == 0).any()):
        raise ValueError(f"{name} must have no all-zero column; got a matrix with a zero column.")
    return A.expand(batch, n_channels, n_sources).clone()
