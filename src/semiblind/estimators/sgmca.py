"""sGMCA: semi-blind GMCA with learned spectral manifolds (Carloni Gertosio, Bobin & Acero 2023, Algorithms 1–2).

GMCA (:mod:`semiblind.solvers.gmca`) in which the columns of A that a learned model describes are projected onto
that model's manifold after every A-step. One iteration (Algorithm 1), on ``X (B, m, t)``:

1. ``S ← A⁺X`` and ``S ← T_Λ(S Wᵀ) W`` in the starlet domain (``n_scales`` detail scales, paper 2): GMCA's
   S-step (:func:`~semiblind.solvers.gmca.gmca_update_s`: 3σ MAD thresholds, growing support fraction, ℓ1
   reweighting once it is complete) on the detail scales; the coarse scale ``A⁺X_c`` is kept as it is, and the
   scales are summed back (the starlet synthesis);
2. ``A ← X S⁺``: GMCA's A-step (:func:`~semiblind.solvers.gmca.gmca_update_a`) on the detail scales, as GMCA
   (the coarse scale, where smooth maps overlap most, is not used to estimate A); its columns come out with unit
   ℓ2 norm, i.e. on the unit ℓ2 ball (the constraint of the unmodelled columns);
3. identification (Algorithm 2, :func:`identify_columns`) of which column each model describes — or a given
   ``mapping`` — then each modelled column ← its projection onto the model's manifold, brought to unit norm
   (``projection="exact"``: :func:`~semiblind.priors.iae.exact_projection`; ``"fast"``:
   :func:`~semiblind.priors.iae.fast_projection`);

until ``‖S^(k) − S^(k−1)‖_F / ‖S^(k)‖_F ≤ tol`` (1e-6; tested once the support fraction is complete) or
``max_iter`` (50) iterations. Batched over ``B`` with per-sample stopping.

Variants for the paper's benchmarks: :class:`NearestNeighbourSGMCA` (``"sgmca-nn"``: the manifold is replaced by
the closest reference spectrum up to scale) and :class:`OracleGMCA` (``"oracle-gmca"``: GMCA's S-step with the
true A, GMCA's A-step with the true S).

Models: ``models`` lists IAE model folders or shipped names, one per modelled source (the same model may appear
twice, e.g. two emission lines). With ``models=None`` the shipped IAE models of the data's grid are used (one per
family of the X-ray simulator); a grid with none is refused.
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from .._validation import BOOL, NONE, InstanceOf, Interval, Options, Predicate
from ..priors.iae import IAE, exact_projection, fast_projection, unit_rows
from ..solvers.base import COMMON_CONSTRAINTS, BaseSeparator, FitResult, register
from ..solvers.gmca import (
    gmca_init_pca,
    gmca_pinv,
    gmca_update_a,
    gmca_update_s,
    support_fraction_schedule,
)
from ..training.iae import find_shipped_iae, load_iae
from ..transforms import starlet_forward

PROJECTIONS = ("exact", "fast")
REIDENTIFY = ("ramp", "always")

__all__ = ["PROJECTIONS", "SGMCA", "NearestNeighbourSGMCA", "OracleGMCA", "identify_columns",
           "nearest_neighbour_projection", "sgmca", "starlet_split"]

Projector = Callable[[torch.Tensor], torch.Tensor]  # (N, m) spectra -> (N, m) projections


# ------------------------------------------------------------------------------------------ the pieces


def starlet_split(X: torch.Tensor, n_scales: int, image_shape: tuple[int, int] | None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Detail scales ``(B, m, J, t)`` and coarse scale ``(B, m, t)`` of ``X (B, m, t)`` (2-D starlet when
    ``image_shape = (H, W)``, else along the pixels)."""
    B, m, t = X.shape
    if image_shape is not None:
        H, W = image_shape
        d, c = starlet_forward(X.reshape(B, m, H, W), n_scales, ndim=2)
        return d.reshape(B, m, n_scales, t), c.reshape(B, m, t)
    return starlet_forward(X, n_scales, ndim=1)


def nearest_neighbour_projection(references: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """The reference spectrum closest to each row of ``a (N, m)`` up to a nonnegative scale: ``r* = argmax_r
    cos(a, r)`` over ``references (R, m)``, returned as ``ρ r*`` with ``ρ = max(aᵀr*, 0)/‖r*‖²``."""
    R = unit_rows(references.to(a.dtype))
    best = R[(a @ R.mT).argmax(dim=-1)]
    rho = (a * best).sum(-1).clamp_min(0)
    return rho.unsqueeze(-1) * best


def identify_columns(A: torch.Tensor, fast: Sequence[Projector], *, n_mu: int = 11) -> torch.Tensor:
    """Algorithm 2 of the sGMCA paper: which column of ``A (B, m, n)`` each model describes, greedily.

    At each step every remaining (column i, model j) pair is scored by the relative fast-projection error of
    ``a_i − Σ_l μ_l e_l`` (unit norm) on model j, minimised over ``μ ∈ {0, 1/(n_mu−1), …, 1}^s`` where
    ``e_1..e_s`` are the projections of the pairs identified so far (all grid points and pairs at once); the best
    pair is fixed and removed. ``fast[j]`` maps spectra ``(N, m)`` to their projections. Returns ``(B, k)``: the
    column of each model (−1 when there are fewer columns than models). Loops only over the ``min(n, k)``
    steps.
    """
    B, m, n = A.shape
    k = len(fast)
    cols = unit_rows(A.mT)  # (B, n, m)
    grid1 = torch.linspace(0, 1, n_mu, dtype=A.dtype, device=A.device)
    assign = torch.full((B, k), -1, dtype=torch.long, device=A.device)
    col_free = torch.ones(B, n, dtype=torch.bool, device=A.device)
    mod_free = torch.ones(B, k, dtype=torch.bool, device=A.device)
    found: list[torch.Tensor] = []  # projections of the identified pairs, each (B, m)
    bidx = torch.arange(B, device=A.device)
    for step in range(min(n, k)):
        if step == 0:
            cand = cols.unsqueeze(2)  # (B, n, 1, m)
        else:
            mus = torch.cartesian_prod(*([grid1] * step)).reshape(-1, step)  # (G, s)
            E = torch.stack(found, dim=1)  # (B, s, m)
            cand = cols.unsqueeze(2) - torch.einsum("gs,bsm->bgm", mus, E).unsqueeze(1)
        G = cand.shape[2]
        u = unit_rows(cand).reshape(-1, m)
        errs = []
        for proj in fast:  # loop over the k models; all columns and grid points at once
            p = proj(u)
            errs.append(((u - p) ** 2).sum(-1).reshape(B, n, G).amin(-1))
        err = torch.stack(errs, dim=-1)  # (B, n, k)
        err = err.masked_fill(~(col_free.unsqueeze(-1) & mod_free.unsqueeze(1)), float("inf"))
        flat = err.reshape(B, -1).argmin(-1)
        ci, mj = flat // k, flat % k
        assign[bidx, mj] = ci
        col_free[bidx, ci] = False
        mod_free[bidx, mj] = False
        # the identified spectrum: the fast projection of its column on its model (unit norm)
        sel = cols[bidx, ci]  # (B, m)
        e = torch.zeros_like(sel)
        for j, proj in enumerate(fast):
            mask = mj == j
            if bool(mask.any()):
                e[mask] = unit_rows(proj(sel[mask]))
        found.append(e)
    return assign


def _project_modelled(A: torch.Tensor, assign: torch.Tensor, projectors: Sequence[Projector]) -> torch.Tensor:
    """Replace each modelled column ``assign[b, j]`` of ``A (B, m, n)`` by ``projectors[j]`` of it (unit norm);
    a projection of norm 0 (an anti-correlated column) leaves the column unchanged."""
    B = A.shape[0]
    out = A.clone()
    bidx = torch.arange(B, device=A.device)
    for j, proj in enumerate(projectors):  # loop over models; all samples at once
        ok = assign[:, j] >= 0
        if not bool(ok.any()):
            continue
        b, c = bidx[ok], assign[ok, j]
        p = proj(A[b, :, c])
        nrm = torch.linalg.vector_norm(p, dim=-1, keepdim=True)
        out[b, :, c] = torch.where(nrm > 0, p / nrm.clamp_min(torch.finfo(A.dtype).tiny), A[b, :, c])
    return out


def sgmca(
    X: torch.Tensor,
    n_sources: int,
    *,
    fast: Sequence[Projector],
    project: Sequence[Projector],
    image_shape: tuple[int, int] | None = None,
    n_scales: int = 2,
    k: float = 3.0,
    K_max: float = 0.5,
    n_ramp: int | None = None,
    max_iter: int = 50,
    tol: float = 1e-6,
    min_coefficients: int = 5,
    reweighting: bool = True,
    sv_floor: float = 1e-3,
    mapping: Sequence[int] | None = None,
    n_mu: int = 11,
    reidentify: str = "ramp",
    final_s: str = "least_squares",
    A0: torch.Tensor | None = None,
) -> FitResult:
    """Run sGMCA (Algorithm 1) on ``X (B, m, t)``; see the module docstring and :class:`SGMCA`.

    ``fast[j]`` / ``project[j]``: the fast projection (used by the identification) and the projection applied
    to the column of model ``j`` (spectra as rows ``(N, m)`` in, projections out). ``mapping[j]``: the column of
    model ``j`` (skips the identification). ``reidentify``: ``"always"`` (Algorithm 2 at every iteration) or
    ``"ramp"`` (at every iteration while the support fraction grows, then the assignment is kept: the costly
    search stops once the columns have settled). ``A0 (B, m, n)``: starting point (default: GMCA's PCA start).
    ``final_s``: ``"least_squares"`` (``A⁺X`` with the final A, as GMCA's default) or ``"thresholded"`` (the last
    thresholded estimate). Returns A ``(B, m, n)``, S ``(B, n, t)``, ``history["delta_S"]``, and
    ``info["assignment"]`` (first sample: model index → column).
    """
    B, m, t = X.shape
    n = int(n_sources)
    Xw, Xc = starlet_split(X, n_scales, image_shape)
    A = gmca_init_pca(Xw.reshape(B, m, -1), n) if A0 is None else A0.clone()
    kmod = len(project)
    if mapping is not None:
        assign = torch.as_tensor(list(mapping), dtype=torch.long, device=X.device).expand(B, kmod).clone()
    ramp = max(1, max_iter // 2) if n_ramp is None else int(n_ramp)
    S_w = S_prev = None
    S = None
    active = torch.ones(B, dtype=torch.bool, device=X.device)
    n_iter = torch.full((B,), max_iter, dtype=torch.long, device=X.device)
    converged = torch.zeros(B, dtype=torch.bool, device=X.device)
    history: list[float] = []
    tiny = torch.finfo(X.dtype).tiny
    for it in range(max_iter):
        K = support_fraction_schedule(it, K_max, ramp)
        pinvA = gmca_pinv(A, sv_floor)
        reweight = reweighting and S_w is not None and it >= ramp - 1
        S_w = gmca_update_s(A, Xw, k=k, support_fraction=K, min_coefficients=min_coefficients,
                            S_prev=S_w if reweight else None, sv_floor=sv_floor, pinvA=pinvA)
        S_new = S_w.sum(dim=2) + pinvA @ Xc
        A_new = gmca_update_a(Xw, S_w, A_prev=A)
        if kmod:
            if mapping is None and (reidentify == "always" or it < ramp or it == 0):
                assign = identify_columns(A_new, fast, n_mu=n_mu)
            A_new = _project_modelled(A_new, assign, project)
        if S is None:
            delta = torch.ones(B, dtype=X.dtype, device=X.device)
        else:
            delta = (torch.linalg.vector_norm((S_new - S).reshape(B, -1), dim=-1)
                     / torch.linalg.vector_norm(S_new.reshape(B, -1), dim=-1).clamp_min(tiny))
        if S is None or bool(active.all()):
            A, S = A_new, S_new
        else:
            A = torch.where(active.view(B, 1, 1), A_new, A)
            S = torch.where(active.view(B, 1, 1), S_new, S)
        if bool(active[0]):
            history.append(float(delta[0]))
        if it >= ramp:
            done = active & (delta <= tol)
            n_iter = torch.where(done, it + 1, n_iter)
            converged |= done
            active &= ~done
            if not bool(active.any()):
                break
        S_prev = S
    del S_prev
    if final_s == "least_squares":
        S = gmca_pinv(A, sv_floor) @ X
    info = {"assignment": assign[0].tolist() if kmod else []}
    return FitResult(A=A, S=S, n_iter=n_iter, converged=converged, history={"delta_S": history}, info=info)


# ------------------------------------------------------------------------------------------ estimators

_GMCA_CONSTRAINTS: dict[str, list] = {
    **COMMON_CONSTRAINTS,
    "n_scales": [Interval(int, 1, None, closed="left")],
    "k": [Interval(float, 0, None, closed="neither")],
    "K_max": [Interval(float, 0, 1, closed="right")],
    "n_ramp": [Interval(int, 1, None, closed="left"), NONE],
    "max_iter": [Interval(int, 1, None, closed="left")],
    "tol": [Interval(float, 0, None, closed="left")],
    "min_coefficients": [Interval(int, 1, None, closed="left")],
    "reweighting": [BOOL],
    "sv_floor": [Interval(float, 0, 1, closed="both")],
    "final_s": [Options(("least_squares", "thresholded"))],
}
_LIST = InstanceOf((str, list, tuple), "a comma-separated string or a list")
_MAPPING = InstanceOf((str, list, tuple, int, np.integer), "a comma-separated string of column indices or a list")
_ARRAY = InstanceOf((np.ndarray, torch.Tensor, list, tuple), "an array")


def _split_list(value: Any, name: str) -> list[Any]:
    """A comma-separated string or a sequence as a list; ``"none"`` or an empty list give ``[]``."""
    if value is None:
        return []
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return [int(value)]
    if isinstance(value, str):
        if value.strip().lower() == "none":
            return []
        items: list[Any] = [v.strip() for v in value.split(",")]
    else:
        items = list(value)
    if any(isinstance(v, str) and not v for v in items) or (isinstance(value, str) and not items):
        raise ValueError(f"{name} must be a comma-separated list (or 'none'); got {value!r}.")
    return items


class _GMCAFamily(BaseSeparator):
    """Shared constructor arguments of the sGMCA estimators (GMCA's thresholding and stopping)."""

    def _gmca_kwargs(self) -> dict[str, Any]:
        return {"n_scales": self.n_scales, "k": self.k, "K_max": self.K_max, "n_ramp": self.n_ramp,
                "max_iter": self.max_iter, "tol": self.tol, "min_coefficients": self.min_coefficients,
                "reweighting": self.reweighting, "sv_floor": self.sv_floor, "final_s": self.final_s}

    def _given_A0(self, X: torch.Tensor) -> torch.Tensor | None:
        if self.A0 is None:
            return None
        B, m, _ = X.shape
        A = torch.as_tensor(np.asarray(self.A0.detach().cpu() if isinstance(self.A0, torch.Tensor) else self.A0),
                            dtype=X.dtype, device=X.device)
        if A.ndim not in (2, 3) or tuple(A.shape[-2:]) != (m, self.n_sources):
            raise ValueError(f"A0 must have shape ({m}, {self.n_sources}) or (B, {m}, {self.n_sources}); got "
                             f"{tuple(A.shape)}.")
        A = A.expand(B, m, self.n_sources).clone()
        return A / torch.linalg.vector_norm(A, dim=-2, keepdim=True).clamp_min(torch.finfo(A.dtype).tiny)

    def _mapping(self, n_models: int) -> list[int] | None:
        if self.mapping is None:
            return None
        cols = [int(c) for c in _split_list(self.mapping, "mapping")]
        if len(cols) != n_models or len(set(cols)) != len(cols) or not all(0 <= c < self.n_sources for c in cols):
            raise ValueError(f"mapping must list {n_models} distinct column indices in [0, {self.n_sources}) (one "
                             f"per model); got {self.mapping!r}.")
        return cols

    def _report(self, res: FitResult, X: torch.Tensor, t0: float, what: str) -> None:
        if self.verbose:
            print(f"{self.name}: {what}; {int(torch.as_tensor(res.n_iter).max())} iteration(s), "
                  f"{int(torch.as_tensor(res.converged).sum())}/{X.shape[0]} converged in "
                  f"{time.perf_counter() - t0:.3g} s", file=sys.stderr)


@register
class SGMCA(_GMCAFamily):
    """sGMCA (Carloni Gertosio, Bobin & Acero 2023): GMCA with the modelled spectra kept on learned IAE manifolds.

    Parameters (keyword-only; defaults in brackets)
    -----------------------------------------------
    n_sources : number of sources n [4].
    models : IAE model folders or shipped names, one per modelled source (comma-separated string or list; a
        model may repeat); ``"none"`` or ``[]``: no source modelled (GMCA in sGMCA's form) [None: the shipped
        IAE models of the data's grid, one per family].
    mapping : the column of each model (comma-separated ints, as many as models) [None: identified at every
        iteration by Algorithm 2].
    projection : ``"exact"`` (eqs. 10–11, Gauss–Newton from the fast projection) or ``"fast"`` (eq. B.4)
        ["exact"].
    n_mu : points of the μ grid of the identification, ``{0, …, 1}`` [11].
    reidentify : ``"ramp"`` (identify at every iteration while GMCA's support fraction grows, then keep the
        assignment) or ``"always"`` (every iteration, as Algorithm 1 is written; about twice the cost) ["ramp"].
    n_scales [2], k [3.0], K_max [0.5], n_ramp [None: max_iter // 2], max_iter [50], tol [1e-6],
    min_coefficients [5], reweighting [True], sv_floor [1e-3], final_s ["least_squares"; or "thresholded"]:
    GMCA's (see :class:`semiblind.solvers.gmca.GMCA`).
    A0 : starting mixing matrix ``(m, n)`` [None: GMCA's PCA start].
    energies : the data's channel energies (keV); shipped models must match their grid [None].
    random_state, dtype, device, verbose: as everywhere.

    Fitted: ``mixing_``, ``sources_``, ``n_iter_``, ``converged_``, ``history_["delta_S"]``, ``assignment_``
    (model index → column, first sample), ``models_`` (the names used).
    """

    name: ClassVar[str] = "sgmca"
    family: ClassVar[str] = "semi-blind GMCA, learned spectral manifolds (IAE)"
    reference: ClassVar[str] = "Carloni Gertosio, Bobin & Acero 2023"
    nonnegative: ClassVar[bool] = False
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **_GMCA_CONSTRAINTS,
        "models": [NONE, _LIST],
        "mapping": [NONE, _MAPPING],
        "projection": [Options(PROJECTIONS)],
        "n_mu": [Interval(int, 2, None, closed="left")],
        "reidentify": [Options(REIDENTIFY)],
        "A0": [_ARRAY, NONE],
        "energies": [NONE, Predicate(lambda e: np.ndim(e) == 1 and np.all(np.isfinite(e)),
                                     "None or a 1-D array of channel energies in keV")],
    }

    def __init__(
        self,
        *,
        n_sources: int = 4,
        models: Any = None,
        mapping: Any = None,
        projection: str = "exact",
        n_mu: int = 11,
        reidentify: str = "ramp",
        n_scales: int = 2,
        k: float = 3.0,
        K_max: float = 0.5,
        n_ramp: int | None = None,
        max_iter: int = 50,
        tol: float = 1e-6,
        min_coefficients: int = 5,
        reweighting: bool = True,
        sv_floor: float = 1e-3,
        final_s: str = "least_squares",
        A0: Any = None,
        energies: Any = None,
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        self.n_sources = n_sources
        self.models = models
        self.mapping = mapping
        self.projection = projection
        self.n_mu = n_mu
        self.reidentify = reidentify
        self.n_scales = n_scales
        self.k = k
        self.K_max = K_max
        self.n_ramp = n_ramp
        self.max_iter = max_iter
        self.tol = tol
        self.min_coefficients = min_coefficients
        self.reweighting = reweighting
        self.sv_floor = sv_floor
        self.final_s = final_s
        self.A0 = A0
        self.energies = energies
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _load_models(self, m: int) -> tuple[list[IAE], list[str]]:
        items = _split_list(self.models, "models")
        if self.models is None:
            names = find_shipped_iae(m, self.energies)
            if not names:
                grid = f"{m} channels" + ("" if self.energies is None else " on the given energy grid")
                raise ValueError(f"models must be given for data with {grid}: no shipped IAE model fits it (train "
                                 "one with `semiblind train iae` and pass --set models=DIR,...).")
            items = names
        out, labels = [], []
        cache: dict[str, IAE] = {}
        for it in items:
            if isinstance(it, IAE):  # a copy: fitting must not move or cast the caller's module
                net, label = copy.deepcopy(it), f"<IAE {it.family or 'module'}>"
            else:
                label = str(it)
                if label not in cache:
                    cache[label] = load_iae(label, m=m)
                net = cache[label]
            net.check_data(m)
            out.append(net.to(dtype=self._dtype, device=self._device).eval())
            labels.append(label)
        return out, labels

    def _projectors(self, nets: list[IAE]) -> tuple[list[Projector], list[Projector]]:
        fast = [(lambda a, net=net: fast_projection(net, a)[0]) for net in nets]
        if self.projection == "fast":
            return fast, fast
        exact = [(lambda a, net=net: exact_projection(net, a)[0]) for net in nets]
        return fast, exact

    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        t0 = time.perf_counter()
        nets, labels = self._load_models(int(X.shape[1]))
        fast, proj = self._projectors(nets)
        with torch.no_grad():
            res = sgmca(X, self.n_sources, fast=fast, project=proj, image_shape=image_shape,
                        mapping=self._mapping(len(nets)), n_mu=self.n_mu, reidentify=self.reidentify,
                        A0=self._given_A0(X), **self._gmca_kwargs())
        self.models_ = labels
        self.assignment_ = res.info["assignment"]
        res.info["models"] = labels
        self._report(res, X, t0, f"{len(nets)} model(s) {', '.join(labels)}")
        return res

    def _transform_batch(self, X: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        return gmca_pinv(A, self.sv_floor) @ X


@register
class NearestNeighbourSGMCA(_GMCAFamily):
    """Nearest-neighbour sGMCA (sGMCA paper's benchmark): each modelled column ← the closest reference spectrum up
    to scale instead of its IAE projection.

    Parameters: ``references`` — a list of arrays ``(R_j, m)``, the reference (training) spectra of each modelled
    source (required); ``mapping`` [None: identified by Algorithm 2 with the nearest-neighbour projection];
    ``n_mu``, ``reidentify``, GMCA's arguments and the common ones as :class:`SGMCA`.
    """

    name: ClassVar[str] = "sgmca-nn"
    family: ClassVar[str] = "semi-blind GMCA, nearest training spectrum"
    reference: ClassVar[str] = "Carloni Gertosio, Bobin & Acero 2023"
    nonnegative: ClassVar[bool] = False
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **_GMCA_CONSTRAINTS,
        "references": [InstanceOf((list, tuple), "a list of reference-spectra arrays (rows, channels)")],
        "mapping": [NONE, _MAPPING],
        "n_mu": [Interval(int, 2, None, closed="left")],
        "reidentify": [Options(REIDENTIFY)],
        "A0": [_ARRAY, NONE],
    }

    def __init__(
        self,
        *,
        references: Any = (),
        n_sources: int = 4,
        mapping: Any = None,
        n_mu: int = 11,
        reidentify: str = "ramp",
        n_scales: int = 2,
        k: float = 3.0,
        K_max: float = 0.5,
        n_ramp: int | None = None,
        max_iter: int = 50,
        tol: float = 1e-6,
        min_coefficients: int = 5,
        reweighting: bool = True,
        sv_floor: float = 1e-3,
        final_s: str = "least_squares",
        A0: Any = None,
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        self.references = references
        self.n_sources = n_sources
        self.mapping = mapping
        self.n_mu = n_mu
        self.reidentify = reidentify
        self.n_scales = n_scales
        self.k = k
        self.K_max = K_max
        self.n_ramp = n_ramp
        self.max_iter = max_iter
        self.tol = tol
        self.min_coefficients = min_coefficients
        self.reweighting = reweighting
        self.sv_floor = sv_floor
        self.final_s = final_s
        self.A0 = A0
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        t0 = time.perf_counter()
        m = int(X.shape[1])
        refs = []
        for j, r in enumerate(self.references):
            R = torch.as_tensor(np.asarray(r, dtype=float), dtype=X.dtype, device=X.device)
            if R.ndim != 2 or R.shape[1] != m or R.shape[0] < 1 or not bool(torch.isfinite(R).all()):
                raise ValueError(f"references[{j}] must be a finite array (rows, {m}); got shape "
                                 f"{tuple(R.shape)}.")
            refs.append(R)
        proj = [(lambda a, R=R: nearest_neighbour_projection(R, a)) for R in refs]
        res = sgmca(X, self.n_sources, fast=proj, project=proj, image_shape=image_shape,
                    mapping=self._mapping(len(refs)), n_mu=self.n_mu, reidentify=self.reidentify,
                    A0=self._given_A0(X), **self._gmca_kwargs())
        self.assignment_ = res.info["assignment"]
        self._report(res, X, t0, f"{len(refs)} reference set(s)")
        return res

    def _transform_batch(self, X: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        return gmca_pinv(A, self.sv_floor) @ X


@register
class OracleGMCA(_GMCAFamily):
    """Oracle GMCA (sGMCA paper's benchmark): S by GMCA's thresholded S-step with the **true** A, A by GMCA's
    A-step with the **true** S (unit columns). The best GMCA's two steps can do when each knows the other factor.

    Parameters: ``A`` ``(m, n)`` and ``S`` ``(n, t)`` / ``(n, H, W)`` true factors (or batches), required;
    ``n_scales`` [2], ``k`` [3.0], ``K_max`` (support fraction used) [0.5], ``min_coefficients`` [5],
    ``sv_floor`` [1e-3]; common ones as everywhere.
    """

    name: ClassVar[str] = "oracle-gmca"
    family: ClassVar[str] = "oracle: GMCA steps from the true A and S"
    reference: ClassVar[str] = "Carloni Gertosio, Bobin & Acero 2023"
    nonnegative: ClassVar[bool] = False
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **_GMCA_CONSTRAINTS,
        "A": [_ARRAY],
        "S": [_ARRAY],
    }

    def __init__(
        self,
        *,
        A: Any = None,
        S: Any = None,
        n_sources: int = 4,
        n_scales: int = 2,
        k: float = 3.0,
        K_max: float = 0.5,
        n_ramp: int | None = None,
        max_iter: int = 50,
        tol: float = 1e-6,
        min_coefficients: int = 5,
        reweighting: bool = True,
        sv_floor: float = 1e-3,
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        self.A = A
        self.S = S
        self.n_sources = n_sources
        self.n_scales = n_scales
        self.k = k
        self.K_max = K_max
        self.n_ramp = n_ramp
        self.max_iter = max_iter
        self.tol = tol
        self.min_coefficients = min_coefficients
        self.reweighting = reweighting
        self.sv_floor = sv_floor
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        t0 = time.perf_counter()
        B, m, t = X.shape
        if self.A is None or self.S is None:
            missing = " and ".join(nm for nm, v in (("A", self.A), ("S", self.S)) if v is None)
            raise ValueError(f"A and S must both be given to oracle-gmca (the true mixing matrix and sources); "
                             f"{missing} got None.")
        At = torch.as_tensor(np.asarray(self.A, dtype=float), dtype=X.dtype, device=X.device)
        St = torch.as_tensor(np.asarray(self.S, dtype=float), dtype=X.dtype, device=X.device)
        n = At.shape[-1]
        At = At.reshape(-1, m, n).expand(B, m, n)
        St = St.reshape(-1, n, t).expand(B, n, t)
        if n != self.n_sources:
            raise ValueError(f"n_sources must equal the columns of A ({n}); got {self.n_sources}.")
        Xw, Xc = starlet_split(X, self.n_scales, image_shape)
        pinvA = gmca_pinv(At, self.sv_floor)
        S_w = gmca_update_s(At, Xw, k=self.k, support_fraction=self.K_max, min_coefficients=self.min_coefficients,
                            sv_floor=self.sv_floor, pinvA=pinvA)
        S = S_w.sum(dim=2) + pinvA @ Xc
        A = gmca_update_a(X, St)
        res = FitResult(A=A, S=S, n_iter=1, converged=True)
        self._report(res, X, t0, "closed form")
        return res
