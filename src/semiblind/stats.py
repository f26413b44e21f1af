"""Robust statistics along the last axis of batched tensors: row median, MAD noise level, k-th smallest value.

Generic core helpers (used by GMCA's thresholds, usable by any method): every function works on a whole batch
of rows at once. On the CPU, without gradients, they run through NumPy's introselect (``np.partition``), which
is faster there than ``torch.kthvalue``; on other devices, or when gradients are recorded (e.g. an unrolled
network), the torch path gives the same numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

MAD_CONSTANT = 0.6745
"""``median|x − median x| / 0.6745`` estimates the standard deviation of Gaussian noise."""

def numpy_fast_path(x: torch.Tensor) -> bool:
    """Whether the NumPy selection path may be used for ``x``: on the CPU and without recorded gradients."""
    # Gradients (e.g. an unrolled network) need the torch path.
    return x.device.type == "cpu" and not (x.requires_grad and torch.is_grad_enabled())


def median_rows_np(a: np.ndarray, *, inplace: bool = False) -> np.ndarray:
    """Row medians of a 2-D array (mean of the two middle values for an even length); ``inplace`` lets the
    array itself be partitioned instead of a copy."""
    P = a.shape[-1]
    if inplace:
        a.partition(P // 2, axis=-1)
        part = a
    else:
        part = np.partition(a, P // 2, axis=-1)
    med = part[:, P // 2]
    if P % 2 == 0:
        med = 0.5 * (med + part[:, : P // 2].max(axis=-1))
    return np.ascontiguousarray(med)


def mad_rows_np(a: np.ndarray) -> np.ndarray:
    """``median|a − median(a)| / 0.6745`` of every row of a 2-D array (one copy: deviations partitioned in
    place)."""
    dev = np.subtract(a, median_rows_np(a)[:, None])
    np.abs(dev, out=dev)
    return median_rows_np(dev, inplace=True) / MAD_CONSTANT


def kth_smallest_np(a: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``a[r]``'s ``index[r]``-th smallest entry (0-based) for every row, with a single ``np.partition``: rows
    are padded on the left with ``max(index) − index[r]`` copies of −∞ (and +∞ up to equal length), which
    moves every wanted order statistic to the common position ``max(index)``."""
    hi = int(index.max())
    shift = hi - index
    D = int(shift.max())
    if D > 0:
        pad = np.where(np.arange(D)[None, :] < shift[:, None], -np.inf, np.inf).astype(a.dtype)
        a = np.concatenate([pad, a], axis=1)
    else:
        a = a.copy()
    a.partition(hi, axis=-1)
    return np.ascontiguousarray(a[:, hi])


def kth_smallest(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``x[r]``'s ``index[r]``-th smallest entry (0-based) of every row of ``x (R, P)``, by one selection pass
    (``torch.kthvalue``, no sort) on any device: rows are padded on the left with ``max(index) − index[r]``
    copies of −∞ (and +∞ up to equal length), which moves every wanted order statistic to the common position
    ``max(index)``. Same numbers as sorting each row and taking ``index[r]`` (tested)."""
    index = index.to(torch.long)
    hi = int(index.max())
    shift = hi - index
    D = int(shift.max())
    if D > 0:
        cols = torch.arange(D, device=x.device)
        inf = torch.tensor(float("inf"), dtype=x.dtype, device=x.device)
        pad = torch.where(cols[None, :] < shift[:, None], -inf, inf)
        x = torch.cat([pad, x], dim=1)
    return torch.kthvalue(x, hi + 1, dim=-1).values


def row_median(x: torch.Tensor) -> torch.Tensor:
    """Median along the last axis (mean of the two middle values for an even length); ``x.shape[:-1]``."""
    lead, P = x.shape[:-1], x.shape[-1]
    flat = x.reshape(-1, P)
    if numpy_fast_path(flat):
        return torch.from_numpy(median_rows_np(flat.detach().numpy())).to(x.device).reshape(lead)
    hi = torch.kthvalue(flat, P // 2 + 1, dim=-1).values
    if P % 2 == 0:
        hi = 0.5 * (hi + torch.kthvalue(flat, P // 2, dim=-1).values)
    return hi.reshape(lead)


def mad_std(x: Any, dim: int = -1) -> torch.Tensor:
    """Robust noise level ``median|x − median(x)| / 0.6745`` along ``dim`` (the median absolute deviation,
    scaled to equal the standard deviation for Gaussian noise). Returns a tensor without ``dim``."""
    xt = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    xt = xt.movedim(dim, -1)
    lead, P = xt.shape[:-1], xt.shape[-1]
    if numpy_fast_path(xt):
        mad = mad_rows_np(xt.detach().reshape(-1, P).numpy())
        return torch.from_numpy(mad).to(xt.device).reshape(lead)
    med = row_median(xt)
    return row_median((xt - med.unsqueeze(-1)).abs()) / MAD_CONSTANT


__all__ = [
    "MAD_CONSTANT",
    "kth_smallest",
    "kth_smallest_np",
    "mad_rows_np",
    "mad_std",
    "median_rows_np",
    "numpy_fast_path",
    "row_median",
]
