"""Nonnegative matrix factorisation X ≈ A·S with A ≥ 0, S ≥ 0: multiplicative updates, accelerated HALS,
sparse NMF and scikit-learn's coordinate descent.

Shapes (channels first): X ``(B, m, t)``, A ``(B, m, n)``, S ``(B, n, t)``. Every update equation is one
function named after it (:func:`mu_update_a`, :func:`mu_update_s`, :func:`hals_sweep_a`,
:func:`hals_sweep_s`), batched over ``B`` and written in Gram form (products ``X Sᵀ``, ``S Sᵀ``, ``AᵀX``,
``AᵀA`` computed once per update), so that the unrolled multiplicative-update networks (NALMU / ALMU) call the
same code with learned masks.

Methods (registry names):

- ``"mu"``  — :class:`MU`, Lee & Seung (2001), "Algorithms for non-negative matrix factorization", NIPS 13,
  the Frobenius-norm multiplicative updates (their Theorem 1).
- ``"hals"`` — :class:`HALS`, hierarchical alternating least squares (Cichocki et al. 2007) in the accelerated
  form of Gillis & Glineur (2012), "Accelerated multiplicative updates and hierarchical alternating least
  squares algorithms for nonnegative matrix factorization", Neural Computation 24(4).
- ``"snmf"`` — :class:`SparseNMF`, ℓ1-penalised NMF on S with unit-norm columns of A (see the class docstring
  for the exact variant).
- ``"nmf-cd"`` — :class:`NMFCD`, ``sklearn.decomposition.NMF(solver="cd")`` (Cichocki & Phan 2009) on
  ``V = Xᵀ``.

Stopping rule of ``mu``, ``hals`` and ``snmf`` (per sample of a batch): with ``f_k`` the objective after
iteration ``k`` and ``f_0`` its value at the initialisation, a sample stops when ``|f_{k-1} − f_k| ≤ tol ·
f_0`` (the relative-decrease test of scikit-learn's MU solver, checked every iteration). Samples that have
stopped keep their factors while the others go on.

Initialisations (``init``): ``"nndsvda"`` (default) and ``"nndsvd"`` — the nonnegative double SVD of Boutsidis
& Gallopoulos (2008), "SVD based initialization: a head start for nonnegative matrix factorization", Pattern
Recognition 41(4), with the zeros of the result replaced by ``mean(X)`` (``"nndsvda"``) or by ``eps``
(``"nndsvd"``); ``"random"`` — ``sqrt(mean(X)/n)·|N(0, 1)|`` entries (scikit-learn's scale), one draw of shape
``(m, n)`` and ``(n, t)`` shared by all samples of a batch so that batched and one-by-one runs agree. A given
``A0`` (``(m, n)`` or ``(B, m, n)``, nonnegative) overrides ``init``; S then starts from the nonnegative
least-squares estimate with A0 fixed (:func:`nnls_hals`), floored at ``eps``.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import torch

from .._validation import NONE, InstanceOf, Interval, Options, check_initial_mixing, check_nonnegative_data
from ..prox import project_columns_sphere
from .base import COMMON_CONSTRAINTS, BaseSeparator, FitResult, register
from .driver import iterate, summary_line

# ------------------------------------------------------------------------------------------- update equations


def mu_update_a(
    A: torch.Tensor,
    S: torch.Tensor,
    X: torch.Tensor,
    eps: float = 1e-12,
    mask: torch.Tensor | None = None,
    *,
    XSt: torch.Tensor | None = None,
    SSt: torch.Tensor | None = None,
) -> torch.Tensor:
    """Multiplicative update of A (Lee & Seung 2001, Frobenius loss): ``A ← max(ε, A ⊙ (X Sᵀ) / (A (S Sᵀ)))``.

    Gram form: the denominator is ``A (S Sᵀ)`` with ``S Sᵀ`` ``(B, n, n)``; ``X Sᵀ`` and ``S Sᵀ`` may be
    passed precomputed. ε-protection: the denominator is floored at ``eps`` and the result too (the ``max(ε,
    ·)`` of Gillis & Glineur 2012, §2, which keeps entries from locking at zero).

    ``mask`` (broadcasting against A, e.g. ``(m, n)`` or ``(B, m, n)``) multiplies the update factor
    elementwise: ``A ← max(ε, A ⊙ M ⊙ (X Sᵀ)/(A S Sᵀ))``; ``M = 1`` (``None``) is Lee & Seung's update. The
    unrolled MU networks (NALMU / ALMU) learn ``M`` per layer.
    """
    if XSt is None:
        XSt = X @ S.mT
    if SSt is None:
        SSt = S @ S.mT
    ratio = XSt / (A @ SSt).clamp_min(eps)
    if mask is not None:
        ratio = ratio * mask
    return (A * ratio).clamp_min(eps)


def mu_update_s(
    A: torch.Tensor,
    S: torch.Tensor,
    X: torch.Tensor,
    eps: float = 1e-12,
    lam: float | torch.Tensor = 0.0,
    *,
    AtX: torch.Tensor | None = None,
    AtA: torch.Tensor | None = None,
) -> torch.Tensor:
    """Multiplicative update of S: ``S ← max(ε, S ⊙ (AᵀX) / ((AᵀA) S + λ))``.

    ``λ = 0``: Lee & Seung (2001), Frobenius loss. ``λ > 0``: the ℓ1-penalised update for ``½‖X − AS‖²_F +
    λ‖S‖₁`` (Hoyer 2002, "Non-negative sparse coding", eq. 5), used by :class:`SparseNMF`. Gram form with
    ``AᵀX`` ``(B, n, t)`` and ``AᵀA`` ``(B, n, n)`` optionally precomputed; the denominator is floored at
    ``eps`` and so is the result. ``lam`` is a scalar or broadcasts against S (e.g. ``(B, 1, 1)``).
    """
    if AtX is None:
        AtX = A.mT @ X
    if AtA is None:
        AtA = A.mT @ A
    den = (AtA @ S + lam).clamp_min(eps)
    return (S * (AtX / den)).clamp_min(eps)


def hals_sweep_a(A: torch.Tensor, XSt: torch.Tensor, SSt: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """One HALS sweep over the columns of A (Cichocki et al. 2007; Gillis & Glineur 2012, eq. 7).

    For ``j = 1..n`` in turn: ``A_{:j} ← max(ε, A_{:j} + ((X Sᵀ)_{:j} − A (S Sᵀ)_{:j}) / (S Sᵀ)_{jj})`` — the
    exact minimiser of ``½‖X − AS‖²_F`` over column j with the others fixed, projected on ``[ε, ∞)`` (ε
    instead of 0 keeps a column from vanishing). Each column uses the columns already updated in this sweep,
    so the loop runs over the ``n`` columns; it is batched over ``B``. ``XSt (B, m, n)`` and ``SSt (B, n, n)``
    are precomputed.
    """
    A = A.clone()
    diag = torch.diagonal(SSt, dim1=-2, dim2=-1).clamp_min(torch.finfo(SSt.dtype).tiny)  # (B, n)
    for j in range(A.shape[-1]):
        grad_j = XSt[..., :, j] - (A @ SSt[..., :, j : j + 1])[..., 0]  # (B, m)
        A[..., :, j] = (A[..., :, j] + grad_j / diag[..., j : j + 1]).clamp_min(eps)
    return A


def hals_sweep_s(
    S: torch.Tensor,
    AtX: torch.Tensor,
    AtA: torch.Tensor,
    eps: float = 1e-12,
    lam: float | torch.Tensor = 0.0,
) -> torch.Tensor:
    """One HALS sweep over the rows of S (Gillis & Glineur 2012, eq. 7 applied to Sᵀ), with an optional ℓ1
    term.

    For ``j = 1..n`` in turn: ``S_{j:} ← max(ε, S_{j:} + ((AᵀX)_{j:} − (AᵀA)_{j:} S − λ) / (AᵀA)_{jj})`` — the
    exact minimiser of ``½‖X − AS‖²_F + λ‖S‖₁`` over row j, projected on ``[ε, ∞)``. ``AtX (B, n, t)``, ``AtA
    (B, n, n)`` precomputed; ``lam`` a scalar or ``(B, 1, 1)``. Use ``eps = 0`` for an exact nonnegative
    least-squares sweep.
    """
    S = S.clone()
    diag = torch.diagonal(AtA, dim1=-2, dim2=-1).clamp_min(torch.finfo(AtA.dtype).tiny)  # (B, n)
    if isinstance(lam, torch.Tensor):
        lam = lam.reshape(*lam.shape[:-2], 1) if lam.ndim >= 2 else lam
    for j in range(S.shape[-2]):
        grad_j = AtX[..., j, :] - (AtA[..., j : j + 1, :] @ S)[..., 0, :] - lam  # (B, t)
        S[..., j, :] = (S[..., j, :] + grad_j / diag[..., j : j + 1]).clamp_min(eps)
    return S


def nmf_objective(
    XX: torch.Tensor,
    A: torch.Tensor,
    XSt: torch.Tensor,
    SSt: torch.Tensor,
    lam: float = 0.0,
    S_l1: torch.Tensor | None = None,
) -> torch.Tensor:
    """``½‖X − AS‖²_F (+ λ‖S‖₁)`` per sample, in Gram form: ``½(‖X‖² − 2⟨A, X Sᵀ⟩ + ⟨AᵀA, S Sᵀ⟩)``.

    ``XX`` is ``‖X‖²_F`` per sample ``(B,)``; the small products are combined in float64. Returns ``(B,)``
    float64, floored at 0 (float32 rounding can make a near-exact fit slightly negative).
    """
    Ad = A.double()
    fit = XX - 2 * (Ad * XSt.double()).sum((-2, -1)) + ((Ad.mT @ Ad) * SSt.double()).sum((-2, -1))
    f = 0.5 * fit.clamp_min(0)
    if lam and S_l1 is not None:
        f = f + lam * S_l1.double()
    return f


def nnls_hals(
    A: torch.Tensor,
    X: torch.Tensor,
    *,
    lam: float = 0.0,
    max_sweeps: int = 200,
    tol: float = 1e-6,
    S0: torch.Tensor | None = None,
) -> torch.Tensor:
    """Nonnegative (optionally ℓ1-penalised) least squares ``min_{S ≥ 0} ½‖X − AS‖²_F + λ‖S‖₁`` with A fixed.

    Batched exact coordinate descent: repeated :func:`hals_sweep_s` with ``ε = 0`` from ``S0`` (default
    ``max(A⁺X, 0)``), at most ``max_sweeps`` sweeps; a sample stops when ``‖ΔS‖_F ≤ tol·‖S‖_F``.
    A ``(B, m, n)``, X ``(B, m, t)`` → S ``(B, n, t)``.
    """
    AtX = A.mT @ X
    AtA = A.mT @ A
    if S0 is None:
        S = torch.linalg.lstsq(A, X).solution.clamp_min(0)
    else:
        S = S0

    def step(k, state, ctx):
        S_new = hals_sweep_s(state["S"], AtX, AtA, 0.0, lam)
        change = torch.linalg.vector_norm(S_new - state["S"], dim=(-2, -1))
        return {"S": S_new}, change <= tol * torch.linalg.vector_norm(S_new, dim=(-2, -1)), None

    return iterate(step, {"S": S}, batch=X.shape[0], max_iter=max_sweeps, record_history=False).values["S"]


# --------------------------------------------------------------------------------------------- initialisation


def _gram_eig(X: torch.Tensor, k: int, centre: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Leading ``k`` eigenpairs of ``X Xᵀ`` (or of the centred ``(X − x̄)(X − x̄)ᵀ``), largest first, in
    float64.

    Returns eigenvalues ``(B, k)`` and eigenvectors ``(B, m, k)``; this is the left singular subspace of X
    computed from the small ``(m, m)`` Gram matrix.
    """
    Xc = X - X.mean(-1, keepdim=True) if centre else X
    G = (Xc @ Xc.mT).double()
    vals, vecs = torch.linalg.eigh(G)
    return vals.flip(-1)[..., :k].clamp_min(0), vecs.flip(-1)[..., :k]


def nndsvd_init(X: torch.Tensor, n: int, *, fill: str = "mean", eps: float = 1e-12) -> tuple[torch.Tensor,
torch.Tensor]:
    """NNDSVD (Boutsidis & Gallopoulos 2008, Table 1), vectorised over the batch and the n components.

    With the leading singular triplets ``(σ_j, u_j, v_j)`` of X: split ``u_j, v_j`` into positive and negative
    parts, keep the pair with the larger ``‖u±‖‖v±‖`` and set ``A_{:j} = sqrt(σ_j ‖u±‖‖v±‖)·u±/‖u±‖``,
    ``S_{j:}`` likewise with ``v±``. (For j = 1 the Perron vectors are single-signed, so this is the paper's
    ``sqrt(σ_1)|u_1|``.) Zeros are then replaced by ``mean(X)`` (``fill="mean"``, "nndsvda") or by ``eps``
    (``fill="eps"``, "nndsvd").
    """
    s2, U = _gram_eig(X, n)  # (B, n), (B, m, n)
    sig = s2.sqrt()
    Xd = X.double()
    V = (Xd.mT @ U) / sig.clamp_min(torch.finfo(torch.float64).tiny).unsqueeze(-2)  # (B, t, n)
    up, un = U.clamp_min(0), (-U).clamp_min(0)
    vp, vn = V.clamp_min(0), (-V).clamp_min(0)
    nup, nun = torch.linalg.vector_norm(up, dim=-2), torch.linalg.vector_norm(un, dim=-2)
    nvp, nvn = torch.linalg.vector_norm(vp, dim=-2), torch.linalg.vector_norm(vn, dim=-2)
    mp, mn = nup * nvp, nun * nvn
    use_p = mp >= mn  # (B, n)
    u = torch.where(use_p.unsqueeze(-2), up, un)
    v = torch.where(use_p.unsqueeze(-2), vp, vn)
    nu = torch.where(use_p, nup, nun).clamp_min(torch.finfo(torch.float64).tiny)
    nv = torch.where(use_p, nvp, nvn).clamp_min(torch.finfo(torch.float64).tiny)
    scale = (sig * torch.where(use_p, mp, mn)).sqrt()
    A = u / nu.unsqueeze(-2) * scale.unsqueeze(-2)
    S = (v / nv.unsqueeze(-2) * scale.unsqueeze(-2)).mT
    if fill == "mean":
        avg = Xd.mean((-2, -1), keepdim=True)
        A = torch.where(A > 0, A, avg)
        S = torch.where(S > 0, S, avg)
    else:
        A, S = A.clamp_min(eps), S.clamp_min(eps)
    return A.to(X.dtype), S.to(X.dtype)


def random_init(X: torch.Tensor, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``sqrt(mean(X)/n)·|N(0, 1)|`` factors; one draw ``(m, n)`` and ``(n, t)`` shared by every sample of the
    batch (scaled per sample), so a batched run equals the one-by-one runs with the same seed."""
    B, m, t = X.shape
    a = torch.as_tensor(np.abs(rng.standard_normal((m, n))), dtype=X.dtype, device=X.device)
    s = torch.as_tensor(np.abs(rng.standard_normal((n, t))), dtype=X.dtype, device=X.device)
    avg = (X.mean((-2, -1)) / n).sqrt()[:, None, None]
    return avg * a, avg * s


# ------------------------------------------------------------------------------------------------- estimators

_ARRAY_OR_NONE = [NONE, InstanceOf((np.ndarray, torch.Tensor), "an array (m, n) or (B, m, n)")]

_NMF_CONSTRAINTS: dict[str, list] = {
    **COMMON_CONSTRAINTS,
    "max_iter": [Interval(int, 1, None, closed="left")],
    "tol": [Interval(float, 0, None, closed="left")],
    "init": [Options(("nndsvda", "nndsvd", "random"))],
    "A0": _ARRAY_OR_NONE,
    "eps": [Interval(float, 0, None, closed="neither")],
}


class _IterativeNMF(BaseSeparator):
    """Shared machinery of MU, HALS and SNMF: validation, initialisation, the per-sample stopping loop,
    transform."""

    nonnegative: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list]] = _NMF_CONSTRAINTS
    _normalise_a: ClassVar[bool] = False

    def _lam(self) -> float:
        return 0.0

    def _init_factors(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, m, _ = X.shape
        n = self.n_sources
        if self.A0 is not None:
            A = check_initial_mixing(self.A0, batch=B, n_channels=m, n_sources=n, dtype=X.dtype,
                                     device=X.device, nonnegative=True)
            S = nnls_hals(A, X, lam=self._lam(), max_sweeps=50).clamp_min(self.eps)
        elif self.init == "random":
            A, S = random_init(X, n, self._rng())
        else:
            A, S = nndsvd_init(X, n, fill="mean" if self.init == "nndsvda" else "eps", eps=self.eps)
        if self._normalise_a:  # unit columns of A, the scale moved into S (the product AS is unchanged)
            norms = torch.linalg.vector_norm(A, dim=-2, keepdim=True).clamp_min(self.eps)
            A, S = project_columns_sphere(A, eps=self.eps), S * norms.mT
        return A, S

    @abstractmethod
    def _step(
        self, A: torch.Tensor, S: torch.Tensor, X: torch.Tensor, active: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One outer iteration; returns ``(A, S, XSᵀ, SSᵀ)`` with the products of the new S."""

    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        X = check_nonnegative_data(X, method=self.name)
        lam = self._lam()
        A, S = self._init_factors(X)
        B = X.shape[0]
        XX = (X.double() ** 2).sum((-2, -1))

        def objective(A_, S_, XSt_, SSt_):
            return nmf_objective(XX, A_, XSt_, SSt_, lam, S_.sum((-2, -1)) if lam else None)

        f0 = objective(A, S, X @ S.mT, S @ S.mT)

        def step(k, state, ctx):
            A_new, S_new, XSt, SSt = self._step(state["A"], state["S"], X, ctx.active)
            f = objective(A_new, S_new, XSt, SSt)
            done = (state["f_prev"] - f).abs() <= self.tol * f0
            return {"A": A_new, "S": S_new, "f_prev": f}, done, {"objective": f[0]}

        run = iterate(step, {"A": A, "S": S, "f_prev": f0.clone()}, batch=B, max_iter=self.max_iter,
                      active=f0 > 0, verbose=self.verbose, desc=type(self).__name__)
        A, S, n_iter, converged = run.values["A"], run.values["S"], run.n_iter, run.converged
        history = [float(f0[0])] + run.history.get("objective", [])
        if self.verbose:
            print(summary_line(type(self).__name__, n_iter, converged))
        return FitResult(A=A, S=S, n_iter=n_iter, converged=converged, history={"objective": history})

    def _transform_batch(self, X: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        """S ≥ 0 with A fixed: batched nonnegative least squares by HALS sweeps (:func:`nnls_hals`, up to 200
        sweeps, relative-change tolerance 1e-6), with the method's ℓ1 weight for ``snmf``."""
        X = check_nonnegative_data(X, method=self.name)
        return nnls_hals(A.expand(X.shape[0], -1, -1), X, lam=self._lam())


@register
class MU(_IterativeNMF):
    """NMF by multiplicative updates (Lee & Seung 2001, Frobenius loss): ``min ½‖X − AS‖²_F`` s.t. A, S ≥ 0.

    Each iteration: ``S ←`` :func:`mu_update_s` (``S ⊙ AᵀX/(AᵀA S)``), then ``A ←`` :func:`mu_update_a` (``A ⊙
    XSᵀ/(A SSᵀ)``) with the new S; both ε-protected. Stopping, initialisations: see the module docstring.

    Parameters (keyword-only)
    -------------------------
    n_sources : number of sources n.
    max_iter : maximum number of iterations (default 2000).
    tol : relative-decrease tolerance, stop when ``|f_{k−1} − f_k| ≤ tol·f_0`` (default 1e-7; MU is
        slow: on exact low-rank data SAD > 0.999 can take a few thousand iterations).
    init : ``"nndsvda"`` (default), ``"nndsvd"`` or ``"random"``.
    A0 : optional initial A ``(m, n)`` or ``(B, m, n)``, overrides ``init``.
    eps : floor of denominators and factors (default 1e-12).
    random_state, dtype, device, verbose : as everywhere.
    """

    name: ClassVar[str] = "mu"
    family: ClassVar[str] = "NMF, Frobenius multiplicative updates"
    reference: ClassVar[str] = "Lee & Seung 2001"

    def __init__(
        self,
        *,
        n_sources: int = 2,
        max_iter: int = 2000,
        tol: float = 1e-7,
        init: str = "nndsvda",
        A0: Any = None,
        eps: float = 1e-12,
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        self.n_sources = n_sources
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.A0 = A0
        self.eps = eps
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _step(self, A, S, X, active):
        S = mu_update_s(A, S, X, self.eps, self._lam(), AtX=A.mT @ X, AtA=A.mT @ A)
        XSt, SSt = X @ S.mT, S @ S.mT
        A = mu_update_a(A, S, X, self.eps, XSt=XSt, SSt=SSt)
        return A, S, XSt, SSt


@register
class SparseNMF(MU):
    """Sparse NMF ("snmf"): ``min ½‖X − AS‖²_F + λ‖S‖₁`` s.t. ``A, S ≥ 0``, ``‖A_{:j}‖₂ = 1``.

    Variant (exactly): each iteration
    1. ``S ← max(ε, S ⊙ AᵀX / (AᵀA S + λ))`` — the ℓ1-penalised multiplicative update of Hoyer (2002),
       "Non-negative sparse coding", IEEE NNSP, eq. 5 (:func:`mu_update_s` with ``lam``);
    2. ``A ← max(ε, A ⊙ XSᵀ / (A SSᵀ))`` (:func:`mu_update_a`), then every column of A is divided by its ℓ2
       norm (S is *not* rescaled). This normalise-after-update scheme is the heuristic discussed by Eggert &
       Körner (2004), "Sparse coding and NMF", IJCNN, and called the "half-baked" variant by Le Roux, Weninger
       & Hershey (2015), "Sparse NMF — half-baked or well done?"; the unit-norm columns fix the scale so that
       λ is meaningful. The objective is not guaranteed to decrease monotonically; the stopping rule uses
       ``|f_{k−1} − f_k|``.

    ``lam`` (λ ≥ 0, default 0.1) is absolute, in the units of the data: since ‖A_{:j}‖₂ = 1, λ is compared
    with the entries of AᵀX. Other parameters as :class:`MU`. ``transform`` solves the ℓ1-penalised NNLS with
    A fixed.
    """

    name: ClassVar[str] = "snmf"
    family: ClassVar[str] = "NMF with ℓ1 on S"
    reference: ClassVar[str] = "Hoyer 2002"
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **_NMF_CONSTRAINTS,
        "lam": [Interval(float, 0, None, closed="left")],
    }
    _normalise_a: ClassVar[bool] = True

    def __init__(
        self,
        *,
        n_sources: int = 2,
        lam: float = 0.1,
        max_iter: int = 2000,
        tol: float = 1e-7,
        init: str = "nndsvda",
        A0: Any = None,
        eps: float = 1e-12,
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        super().__init__(
            n_sources=n_sources, max_iter=max_iter, tol=tol, init=init, A0=A0, eps=eps,
            random_state=random_state, dtype=dtype, device=device, verbose=verbose,
        )
        self.lam = lam

    def _lam(self) -> float:
        return float(self.lam)

    def _step(self, A, S, X, active):
        A, S, XSt, SSt = super()._step(A, S, X, active)
        return project_columns_sphere(A, eps=self.eps), S, XSt, SSt


@register
class HALS(_IterativeNMF):
    """NMF by accelerated hierarchical alternating least squares (Gillis & Glineur 2012, Algorithm "A-HALS").

    Each outer iteration updates S, then A. For S: precompute ``AᵀX``, ``AᵀA`` once, then repeat
    :func:`hals_sweep_s` while the improvement stays large: at most ``⌊1 + α ρ_S⌋`` sweeps, and stop the inner
    loop of a sample as soon as ``‖S^{(l+1)} − S^{(l)}‖_F ≤ δ ‖S^{(1)} − S^{(0)}‖_F``. Likewise for A with
    ``XSᵀ``, ``SSᵀ`` and :func:`hals_sweep_a`. ``ρ`` is the paper's ratio (cost of the products + one sweep) /
    (one sweep), written for X ``(m, t)``, A ``(m, n)``, S ``(n, t)``: ``ρ_A = 1 + t(m + n)/(m(n + 1))``,
    ``ρ_S = 1 + m(t + n)/(t(n + 1))``. Defaults ``α = 0.5``, ``δ = 0.1`` (the values the paper recommends for
    HALS).

    Parameters: as :class:`MU` (defaults ``max_iter=500``, ``tol=1e-7``), plus ``alpha`` (α ≥ 0) and ``delta``
    (δ ∈ [0, 1]).
    """

    name: ClassVar[str] = "hals"
    family: ClassVar[str] = "NMF, accelerated HALS"
    reference: ClassVar[str] = "Gillis & Glineur 2012"
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **_NMF_CONSTRAINTS,
        "alpha": [Interval(float, 0, None, closed="left")],
        "delta": [Interval(float, 0, 1, closed="both")],
    }

    def __init__(
        self,
        *,
        n_sources: int = 2,
        max_iter: int = 500,
        tol: float = 1e-7,
        init: str = "nndsvda",
        A0: Any = None,
        eps: float = 1e-12,
        alpha: float = 0.5,
        delta: float = 0.1,
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        self.n_sources = n_sources
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.A0 = A0
        self.eps = eps
        self.alpha = alpha
        self.delta = delta
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _inner(self, sweep, Z: torch.Tensor, max_inner: int, active: torch.Tensor) -> torch.Tensor:
        """Repeat ``sweep`` on ``Z`` per sample while ``‖ΔZ‖ > δ‖ΔZ_first‖`` (at most ``max_inner``
        sweeps)."""

        def step(k, state, ctx):
            Z_new = sweep(state["Z"])
            d = torch.linalg.vector_norm(Z_new - state["Z"], dim=(-2, -1))
            first = d if k == 0 else state["first"]
            return {"Z": Z_new, "first": first}, ~(d > self.delta * first), None

        return iterate(step, {"Z": Z}, batch=Z.shape[0], max_iter=max_inner, active=active,
                       record_history=False).values["Z"]

    def _step(self, A, S, X, active):
        m, n = A.shape[-2:]
        t = X.shape[-1]
        rho_a = 1 + t * (m + n) / (m * (n + 1))
        rho_s = 1 + m * (t + n) / (t * (n + 1))
        AtX, AtA = A.mT @ X, A.mT @ A
        S = self._inner(lambda Z: hals_sweep_s(Z, AtX, AtA, self.eps), S, int(1 + self.alpha * rho_s), active)
        XSt, SSt = X @ S.mT, S @ S.mT
        A = self._inner(lambda Z: hals_sweep_a(Z, XSt, SSt, self.eps), A, int(1 + self.alpha * rho_a), active)
        return A, S, XSt, SSt


@register
class NMFCD(BaseSeparator):
    """NMF by coordinate descent through scikit-learn: ``sklearn.decomposition.NMF(solver="cd")`` (Cichocki &
    Phan 2009, "Fast local algorithms for large scale nonnegative matrix and tensor factorizations").

    Transposition: scikit-learn factorises ``V (samples, features) ≈ W H``. semiblind passes ``V = Xᵀ`` ``(t,
    m)`` (pixels are samples, channels features), so ``W = Sᵀ`` ``(t, n)`` and ``H = Aᵀ`` ``(n, m)``; the
    result is ``A = H.T`` (``model.components_.T``) and ``S = W.T``. Consequently ``alpha_S`` is passed as
    scikit-learn's ``alpha_W`` and ``alpha_A`` as its ``alpha_H`` (regularisation ``l1_ratio``-mixed as
    documented there).

    scikit-learn is not batched: a batch ``(B, m, t)`` is fitted by a loop over its samples (the one place in
    the solvers where samples are looped over). ``tol`` and the stopping rule are scikit-learn's
    (projected-gradient violation relative to the first iteration); ``converged`` means ``n_iter < max_iter``.
    ``init`` is passed on (``"nndsvda"``, ``"nndsvd"``, ``"nndsvdar"``, ``"random"``); with ``A0`` the init is
    ``"custom"`` with ``H = A0ᵀ`` and ``W`` the nonnegative least-squares ``Sᵀ``. The integer seed given to
    scikit-learn is drawn once from ``random_state``, the same for every sample. history holds the final
    objective ``½‖X − AS‖²_F`` only (scikit-learn does not expose per-iteration values). ``transform`` uses
    :func:`nnls_hals` with A fixed.
    """

    name: ClassVar[str] = "nmf-cd"
    family: ClassVar[str] = "NMF, scikit-learn coordinate descent (X transposed: V = Xᵀ, W = Sᵀ, H = Aᵀ)"
    reference: ClassVar[str] = "Cichocki & Phan 2009"
    nonnegative: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **COMMON_CONSTRAINTS,
        "max_iter": [Interval(int, 1, None, closed="left")],
        "tol": [Interval(float, 0, None, closed="left")],
        "init": [Options(("nndsvda", "nndsvd", "nndsvdar", "random"))],
        "A0": _ARRAY_OR_NONE,
        "alpha_S": [Interval(float, 0, None, closed="left")],
        "alpha_A": [Interval(float, 0, None, closed="left")],
        "l1_ratio": [Interval(float, 0, 1, closed="both")],
    }

    def __init__(
        self,
        *,
        n_sources: int = 2,
        max_iter: int = 500,
        tol: float = 1e-4,
        init: str = "nndsvda",
        A0: Any = None,
        alpha_S: float = 0.0,
        alpha_A: float = 0.0,
        l1_ratio: float = 0.0,
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        self.n_sources = n_sources
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.A0 = A0
        self.alpha_S = alpha_S
        self.alpha_A = alpha_A
        self.l1_ratio = l1_ratio
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        from sklearn.decomposition import NMF
        from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning

        X = check_nonnegative_data(X, method=self.name)
        B, m, _ = X.shape
        n = self.n_sources
        seed = int(self._rng().integers(0, 2**31 - 1))
        A0 = None if self.A0 is None else check_initial_mixing(
            self.A0, batch=B, n_channels=m, n_sources=n, dtype=X.dtype, device=X.device, nonnegative=True)
        np_dtype = np.float64 if X.dtype == torch.float64 else np.float32
        As, Ss, iters = [], [], []
        for b in range(B):  # scikit-learn is not batched
            V = X[b].mT.cpu().numpy().astype(np_dtype)  # (t, m): pixels are samples
            model = NMF(
                n_components=n, init="custom" if A0 is not None else self.init, solver="cd",
                beta_loss="frobenius", tol=self.tol, max_iter=self.max_iter, random_state=seed,
                alpha_W=self.alpha_S, alpha_H=self.alpha_A, l1_ratio=self.l1_ratio, verbose=0,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SkConvergenceWarning)
                if A0 is not None:
                    S0 = nnls_hals(A0[b : b + 1], X[b : b + 1])[0]
                    W = model.fit_transform(
                        V, W=np.ascontiguousarray(S0.mT.cpu().numpy().astype(np_dtype)),
                        H=np.ascontiguousarray(A0[b].mT.cpu().numpy().astype(np_dtype)),
                    )
                else:
                    W = model.fit_transform(V)
            As.append(torch.as_tensor(model.components_.T.copy(), dtype=X.dtype))  # A = H.T
            Ss.append(torch.as_tensor(W.T.copy(), dtype=X.dtype))  # S = W.T
            iters.append(int(model.n_iter_))
        A = torch.stack(As).to(X.device)
        S = torch.stack(Ss).to(X.device)
        n_iter = torch.tensor(iters)
        if self.verbose:
            print(summary_line("NMF-CD (scikit-learn)", n_iter, n_iter < self.max_iter))
        R = X[:1] - A[:1] @ S[:1]
        history = {"objective": [0.5 * float((R.double() ** 2).sum())]}
        return FitResult(A=A, S=S, n_iter=n_iter, converged=n_iter < self.max_iter, history=history)

    def _transform_batch(self, X: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        """S ≥ 0 with A fixed by :func:`nnls_hals` (batched), not by scikit-learn."""
        X = check_nonnegative_data(X, method=self.name)
        return nnls_hals(A.expand(X.shape[0], -1, -1), X)


__all__ = [
    "HALS",
    "MU",
    "NMFCD",
    "SparseNMF",
    "hals_sweep_a",
    "hals_sweep_s",
    "mu_update_a",
    "mu_update_s",
    "nmf_objective",
    "nndsvd_init",
    "nnls_hals",
    "random_init",
]
