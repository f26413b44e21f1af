"""The starlet transform: isotropic undecimated wavelet by the "à trous" algorithm, 1-D and 2-D.

Starck, Fadili & Murtagh (2007), "The undecimated wavelet decomposition and its reconstruction",
IEEE TIP 16(2), and Starck, Murtagh & Fadili, *Sparse Image and Signal Processing* (2010), §3.5. With the
B3-spline kernel ``h = [1, 4, 6, 4, 1] / 16`` and ``h^(j)`` that kernel with ``2^j − 1`` zeros ("holes")
inserted between its taps,

    c_0 = x,    c_{j+1} = h^(j) * c_j,    w_{j+1} = c_j − c_{j+1}     (j = 0, …, J − 1),

so that ``x = c_J + Σ_{j=1..J} w_j`` exactly (the sum telescopes): reconstruction is the sum of all scales.
In 2-D the smoothing is separable, ``h^(j) ⊗ h^(j)``: rows (last axis) then columns (second-to-last axis).

Boundaries are mirrored about the edge samples without repeating them ("reflect": ``x[-i] = x[i]``,
``x[L-1+i] = x[L-1-i]``). When the dilated kernel's half-width ``2·2^j`` reaches the signal length the
reflection is applied repeatedly (the index is folded with period ``2(L − 1)``), so every ``n_scales ≥ 1`` is
valid; :func:`starlet_max_scales` gives the largest number of scales for which a single reflection suffices.

Layout: ``details`` has the scale axis inserted just before the pixel axis (1-D: ``x (..., L)`` →
``details (..., J, L)``) or pixel axes (2-D: ``x (..., H, W)`` → ``details (..., J, H, W)``); index 0
along it is the finest scale ``w_1``, index ``J − 1`` the coarsest detail ``w_J``. ``coarse`` (``c_J``)
has the shape of ``x``. Everything is batched over the leading dimensions (a whole cube in one
convolution), differentiable, and NumPy in → NumPy out, torch in → torch out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ._backend import as_tensor, float_dtype_of, like_input

B3_KERNEL = (1.0 / 16, 4.0 / 16, 6.0 / 16, 4.0 / 16, 1.0 / 16)
"""The B3-spline smoothing kernel of the starlet transform."""

__all__ = [
    "B3_KERNEL",
    "starlet_forward",
    "starlet_inverse",
    "starlet_max_scales",
    "starlet_noise_std",
    "starlet_smooth",
]


# ------------------------------------------------------------------------------------------------- helpers


def _check_ndim(ndim: Any) -> int:
    if isinstance(ndim, bool) or ndim not in (1, 2):
        raise ValueError(f"ndim must be 1 (signals along the last axis) or 2 (images on the last two axes); "
                         f"got {ndim!r}.")
    return int(ndim)


def _check_n_scales(n_scales: Any) -> int:
    if isinstance(n_scales, bool) or not isinstance(n_scales, (int, np.integer)) or int(n_scales) < 1:
        raise ValueError(f"n_scales must be an int of at least 1; got {n_scales!r}.")
    return int(n_scales)


def _to_tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            return x.to(torch.float32)
        if x.dtype not in (torch.float32, torch.float64):
            return x.to(torch.float32)
        return x
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) \
            or np.iscomplexobj(arr):
        raise TypeError(f"{name} must be an array of real numbers; got an array of dtype {arr.dtype}.")
    return as_tensor(arr, dtype=float_dtype_of(arr))


def _mirror_indices(length: int, pad: int, device: torch.device) -> torch.Tensor:
    """Indices of ``arange(-pad, length + pad)`` folded into ``[0, length)`` by repeated mirror
    reflection about the edge samples (period ``2(length − 1)``)."""
    i = torch.arange(-pad, length + pad, device=device)
    if length == 1:
        return torch.zeros_like(i)
    period = 2 * (length - 1)
    r = torch.remainder(i, period)
    return torch.where(r < length, r, period - r)


def _mirror_pad(y: torch.Tensor, pad: int, dim: int) -> torch.Tensor:
    """``y`` mirror-padded by ``pad`` samples on both sides of ``dim`` (about the edge samples, as
    :func:`_mirror_indices`): two flipped slices concatenated around y when one reflection suffices
    (``pad ≤ length − 1``; 2–3× faster than gathering by index on the CPU), index gathering otherwise."""
    L = y.shape[dim]
    if pad > L - 1:
        return y.index_select(dim, _mirror_indices(L, pad, y.device))
    left = y.narrow(dim, 1, pad).flip(dim)
    right = y.narrow(dim, L - 1 - pad, pad).flip(dim)
    return torch.cat((left, y, right), dim=dim)


def _taps(padded: torch.Tensor, d: int, length: int, dim: int) -> torch.Tensor:
    """``Σ_i h_i · padded[i·d : i·d + length]`` along ``dim``: the dilated B3-spline filter as five shifted,
    weighted slices of the mirror-padded signal, pairing the symmetric taps (``h_0 = h_4``, ``h_1 = h_3``);
    about 5× faster on the CPU than a dilated ``conv1d`` / ``conv2d``, which torch runs through its slow
    dilated-convolution kernel."""
    h = B3_KERNEL
    out = (padded.narrow(dim, 0, length) + padded.narrow(dim, 4 * d, length)) * h[0]
    out += (padded.narrow(dim, d, length) + padded.narrow(dim, 3 * d, length)) * h[1]
    out += padded.narrow(dim, 2 * d, length) * h[2]
    return out


def _smooth_last(y: torch.Tensor, scale: int) -> torch.Tensor:
    """One à trous smoothing step ``h^(scale) * y`` along the last axis (mirror boundaries), batched: mirror
    padding (:func:`_mirror_pad`), then :func:`_taps`."""
    L = y.shape[-1]
    d = 2**scale
    return _taps(_mirror_pad(y, 2 * d, -1), d, L, -1)


def _smooth_2d(y: torch.Tensor, scale: int) -> torch.Tensor:
    """Separable smoothing ``(h^(scale) ⊗ h^(scale)) * y`` on the last two axes: rows, then columns."""
    H, W = y.shape[-2], y.shape[-1]
    d = 2**scale
    rows = _taps(_mirror_pad(y, 2 * d, -1), d, W, -1)
    return _taps(_mirror_pad(rows, 2 * d, -2), d, H, -2)


# ------------------------------------------------------------------------------------------------- public API


def starlet_smooth(x: Any, scale: int = 0, *, ndim: int = 1) -> Any:
    """One smoothing step of the à trous algorithm, ``c_{j+1} = h^(j) * c_j`` with ``j = scale``.

    ``h^(j)`` is the B3-spline kernel ``[1, 4, 6, 4, 1]/16`` with ``2^j − 1`` zeros between taps, applied
    along the last axis (``ndim=1``) or separably along the last two axes (``ndim=2``), with mirror
    boundaries (see the module docstring). NumPy in → NumPy out; torch in → torch out.
    """
    nd = _check_ndim(ndim)
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or int(scale) < 0:
        raise ValueError(f"scale must be a nonnegative int; got {scale!r}.")
    xt = _to_tensor(x, "x")
    if xt.ndim < nd or any(int(s) == 0 for s in xt.shape[-nd:]):
        raise ValueError(
            f"x must have at least {nd} non-empty pixel dimension(s); got shape {tuple(xt.shape)}."
        )
    out = _smooth_last(xt, int(scale)) if nd == 1 else _smooth_2d(xt, int(scale))
    return like_input(out, x)


def starlet_forward(x: Any, n_scales: int, *, ndim: int = 1) -> tuple[Any, Any]:
    """Starlet (isotropic undecimated B3-spline wavelet) transform of ``x`` along its last ``ndim`` axes.

    Implements ``c_0 = x``, ``c_{j+1} = h^(j) * c_j``, ``w_{j+1} = c_j − c_{j+1}`` for
    ``j = 0 … n_scales − 1`` (Starck, Fadili & Murtagh 2007, eq. 2 with the B3-spline scaling function).

    Parameters
    ----------
    x : array or tensor ``(..., L)`` (``ndim=1``: signals on the last axis, e.g. a data matrix ``(m, t)``
        or a batch ``(B, m, t)``) or ``(..., H, W)`` (``ndim=2``: images, e.g. a cube ``(m, H, W)``).
        Leading axes are batch axes, all transformed at once.
    n_scales : number ``J ≥ 1`` of detail scales. Any value is accepted (boundaries mirror repeatedly);
        more than :func:`starlet_max_scales` rarely makes sense.
    ndim : 1 or 2.

    Returns
    -------
    details : ``(..., J, L)`` or ``(..., J, H, W)``; ``details[..., j, :]`` (resp. ``[..., j, :, :]``) is
        ``w_{j+1}``, finest first.
    coarse : the coarse scale ``c_J``, shaped like ``x``.

    Float64 input is computed in float64, anything else in float32. NumPy in → NumPy out; torch in → torch out
    (differentiable).
    """
    nd = _check_ndim(ndim)
    J = _check_n_scales(n_scales)
    xt = _to_tensor(x, "x")
    if xt.ndim < nd or any(int(s) == 0 for s in xt.shape[-nd:]):
        raise ValueError(
            f"x must have at least {nd} non-empty pixel dimension(s); got shape {tuple(xt.shape)}."
        )
    smooth = _smooth_last if nd == 1 else _smooth_2d
    c = xt
    ws = []
    for j in range(J):
        c_next = smooth(c, j)
        ws.append(c - c_next)
        c = c_next
    details = torch.stack(ws, dim=xt.ndim - nd)
    return like_input(details, x), like_input(c, x)


def starlet_inverse(details: Any, coarse: Any, *, ndim: int = 1) -> Any:
    """Inverse starlet transform: ``x = c_J + Σ_j w_j`` (the sum of all scales; exact).

    ``details`` ``(..., J, L)`` / ``(..., J, H, W)`` and ``coarse`` ``(..., L)`` / ``(..., H, W)`` as
    returned by :func:`starlet_forward` with the same ``ndim``. NumPy in → NumPy out; torch in → torch out.
    """
    nd = _check_ndim(ndim)
    dt = _to_tensor(details, "details")
    ct = _to_tensor(coarse, "coarse")
    expected = tuple(ct.shape[: ct.ndim - nd]) + tuple(ct.shape[ct.ndim - nd:])
    got = tuple(dt.shape[: dt.ndim - nd - 1]) + tuple(dt.shape[dt.ndim - nd:])
    if dt.ndim != ct.ndim + 1 or expected != got:
        raise ValueError(
            f"details must have the shape of coarse {tuple(ct.shape)} with a scale axis inserted before "
            f"the last {nd} axis(es); got details of shape {tuple(dt.shape)}."
        )
    dtype = torch.promote_types(dt.dtype, ct.dtype)
    out = ct.to(dtype) + dt.to(dtype).sum(dim=dt.ndim - nd - 1)
    return like_input(out, coarse if isinstance(coarse, torch.Tensor) else details)


def starlet_max_scales(length: int | tuple[int, ...]) -> int:
    """The largest number of detail scales whose kernels fit ``length`` with a single mirror reflection.

    At scale ``j`` (0-based) the dilated B3 kernel has half-width ``2^(j+1)``; it fits when
    ``2^(j+1) ≤ L − 1``, hence ``J_max = floor(log2(L − 1))`` (0 for ``L ≤ 2``). For images pass
    ``(H, W)``: the smaller side decides.
    """
    sizes = (length,) if isinstance(length, (int, np.integer)) else tuple(length)
    if not sizes or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
        raise ValueError(f"length must be a positive int or a tuple of positive ints; got {length!r}.")
    L = int(min(sizes))
    return 0 if L <= 2 else int(math.floor(math.log2(L - 1)))


def starlet_noise_std(n_scales: int, *, ndim: int = 1) -> np.ndarray:
    """Standard deviation of each detail scale of the starlet transform of unit-variance white Gaussian noise.

    Equals the ℓ2 norm of the scale's impulse response (computed exactly, in float64, from the transform of a
    centred impulse on a support wide enough to touch no boundary). Away from the boundaries, white noise of
    standard deviation σ gives detail coefficients of standard deviation ``σ · starlet_noise_std(J)[j]``
    at scale ``j``; this propagates a known noise level into thresholds (e.g. in GMCA). Shape ``(n_scales,)``.
    """
    nd = _check_ndim(ndim)
    J = _check_n_scales(n_scales)
    size = 4 * 2**J + 1
    delta = torch.zeros((size,) * nd, dtype=torch.float64)
    delta[(size // 2,) * nd] = 1.0
    details, _ = starlet_forward(delta, J, ndim=nd)
    return details.reshape(J, -1).norm(dim=-1).numpy()
