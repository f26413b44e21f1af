"""Separation metrics: matching, alignment, NMSE, spectral angles and BSS-eval.

Every number the library reports about a separation ("LPALM is 20x better than PALM", "sGMCA gains 10 dB of
spectral angle") is computed here. All computation is done in float64 torch on the CPU, whatever came in
(NumPy arrays or torch tensors on any device); results are NumPy arrays or Python floats. NaN or infinite
inputs raise ``ValueError`` naming the argument (a diverged estimate is never scored silently).

Shapes (channels first): A ``(m, n)`` with one spectrum per column, S ``(n, t)`` with one map per row, or
``(n, H, W)`` maps, flattened to ``(n, H·W)``. A leading batch dimension ``B`` is accepted where documented.

Matching and metrics are kept apart (the estimate is first put in the order, sign and scale of the truth by
:func:`match` and :func:`align`, then measured):

- :func:`match` — Hungarian assignment (``scipy.optimize.linear_sum_assignment``) maximising ``|cos|`` between
  estimated and true columns of A, with the signs that make each matched cosine positive.
- :func:`align` — applies the match and fixes the scale indeterminacy: each estimated column is rescaled to
  the norm of its true column and its source row inversely, so ``A·S`` is unchanged.
- :func:`nmse`, :func:`nmse_db` — ``‖est − true‖²_F / ‖true‖²_F`` (and ``10·log10`` of it), one value per
  sample.
- :func:`sad` — mean cosine between columns (NALMU/ALMU papers' "SAD", higher is better); :func:`sad_db` —
  ``mean_j −10·log10(arccos(clip(cos_j, −1, 1)))`` with angles in radians (sGMCA paper's SAD, eq. 15, and its
  "mean SAD over all spectra"; higher is better); :func:`sad_db_of_mean_angle` takes the mean angle before the
  logarithm (by Jensen's inequality it reads lower). All three compare columns *as given*: they do not
  match; :func:`evaluate` applies them after :func:`align`.
- :func:`bss_eval` — the gain-only BSS-eval decomposition of Vincent, Gribonval & Févotte (2006), with
  least-squares projections onto the row spans of the true sources (and of the noise).
- :func:`evaluate` — all of the above on an aligned estimate, in one dictionary.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from ._validation import _shape_str, check_array, check_finite
from .prox import project_columns_sphere

__all__ = ["align", "aligned_nmse", "bss_eval", "evaluate", "match", "nmse", "nmse_db", "sad", "sad_db",
           "sad_db_of_mean_angle"]

_F64 = torch.float64


# ------------------------------------------------------------------------------------------------- helpers


def _t64(x: Any, name: str) -> torch.Tensor:
    """Validate ``x`` (real, finite, non-empty) and return it as a float64 CPU tensor."""
    arr = check_array(x, name=name)
    if any(int(s) == 0 for s in arr.shape):
        raise ValueError(f"{name} must not be empty; got an array of shape {_shape_str(arr.shape)}.")
    check_finite(arr, name=name)
    if isinstance(arr, torch.Tensor):
        return arr.detach().to(device="cpu", dtype=_F64)
    return torch.as_tensor(np.ascontiguousarray(arr, dtype=np.float64))


def _same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape; got {_shape_str(a.shape)} and "
            f"{_shape_str(b.shape)}."
        )


def _matrix(x: torch.Tensor, name: str) -> None:
    if x.ndim < 2:
        raise ValueError(
            f"{name} must be a matrix (m, n) with one component per column, or a batch (B, m, n); got an "
            f"array of shape {_shape_str(x.shape)}."
        )


def _out(x: torch.Tensor) -> float | np.ndarray:
    """A 0-d tensor becomes a Python float, anything else a NumPy array."""
    if x.ndim == 0:
        return float(x)
    return x.numpy()


def _db(ratio: torch.Tensor) -> torch.Tensor:
    """``10·log10(ratio)`` without warnings: 0 gives −inf and +inf gives +inf."""
    return 10.0 * torch.log10(ratio)


def _ratio_db(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """``10·log10(num/den)`` with the conventions of :func:`bss_eval`: ``num = 0`` gives −inf (nothing of the
    wanted part is present, even when ``den = 0`` too) and ``den = 0 < num`` gives +inf."""
    out = _db(num / torch.where(den > 0, den, torch.ones_like(den)))
    out = torch.where(den > 0, out, torch.full_like(out, math.inf))
    return torch.where(num > 0, out, torch.full_like(out, -math.inf))


def _mean_db(x: torch.Tensor) -> torch.Tensor:
    """Mean over the last axis of dB values; −inf if any entry is −inf (+inf and −inf never make NaN)."""
    return torch.where(torch.isneginf(x).any(-1), -math.inf, x.mean(-1))


def _unit_columns(M: torch.Tensor) -> torch.Tensor:
    """Columns divided by their l2 norm; all-zero columns stay zero (:func:`semiblind.prox.project_columns_sphere`)."""
    return project_columns_sphere(M, eps=torch.finfo(M.dtype).tiny)


def _cosines(est: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Cosine between columns j of ``est`` and of ``true``, shape ``(..., n)``; 0 when either is zero."""
    return (_unit_columns(est) * _unit_columns(true)).sum(-2).clamp(-1.0, 1.0)


def _angles(est: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Angle in radians between column j of ``est`` and of ``true``, shape ``(..., n)``.

    Equal to ``arccos(clip(cos_j, −1, 1))`` but computed as ``2·atan2(‖u − v‖, ‖u + v‖)`` on the unit columns
    ``u, v``, which stays accurate for tiny angles (where ``arccos`` of a rounded cosine loses half the
    digits). A zero column makes an angle of π/2 (cosine 0), as in :func:`sad`.
    """
    u, v = _unit_columns(est), _unit_columns(true)
    return 2.0 * torch.atan2(torch.linalg.vector_norm(u - v, dim=-2), torch.linalg.vector_norm(u + v, dim=-2))


def _sample_axes(x: torch.Tensor, batched: bool | None) -> tuple[int, ...]:
    is_batch = x.ndim > 2 if batched is None else bool(batched)
    if is_batch and x.ndim < 2:
        raise ValueError(
            f"est must have a leading batch axis and at least one more axis when batched=True; got an array "
            f"of shape {_shape_str(x.shape)}."
        )
    return tuple(range(1, x.ndim)) if is_batch else tuple(range(x.ndim))


def _flatten_sources(S: torch.Tensor, n_lead: int, name: str) -> tuple[torch.Tensor, tuple[int, ...]]:
    """``(*lead, n, t)`` or ``(*lead, n, H, W)`` → ``(*lead, n, t)``; also returns the original shape."""
    if S.ndim not in (n_lead + 2, n_lead + 3):
        lead = "B, " if n_lead else ""
        raise ValueError(
            f"{name} must be a {n_lead + 2}-D array ({lead}sources, pixels) or a {n_lead + 3}-D array "
            f"({lead}sources, height, width); got an array of shape {_shape_str(S.shape)}."
        )
    shape = tuple(S.shape)
    return S.reshape(*shape[: n_lead + 1], -1), shape


# ------------------------------------------------------------------------------------------- match / align


def _match_t(A_est: torch.Tensor, A_true: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Tensor version of :func:`match` on ``(..., m, n)``: ``perm`` (int64), ``signs`` (float64)."""
    n = A_true.shape[-1]
    # C[..., j, i] = cos(true column j, estimated column i)
    C = _unit_columns(A_true).mT @ _unit_columns(A_est)
    lead = C.shape[:-2]
    absC = C.abs().reshape(-1, n, n).numpy()
    perm = np.empty((absC.shape[0], n), dtype=np.int64)
    for b in range(absC.shape[0]):  # scipy's assignment solver takes one cost matrix at a time
        rows, cols = linear_sum_assignment(absC[b], maximize=True)
        perm[b, rows] = cols
    perm_t = torch.from_numpy(perm.reshape(*lead, n))
    matched = C.gather(-1, perm_t.unsqueeze(-1)).squeeze(-1)
    signs = torch.where(matched < 0, -1.0, 1.0).to(_F64)
    return perm_t, signs


def match(A_est: Any, A_true: Any) -> tuple[np.ndarray, np.ndarray]:
    """Match estimated to true columns: ``A_est[:, perm] * signs`` has the order and signs of ``A_true``.

    The assignment maximises the sum of ``|cos(â_perm[j], a_j)|`` over true columns ``j`` (Hungarian
    algorithm, ``scipy.optimize.linear_sum_assignment``); ``signs[j]`` is the sign of the matched cosine
    (``+1`` for a zero cosine), so every matched cosine becomes nonnegative.

    Parameters
    ----------
    A_est, A_true : arrays ``(m, n)`` (one component per column) of the same shape, or batches ``(B, m, n)``.

    Returns
    -------
    perm : int array ``(n,)`` (or ``(B, n)``); ``perm[j]`` is the estimated column matched to true column
        ``j``.
    signs : float array ``(n,)`` (or ``(B, n)``) of ``±1``.
    """
    Ae, At = _t64(A_est, "A_est"), _t64(A_true, "A_true")
    _matrix(Ae, "A_est")
    _same_shape(Ae, At, "A_est", "A_true")
    perm, signs = _match_t(Ae, At)
    return perm.numpy(), signs.numpy()


def _align_t(
    Ae: torch.Tensor, Se: torch.Tensor | None, At: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Tensor version of :func:`align`; ``Se`` is ``(..., n, t)``. Also returns ``perm``."""
    perm, signs = _match_t(Ae, At)
    idx = perm.unsqueeze(-2).expand(*Ae.shape)
    A_p = Ae.gather(-1, idx) * signs.unsqueeze(-2)
    est_norm = torch.linalg.vector_norm(A_p, dim=-2)
    true_norm = torch.linalg.vector_norm(At, dim=-2)
    # scale c_j = ‖a_j‖/‖â_j‖; an all-zero estimated (or true) column keeps c_j = 1: rescaling it to zero norm
    # would send its source row to infinity.
    ok = (est_norm > 0) & (true_norm > 0)
    c = torch.where(ok, true_norm / torch.where(ok, est_norm, 1.0), 1.0)
    A_al = A_p * c.unsqueeze(-2)
    if Se is None:
        return A_al, None, perm
    rows = perm.unsqueeze(-1).expand(*perm.shape, Se.shape[-1])
    S_al = Se.gather(-2, rows) * (signs / c).unsqueeze(-1)
    return A_al, S_al, perm


def align(A_est: Any, S_est: Any, A_true: Any, S_true: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Put an estimate in the order, sign and scale of the truth (permutation and scale indeterminacy of BSS).

    Applies :func:`match` to the columns of A, then rescales each estimated column to the l2 norm of its true
    column and divides the matching source row by the same factor, so ``A_aligned @ S_aligned == A_est @
    S_est``. An all-zero estimated column cannot be rescaled and is left as it is (and so is its source row);
    so is a column matched to an all-zero true column.

    Parameters
    ----------
    A_est, A_true : ``(m, n)``, or batches ``(B, m, n)``.
    S_est : ``(n, t)`` or ``(n, H, W)`` (batched: ``(B, n, t)`` / ``(B, n, H, W)``), or ``None`` to align A
        alone.
    S_true : optional; when given it is only checked to have the shape of ``S_est`` (the matching uses A).

    Returns
    -------
    A_aligned, S_aligned : NumPy float64 arrays with the shapes of ``A_est`` and ``S_est`` (``S_aligned`` is
    ``None`` when ``S_est`` is).
    """
    Ae, At = _t64(A_est, "A_est"), _t64(A_true, "A_true")
    _matrix(Ae, "A_est")
    _same_shape(Ae, At, "A_est", "A_true")
    n_lead = Ae.ndim - 2
    Se = None
    if S_est is not None:
        Se_raw = _t64(S_est, "S_est")
        Se, shape = _flatten_sources(Se_raw, n_lead, "S_est")
        if tuple(Se.shape[:-1]) != (*Ae.shape[:-2], Ae.shape[-1]):
            raise ValueError(
                f"S_est must have one row per column of A_est; got S_est of shape {_shape_str(shape)} and "
                f"A_est of shape {_shape_str(Ae.shape)}."
            )
        if S_true is not None:
            _same_shape(Se_raw, _t64(S_true, "S_true"), "S_est", "S_true")
    A_al, S_al, _ = _align_t(Ae, Se, At)
    return A_al.numpy(), (None if S_al is None else S_al.reshape(shape).numpy())


# ---------------------------------------------------------------------------------------------------- NMSE


def _nmse_t(e: torch.Tensor, t: torch.Tensor, axes: tuple[int, ...]) -> torch.Tensor:
    den = (t**2).sum(dim=axes)
    if bool((den == 0).any()):
        raise ValueError("true must not be all zeros (in any sample); the normalised error is undefined.")
    return ((e - t) ** 2).sum(dim=axes) / den


def nmse(est: Any, true: Any, *, batched: bool | None = None) -> float | np.ndarray:
    """Normalised mean squared error ``‖est − true‖²_F / ‖true‖²_F`` (linear; 0 is perfect).

    ``batched`` says whether axis 0 indexes samples: ``None`` (default) treats a 2-D input as one sample and a
    3-D or larger input as a batch (so a single source cube ``(n, H, W)`` needs ``batched=False``). A batch
    gives one value per sample, a NumPy array ``(B,)``; one sample gives a Python float. No alignment is
    applied: use :func:`align` (or :func:`evaluate`) first.
    """
    e, t = _t64(est, "est"), _t64(true, "true")
    _same_shape(e, t, "est", "true")
    return _out(_nmse_t(e, t, _sample_axes(e, batched)))


def nmse_db(est: Any, true: Any, *, batched: bool | None = None) -> float | np.ndarray:
    """``10·log10(nmse(est, true))`` in dB (lower is better; exact gives −inf). See :func:`nmse`."""
    e, t = _t64(est, "est"), _t64(true, "true")
    _same_shape(e, t, "est", "true")
    return _out(_db(_nmse_t(e, t, _sample_axes(e, batched))))


def aligned_nmse(A_est: Any, S_est: Any, A_true: Any, S_true: Any, *,
                 batched: bool | None = None) -> tuple[float | np.ndarray, float | np.ndarray]:
    """``(NMSE(S), NMSE(A))`` of an estimate after :func:`align` on the columns of A (linear; 0 is perfect).

    The one way the experiments and solvers score a separation against the truth: match, sign and rescale the
    estimate to ``A_true`` (:func:`align`), then :func:`nmse` of the sources and of the mixing matrices.
    Shapes as in :func:`align`: ``A`` ``(m, n)`` with ``S`` ``(n, t)`` / ``(n, H, W)``, or batches ``(B, m, n)``
    with ``(B, n, t)`` / ``(B, n, H, W)``; ``batched`` (default: whether A is 3-D) must agree with A. A batch
    gives two NumPy arrays ``(B,)``, one sample two floats.
    """
    is_batch = np.ndim(A_est) == 3
    if batched is not None and bool(batched) != is_batch:
        raise ValueError(f"batched must match A_est: {'a batch (B, m, n)' if batched else 'one matrix (m, n)'} "
                         f"was announced; got A_est with {np.ndim(A_est)} dimensions.")
    if S_true is None:
        raise ValueError("S_true must be given: the NMSE of the sources needs the true sources; got None.")
    A_al, S_al = align(A_est, S_est, A_true, S_true)
    return nmse(S_al, S_true, batched=is_batch), nmse(A_al, A_true, batched=is_batch)


# ----------------------------------------------------------------------------------------------------- SAD


def _check_pair(est: Any, true: Any) -> tuple[torch.Tensor, torch.Tensor]:
    e, t = _t64(est, "est"), _t64(true, "true")
    _matrix(e, "est")
    _same_shape(e, t, "est", "true")
    return e, t


def sad(est: Any, true: Any, per_component: bool = False) -> float | np.ndarray:
    """Spectral agreement as the mean cosine between columns (the NALMU/ALMU papers' "SAD"; 1 is perfect).

    ``cos_j = ⟨est_j, true_j⟩ / (‖est_j‖·‖true_j‖)`` for column ``j`` (0 when either column is zero), then the
    mean over columns. Columns are compared **as given**, without matching or sign correction (call
    :func:`align` first, or use :func:`evaluate`, which does). For sources stored as rows, pass ``S.T``.

    Parameters
    ----------
    est, true : ``(m, n)`` or batches ``(..., m, n)`` of the same shape.
    per_component : return the ``n`` cosines instead of their mean.

    Returns
    -------
    A Python float for one matrix, else NumPy: ``(...,)`` means, or ``(..., n)`` cosines with
    ``per_component``.
    """
    e, t = _check_pair(est, true)
    cos = _cosines(e, t)
    return _out(cos if per_component else cos.mean(-1))


def sad_db(est: Any, true: Any, per_component: bool = False) -> float | np.ndarray:
    """Spectral angle distance in dB as the sGMCA paper defines it (Carloni Gertosio et al. 2023, eq. 15).

    Per column ``SAD_j = −10·log10(arccos(clip(cos_j, −1, 1)))`` with the angle in radians; the returned value is
    the **mean of those dB values** over the columns (the paper's "mean SAD over all spectra"). Higher is better;
    an exact column gives +inf, and so does the mean over columns. With ``per_component=True`` the per-column
    values are returned. Columns are compared as given, without matching (see :func:`sad`). The angle is
    evaluated as ``2·atan2(‖u − v‖, ‖u + v‖)`` on the unit columns, which equals the arccos but is accurate for
    tiny angles. :func:`sad_db_of_mean_angle` is the other convention (log of the mean angle).

    Parameters and returns as in :func:`sad`.
    """
    e, t = _check_pair(est, true)
    per = -_db(_angles(e, t))
    return _out(per if per_component else per.mean(-1))


def sad_db_of_mean_angle(est: Any, true: Any) -> float | np.ndarray:
    """``−10·log10(mean_j arccos(clip(cos_j, −1, 1)))``: the mean angle over columns **before** the logarithm.

    Not the sGMCA paper's SAD (that is :func:`sad_db`, the mean of the per-column dB values); by Jensen's
    inequality this one is never higher. Columns are compared as given; shapes and returns as :func:`sad`
    (without ``per_component``).
    """
    e, t = _check_pair(est, true)
    return _out(-_db(_angles(e, t).mean(-1)))


# ----------------------------------------------------------------------------------------------- BSS-eval


def _project_rows(V: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Orthogonal projection of the rows of ``Y (..., k, t)`` onto the row span of ``V (..., r, t)``.

    Least squares ``min_C ‖Vᵀ C − Yᵀ‖`` solved by a rank-revealing SVD solver (LAPACK ``gelsd``), so nearly
    collinear or even linearly dependent rows of ``V`` are handled without forming ``(V Vᵀ)⁻¹``.
    """
    C = torch.linalg.lstsq(V.mT, Y.mT, driver="gelsd").solution
    return (V.mT @ C).mT


def _bss_eval_t(Se: torch.Tensor, St: torch.Tensor, N: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """BSS-eval on ``(..., n, t)`` tensors (rows already matched); per-source dB values ``(..., n)``."""
    sq = lambda x: (x**2).sum(-1)  # noqa: E731
    true_sq = sq(St)
    gain = torch.where(true_sq > 0, (Se * St).sum(-1) / torch.where(true_sq > 0, true_sq, 1.0), 0.0)
    s_target = gain.unsqueeze(-1) * St
    P_S = _project_rows(St, Se)
    e_interf = P_S - s_target
    if N is None:
        P_SN = P_S
    else:
        P_SN = _project_rows(torch.cat([St, N], dim=-2), Se)
    e_noise = P_SN - P_S
    e_artif = Se - P_SN
    out = {
        "sdr": _ratio_db(sq(s_target), sq(Se - s_target)),
        "sir": _ratio_db(sq(s_target), sq(e_interf)),
        "sar": _ratio_db(sq(P_SN), sq(e_artif)),
    }
    if N is not None:
        out["snr"] = _ratio_db(sq(P_S), sq(e_noise))
    return out



def _noise_rows(noise: Any, n_lead: int, St: torch.Tensor, St_raw: torch.Tensor) -> torch.Tensor | None:
    """The noise matrix ``N`` as flattened rows ``(..., m, t)`` checked against the flattened true sources."""
    if noise is None:
        return None
    N_raw = _t64(noise, "noise")
    N, _ = _flatten_sources(N_raw, n_lead, "noise")
    if tuple(N.shape[:n_lead]) != tuple(St.shape[:n_lead]) or N.shape[-1] != St.shape[-1]:
        raise ValueError(
            f"noise must have the pixels (and batch size) of S_true; got noise of shape "
            f"{_shape_str(N_raw.shape)} and S_true of shape {_shape_str(St_raw.shape)}."
        )
    return N

def bss_eval(S_est: Any, S_true: Any, noise: Any = None, *, batched: bool = False) -> dict[str, np.ndarray]:
    """Gain-only BSS-eval decomposition (Vincent, Gribonval & Févotte 2006, with time-invariant gains).

    Each estimated source ``ŝ_j`` (a row of ``S_est``, flattened) is split with ``P_V``, the orthogonal
    projection onto the row span of ``V``::

        s_target = ⟨ŝ_j, s_j⟩ s_j / ‖s_j‖²
        e_interf = P_S(ŝ_j) − s_target
        e_noise  = P_[S;N](ŝ_j) − P_S(ŝ_j)
        e_artif  = ŝ_j − P_[S;N](ŝ_j)

        SDR = 10 log10(‖s_target‖² / ‖e_interf + e_noise + e_artif‖²)
        SIR = 10 log10(‖s_target‖² / ‖e_interf‖²)
        SNR = 10 log10(‖s_target + e_interf‖² / ‖e_noise‖²)
        SAR = 10 log10(‖s_target + e_interf + e_noise‖² / ‖e_artif‖²)

    The projections are least-squares solves (rank-revealing SVD, no explicit inverse), accurate for nearly
    collinear sources. Without ``noise``, ``e_noise = 0`` and SNR is omitted. The rows of ``S_est`` must
    already be in the order of ``S_true`` (use :func:`align`, or :func:`evaluate`); BSS-eval is invariant to
    the sign and scale of each estimate. A ratio with a zero denominator is +inf (e.g. SAR of an estimate
    lying in the span of the sources); a zero numerator is −inf (e.g. every ratio of an all-zero estimate).
    When ``n + m ≥ t`` the rows of ``[S; N]`` span every signal of length ``t`` and SAR is +inf.

    Parameters
    ----------
    S_est, S_true : ``(n, t)`` or ``(n, H, W)`` of the same shape (batched: a leading ``B``).
    noise : the data's noise matrix ``N`` ``(m, t)`` or ``(m, H, W)`` (batched: ``(B, m, ...)``), whose rows
        span the noise subspace; optional.
    batched : whether axis 0 of every input indexes samples.

    Returns
    -------
    dict with ``"sdr"``, ``"sir"``, ``"sar"`` (and ``"snr"`` with ``noise``): NumPy arrays ``(n,)`` of dB
    values per source (``(B, n)`` batched).
    """
    n_lead = 1 if batched else 0
    Se_raw, St_raw = _t64(S_est, "S_est"), _t64(S_true, "S_true")
    _same_shape(Se_raw, St_raw, "S_est", "S_true")
    Se, _ = _flatten_sources(Se_raw, n_lead, "S_est")
    St, _ = _flatten_sources(St_raw, n_lead, "S_true")
    N = _noise_rows(noise, n_lead, St, St_raw)
    return {k: v.numpy() for k, v in _bss_eval_t(Se, St, N).items()}


# ------------------------------------------------------------------------------------------------ evaluate


def evaluate(A_est: Any, S_est: Any, A_true: Any, S_true: Any, noise: Any = None) -> dict[str, Any]:
    """Every metric of an estimate ``(A_est, S_est)`` against the truth, after :func:`align`.

    Parameters
    ----------
    A_est, A_true : ``(m, n)``; a batch ``(B, m, n)`` evaluates each sample separately.
    S_est, S_true : ``(n, t)`` or ``(n, H, W)`` (batched: ``(B, n, t)`` / ``(B, n, H, W)``).
    noise : optional noise matrix ``N`` ``(m, t)`` or ``(m, H, W)`` of the data, for BSS-eval's SNR.

    Returns
    -------
    dict with, for one sample, Python floats (a batch gives NumPy arrays ``(B,)``):

    - ``nmse_A``, ``nmse_S`` (linear), ``nmse_db_A``, ``nmse_db_S`` (dB) — :func:`nmse` of the aligned
      estimate;
    - ``sad_A``, ``sad_S`` — :func:`sad`, mean cosine of matched columns of A / rows of S;
    - ``sad_db_A``, ``sad_db_S`` — :func:`sad_db` of the same (the paper's mean of per-column dB values);
    - ``sdr``, ``sir``, ``sar`` (and ``snr`` with ``noise``) — means over sources of the per-source dB values
      of :func:`bss_eval` on the aligned sources (an infinite per-source value makes the mean infinite; any
      −inf, e.g. from an all-zero estimate, makes it −inf);

    and NumPy arrays ``(n,)`` (``(B, n)`` batched): ``sdr_per_source``, ``sir_per_source``, ``sar_per_source``
    (``snr_per_source``), ``sad_A_per_component``, ``sad_db_A_per_component``, and ``perm``, the estimated
    index matched to each true component (see :func:`match`).
    """
    Ae, At = _t64(A_est, "A_est"), _t64(A_true, "A_true")
    _matrix(Ae, "A_est")
    if Ae.ndim > 3:
        raise ValueError(
            f"A_est must be (m, n) or a batch (B, m, n); got an array of shape {_shape_str(Ae.shape)}."
        )
    _same_shape(Ae, At, "A_est", "A_true")
    n_lead = Ae.ndim - 2
    Se_raw, St_raw = _t64(S_est, "S_est"), _t64(S_true, "S_true")
    _same_shape(Se_raw, St_raw, "S_est", "S_true")
    Se, _ = _flatten_sources(Se_raw, n_lead, "S_est")
    St, _ = _flatten_sources(St_raw, n_lead, "S_true")
    if tuple(Se.shape[:-1]) != (*Ae.shape[:-2], Ae.shape[-1]):
        raise ValueError(
            f"S_est must have one row per column of A_est; got S_est of shape {_shape_str(Se_raw.shape)} "
            f"and A_est of shape {_shape_str(Ae.shape)}."
        )
    N = _noise_rows(noise, n_lead, St, St_raw)

    A_al, S_al, perm = _align_t(Ae, Se, At)
    mat_axes = (-2, -1)
    nm_A = _nmse_t(A_al, At, mat_axes)
    nm_S = _nmse_t(S_al, St, mat_axes)
    cos_A = _cosines(A_al, At)
    ang_A = _angles(A_al, At)
    cos_S = _cosines(S_al.mT, St.mT)
    ang_S = _angles(S_al.mT, St.mT)
    bss = _bss_eval_t(S_al, St, N)

    res: dict[str, Any] = {
        "nmse_A": _out(nm_A),
        "nmse_S": _out(nm_S),
        "nmse_db_A": _out(_db(nm_A)),
        "nmse_db_S": _out(_db(nm_S)),
        "sad_A": _out(cos_A.mean(-1)),
        "sad_S": _out(cos_S.mean(-1)),
        "sad_db_A": _out((-_db(ang_A)).mean(-1)),
        "sad_db_S": _out((-_db(ang_S)).mean(-1)),
    }
    for key, val in bss.items():
        res[key] = _out(_mean_db(val))
    for key, val in bss.items():
        res[f"{key}_per_source"] = val.numpy()
    res["sad_A_per_component"] = cos_A.numpy()
    res["sad_db_A_per_component"] = (-_db(ang_A)).numpy()
    res["perm"] = perm.numpy()
    return res
