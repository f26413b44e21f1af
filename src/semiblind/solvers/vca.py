"""Linear unmixing with pure pixels: VCA endmember extraction, then FCLS or NNLS abundances.

- :func:`vca` — Vertex Component Analysis, Nascimento & Dias (2005), "Vertex component analysis: a fast
  algorithm to unmix hyperspectral data", IEEE Trans. Geosci. Remote Sens. 43(4), Algorithm 1 with its
  SNR-dependent projection.
- :func:`fcls` — fully constrained least squares (S ≥ 0, each pixel's abundances sum to one), Heinz & Chang
  (2001), "Fully constrained least squares linear spectral mixture analysis", IEEE TGRS 39(3);
- :func:`nnls_abundances` — nonnegative least squares per pixel;

both solved for all pixels at once (batched torch, float64): exactly by enumerating the supports up to
:data:`EXACT_MAX_SOURCES` endmembers, iteratively above (:func:`fcls_batch`, :func:`nnls_abundances_batch`).
- :class:`VCAFCLS` — the estimator ``"vca-fcls"``: A from VCA, S from FCLS (or NNLS).

Shapes (channels first): X ``(m, t)``, A ``(m, n)``, S ``(n, t)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from .._backend import as_tensor, make_rng, to_numpy
from .._progress import tqdm  # bar on a terminal, one line per stage in a log
from .._validation import NONE, Interval, Options, check_data, check_n_sources
from .base import COMMON_CONSTRAINTS, BaseSeparator, FitResult, register

# ------------------------------------------------------------------------------------------------------ VCA


def _top_eigvecs(G: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` leading eigenvectors (largest eigenvalue first) of symmetric ``G (B, m, m)``."""
    _, vecs = torch.linalg.eigh(G)
    return vecs.flip(-1)[..., :k]


def vca_batch(
    X: torch.Tensor, n: int, rng: Any = None, snr: float | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """VCA (Nascimento & Dias 2005, Algorithm 1) on a batch ``X (B, m, t)``; computed in float64.

    1. SNR: the given ``snr`` (dB) or the paper's estimate (eq. 13) ``SNR = 10 log10((P_Rp − (n/m) P_R) / (P_R
       − P_Rp))`` with ``P_R = mean_i ‖x_i‖²`` and ``P_Rp = mean_i ‖U_dᵀ(x_i − x̄)‖² + ‖x̄‖²`` (``U_d``: n
       leading eigenvectors of the centred covariance); ``+inf`` for noiseless data.
    2. Projection, chosen per sample against the threshold ``SNR_th = 15 + 10 log10(n)`` dB:
       above it, the *projective projection*: ``d = n``, ``U_d`` the leading eigenvectors of ``X Xᵀ/t``,
       ``y_i = U_dᵀx_i / ⟨U_dᵀx_i, ū⟩`` with ``ū`` the mean of the projected data; otherwise the *subspace
       projection*: ``d = n − 1`` eigenvectors of the centred covariance, ``x̃_i = U_dᵀ(x_i − x̄)`` and
       ``y_i = [x̃_i; c]`` with ``c = max_i ‖x̃_i‖``.
    3. With ``M = [e_n, 0, …, 0]`` (n × n), for ``k = 1..n``: draw ``w ~ N(0, I_n)``, ``f = (I − M M⁺) w``,
       ``f ← f/‖f‖``, pick the pixel ``j_k = argmax_i |fᵀ y_i|`` and set ``M_{:k} = y_{j_k}``.

    The random direction ``w`` of step 3 is drawn once per k and shared by all samples of the batch, so a
    batched run equals the one-by-one runs with the same seed. Returns ``(A (B, m, n), indices (B, n), snr_db
    (B,))`` where ``A = X[:, :, indices]`` are the raw data columns (the paper returns the denoised projected
    columns ``U_d y``; the raw pixels keep the data's scale and are exactly the pure pixels when they exist).
    """
    gen = make_rng(rng)
    Xd = X.double()
    B, m, t = Xd.shape
    mean = Xd.mean(-1, keepdim=True)  # (B, m, 1)
    Xc = Xd - mean
    U_c = _top_eigvecs(Xc @ Xc.mT / t, n)  # (B, m, n)
    if snr is None:
        p_r = (Xd**2).sum(-2).mean(-1)
        p_rp = ((U_c.mT @ Xc) ** 2).sum(-2).mean(-1) + (mean**2).sum((-2, -1))
        num = p_rp - (n / m) * p_r
        den = p_r - p_rp
        snr_db = torch.where(
            den > 1e-12 * p_r,
            10 * torch.log10(num.clamp_min(torch.finfo(torch.float64).tiny) / den.clamp_min(1e-300)),
            torch.full_like(p_r, float("inf")),
        )
    else:
        snr_db = torch.full((B,), float(snr), dtype=torch.float64, device=X.device)
    projective = snr_db > 15 + 10 * np.log10(n)
    if n == 1:  # the subspace projection needs d = n − 1 ≥ 1 dimension
        projective = torch.ones_like(projective)

    # projective projection (high SNR): d = n, non-centred correlation
    U_p = _top_eigvecs(Xd @ Xd.mT / t, n)
    Xp = U_p.mT @ Xd  # (B, n, t)
    u = Xp.mean(-1, keepdim=True)
    denom = (Xp * u).sum(-2, keepdim=True)
    denom = torch.where(denom.abs() > 0, denom, torch.ones_like(denom))
    Y_proj = Xp / denom
    # subspace projection (low SNR): d = n − 1, centred covariance, plus a constant row
    Xs = U_c[..., : max(n - 1, 0)].mT @ Xc  # (B, n−1, t)
    c = torch.linalg.vector_norm(Xs, dim=-2).amax(-1) if n > 1 else torch.ones(B, dtype=Xd.dtype)
    Y_sub = torch.cat([Xs, c[:, None, None].expand(B, 1, t)], dim=-2)
    Y = torch.where(projective[:, None, None], Y_proj, Y_sub)  # (B, n, t)

    M = torch.zeros(B, n, n, dtype=Xd.dtype, device=X.device)
    M[:, n - 1, 0] = 1.0
    eye = torch.eye(n, dtype=Xd.dtype, device=X.device)
    indices = torch.zeros(B, n, dtype=torch.long, device=X.device)
    for k in range(n):
        w = torch.as_tensor(gen.standard_normal(n), dtype=Xd.dtype, device=X.device)
        f = (eye - M @ torch.linalg.pinv(M)) @ w  # (B, n)
        f = f / torch.linalg.vector_norm(f, dim=-1, keepdim=True).clamp_min(torch.finfo(Xd.dtype).tiny)
        v = (f.unsqueeze(-2) @ Y)[..., 0, :]  # (B, t)
        j = v.abs().argmax(-1)  # (B,)
        indices[:, k] = j
        M[:, :, k] = Y.gather(-1, j[:, None, None].expand(B, n, 1))[..., 0]
    A = X.gather(-1, indices[:, None, :].expand(B, m, n))
    return A, indices, snr_db


def vca(X: Any, n: int, rng: Any = None, snr: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Vertex Component Analysis (Nascimento & Dias 2005, Algorithm 1) of ``X (m, t)``.

    Parameters
    ----------
    X : data ``(m, t)`` (channels, pixels).
    n : number of endmembers.
    rng : seed or ``numpy.random.Generator`` for the random directions (same seed, same result).
    snr : signal-to-noise ratio in dB; ``None`` estimates it (paper eq. 13). It selects the projection
        (projective above ``15 + 10 log10(n)`` dB, subspace below). See :func:`vca_batch` for every step.

    Returns
    -------
    A : ``(m, n)`` endmembers, the data columns ``X[:, indices]`` (data scale, not normalised).
    indices : ``(n,)`` the pixel index of each endmember, in extraction order.
    """
    x = check_data(X, allow_cube=False)
    n = check_n_sources(n, int(x.shape[0]), name="n")
    if snr is not None and not (isinstance(snr, (int, float)) and np.isfinite(snr)):
        raise ValueError(f"snr must be None or a finite number of dB; got {snr!r}.")
    Xt = as_tensor(x, dtype=torch.float64).unsqueeze(0)
    _, idx, _ = vca_batch(Xt, n, rng, snr)
    indices = to_numpy(idx[0])
    return np.array(to_numpy(x)[:, indices]), indices


# ------------------------------------------------------------------------------------------ abundances


def _as_2d(x: Any, name: str, ndim: int = 2) -> np.ndarray:
    arr = np.asarray(to_numpy(x), dtype=np.float64)
    if arr.ndim != ndim:
        what = "(channels, pixels)" if name == "X" else "(channels, sources)"
        raise ValueError(f"{name} must be a 2-D array {what}; got an array of shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"{name} must contain only finite values; got {bad} NaN or infinite value(s).")
    return arr


def _check_pair(X: Any, A: Any) -> tuple[np.ndarray, np.ndarray]:
    Xn, An = _as_2d(X, "X"), _as_2d(A, "A")
    if Xn.shape[0] != An.shape[0]:
        raise ValueError(f"A must have {Xn.shape[0]} rows, one per channel of X; got shape {An.shape}.")
    return Xn, An


#: Largest number of endmembers solved exactly by enumerating the supports (2^n − 1 small systems per sample);
#: above it the batched iterative solvers take over (:func:`semiblind.solvers.nmf.nnls_hals` for NNLS,
#: accelerated projected gradient on the simplex for FCLS).
EXACT_MAX_SOURCES = 10


def _support_solve(A: torch.Tensor, X: torch.Tensor, *, sum_to_one: bool, verbose: bool = False) -> torch.Tensor:
    """Exact batched NNLS / FCLS by enumerating the supports: ``A (B, m, n)``, ``X (B, m, t)`` → ``S (B, n, t)``.

    The optimum ``s*`` of ``min ‖x − A s‖₂`` over ``s ≥ 0`` (and ``1ᵀs = 1`` for FCLS) is, on its support K, the
    least-squares solution restricted to K (with the equality constraint, from the KKT system
    ``[A_Kᵀ A_K, 1; 1ᵀ, 0]``); every such restricted solution that is nonnegative is feasible. So the optimum is
    the feasible candidate of smallest residual, found for all pixels at once: the loop runs over the
    ``2^n − 1`` supports (a k × k system shared by the pixels of a sample and one matrix product), never over
    pixels.
    """
    B, m, n = A.shape
    t = X.shape[-1]
    tiny = torch.finfo(A.dtype).tiny
    AtA, AtX = A.mT @ A, A.mT @ X  # (B, n, n), (B, n, t): every support's system is a sub-block of these
    xx = (X**2).sum(-2)  # (B, t)
    best_S = torch.zeros(B, n, t, dtype=A.dtype, device=A.device)
    best_r = xx.clone() if not sum_to_one else torch.full((B, t), float("inf"), dtype=A.dtype, device=A.device)
    for mask in tqdm(range(1, 2**n), desc="FCLS supports" if sum_to_one else "NNLS supports",
                     disable=not verbose, leave=False):
        K = [j for j in range(n) if mask >> j & 1]
        k = len(K)
        G, c = AtA[:, K][:, :, K], AtX[:, K]  # (B, k, k), (B, k, t)
        if sum_to_one:
            ones = torch.ones(B, k, 1, dtype=A.dtype, device=A.device)
            kkt = torch.cat([torch.cat([G, ones], -1), torch.cat([ones.mT, torch.zeros_like(ones[:, :1])], -1)], -2)
            rhs = torch.cat([c, torch.ones(B, 1, t, dtype=A.dtype, device=A.device)], -2)
            sol = torch.linalg.pinv(kkt) @ rhs
            sK, mu = sol[:, :k], sol[:, k]
            # at the KKT point G s = c − μ1 and 1ᵀs = 1, so ‖x − A s‖² = ‖x‖² − cᵀs − μ
            r = xx - (c * sK).sum(-2) - mu
        else:
            sK = torch.linalg.pinv(G) @ c
            r = xx - (c * sK).sum(-2)  # at the least-squares point G s = c: ‖x − A s‖² = ‖x‖² − cᵀs
        ok = (sK.amin(-2) >= -1e-10 * sK.abs().amax(-2).clamp_min(tiny)) & (r < best_r)
        best_r = torch.where(ok, r, best_r)
        okr = ok.unsqueeze(-2)
        best_S = best_S.masked_fill(okr, 0.0)
        best_S[:, K] = torch.where(okr, sK, best_S[:, K])
    return best_S.clamp_min(0)


def _simplex_projection(V: torch.Tensor) -> torch.Tensor:
    """Euclidean projection of every column of ``V (B, n, t)`` onto ``{s ≥ 0, 1ᵀs = 1}`` (sort-based; Held,
    Wolfe & Crowder 1974)."""
    u, _ = torch.sort(V, dim=-2, descending=True)
    css = torch.cumsum(u, dim=-2) - 1.0
    k = torch.arange(1, V.shape[-2] + 1, dtype=V.dtype, device=V.device).unsqueeze(-1)
    rho = ((u - css / k > 0) * k).argmax(-2, keepdim=True)
    tau = css.gather(-2, rho) / (rho + 1).to(V.dtype)
    return (V - tau).clamp_min(0)


def _fcls_iterative(A: torch.Tensor, X: torch.Tensor, *, max_iter: int = 5000, tol: float = 1e-10,
                    verbose: bool = False) -> torch.Tensor:
    """FCLS for many endmembers: FISTA on ``½‖X − AS‖²_F`` with the simplex projection of every column, batched
    over samples and pixels; stops when ``‖ΔS‖_F ≤ tol·‖S‖_F`` for every sample."""
    from .driver import iterate

    AtA, AtX = A.mT @ A, A.mT @ X
    L = torch.linalg.matrix_norm(AtA, ord=2).clamp_min(torch.finfo(A.dtype).tiny)[:, None, None]
    S0 = torch.full((A.shape[0], A.shape[-1], X.shape[-1]), 1.0 / A.shape[-1], dtype=A.dtype, device=A.device)

    def step(it, state, ctx):
        S, Y, q = state["S"], state["Y"], state["q"]
        S_new = _simplex_projection(Y - (AtA @ Y - AtX) / L)
        q_new = (1 + torch.sqrt(1 + 4 * q * q)) / 2
        Y_new = S_new + ((q - 1) / q_new) * (S_new - S)
        change = torch.linalg.vector_norm(S_new - S, dim=(-2, -1))
        done = change <= tol * torch.linalg.vector_norm(S_new, dim=(-2, -1))
        return {"S": S_new, "Y": Y_new, "q": q_new}, done, None

    q0 = torch.ones(A.shape[0], 1, 1, dtype=A.dtype, device=A.device)
    out = iterate(step, {"S": S0, "Y": S0, "q": q0}, batch=A.shape[0], max_iter=max_iter, record_history=False,
                  verbose=verbose, desc="FCLS")
    return out.values["S"]


def _batched(X: Any, A: Any) -> tuple[torch.Tensor, torch.Tensor]:
    Xn, An = _check_pair(X, A)
    return torch.as_tensor(Xn).unsqueeze(0), torch.as_tensor(An).unsqueeze(0)


def nnls_abundances_batch(X: torch.Tensor, A: torch.Tensor, *, verbose: bool = False) -> torch.Tensor:
    """Batched NNLS ``S_{:i} = argmin_{s ≥ 0} ‖x_i − A s‖₂`` for ``X (B, m, t)``, ``A (B, m, n)`` → ``(B, n, t)``
    (float64 inside): exact support enumeration up to :data:`EXACT_MAX_SOURCES` endmembers, else
    :func:`semiblind.solvers.nmf.nnls_hals`."""
    Xd, Ad = X.double(), A.double()
    if Ad.shape[-1] <= EXACT_MAX_SOURCES:
        return _support_solve(Ad, Xd, sum_to_one=False, verbose=verbose)
    from .nmf import nnls_hals

    return nnls_hals(Ad, Xd, max_sweeps=5000, tol=1e-12)


def fcls_batch(X: torch.Tensor, A: torch.Tensor, *, verbose: bool = False) -> torch.Tensor:
    """Batched FCLS (``s ≥ 0``, ``1ᵀs = 1`` per pixel) for ``X (B, m, t)``, ``A (B, m, n)`` → ``(B, n, t)``
    (float64 inside): exact support enumeration up to :data:`EXACT_MAX_SOURCES` endmembers, else accelerated
    projected gradient on the simplex. Columns are finally divided by their sums (exact sum-to-one)."""
    Xd, Ad = X.double(), A.double()
    if Ad.shape[-1] <= EXACT_MAX_SOURCES:
        S = _support_solve(Ad, Xd, sum_to_one=True, verbose=verbose)
    else:
        S = _fcls_iterative(Ad, Xd, verbose=verbose)
    total = S.sum(-2, keepdim=True)
    return torch.where(total > 0, S / torch.where(total > 0, total, 1.0), 1.0 / S.shape[-2])


def nnls_abundances(X: Any, A: Any) -> np.ndarray:
    """Nonnegative least squares per pixel: ``S_{:i} = argmin_{s ≥ 0} ‖x_i − A s‖₂``, all pixels at once
    (:func:`nnls_abundances_batch`). X ``(m, t)``, A ``(m, n)`` → S ``(n, t)`` float64."""
    Xt, At = _batched(X, A)
    return to_numpy(nnls_abundances_batch(Xt, At)[0])


def fcls(X: Any, A: Any) -> np.ndarray:
    """Fully constrained least squares (Heinz & Chang 2001): per pixel ``min ‖x_i − A s‖₂`` s.t. ``s ≥ 0``,
    ``Σ_j s_j = 1``, all pixels at once (:func:`fcls_batch`: the exact optimum for up to
    :data:`EXACT_MAX_SOURCES` endmembers). The output satisfies ``S ≥ 0`` exactly and ``Σ_j S_{ji} = 1`` to
    rounding. X ``(m, t)``, A ``(m, n)`` → S ``(n, t)`` float64.
    """
    Xt, At = _batched(X, A)
    return to_numpy(fcls_batch(Xt, At)[0])


# ----------------------------------------------------------------------------------------------- estimator


@register
class VCAFCLS(BaseSeparator):
    """VCA endmembers + FCLS abundances (``method="vca-fcls"``), the pure-pixel linear unmixing baseline.

    A: :func:`vca_batch` (Nascimento & Dias 2005), the data columns at the extracted pure-pixel indices — in
    the data's scale, not normalised (indices in ``info_["indices"]``). S: :func:`fcls` (abundances ≥ 0
    summing to one in every pixel, Heinz & Chang 2001) or, with ``abundances="nnls"``,
    :func:`nnls_abundances`. ``transform`` applies the same abundance estimator with A fixed.

    Parameters (keyword-only)
    -------------------------
    n_sources : number of endmembers n.
    snr : SNR in dB used to choose VCA's projection; ``None`` (default) estimates it from the data.
    abundances : ``"fcls"`` (default) or ``"nnls"``.
    random_state : seed or Generator for VCA's random directions. dtype, device : as everywhere. verbose : a
    progress bar over the abundance solver's supports (or iterations).

    Not iterative: ``n_iter_`` is n (VCA's iterations), ``converged_`` is True. Batched input runs VCA
    batched, and so are the abundances (all pixels of all samples at once).
    """

    name: ClassVar[str] = "vca-fcls"
    family: ClassVar[str] = "geometric unmixing, abundances on the simplex"
    reference: ClassVar[str] = "Nascimento & Dias 2005; Heinz & Chang 2001"
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **COMMON_CONSTRAINTS,
        "snr": [NONE, Interval(float, None, None)],
        "abundances": [Options(("fcls", "nnls"))],
    }

    def __init__(
        self,
        *,
        n_sources: int = 2,
        snr: float | None = None,
        abundances: str = "fcls",
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        self.n_sources = n_sources
        self.snr = snr
        self.abundances = abundances
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _abundances(self, X: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        solve = fcls_batch if self.abundances == "fcls" else nnls_abundances_batch
        return solve(X, A, verbose=bool(self.verbose)).to(dtype=X.dtype)

    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        A, idx, snr_db = vca_batch(X, self.n_sources, self._rng(), self.snr)
        S = self._abundances(X, A)
        snr_list = [float(v) if np.isfinite(v) else None for v in to_numpy(snr_db)]
        info = {"indices": to_numpy(idx).tolist(), "snr_db": snr_list}  # None: noiseless (infinite SNR)
        return FitResult(A=A, S=S, n_iter=self.n_sources, converged=True, info=info)

    def _transform_batch(self, X: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        return self._abundances(X, A.expand(X.shape[0], -1, -1))


__all__ = ["EXACT_MAX_SOURCES", "VCAFCLS", "fcls", "fcls_batch", "nnls_abundances", "nnls_abundances_batch", "vca",
           "vca_batch"]
