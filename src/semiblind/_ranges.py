"""Numeric range of data and results: refuse data whose magnitude the computation precision cannot carry, and
results that are not finite.

Finite data can still break a solver: with ``|X| ≈ 1e20`` in float32, the products ``X Xᵀ`` overflow to ``inf``
(PALM then returns NaN, the eigen-solvers of HALS/MU/GMCA fail to converge); with ``|X| ≈ 1e-300`` in float64,
the conversion to float32 or the squares underflow to 0 and a solver "converges" at ``A = S = 0``. Rather than
return such results, :func:`check_dynamic_range` refuses the data before any work with the numbers and the way
out (divide X by a constant, or compute in float64), and :func:`check_finite_result` refuses to hand back
non-finite estimates.

Limits, for data ``X`` with ``m·t`` entries in a precision with largest value ``F`` and smallest normal ``f``
(``numpy.finfo``): ``max|X|² · m·t ≤ F / 1000`` (sums of squares stay finite with room for the solver's own
products) and ``max|X|² ≥ 1000 · f`` (squares stay normal numbers). For float32 and 8 × 300 data this is
``3.5e-18 ≤ max|X| ≤ 1.2e16``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

_HEADROOM = 1e3


def _np_dtype(dtype: Any) -> np.dtype:
    if isinstance(dtype, torch.dtype):
        return np.dtype(str(dtype).replace("torch.", ""))
    return np.dtype(dtype)


def magnitude_limits(n_entries: int, dtype: Any) -> tuple[float, float]:
    """``(smallest, largest)`` admissible ``max|X|`` for data of ``n_entries`` entries computed in ``dtype``."""
    fi = np.finfo(_np_dtype(dtype))
    high = math.sqrt(float(fi.max) / _HEADROOM / max(int(n_entries), 1))
    low = math.sqrt(float(fi.tiny) * _HEADROOM)
    return low, high


def check_dynamic_range(x: Any, dtype: Any, *, name: str = "X",
                        float64_hint: str = "dtype='float64' (--set dtype=float64)") -> None:
    """Raise ``ValueError`` when the finite data ``x`` are too large or too small in magnitude to be computed
    with in ``dtype`` (see the module docstring); all-zero data are left to the all-zero check.
    ``float64_hint`` says how the caller's user asks for float64 (suggested when float64 would do)."""
    if isinstance(x, torch.Tensor):
        if x.numel() == 0:
            return
        amax = float(x.detach().abs().max().to(torch.float64))
        rms = float(x.detach().to(torch.float64).pow(2).mean().sqrt()) if math.isfinite(amax) else amax
        n = x.numel()
    else:
        a = np.asarray(x)
        if a.size == 0:
            return
        if a.dtype.kind in "iub":  # huge integers: their float64 magnitude
            a = a.astype(np.float64)
        amax = float(np.max(np.abs(a)))
        n = a.size
        with np.errstate(over="ignore", under="ignore"):
            scaled = a / amax if amax > 0 and math.isfinite(amax) else a
            rms = float(np.sqrt(np.mean(np.square(scaled, dtype=np.float64)))) * amax
    check_magnitude(amax, rms, n, dtype, name=name, float64_hint=float64_hint)


def check_magnitude(amax: float, rms: float, n: int, dtype: Any, *, name: str = "X",
                    float64_hint: str = "dtype='float64' (--set dtype=float64)") -> None:
    """:func:`check_dynamic_range`'s test and sentence from the data's largest magnitude ``amax``, RMS ``rms`` and
    number of entries ``n`` (for data scanned in chunks: memory-mapped cubes, stored training sets)."""
    if n == 0 or amax == 0 or not math.isfinite(amax):
        return
    target = _np_dtype(dtype)
    low, high = magnitude_limits(n, target)
    wider = np.dtype(np.float64)
    if amax > high or amax < low:
        side = "large" if amax > high else "small"
        bound = f"above about {high:.2g}" if amax > high else f"below about {low:.2g}"
        hint = f"divide X by its RMS ({rms:.3g}) so that its values are of order 1"
        if target != wider:
            w_low, w_high = magnitude_limits(n, wider)
            if w_low <= amax <= w_high:
                hint += f", or pass {float64_hint}"
        raise ValueError(
            f"{name} has values of magnitude up to {amax:.3g}, too {side} to compute with in {target.name} "
            f"(products of {n} entries of that size {'overflow' if side == 'large' else 'underflow'} {bound}); "
            f"{hint}."
        )


def check_finite_result(owner: str, **arrays: Any) -> None:
    """Raise ``ValueError`` when any of ``arrays`` (e.g. ``A=…, S=…``) holds NaN or infinite values."""
    bad = []
    for key, arr in arrays.items():
        if arr is None:
            continue
        if isinstance(arr, torch.Tensor):
            n_bad = int((~torch.isfinite(arr)).sum())
            size = arr.numel()
        else:
            a = np.asarray(arr)
            if not np.issubdtype(a.dtype, np.number):
                continue
            n_bad = int(a.size - np.isfinite(a).sum())
            size = a.size
        if n_bad:
            bad.append(f"{key} ({n_bad} of {size} entries)")
    if bad:
        raise ValueError(
            f"{owner} produced non-finite values in {' and '.join(bad)}, so no result is returned or written; "
            "the data may be badly scaled (rescale X to values of order 1) or a step or threshold parameter "
            "too large."
        )


__all__ = ["check_dynamic_range", "check_finite_result", "magnitude_limits"]
