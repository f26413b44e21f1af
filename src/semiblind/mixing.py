"""Linear mixing model X = A·S + N and noise at an exact signal-to-noise ratio.

Shapes (channels first): A ``(m, n)``, S ``(n, t)``, X ``(m, t)``; a leading batch dimension ``B`` is allowed
on all of them.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from ._backend import make_rng


def add_noise(
    X_clean: Any, snr_db: float, rng: Any = None, *, batched: bool | None = None
) -> tuple[Any, Any]:
    """Add white Gaussian noise so that each sample's SNR is exactly ``snr_db``.

    SNR is defined as in the reference papers: ``10·log10(‖X_clean‖²_F / ‖N‖²_F)``. A Gaussian draw is
    rescaled per sample, so the realised SNR equals ``snr_db`` to rounding.

    Parameters
    ----------
    X_clean : array ``(m, t)`` or ``(m, H, W)`` (one sample), or a batch ``(B, m, t)`` / ``(B, m, H, W)``.
    snr_db : float, finite, or ``numpy.inf`` for zero noise.
    rng : seed or ``numpy.random.Generator``.
    batched : whether axis 0 indexes samples. ``None`` (default): 2-D is one sample, 3-D and more are batches,
        so a single cube ``(m, H, W)`` needs ``batched=False``.

    Returns
    -------
    X_noisy, noise : same type (NumPy or torch), shape and float dtype as ``X_clean`` (integer input gives
        float64). The scaling is computed in float64, so float32 data reach ``snr_db`` to float32 rounding.
    """
    real = isinstance(snr_db, (numbers.Real, np.floating, np.integer))
    if isinstance(snr_db, (bool, np.bool_)) or not real:
        raise TypeError(f"snr_db must be a real number (dB) or +inf; got {type(snr_db).__name__} {snr_db!r}.")
    if not np.isfinite(snr_db) and not (np.isposinf(snr_db)):
        raise ValueError(f"snr_db must be a finite number or +inf; got {snr_db!r}.")
    gen = make_rng(rng)
    is_tensor = isinstance(X_clean, torch.Tensor)
    if is_tensor:
        Xc = X_clean.detach().cpu()
        Xn = (Xc if Xc.dtype in (torch.float32, torch.float64) else Xc.to(torch.float64)).numpy()
    else:
        Xn = np.asarray(X_clean)
        if not np.issubdtype(Xn.dtype, np.floating):  # integers/bools: compute and return float64
            Xn = Xn.astype(np.float64)
    if Xn.ndim < 2:
        raise ValueError(f"X_clean must have at least 2 dimensions (channels, pixels); got shape {Xn.shape}.")
    noise = gen.standard_normal(Xn.shape)
    if np.isposinf(snr_db):
        noise = np.zeros_like(Xn, dtype=float)
    else:
        is_batch = Xn.ndim > 2 if batched is None else bool(batched)
        axes = tuple(range(1, Xn.ndim)) if is_batch else tuple(range(Xn.ndim))
        sig = np.sum(Xn.astype(np.float64) ** 2, axis=axes, keepdims=True)
        if np.any(sig == 0):
            raise ValueError("X_clean must not contain an all-zero sample: its SNR is undefined.")
        pw = np.sum(noise**2, axis=axes, keepdims=True)
        noise = noise * np.sqrt(sig / (pw * 10.0 ** (snr_db / 10.0)))
    noise = noise.astype(Xn.dtype)
    if is_tensor:
        nt = torch.as_tensor(noise, dtype=X_clean.dtype if X_clean.is_floating_point() else torch.float64,
                             device=X_clean.device)
        return X_clean + nt, nt
    return Xn + noise, noise


def realised_snr_db(X_clean: Any, noise: Any, *, batched: bool | None = None) -> np.ndarray:
    """``10·log10(‖X_clean‖²/‖N‖²)`` per sample (``batched`` as in :func:`add_noise`)."""
    Xc = np.asarray(X_clean.detach().cpu() if isinstance(X_clean, torch.Tensor) else X_clean,
                    dtype=np.float64)
    Nn = np.asarray(noise.detach().cpu() if isinstance(noise, torch.Tensor) else noise, dtype=np.float64)
    is_batch = Xc.ndim > 2 if batched is None else bool(batched)
    axes = tuple(range(1, Xc.ndim)) if is_batch else tuple(range(Xc.ndim))
    return 10 * np.log10(np.sum(Xc**2, axis=axes) / np.sum(Nn**2, axis=axes))
