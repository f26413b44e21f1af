"""Array conventions: torch tensors inside, NumPy at the public API.

Every public function accepts NumPy arrays or torch tensors and, unless documented otherwise, returns the same
kind it was given. Internally all computation is batched torch (leading batch dimension ``B``), float32 by
default, float64 on request, on any device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

DEFAULT_DTYPE = torch.float32

_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float": torch.float32,
    "double": torch.float64,
}


def resolve_dtype(dtype: Any) -> torch.dtype:
    """Map ``None``/``"float32"``/``"float64"``/``numpy`` or ``torch`` float dtypes to a torch float dtype."""
    if dtype is None:
        return DEFAULT_DTYPE
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be float32 or float64; got {dtype}.")
        return dtype
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    try:
        np_dtype = np.dtype(dtype)
    except TypeError:
        np_dtype = None
    if np_dtype == np.float32:
        return torch.float32
    if np_dtype == np.float64:
        return torch.float64
    raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}.")


def as_tensor(x: Any, dtype: Any = None, device: Any = None) -> torch.Tensor:
    """Convert ``x`` (NumPy array, tensor, nested list) to a float torch tensor (no copy when possible)."""
    dt = resolve_dtype(dtype)
    if isinstance(x, torch.Tensor):
        return x.to(dtype=dt, device=device if device is not None else x.device)
    arr = np.asarray(x)
    return torch.as_tensor(np.ascontiguousarray(arr), dtype=dt, device=device)


def to_numpy(x: Any) -> np.ndarray:
    """Detach a tensor and return a NumPy array (arrays pass through)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def like_input(result: torch.Tensor, reference: Any) -> Any:
    """Return ``result`` as a tensor if ``reference`` was a tensor, else as a NumPy array."""
    if isinstance(reference, torch.Tensor):
        return result
    return to_numpy(result)


def float_dtype_of(x: Any) -> torch.dtype:
    """The float dtype to compute in for input ``x``: float64 stays float64, everything else is float32."""
    if isinstance(x, torch.Tensor):
        return torch.float64 if x.dtype == torch.float64 else torch.float32
    arr = np.asarray(x)
    return torch.float64 if arr.dtype == np.float64 else torch.float32


def spectral_norm_sq(M: torch.Tensor) -> torch.Tensor:
    """Largest eigenvalue of ``MᵀM`` (= ‖M‖₂²) for a batch of matrices ``(..., p, q)``; shape ``(...)``.

    Used for Lipschitz constants: L_S = ‖AᵀA‖₂ = ‖A‖₂² and L_A = ‖SSᵀ‖₂ = ‖S‖₂².
    Computed from the smaller Gram matrix with a symmetric eigen-solver.
    """
    p, q = M.shape[-2], M.shape[-1]
    G = M.mT @ M if q <= p else M @ M.mT
    return torch.linalg.eigvalsh(G)[..., -1].clamp_min(0)


def make_rng(random_state: Any) -> np.random.Generator:
    """``None``/int/``SeedSequence``/``Generator`` → ``numpy.random.Generator``; a Generator is kept."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, (int, np.integer, np.random.SeedSequence)):
        return np.random.default_rng(random_state)
    raise TypeError(
        "random_state must be None, an int or a numpy.random.Generator; "
        f"got {type(random_state).__name__}."
    )
