"""GMCA: Generalized Morphological Component Analysis, in the starlet domain or in the direct (pixel) domain.

Bobin, Starck, Fadili & Moudden (2007), "Sparsity and morphological diversity in blind source separation",
IEEE TIP 16(11); in the form described in the sGMCA paper (Gertosio, Bobin & Acero 2023, "Semi-blind source
separation with learned constraints", §3.3). Sparsity is sought in the starlet domain
(:mod:`semiblind.transforms`): every channel of ``X`` is transformed once, ``X → (X_w, X_c)`` with
detail coefficients ``X_w`` ``(B, m, J, t)`` and coarse scale ``X_c`` ``(B, m, t)``; 1-D signals are
transformed along the pixels, images ``(H, W)`` with the 2-D transform. With ``sparse_transform="none"``
sparsity is sought in the direct domain: ``X_w = X`` (one "scale", no coarse part), the right choice for
``(m, t)`` pixel lists whose order is not spatial and the default for them (``"starlet"`` is the default for
cubes). Then:

1. **Initialisation** (:func:`gmca_init_pca`): the columns of A are the ``n`` leading eigenvectors of the
   detail-scale covariance ``X_w X_wᵀ``, sorted by decreasing eigenvalue (each with a nonnegative sum).
2. **S-step** (:func:`gmca_update_s`): ``S_w ← A⁺ X_w`` with the pseudo-inverse's singular values floored
   (:func:`gmca_pinv`); for every source ``i`` and detail scale ``j`` a noise level ``σ_ij`` — the MAD
   (:func:`mad_std`, ``median|x − median x| / 0.6745``) of the coefficients, or the known noise
   propagated through ``A⁺`` and the starlet scale (:func:`propagated_noise_std`) — and a threshold
   (:func:`gmca_thresholds`): among the ``N_ij = #{|c| > kσ_ij}`` significant coefficients only the
   largest ``max(⌊K·N_ij⌋, min_coefficients)`` are kept, i.e. ``thr_ij`` is the next largest magnitude.
   The support fraction ``K`` grows linearly with the iterations up to ``K_max``; once ``K = K_max`` the
   thresholds are ℓ1-reweighted elementwise, ``thr_ij / (|S_prev| / (kσ_ij) + 1)`` (Candès, Wakin & Boyd
   2008). Soft thresholding. The coarse scale is never thresholded (and not used to estimate A).
3. **A-step** (:func:`gmca_update_a`): least squares on the detail scales,
   ``A ← X_w S_wᵀ (S_w S_wᵀ)⁻¹``, then optionally clipped at zero, and every column normalised to unit
   ℓ2 norm.
4. Stop when the relative change ``‖S_w^(k) − S_w^(k−1)‖_F / ‖S_w^(k)‖_F`` falls below ``tol`` (tested
   only once ``K = K_max``) or after ``max_iter`` iterations; then a final S estimate (see :class:`GMCA`,
   ``final_s``).

Everything is batched over ``B`` with per-sample stopping (converged samples are frozen by a mask); the
per-row thresholds use selection over the whole batch at once (no loop over samples, sources or scales).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch

from .._backend import make_rng
from .._validation import BOOL, NONE, InstanceOf, Interval, Options, check_initial_mixing
from ..prox import project_columns_sphere, soft_threshold
from ..stats import MAD_CONSTANT, kth_smallest, kth_smallest_np, mad_rows_np, mad_std, numpy_fast_path, row_median
from ..transforms import starlet_forward, starlet_noise_std
from ._chunked import ChunkedFitMixin, PixelChunks
from .base import COMMON_CONSTRAINTS, BaseSeparator, FitResult, register
from .driver import iterate, summary_line

INITS = ("pca", "random", "given")
TRANSFORMS = ("starlet", "none")
FINAL_S = ("thresholded", "least_squares")

__all__ = [
    "GMCA",
    "MAD_CONSTANT",
    "TRANSFORMS",
    "gmca",
    "gmca_init_pca",
    "gmca_iteration",
    "gmca_pinv",
    "gmca_thresholds",
    "gmca_update_a",
    "gmca_update_s",
    "mad_std",
    "propagated_noise_std",
    "relative_change",
    "resolve_transform",
    "row_median",
    "support_fraction_schedule",
]


# ------------------------------------------------------------------------------------------ the iterates


def gmca_pinv(A: torch.Tensor, sv_floor: float = 1e-3) -> torch.Tensor:
    """Pseudo-inverse ``A⁺ = V diag(1/max(s, sv_floor·s_max)) Uᵀ`` of ``A (..., m, n)`` with the singular
    values floored relative to the largest one (bounds the noise amplification at
    ``1/(sv_floor·s_max)``)."""
    U, s, Vh = torch.linalg.svd(A, full_matrices=False)
    s_f = torch.maximum(s, sv_floor * s[..., :1]).clamp_min(torch.finfo(A.dtype).tiny)
    return Vh.mT @ (U.mT / s_f.unsqueeze(-1))


def gmca_init_pca(Xw: torch.Tensor | None, n_sources: int, *, gram: torch.Tensor | None = None) -> torch.Tensor:
    """GMCA initialisation: the ``n_sources`` leading eigenvectors of ``X_w X_wᵀ`` ``(B, m, m)``, sorted by
    decreasing eigenvalue, as the columns of A ``(B, m, n)``.

    ``Xw`` is ``(B, m, N)`` (the detail coefficients of every channel, flattened); or pass ``gram`` =
    ``X_w X_wᵀ`` itself (e.g. accumulated over pixel chunks; ``Xw`` is then not read). ``torch.linalg.eigh``
    returns eigenvalues in ascending order, so the last ``n`` eigenvectors are taken in reverse. Signs are
    fixed so that each column has a nonnegative sum (spectra are mostly positive).
    """
    C = Xw @ Xw.mT if gram is None else gram
    _, V = torch.linalg.eigh(C)
    A = V[..., -n_sources:].flip(-1)
    sign = torch.where(A.sum(dim=-2, keepdim=True) < 0, -1.0, 1.0).to(A.dtype)
    return A * sign


def propagated_noise_std(
    pinvA: torch.Tensor, noise_std: torch.Tensor, scale_std: torch.Tensor
) -> torch.Tensor:
    """Noise level of the coefficients of ``S_w = A⁺ X_w`` when the noise on ``X`` is white and known.

    ``σ_ij = sqrt(Σ_c (A⁺)_ic² σ_c²) · s_j`` with ``pinvA (B, n, m)``, per-channel
    ``noise_std (B or 1, m)`` and ``scale_std (J,)`` = :func:`semiblind.transforms.starlet_noise_std`.
    Returns ``(B, n, J)``.
    """
    per_source = torch.sqrt((pinvA**2 * noise_std.unsqueeze(-2) ** 2).sum(-1))
    return per_source.unsqueeze(-1) * scale_std


def gmca_thresholds(
    C: torch.Tensor,
    *,
    k: float,
    support_fraction: float,
    min_coefficients: int,
    sigma: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-source, per-scale thresholds of GMCA's S-step (sGMCA paper §3.3).

    ``C`` ``(B, n, J, P)``: the coefficients ``A⁺X_w``. ``σ`` ``(B, n, J)``: given (known noise) or the MAD of
    each row of ``C``. With ``N = #{|c| > kσ}`` and ``n_keep = min(P, max(⌊K·N⌋, min_coefficients))``, the
    threshold is the ``(n_keep + 1)``-th largest ``|c|`` (0 when ``n_keep = P``), so that soft
    thresholding keeps exactly ``n_keep`` coefficients. Returns ``(thr, σ)``, both ``(B, n, J, 1)``.
    """
    thr, sig, _ = _thresholds_and_magnitudes(C, k, support_fraction, min_coefficients, sigma)
    return thr, sig


def _thresholds_and_magnitudes(
    C: torch.Tensor, k: float, support_fraction: float, min_coefficients: int, sigma: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`gmca_thresholds` plus ``|C|`` ``(B, n, J, P)``, which the S-step reuses.

    Two implementations of the same arithmetic: NumPy selection on the CPU (fast), torch selection
    (:func:`~semiblind.stats.kth_smallest`, ``kthvalue``) elsewhere or when gradients are recorded.
    ``⌊K·N⌋`` is computed in float64 in both.
    """
    B, n, J, P = C.shape
    rows = C.reshape(-1, P)
    if numpy_fast_path(rows):
        a = rows.detach().numpy()
        sig_np = mad_rows_np(a) if sigma is None else sigma.detach().reshape(-1).to(C.dtype).numpy()
        mag = np.abs(a)
        n_sig = np.count_nonzero(mag > (k * sig_np)[:, None], axis=-1)
        n_keep = np.clip(np.floor(support_fraction * n_sig).astype(np.int64), min_coefficients, P)
        thr_np = kth_smallest_np(mag, np.maximum(P - 1 - n_keep, 0))
        thr_np[n_keep >= P] = 0
        thr, sig, absC = torch.from_numpy(thr_np), torch.from_numpy(np.ascontiguousarray(sig_np)), \
            torch.from_numpy(mag)
    else:
        sig = mad_std(rows) if sigma is None else sigma.reshape(-1).to(C.dtype)
        absC = rows.abs()
        n_sig = (absC > (k * sig).unsqueeze(-1)).sum(-1)
        n_keep = torch.floor(support_fraction * n_sig.double()).long().clamp(min_coefficients, P)
        index = (P - 1 - n_keep).clamp_min(0)
        thr = kth_smallest(absC, index)  # one selection pass, no sort
        thr = torch.where(n_keep >= P, torch.zeros_like(thr), thr)
    return thr.view(B, n, J, 1), sig.view(B, n, J, 1), absC.view(B, n, J, P)


def gmca_update_s(
    A: torch.Tensor,
    Xw: torch.Tensor,
    *,
    k: float = 3.0,
    support_fraction: float = 0.5,
    min_coefficients: int = 5,
    S_prev: torch.Tensor | None = None,
    noise_std: torch.Tensor | None = None,
    scale_std: torch.Tensor | None = None,
    sv_floor: float = 1e-3,
    pinvA: torch.Tensor | None = None,
    coefficients: torch.Tensor | None = None,
) -> torch.Tensor:
    """GMCA's S-step in the starlet domain: ``S_w ← ST_thr(A⁺ X_w)`` (sGMCA paper §3.3).

    ``A`` ``(B, m, n)``; ``Xw`` ``(B, m, J, P)`` (detail scales only; the coarse scale is never thresholded).
    Thresholds from :func:`gmca_thresholds` (noise level: MAD, or ``noise_std (B or 1, m)`` propagated
    with the starlet scale norms ``scale_std (J,)``). With ``S_prev`` ``(B, n, J, P)`` the thresholds are
    ℓ1-reweighted elementwise: ``thr / (|S_prev| / (kσ) + 1)``. ``pinvA`` may be passed precomputed, and so may
    ``coefficients`` = ``A⁺X_w`` ``(B, n, J, P)`` (e.g. computed over pixel chunks; ``Xw`` is then not read).
    Returns ``(B, n, J, P)``.
    """
    if pinvA is None:
        pinvA = gmca_pinv(A, sv_floor)
    if coefficients is None:
        B, m, J, P = Xw.shape
        n = pinvA.shape[-2]
        C = (pinvA @ Xw.reshape(B, m, J * P)).view(B, n, J, P)
    else:
        C = coefficients
    sigma = None
    if noise_std is not None:
        if scale_std is None:
            raise ValueError("scale_std must be given with noise_std (the starlet noise level of each "
                             "scale); got None.")
        sigma = propagated_noise_std(pinvA, noise_std, scale_std)
    thr, sig, absC = _thresholds_and_magnitudes(C, k, support_fraction, min_coefficients, sigma)
    if S_prev is not None:
        # thr / (|S_prev|/(kσ) + 1) written as (thr·kσ) / (|S_prev| + kσ): fewer passes over S.
        ksig = (k * sig).clamp_min(torch.finfo(C.dtype).tiny)
        thr = thr * ksig / (S_prev.abs() + ksig)
    return soft_threshold(C, thr)


def gmca_update_a(
    Xw: torch.Tensor,
    S_w: torch.Tensor,
    *,
    A_prev: torch.Tensor | None = None,
    nonnegative: bool = False,
    XSt: torch.Tensor | None = None,
) -> torch.Tensor:
    """GMCA's A-step: least squares on the detail scales, ``A ← X_w S_wᵀ (S_w S_wᵀ)⁻¹``, then (optionally)
    ``max(A, 0)``, then unit-ℓ2 columns (sGMCA paper §3.3).

    ``Xw`` ``(B, m, J, P)`` or ``(B, m, N)``; ``S_w`` ``(B, n, J, P)`` or ``(B, n, N)``. ``XSt`` = ``X_w S_wᵀ``
    ``(B, m, n)`` may be passed precomputed (e.g. accumulated over pixel chunks; ``Xw`` is then not read). The
    normal equations carry a ridge of ``eps·tr(S_w S_wᵀ)/n`` (machine epsilon) so a source with no coefficient
    left does not make them singular (where they still are, exactly, the pseudo-inverse solves them); a column
    that ends all zero keeps its value from ``A_prev`` (if given).
    """
    B, n = S_w.shape[:2]
    Sf = S_w.reshape(B, n, -1)
    G = Sf @ Sf.mT
    R = (Sf @ Xw.reshape(B, Xw.shape[1], -1).mT).mT if XSt is None else XSt  # S Xᵀ: faster
    eye = torch.eye(n, dtype=G.dtype, device=G.device)
    ridge = (torch.finfo(G.dtype).eps * G.diagonal(dim1=-2, dim2=-1).sum(-1) / n).clamp_min(
        torch.finfo(G.dtype).tiny)
    M = G + ridge.view(B, 1, 1) * eye
    sol, lu_info = torch.linalg.solve_ex(M, R.mT)
    singular = lu_info != 0  # e.g. two sources left with the same few coefficients: fall back to the pseudo-inverse
    if bool(singular.any()):
        sol = torch.where(singular.view(B, 1, 1), torch.linalg.pinv(M) @ R.mT, sol)
    A = sol.mT
    if nonnegative:
        A = A.clamp_min(0)
    norms = torch.linalg.vector_norm(A, dim=-2, keepdim=True)
    A = A / norms.clamp_min(torch.finfo(A.dtype).tiny)  # a division, kept bit for bit: see below
    # Not prox.project_columns_sphere (a product with 1/norm): one ulp of difference in A changes which
    # coefficients the next thresholds keep, and float32 runs then drift apart by up to 1e-2 in S.
    if A_prev is not None:
        A = torch.where(norms > 0, A, A_prev)
    return A


def support_fraction_schedule(iteration: int, K_max: float, n_ramp: int) -> float:
    """``K = K_max · min(1, (iteration + 1) / n_ramp)`` for 0-based ``iteration``: linear growth to ``K_max``
    over the first ``n_ramp`` iterations, then constant."""
    return K_max * min(1.0, (iteration + 1) / n_ramp)


def gmca_iteration(
    A: torch.Tensor,
    Xw: torch.Tensor,
    S_prev: torch.Tensor | None,
    *,
    k: float,
    support_fraction: float,
    min_coefficients: int,
    reweight: bool,
    noise_std: torch.Tensor | None = None,
    scale_std: torch.Tensor | None = None,
    sv_floor: float = 1e-3,
    nonnegative_mixing: bool = False,
    coefficients: Callable[[torch.Tensor], torch.Tensor] | None = None,
    xs_product: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One GMCA iteration: :func:`gmca_update_s` (reweighted with ``S_prev`` when ``reweight``), then
    :func:`gmca_update_a`. Returns ``(A_new (B, m, n), S_w (B, n, J, P), ΔS (B,))`` with the relative change
    ``ΔS = ‖S_w − S_prev‖_F / ‖S_w‖_F`` per sample (1 when ``S_prev`` is None, :func:`relative_change`).

    For X read in pixel chunks the two products with the data come from callables instead of ``Xw`` (then
    unused): ``coefficients(A⁺)`` returns ``A⁺X_w`` ``(B, n, J, P)`` and ``xs_product(S_w)`` returns
    ``X_w S_wᵀ`` ``(B, m, n)``."""
    pinvA = gmca_pinv(A, sv_floor)
    S_w = gmca_update_s(A, Xw, k=k, support_fraction=support_fraction, min_coefficients=min_coefficients,
                        S_prev=S_prev if (reweight and S_prev is not None) else None, noise_std=noise_std,
                        scale_std=scale_std, sv_floor=sv_floor, pinvA=pinvA,
                        coefficients=None if coefficients is None else coefficients(pinvA))
    A_new = gmca_update_a(Xw, S_w, A_prev=A, nonnegative=nonnegative_mixing,
                          XSt=None if xs_product is None else xs_product(S_w))
    return A_new, S_w, relative_change(S_w, S_prev)


def relative_change(S_w: torch.Tensor, S_prev: torch.Tensor | None) -> torch.Tensor:
    """GMCA's stopping quantity ``‖S_w − S_prev‖_F / ‖S_w‖_F`` per sample ``(B,)`` (1 when ``S_prev`` is None)."""
    B = S_w.shape[0]
    if S_prev is None:
        return torch.ones(B, dtype=S_w.dtype, device=S_w.device)
    return (torch.linalg.vector_norm((S_w - S_prev).reshape(B, -1), dim=-1)
            / torch.linalg.vector_norm(S_w.reshape(B, -1), dim=-1).clamp_min(torch.finfo(S_w.dtype).tiny))


# ------------------------------------------------------------------------------------------ the solver


def _noise_tensor(noise_std: Any, m: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor | None:
    if noise_std is None:
        return None
    raw = noise_std.detach().cpu() if isinstance(noise_std, torch.Tensor) else noise_std
    arr = np.asarray(raw, dtype=float)
    if arr.ndim == 0:
        arr = np.full(m, float(arr))
    if arr.shape != (m,) or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"noise_std must be a positive number or an array of {m} positive per-channel "
                         f"values; got {'shape ' + str(arr.shape) if arr.shape != (m,) else arr}.")
    return torch.as_tensor(arr, dtype=dtype, device=device).view(1, m)


def _initial_mixing(Xw_flat: torch.Tensor, n: int, init: str, A0: Any, rng: Any,
                    gram: Callable[[], torch.Tensor] | None = None) -> torch.Tensor:
    """The start ``(B, m, n)``; ``Xw_flat`` gives the shape, dtype and device (and the PCA's Gram matrix unless
    ``gram()`` returns it)."""
    B, m, _ = Xw_flat.shape
    dtype, device = Xw_flat.dtype, Xw_flat.device
    if init == "pca":
        return gmca_init_pca(Xw_flat, n) if gram is None else gmca_init_pca(None, n, gram=gram())
    if init == "random":
        G = torch.as_tensor(make_rng(rng).standard_normal((B, m, n)), dtype=dtype, device=device)
        return project_columns_sphere(G)
    if A0 is None:
        raise ValueError("A0 must be given (an array (channels, sources)) when init='given'; got None.")
    A = check_initial_mixing(A0, batch=B, n_channels=m, n_sources=n, dtype=dtype, device=device)
    return project_columns_sphere(A)


def gmca(
    X: torch.Tensor | PixelChunks,
    n_sources: int,
    *,
    image_shape: tuple[int, int] | None = None,
    n_scales: int = 3,
    k: float = 3.0,
    K_max: float = 0.5,
    n_ramp: int | None = None,
    max_iter: int = 200,
    tol: float = 1e-6,
    min_coefficients: int = 5,
    reweighting: bool = True,
    nonnegative_mixing: bool = False,
    noise_std: Any = None,
    sv_floor: float = 1e-3,
    init: str = "pca",
    A0: Any = None,
    final_s: str = "least_squares",
    rng: Any = None,
    transform: str | None = None,
    callback: Any = None,
    verbose: bool = False,
) -> FitResult:
    """Run GMCA on a batch ``X (B, m, t)`` (``t = H·W`` pixels, row-major, when ``image_shape`` is given).

    See :class:`GMCA` for the parameters and the module docstring for the algorithm. Returns a
    :class:`~semiblind.solvers.base.FitResult` with ``A (B, m, n)``, ``S (B, n, t)``, per-sample
    ``n_iter`` and ``converged``, and ``history["delta_S"]`` (relative change of the thresholded detail
    coefficients at each iteration, first sample).

    ``X`` may also be one mixture read in pixel chunks (:class:`~semiblind.solvers._chunked.PixelChunks`): then
    only the direct domain is available (``transform`` None or ``"none"``; the starlet transform mixes
    neighbouring pixels across chunks) and the products with X — the PCA start's ``XXᵀ``, each iteration's
    ``A⁺X`` and ``XS_wᵀ``, the final ``A⁺X`` — are computed chunk by chunk (two passes over X per iteration);
    the thresholds are statistics of the rows of ``A⁺X`` ``(n, t)``, which is held in memory. The result equals
    the in-memory one up to the order of the floating-point sums.
    """
    chunked = isinstance(X, PixelChunks)
    B, m, t = X.shape
    n = int(n_sources)
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(repr(i) for i in INITS)}; got {init!r}.")
    if final_s not in FINAL_S:
        raise ValueError(f"final_s must be one of {', '.join(repr(f) for f in FINAL_S)}; got {final_s!r}.")
    ramp = max(1, max_iter // 2) if n_ramp is None else int(n_ramp)
    transform = resolve_transform(transform, image_shape, chunked=chunked)
    coefficients = xs_product = gram = None
    if chunked:  # the direct domain, X read chunk by chunk (X_w = X, one "scale", no coarse part)
        n_scales = 1
        Xw = Xc = None
        ndim = None
        dtype, device = X.dtype, X.device

        def coefficients(pinvA: torch.Tensor) -> torch.Tensor:  # A⁺X (B, n, 1, t)
            C = torch.empty((B, pinvA.shape[-2], 1, t), dtype=dtype, device=device)
            for a, b, Xb in X:
                C[..., 0, a:b] = pinvA @ Xb
            return C

        def xs_product(S_w: torch.Tensor) -> torch.Tensor:  # X S_wᵀ (B, m, n)
            R = torch.zeros((B, m, S_w.shape[1]), dtype=dtype, device=device)
            for a, b, Xb in X:
                R += (S_w[:, :, 0, a:b] @ Xb.mT).mT
            return R

        def gram() -> torch.Tensor:  # X Xᵀ (B, m, m)
            G = torch.zeros((B, m, m), dtype=dtype, device=device)
            for _, _, Xb in X:
                G += Xb @ Xb.mT
            return G
    elif transform == "none":  # sparsity sought in the direct (pixel) domain: one "scale", X itself, no coarse part
        n_scales = 1
        Xw = X.reshape(B, m, 1, t)
        Xc = torch.zeros_like(X)
        ndim = None
    elif image_shape is not None:
        H, W = image_shape
        d, c = starlet_forward(X.reshape(B, m, H, W), n_scales, ndim=2)
        Xw = d.reshape(B, m, n_scales, H * W)
        Xc = c.reshape(B, m, t)
        ndim = 2
    else:
        Xw, Xc = starlet_forward(X, n_scales, ndim=1)
        ndim = 1
    J = n_scales
    sig_noise = _noise_tensor(noise_std, m, X.dtype, X.device)
    std_J = [1.0] if ndim is None else starlet_noise_std(J, ndim=ndim)  # noise std of each scale (white noise)
    scale_std = torch.as_tensor(std_J, dtype=X.dtype, device=X.device)
    Xw_flat = X.like() if chunked else Xw.reshape(B, m, J * t)
    A = _initial_mixing(Xw_flat, n, init, A0, rng, gram=gram)

    def step(it, state, ctx):
        S_prev = state.get("S_w")
        K = support_fraction_schedule(it, K_max, ramp)
        reweight = reweighting and S_prev is not None and it >= ramp - 1
        A_new, S_w, delta = gmca_iteration(
            state["A"], Xw, S_prev, k=k, support_fraction=K, min_coefficients=min_coefficients,
            reweight=reweight, noise_std=sig_noise, scale_std=scale_std, sv_floor=sv_floor,
            nonnegative_mixing=nonnegative_mixing, coefficients=coefficients, xs_product=xs_product,
        )
        done = (delta < tol) if it >= ramp else None  # tested once K = K_max
        return {"A": A_new, "S_w": S_w}, done, {"delta_S": delta[0]}

    run = iterate(step, {"A": A}, batch=B, max_iter=max_iter, callback=callback, verbose=verbose, desc="GMCA")
    A, S_prev = run.values["A"], run.values.get("S_w")
    n_iter, converged = run.n_iter, run.converged
    history = run.history.get("delta_S", [])

    pinvA = gmca_pinv(A, sv_floor)
    if final_s == "least_squares":
        S = coefficients(pinvA)[:, :, 0] if chunked else pinvA @ X
    else:
        S_w = gmca_update_s(A, Xw, k=k, support_fraction=K_max, min_coefficients=min_coefficients,
                            S_prev=S_prev if reweighting else None, noise_std=sig_noise, scale_std=scale_std,
                            pinvA=pinvA, coefficients=coefficients(pinvA) if chunked else None)
        S = S_w.sum(dim=2) if chunked else S_w.sum(dim=2) + pinvA @ Xc  # direct domain: no coarse part
    info: dict[str, Any] = {"transform": transform}
    if chunked:
        info.update(chunk_pixels=X.chunk_pixels, chunks=X.n_chunks)
    return FitResult(A=A, S=S, n_iter=n_iter, converged=converged, history={"delta_S": history}, info=info)


def resolve_transform(transform: str | None, image_shape: tuple[int, ...] | None, *, chunked: bool = False) -> str:
    """GMCA's sparsifying domain: ``"starlet"`` or ``"none"`` as given; None picks ``"starlet"`` for images
    (``image_shape`` given, i.e. cube input) and ``"none"`` (the direct, pixel domain) for ``(m, t)`` data,
    whose pixel order need not be spatial. With ``chunked`` (X read in pixel chunks) only ``"none"`` is
    available: None gives it, ``"starlet"`` raises ``ValueError``."""
    if transform is not None and transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {', '.join(map(repr, TRANSFORMS))} or None; got {transform!r}.")
    if chunked:
        if transform == "starlet":
            raise ValueError("sparse_transform must be 'none' (or None) with chunk_pixels: the starlet transform "
                             "mixes neighbouring pixels across chunks, so GMCA in pixel chunks works in the direct "
                             "domain only; got 'starlet'.")
        return "none"
    if transform is None:
        return "starlet" if image_shape is not None else "none"
    return transform


ARRAY = InstanceOf((np.ndarray, torch.Tensor, list, tuple), "an array")


@register
class GMCA(ChunkedFitMixin, BaseSeparator):
    """GMCA (Bobin et al. 2007; sGMCA paper §3.3): sparse blind source separation in the starlet domain.

    Parameters (keyword-only; defaults in brackets)
    -----------------------------------------------
    n_sources : number of sources n [2].
    n_scales : number J of starlet detail scales [3]; 1-D along the pixels, 2-D for cube input (starlet only).
    k : threshold in units of the noise level σ, ``kσ`` [3.0].
    K_max : final support fraction: at most ``K·#{|c| > kσ}`` coefficients are kept per source and scale
        [0.5].
    n_ramp : iterations over which K grows linearly from ``K_max/n_ramp`` to ``K_max``
        [None: ``max_iter // 2``, i.e. 100]; ℓ1 reweighting and the stopping test start once ``K = K_max``.
    max_iter : maximum number of iterations [200].
    tol : stop when ``‖ΔS_w‖_F / ‖S_w‖_F < tol`` (thresholded detail coefficients) [1e-6]; float32 rounding
        rarely lets a run go much below 1e-7.
    min_coefficients : at least this many coefficients are kept per source and scale [5].
    reweighting : ℓ1-reweighted thresholds ``thr / (|S_prev| / (kσ) + 1)`` once ``K = K_max`` [True].
    nonnegative_mixing : clip A at zero before normalising its columns [False].
    noise_std : known standard deviation of the white noise on X, a number or one value per channel ``(m,)``;
        it is propagated through ``A⁺`` and the starlet scales to set σ. [None: σ from the MAD of each
        source's coefficients at each scale].
    sv_floor : singular values of A below ``sv_floor · s_max`` are raised to it in ``A⁺`` [1e-3].
    init : ``"pca"`` (leading eigenvectors of the detail-scale covariance, by decreasing eigenvalue),
        ``"random"`` (Gaussian, unit columns, from ``random_state``) or ``"given"`` (``A0``) ["pca"].
    A0 : ``(m, n)`` or ``(B, m, n)`` starting mixing matrix for ``init="given"`` [None].
    final_s : the sources returned after the last iteration [``"least_squares"``: ``A⁺X`` with the final A,
        unbiased]; ``"thresholded"``: one more S-step with the final A (thresholds at ``K_max``, reweighted),
        summed over the detail scales, plus the unthresholded coarse scale ``A⁺X_c`` — a denoised estimate for
        sources that are sparse in the starlet domain (smooth images); on sources sparse pixel by pixel it is
        much worse (measured in ``docs/results.md``, "GMCA").
    sparse_transform : ``"starlet"`` (sparsity of the starlet detail coefficients), ``"none"`` (sparsity of the
        pixels themselves; ``n_scales`` is then unused) or None [None: ``"starlet"`` for cube input ``(m, H, W)``,
        ``"none"`` for ``(m, t)`` data]. The one used is in ``info_["transform"]``. (Not named ``transform``:
        that is the estimator's method.) CLI: ``--set sparse_transform=none``.
    chunk_pixels : None (default: X converted to one tensor) or an int ≥ 1: :meth:`fit` reads X ``(m, t)`` or
        ``(m, H, W)`` — e.g. a read-only ``np.memmap`` of a FITS file — in chunks of this many pixels and never
        copies it whole (CLI ``--chunk-pixels``). Direct domain only: ``sparse_transform`` None then means
        ``"none"`` also for cubes, and ``"starlet"`` raises ``ValueError`` (the starlet transform mixes
        neighbouring pixels across chunks). Same result as the in-memory direct-domain fit up to the order of the
        floating-point sums; :meth:`transform` and :meth:`fit_batch` keep the in-memory path.
    random_state, dtype (``"float32"`` default, or ``"float64"``), device, verbose: as everywhere.

    Fitted attributes: ``mixing_`` ``(m, n)``, ``sources_`` ``(n, t)`` or ``(n, H, W)``, ``n_iter_``,
    ``converged_``, ``history_["delta_S"]``, ``seconds_``. :meth:`transform` returns the least-squares sources
    ``A⁺X`` (floored singular values) for new data.
    """

    name: ClassVar[str] = "gmca"
    family: ClassVar[str] = "sparse BSS in the starlet domain, MAD thresholds"
    reference: ClassVar[str] = "Bobin et al. 2007"
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **COMMON_CONSTRAINTS,
        "n_scales": [Interval(int, 1, None, closed="left")],
        "k": [Interval(float, 0, None, closed="neither")],
        "K_max": [Interval(float, 0, 1, closed="right")],
        "n_ramp": [Interval(int, 1, None, closed="left"), NONE],
        "max_iter": [Interval(int, 1, None, closed="left")],
        "tol": [Interval(float, 0, None, closed="left")],
        "min_coefficients": [Interval(int, 1, None, closed="left")],
        "reweighting": [BOOL],
        "nonnegative_mixing": [BOOL],
        "noise_std": [Interval(float, 0, None, closed="neither"), ARRAY, NONE],
        "sv_floor": [Interval(float, 0, 1, closed="both")],
        "init": [Options(INITS)],
        "A0": [ARRAY, NONE],
        "final_s": [Options(FINAL_S)],
        "sparse_transform": [Options(TRANSFORMS), NONE],
        "chunk_pixels": [Interval(int, 1, None, closed="left"), NONE],
    }

    def __init__(
        self,
        *,
        n_sources: int = 2,
        n_scales: int = 3,
        k: float = 3.0,
        K_max: float = 0.5,
        n_ramp: int | None = None,
        max_iter: int = 200,
        tol: float = 1e-6,
        min_coefficients: int = 5,
        reweighting: bool = True,
        nonnegative_mixing: bool = False,
        noise_std: Any = None,
        sv_floor: float = 1e-3,
        init: str = "pca",
        A0: Any = None,
        final_s: str = "least_squares",
        sparse_transform: str | None = None,
        chunk_pixels: int | None = None,
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        self.n_sources = n_sources
        self.n_scales = n_scales
        self.k = k
        self.K_max = K_max
        self.n_ramp = n_ramp
        self.max_iter = max_iter
        self.tol = tol
        self.min_coefficients = min_coefficients
        self.reweighting = reweighting
        self.nonnegative_mixing = nonnegative_mixing
        self.noise_std = noise_std
        self.sv_floor = sv_floor
        self.init = init
        self.A0 = A0
        self.final_s = final_s
        self.sparse_transform = sparse_transform
        self.chunk_pixels = chunk_pixels
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        res = gmca(
            X, self.n_sources, image_shape=image_shape, n_scales=self.n_scales, k=self.k, K_max=self.K_max,
            n_ramp=self.n_ramp, max_iter=self.max_iter, tol=self.tol, min_coefficients=self.min_coefficients,
            reweighting=self.reweighting, nonnegative_mixing=self.nonnegative_mixing,
            noise_std=self.noise_std, sv_floor=self.sv_floor, init=self.init, A0=self.A0,
            final_s=self.final_s, rng=self._rng(), transform=self.sparse_transform, verbose=self.verbose,
        )
        if self.verbose:
            print(summary_line(f"GMCA ({res.info['transform']})", res.n_iter, res.converged))
        return res

    def _transform_batch(self, X: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        return gmca_pinv(A, self.sv_floor) @ X
