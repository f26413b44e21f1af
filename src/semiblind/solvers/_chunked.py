"""Data read in pixel chunks: separation of an ``X`` too large to be copied into a torch tensor.

Every sum over pixels that PALM, GMCA (direct domain) and LPALM's pixel model need — ``XSᵀ``, ``SSᵀ``, ``AᵀX``,
``XXᵀ``, ``‖X‖²`` — is a sum of the same products over column chunks of ``X``. :class:`PixelChunks` holds ``X``
as it came (a NumPy array or array-like of shape ``(m, t)`` or a cube ``(m, H, W)``: possibly a read-only
``np.memmap``, possibly big-endian as FITS stores it, any real dtype) and yields it as contiguous torch tensors
``(1, m, c)`` of ``c ≤ chunk_pixels`` columns in the computation dtype, one chunk at a time; the sources
``S (n, t)`` stay in memory. Peak memory is therefore ``S`` (a few copies of ``n × t``) plus a few chunks,
never a whole-array copy of ``X``.

A cube's pixels are taken in row-major order (``t = H·W``, as everywhere in semiblind); when the cube's pixel
axes are not contiguous (a FITS file whose spectral axis is not the slowest), a chunk is read from the few image
rows it spans.

:class:`ChunkedFitMixin` gives an estimator the ``chunk_pixels`` hyper-parameter's fit path: with
``chunk_pixels`` set, :meth:`fit` validates ``X`` chunk by chunk (real numbers, finite, not all zero, some
channel varies, magnitudes the dtype can carry: the checks of :func:`semiblind._validation.check_data` and
:func:`semiblind._ranges.check_dynamic_range`) and hands a :class:`PixelChunks` to the estimator's
``_fit_batch`` instead of a tensor. ``transform`` and ``fit_batch`` keep the in-memory path.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from .._backend import resolve_device, resolve_dtype
from .._ranges import check_magnitude
from .._validation import _check_variation, _shape_str, check_array, check_n_sources

VALIDATION_PIXELS = 1 << 16
"""The validation pass reads at most this many pixels at a time (its float64 temporaries stay small)."""


def check_chunk_pixels(value: Any, *, name: str = "chunk_pixels") -> int:
    """``value`` as an int ≥ 1 (pixels per chunk); ``ValueError``/``TypeError`` naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int (pixels per chunk); got {type(value).__name__} {value!r}.")
    if int(value) < 1:
        raise ValueError(f"{name} must be a positive int (pixels per chunk); got {int(value)}.")
    return int(value)


class PixelChunks:
    """``X (m, t)`` or ``(m, H, W)`` read in column chunks of at most ``chunk_pixels`` pixels.

    Iterating yields ``(start, stop, Xb)`` with ``Xb`` a contiguous ``(1, m, stop − start)`` tensor of
    ``dtype`` on ``device`` (each chunk converted from the stored dtype and byte order, times ``scale`` when
    given); the object can be iterated any number of times (one pass over ``X`` each). ``shape`` is
    ``(1, m, t)``, as the batched tensors the solvers take; ``image_shape`` is ``(H, W)`` for a cube, else None.

    Only what the array holds is read: ``X`` is never copied as a whole (a cube whose pixel axes are not
    contiguous is read a few image rows at a time).
    """

    def __init__(self, X: Any, chunk_pixels: int, *, dtype: Any = None, device: Any = None,
                 scale: torch.Tensor | None = None, name: str = "X") -> None:
        x = check_array(X, name=name)
        if x.ndim not in (2, 3):
            raise ValueError(f"{name} must be a 2-D array (channels, pixels) or a 3-D cube (channels, height, "
                             f"width); got an array of shape {_shape_str(x.shape)}.")
        if any(int(s) == 0 for s in x.shape):
            raise ValueError(f"{name} must not be empty; got an array of shape {_shape_str(x.shape)}.")
        if int(x.shape[0]) < 2:
            raise ValueError(f"{name} must have at least 2 channels along its first axis; got {int(x.shape[0])} "
                             f"channel(s) in an array of shape {_shape_str(x.shape)}.")
        self.name = name
        self.chunk_pixels = check_chunk_pixels(chunk_pixels)
        self.dtype = resolve_dtype(dtype)
        self.device = torch.device("cpu") if device is None else resolve_device(device)
        self.scale = scale
        self._x = x
        self.m = int(x.shape[0])
        self.image_shape = (int(x.shape[1]), int(x.shape[2])) if x.ndim == 3 else None
        self.t = int(np.prod(x.shape[1:]))
        self._flat = x if x.ndim == 2 else _flat_view(x)

    # ------------------------------------------------------------------------------------------ description
    @property
    def shape(self) -> tuple[int, int, int]:
        """``(1, m, t)``: one mixture of m channels and t pixels."""
        return (1, self.m, self.t)

    @property
    def n_chunks(self) -> int:
        return -(-self.t // self.chunk_pixels)

    def like(self) -> torch.Tensor:
        """A tensor of shape ``(1, m, t)``, this dtype and device that holds no data (a stride-0 view of one
        zero): for functions that read only the shape, dtype and device of X."""
        return torch.zeros((1, 1, 1), dtype=self.dtype, device=self.device).expand(1, self.m, self.t)

    def scaled(self, scale: torch.Tensor) -> PixelChunks:
        """The same chunks multiplied by ``scale`` (a ``(1, 1, 1)`` tensor) as they are read."""
        out = PixelChunks.__new__(PixelChunks)
        out.__dict__.update(self.__dict__)
        out.scale = scale if self.scale is None else self.scale * scale
        return out

    # ------------------------------------------------------------------------------------------ reading
    def columns(self, start: int, stop: int) -> np.ndarray:
        """Pixels ``start … stop−1`` of every channel, ``(m, stop − start)``, in the stored dtype (a view of X when
        its pixels are contiguous, else a copy of the image rows they span)."""
        if self._flat is not None:
            return self._flat[:, start:stop]
        W = self.image_shape[1]
        r0, r1 = start // W, (stop - 1) // W + 1
        slab = np.asarray(self._x[:, r0:r1, :]).reshape(self.m, -1)
        return slab[:, start - r0 * W: stop - r0 * W]

    def __iter__(self) -> Iterator[tuple[int, int, torch.Tensor]]:
        np_dtype = np.float64 if self.dtype == torch.float64 else np.float32
        for start in range(0, self.t, self.chunk_pixels):
            stop = min(start + self.chunk_pixels, self.t)
            block = self.columns(start, stop)
            if isinstance(block, torch.Tensor):
                Xb = block.to(dtype=self.dtype, device=self.device).contiguous().unsqueeze(0)
            else:  # one copy: native byte order, the computation dtype, contiguous (never a view of a memmap)
                Xb = torch.from_numpy(np.array(block, dtype=np_dtype, order="C", copy=True)).unsqueeze(0)
                if self.device.type != "cpu":
                    Xb = Xb.to(self.device)
            if self.scale is not None:
                Xb = self.scale * Xb
            yield start, stop, Xb

    # ------------------------------------------------------------------------------------------ validation
    def validate(self, *, require_variation: bool = True) -> PixelChunks:
        """The checks of :func:`~semiblind._validation.check_data` and
        :func:`~semiblind._ranges.check_dynamic_range`, one chunk at a time (in float64); returns ``self``."""
        name = self.name
        n_nan = n_inf = 0
        amax = 0.0
        scaled_sq: list[tuple[float, float]] = []  # per chunk: its max |x| and Σ(x/max)²
        lo = np.full(self.m, np.inf)
        hi = np.full(self.m, -np.inf)
        step = min(self.chunk_pixels, VALIDATION_PIXELS)
        for start in range(0, self.t, step):
            block = self.columns(start, min(start + step, self.t))
            if isinstance(block, torch.Tensor):
                block = block.detach().cpu().numpy()
            b = np.asarray(block, dtype=np.float64)
            finite = np.isfinite(b)
            if not finite.all():
                nan = int(np.isnan(b).sum())
                n_nan += nan
                n_inf += int(b.size - finite.sum()) - nan
                continue
            a = float(np.max(np.abs(b)))
            if a > 0:  # Σx² kept as max²·Σ(x/max)²: no overflow in the sums themselves
                scaled_sq.append((a, float(np.sum(np.square(b / a)))))
            amax = max(amax, a)
            np.minimum(lo, b.min(axis=1), out=lo)
            np.maximum(hi, b.max(axis=1), out=hi)
        if n_nan:
            raise ValueError(f"{name} must contain only finite values; got {n_nan} NaN value(s).")
        if n_inf:
            raise ValueError(f"{name} must contain only finite values; got {n_inf} infinite value(s).")
        if amax == 0:
            raise ValueError(f"{name} must not be all zeros; every entry of the array is 0.")
        if require_variation:  # per-channel (min, max) pairs stand for the channels' pixels
            _check_variation(np.stack([lo, hi], axis=1) if self.t > 1 else self._flat_or_rows(), name=name,
                             batched=False)
        mean_sq = sum((a / amax) ** 2 * s for a, s in scaled_sq) / (self.m * self.t)
        self._check_range(amax, math.sqrt(mean_sq) * amax)
        return self

    def _flat_or_rows(self) -> np.ndarray:
        return np.asarray(self.columns(0, self.t), dtype=np.float64)

    def _check_range(self, amax: float, rms: float) -> None:
        """:func:`semiblind._ranges.check_dynamic_range`'s test and sentence from the chunk-wise max and RMS."""
        check_magnitude(amax, rms, self.m * self.t, self.dtype, name=self.name,
                        float64_hint="dtype='float64' (--set dtype=float64)")


def _flat_view(x: Any) -> Any:
    """``x (m, H, W)`` as ``(m, H·W)`` without copying, or None when its pixel axes are not contiguous."""
    if isinstance(x, torch.Tensor):
        try:
            return x.view(x.shape[0], -1)
        except RuntimeError:
            return None
    v = x.view()
    try:
        v.shape = (x.shape[0], -1)  # raises instead of copying
    except AttributeError:
        return None
    return v


class ChunkedFitMixin:
    """The ``chunk_pixels`` fit path of an estimator (see the module docstring).

    The estimator stores ``chunk_pixels`` (None: the in-memory path) and its ``_fit_batch`` accepts a
    :class:`PixelChunks` in place of the tensor ``X (B, m, t)``.
    """

    @classmethod
    def supports_chunks(cls) -> bool:
        """Whether this method separates in pixel chunks (a subclass whose computation cannot be chunked says
        no, and ``chunk_pixels`` then raises ``ValueError``)."""
        return True

    def _prepare(self, X: Any, batched: bool) -> tuple[Any, tuple[int, ...] | None]:
        chunk = getattr(self, "chunk_pixels", None)
        if chunk is None or not getattr(self, "_fitting", True):
            return super()._prepare(X, batched)  # type: ignore[misc]
        if not self.supports_chunks():
            raise ValueError(f"chunk_pixels must be None for method {getattr(self, 'name', type(self).__name__)!r}, "
                             f"which does not separate in pixel chunks; got {chunk!r}.")
        if batched:
            raise ValueError(f"chunk_pixels applies to fit(X) on one mixture (m, t) or (m, H, W); fit_batch got "
                             f"{type(self).__name__} chunk_pixels={chunk!r}: fit the mixtures one by one or set "
                             "chunk_pixels=None.")
        data = PixelChunks(X, chunk, dtype=self._dtype, device=self._device)  # type: ignore[attr-defined]
        check_n_sources(self.n_sources, data.m)  # type: ignore[attr-defined]
        data.validate(require_variation=True)
        return data, data.image_shape


__all__ = ["ChunkedFitMixin", "PixelChunks", "check_chunk_pixels"]
