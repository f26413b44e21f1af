"""The interpolatory autoencoder (IAE): a learned manifold of spectra of one family, and projections onto it.

Bobin, Carloni Gertosio, Bobin & Thiam (2023), "Unsupervised learning of physical models with the
interpolatory autoencoder"; as used by the sGMCA paper (Carloni Gertosio, Bobin & Acero 2023, "Semi-blind
source separation with learned constraints", Signal Processing, §4 and App. B).

Shapes: a batch of spectra is ``(N, m)`` (one spectrum per **row**, as :mod:`semiblind.data.xray`); a mixing
matrix ``A (m, n)`` holds spectra as columns, so callers pass ``A.mT``. Codes are ``(N, d)``, barycentric
weights ``(N, k)`` for ``k`` anchor points.

- **Encoder** φ: R^m → R^d and **decoder** ψ: R^d → R^m, each ``layers`` fully connected layers (paper: 4)
  with skip connections ``x_{l+1} = act(W_l x_l + b_l) + s·x_l`` (``s`` = ``skip``, paper 0.1; the skip is
  used where the layer keeps the width) and a linear last layer; activation ``tanh`` by default.
- **Anchor points** α^(1..k) (unit-ℓ2 spectra stored in the model); their codes ``Φ = [φ(α^(1)) … φ(α^(k))]``.
- **Barycentric weights** (:func:`barycentric_weights`): ``λ(z) = argmin ‖z − Φλ‖²`` s.t. ``Σλ = 1``, solved
  in closed form and batched (eq. B.1 of the paper's appendix).
- **Generator** ``g(λ) = ψ(Φλ)`` (:meth:`IAE.generate`); the IAE reconstruction is ``ψ(Φ λ(φ(x)))`` and
  training minimises ``Σ_t ‖x_t − ψ(Φ λ(φ(x_t)))‖²`` (eq. B.2; :mod:`semiblind.training.iae`).
- **Fast projection** (:func:`fast_projection`, eq. B.4): ``λ̃ = λ(φ(a/‖a‖))``, ``ρ̃ = aᵀg/‖g‖²``.
- **Exact projection** (:func:`exact_projection`, eqs. 10–11): ``min over λ (Σλ = 1), ρ ≥ 0 of ‖a − ρ g(λ)‖²``,
  started from the fast projection, batched over all spectra (Levenberg–Marquardt Gauss–Newton by default;
  L-BFGS and Adam available for comparison).

Preprocessing (the data contract): spectra are brought to unit ℓ2 norm before encoding; the manifold is made
of the unit-norm spectra ``g(λ)/‖g(λ)‖`` up to the amplitude ρ.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from .._backend import resolve_dtype
from .._registry import register_kind, register_network

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU,
                                           "softplus": nn.Softplus, "gelu": nn.GELU}
PROJECTION_METHODS = ("gauss-newton", "lbfgs", "adam")

__all__ = [
    "ACTIVATIONS",
    "IAE",
    "PROJECTION_METHODS",
    "barycentric_weights",
    "exact_projection",
    "fast_projection",
    "sum_to_one_basis",
    "unit_rows",
]


def unit_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows of ``x (..., m)`` divided by their ℓ2 norm (zero rows stay zero)."""
    nrm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    return x / nrm.clamp_min(torch.finfo(x.dtype).tiny)


def sum_to_one_basis(k: int, *, dtype: torch.dtype = torch.float32, device: Any = None) -> torch.Tensor:
    """An orthonormal basis ``Q (k, k − 1)`` of ``{μ : Σμ = 0}``: every ``λ`` with ``Σλ = 1`` is
    ``1/k + Qμ`` for one ``μ ∈ R^{k−1}`` (Householder reflection of ``e_1`` onto ``1/√k``)."""
    if k < 2:
        raise ValueError(f"k (the number of anchor points) must be at least 2; got {k}.")
    v = torch.full((k,), 1.0 / math.sqrt(k), dtype=torch.float64)
    v[0] -= 1.0
    H = torch.eye(k, dtype=torch.float64) - 2.0 * torch.outer(v, v) / (v @ v)
    return H[:, 1:].to(dtype=dtype, device=device)  # H maps e_1 to 1/√k; its other columns are ⟂ 1


def barycentric_weights(z: torch.Tensor, Phi: torch.Tensor, *, ridge: float = 1e-7) -> torch.Tensor:
    """Barycentric weights ``λ = argmin ‖z − Φλ‖²`` s.t. ``Σλ = 1`` (IAE, eq. B.1), exactly and batched.

    ``z`` ``(..., d)`` codes, ``Phi`` ``(d, k)`` the anchor codes as columns. With ``λ = 1/k + Qμ``
    (:func:`sum_to_one_basis`) the constraint disappears and ``μ`` solves the ``(k−1) × (k−1)`` normal equations
    ``(QᵀΦᵀΦQ + εI) μ = QᵀΦᵀ(z − Φ1/k)`` — the KKT solution. ``ε = ridge · tr(QᵀΦᵀΦQ)`` (relative, tiny) keeps
    the system solvable when the anchor codes are affinely dependent (rank deficiency); then the solution tends
    to the minimum-norm one (``λ`` closest to the centroid). Returns ``(..., k)``; differentiable in ``z`` and
    ``Phi``.
    """
    d, k = Phi.shape
    Q = sum_to_one_basis(k, dtype=Phi.dtype, device=Phi.device)
    c = Phi.mean(dim=1)  # Φ·(1/k)
    PQ = Phi @ Q  # (d, k − 1)
    G = PQ.mT @ PQ
    eps = ridge * G.diagonal().sum().clamp_min(torch.finfo(Phi.dtype).tiny)
    M = torch.linalg.solve(G + eps * torch.eye(k - 1, dtype=Phi.dtype, device=Phi.device), PQ.mT)  # (k − 1, d)
    mu = (z - c) @ M.mT
    return 1.0 / k + mu @ Q.mT


class _SkipMLP(nn.Module):
    """``layers`` linear layers; ``x ← act(Wx + b) + s·x`` (skip where the width is kept), the last one linear."""

    def __init__(self, widths: list[int], skip: float, activation: str, dtype: torch.dtype) -> None:
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(a, b, dtype=dtype) for a, b in zip(widths[:-1], widths[1:]))
        self.act = ACTIVATIONS[activation]()
        self.skip = float(skip)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.linears) - 1
        for i, lin in enumerate(self.linears):
            y = lin(x)
            if i < last:
                y = self.act(y)
            if self.skip and y.shape[-1] == x.shape[-1]:
                y = y + self.skip * x
            x = y
        return x

    def forward_tangent(self, x: torch.Tensor, dx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The output for ``x (N, w)`` and its directional derivatives along ``dx (N, p, w)`` (forward mode, all
        ``p`` directions in one pass of matrix products)."""
        last = len(self.linears) - 1
        for i, lin in enumerate(self.linears):
            y = lin(x)
            dy = dx @ lin.weight.mT
            if i < last:
                y, dy = _activation_tangent(self.act, y, dy)
            if self.skip and y.shape[-1] == x.shape[-1]:
                y = y + self.skip * x
                dy = dy + self.skip * dx
            x, dx = y, dy
        return x, dx


def _activation_tangent(act: nn.Module, y: torch.Tensor, dy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``act(y)`` and ``act'(y)·dy`` (``dy`` has one more axis, the directions, before the last)."""
    if isinstance(act, nn.Tanh):
        t = torch.tanh(y)
        d = 1 - t * t
    elif isinstance(act, nn.ReLU):
        t = torch.relu(y)
        d = (y > 0).to(y.dtype)
    elif isinstance(act, nn.ELU):
        t = torch.nn.functional.elu(y)
        d = torch.where(y > 0, torch.ones_like(y), t + 1)
    elif isinstance(act, nn.Softplus):
        t = torch.nn.functional.softplus(y)
        d = torch.sigmoid(y)
    else:  # GELU (exact): Φ(y) + y·φ(y)
        t = torch.nn.functional.gelu(y)
        d = 0.5 * (1 + torch.erf(y / math.sqrt(2))) + y * torch.exp(-0.5 * y * y) / math.sqrt(2 * math.pi)
    return t, d.unsqueeze(-2) * dy


@register_network
class IAE(nn.Module):
    """Interpolatory autoencoder of one spectrum family (Bobin et al.; sGMCA paper App. B).

    Parameters (keyword-only)
    -------------------------
    m : channels of the spectra.
    n_anchors : number k ≥ 2 of anchor points (paper: 3 synchrotron, 3 thermal, 2 line).
    layers : fully connected layers of the encoder and of the decoder [4].
    latent : code dimension d [None: m].
    skip : skip-connection weight s [0.1].
    activation : one of :data:`ACTIVATIONS` ["tanh"].
    n : sources modelled by one IAE; always 1 (kept so that model files share one ``architecture`` layout).
    dtype : parameter dtype ["float32"].

    Buffers: ``anchors`` ``(k, m)``, unit-ℓ2 rows (set with :meth:`set_anchors`). Attributes ``contract`` (the
    model file's data contract) and ``family`` (the family name, ``""`` when unknown).
    """

    kind: ClassVar[str | None] = None  # trained by semiblind.training.iae (spectra, not (X, A, S) triples)

    def __init__(self, *, m: int, n_anchors: int, layers: int = 4, latent: int | None = None, skip: float = 0.1,
                 activation: str = "tanh", n: int = 1, dtype: Any = None) -> None:
        super().__init__()
        for name, v, low in (("m", m, 2), ("n_anchors", n_anchors, 2), ("layers", layers, 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{name} must be an int >= {low}; got {v!r}.")
        if latent is not None and (isinstance(latent, bool) or not isinstance(latent, int) or latent < 1):
            raise ValueError(f"latent must be a positive int or None; got {latent!r}.")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}.")
        if not isinstance(skip, (int, float)) or isinstance(skip, bool) or not math.isfinite(skip) or skip < 0:
            raise ValueError(f"skip must be a finite number >= 0; got {skip!r}.")
        if n != 1:
            raise ValueError(f"n must be 1 (one IAE models one source family); got {n!r}.")
        dt = resolve_dtype(dtype)
        self.m, self.n, self.layers, self.n_anchors = m, 1, layers, n_anchors
        self.latent = m if latent is None else latent
        self.skip, self.activation = float(skip), activation
        enc = [m] * layers + [self.latent]
        self.encoder = _SkipMLP(enc, skip, activation, dt)
        self.decoder = _SkipMLP(enc[::-1], skip, activation, dt)
        self.register_buffer("anchors", torch.zeros(n_anchors, m, dtype=dt))
        self.contract: dict[str, Any] = {}
        self.family = ""
        self.name = ""

    # ------------------------------------------------------------------------------------------ description
    def architecture(self) -> dict[str, Any]:
        return {"class": "IAE", "layers": self.layers, "m": self.m, "n": 1, "n_anchors": self.n_anchors,
                "latent": self.latent, "skip": self.skip, "activation": self.activation}

    @property
    def dtype(self) -> torch.dtype:
        return self.anchors.dtype

    def check_data(self, m: int, n: int | None = None, *, what: str = "X") -> None:
        """Raise ``ValueError`` (stating both numbers) when spectra with ``m`` channels do not fit the model."""
        if m != self.m:
            raise ValueError(f"{what} has {m} channels but this IAE model was trained for {self.m} channels.")

    @torch.no_grad()
    def set_anchors(self, anchors: torch.Tensor) -> None:
        """Store the anchor spectra ``(k, m)`` (brought to unit ℓ2 norm)."""
        a = torch.as_tensor(anchors, dtype=self.dtype, device=self.anchors.device)
        if tuple(a.shape) != (self.n_anchors, self.m):
            raise ValueError(f"anchors must have shape ({self.n_anchors}, {self.m}); got {tuple(a.shape)}.")
        if not bool(torch.isfinite(a).all()) or bool((torch.linalg.vector_norm(a, dim=-1) == 0).any()):
            raise ValueError("anchors must be finite spectra with no all-zero row.")
        self.anchors.copy_(unit_rows(a))

    # ------------------------------------------------------------------------------------------ the model
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """φ: ``(..., m)`` unit-norm spectra → codes ``(..., d)``."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """ψ: codes ``(..., d)`` → spectra ``(..., m)``."""
        return self.decoder(z)

    def anchor_codes(self) -> torch.Tensor:
        """``Φ`` ``(d, k)``: the codes of the anchor points as columns."""
        return self.encode(self.anchors).mT

    def weights(self, x: torch.Tensor, Phi: torch.Tensor | None = None) -> torch.Tensor:
        """Barycentric weights ``λ(φ(x/‖x‖))`` ``(..., k)`` of spectra ``x (..., m)``."""
        Phi = self.anchor_codes() if Phi is None else Phi
        return barycentric_weights(self.encode(unit_rows(x)), Phi)

    def generate(self, lam: torch.Tensor, Phi: torch.Tensor | None = None) -> torch.Tensor:
        """The generator ``g(λ) = ψ(Φλ)``: weights ``(..., k)`` → spectra ``(..., m)``."""
        Phi = self.anchor_codes() if Phi is None else Phi
        return self.decode(lam @ Phi.mT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The IAE reconstruction ``ψ(Φ λ(φ(x)))`` of unit-norm spectra ``x (..., m)`` (eq. B.2's model)."""
        Phi = self.anchor_codes()
        return self.generate(barycentric_weights(self.encode(x), Phi), Phi)


# ------------------------------------------------------------------------------------------ projections


def _rho(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``ρ = max(aᵀg, 0)/‖g‖²`` per row: the best nonnegative amplitude of ``g`` for ``a``."""
    return ((a * g).sum(-1) / (g * g).sum(-1).clamp_min(torch.finfo(g.dtype).tiny)).clamp_min(0)


def fast_projection(model: IAE, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fast projection of spectra ``a (N, m)`` onto the IAE manifold (sGMCA paper eq. B.4).

    ``λ̃ = λ(φ(a/‖a‖))`` (encoder and barycentric weights), ``g = g(λ̃)``, ``ρ̃ = aᵀg/‖g‖²`` (clipped at 0,
    the manifold's amplitudes being nonnegative). Returns ``(ρ̃·g (N, m), λ̃ (N, k), ρ̃ (N,))``;
    differentiable (an unrolled network can train through it).
    """
    Phi = model.anchor_codes()
    lam = barycentric_weights(model.encode(unit_rows(a)), Phi)
    g = model.generate(lam, Phi)
    rho = _rho(a, g)
    return rho.unsqueeze(-1) * g, lam, rho


def _decoder_jvp(model: IAE, z: torch.Tensor, dirs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``ψ(z)`` ``(N, m)`` and its directional derivatives along the code directions ``dirs (p, d)``:
    ``(N, p, m)`` (forward mode through the decoder's layers)."""
    return model.decoder.forward_tangent(z, dirs.expand(z.shape[0], *dirs.shape))


def _gauss_newton(model: IAE, a: torch.Tensor, lam0: torch.Tensor, Phi: torch.Tensor, max_iter: int,
                  tol: float) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Levenberg–Marquardt on ``r(μ, ρ) = a − ρ ψ(Φ(1/k + Qμ))``, batched, per-spectrum damping and acceptance."""
    N, _ = a.shape
    k = Phi.shape[1]
    Q = sum_to_one_basis(k, dtype=a.dtype, device=a.device)
    dirs = (Phi @ Q).mT  # (k − 1, d): code directions of the free weights
    mu = (lam0 - 1.0 / k) @ Q  # (N, k − 1)
    c = Phi.mean(dim=1)

    def residual(mu_: torch.Tensor, rho_: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g_ = model.decode(c + mu_ @ dirs)
        return a - rho_.unsqueeze(-1) * g_, g_

    g = model.decode(c + mu @ dirs)
    rho = _rho(a, g)
    r = a - rho.unsqueeze(-1) * g
    cost = (r * r).sum(-1)
    damp = torch.full((N,), 1e-3, dtype=a.dtype, device=a.device)
    eye = torch.eye(k, dtype=a.dtype, device=a.device)
    it = stall = 0
    while it < max_iter:
        it += 1
        g, dg = _decoder_jvp(model, c + mu @ dirs, dirs)
        J = torch.cat([-rho.view(N, 1, 1) * dg, -g.unsqueeze(1)], dim=1)  # (N, k, m): rows = parameters
        JJ = J @ J.mT
        Jr = J @ r.unsqueeze(-1)
        diag = JJ.diagonal(dim1=-2, dim2=-1).clamp_min(torch.finfo(a.dtype).eps)
        step = -torch.linalg.solve(JJ + damp.view(N, 1, 1) * torch.diag_embed(diag) + 1e-12 * eye, Jr).squeeze(-1)
        mu_new = mu + step[:, : k - 1]
        rho_new = (rho + step[:, k - 1]).clamp_min(0)
        r_new, _ = residual(mu_new, rho_new)
        cost_new = (r_new * r_new).sum(-1)
        better = cost_new < cost
        gain = (cost - cost_new) / cost.clamp_min(torch.finfo(a.dtype).tiny)
        mu = torch.where(better.unsqueeze(-1), mu_new, mu)
        rho = torch.where(better, rho_new, rho)
        r = torch.where(better.unsqueeze(-1), r_new, r)
        cost = torch.where(better, cost_new, cost)
        damp = torch.where(better, (damp / 3).clamp_min(1e-9), (damp * 4).clamp_max(1e9))
        stall = 0 if bool((better & (gain > tol)).any()) else stall + 1
        if stall >= 3:  # three passes without a relative decrease above tol for any spectrum
            break
    return 1.0 / k + mu @ Q.mT, rho, it


def _first_order(model: IAE, a: torch.Tensor, lam0: torch.Tensor, Phi: torch.Tensor, method: str, max_iter: int,
                 tol: float) -> tuple[torch.Tensor, torch.Tensor, int]:
    """L-BFGS or Adam on ``Σ_t ‖a_t − ρ_t g(λ_t)‖²`` over ``(μ, ρ)`` (ρ ≥ 0 by clipping), batched."""
    k = Phi.shape[1]
    Q = sum_to_one_basis(k, dtype=a.dtype, device=a.device)
    Phi = Phi.detach()
    a = a.detach()
    mu = ((lam0 - 1.0 / k) @ Q).detach().clone().requires_grad_(True)
    rho = _rho(a, model.generate(lam0, Phi)).detach().clone().requires_grad_(True)
    scale = (a * a).sum().clamp_min(torch.finfo(a.dtype).tiny)

    def loss() -> torch.Tensor:
        g = model.generate(1.0 / k + mu @ Q.mT, Phi)
        r = a - rho.clamp_min(0).unsqueeze(-1) * g
        return (r * r).sum() / scale

    it = 0
    with torch.enable_grad():
        if method == "lbfgs":
            opt = torch.optim.LBFGS([mu, rho], lr=1.0, max_iter=max_iter, tolerance_change=tol,
                                    tolerance_grad=1e-12, history_size=20, line_search_fn="strong_wolfe")

            def closure() -> torch.Tensor:
                opt.zero_grad()
                val = loss()
                val.backward()
                return val

            opt.step(closure)
            it = int(opt.state[opt._params[0]].get("n_iter", max_iter))
        else:
            opt = torch.optim.Adam([mu, rho], lr=1e-2)
            prev = math.inf
            while it < max_iter:
                it += 1
                opt.zero_grad()
                val = loss()
                val.backward()
                opt.step()
                v = float(val.detach())
                if abs(prev - v) <= tol * max(v, 1e-30):
                    break
                prev = v
    return (1.0 / k + mu @ Q.mT).detach(), rho.detach().clamp_min(0), it


def exact_projection(
    model: IAE,
    a: torch.Tensor,
    *,
    method: str = "gauss-newton",
    max_iter: int = 30,
    tol: float = 1e-7,
    return_iterations: bool = False,
) -> tuple[torch.Tensor, ...]:
    """Exact projection onto the IAE manifold (sGMCA paper eqs. 10–11), batched over the rows of ``a (N, m)``.

    ``min over λ (Σλ = 1) and ρ ≥ 0 of ‖a − ρ g(λ)‖²``, started from :func:`fast_projection`. ``method``:
    ``"gauss-newton"`` (Levenberg–Marquardt on the residual over ``(μ, ρ)`` with ``λ = 1/k + Qμ``, per-spectrum
    damping; a step is kept only where it lowers the cost, so the result is never worse than the start),
    ``"lbfgs"`` or ``"adam"`` (first-order, on the summed cost). Gradients are not propagated. Returns
    ``(ρ·g(λ) (N, m), λ (N, k), ρ (N,))`` (and the iteration count with ``return_iterations``).
    """
    if method not in PROJECTION_METHODS:
        raise ValueError(f"method must be one of {', '.join(PROJECTION_METHODS)}; got {method!r}.")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive int; got {max_iter!r}.")
    a = a.detach().to(model.dtype)
    with torch.no_grad():
        Phi = model.anchor_codes()
        lam0 = barycentric_weights(model.encode(unit_rows(a)), Phi)
    if method == "gauss-newton":
        with torch.no_grad():
            lam, rho, it = _gauss_newton(model, a, lam0, Phi, max_iter, tol)
    else:
        lam, rho, it = _first_order(model, a, lam0, Phi, method, max_iter, tol)
    with torch.no_grad():
        proj = rho.unsqueeze(-1) * model.generate(lam, Phi)
    out = (proj, lam, rho)
    return (*out, it) if return_iterations else out


def _build_for_kind(A: Any, S: Any = None, *, layers: int = 4, dtype: Any = None, n_anchors: int = 3,
                    latent: int | None = None, skip: float = 0.1, activation: str = "tanh") -> IAE:
    """A fresh IAE for spectra with ``A.shape[1]`` channels (the registry's ``build`` signature; ``semiblind train
    iae`` trains it on spectra with :func:`semiblind.training.iae.train_iae`)."""
    return IAE(m=int(A.shape[1]), n_anchors=n_anchors, layers=layers, latent=latent, skip=skip,
               activation=activation, dtype=dtype)


register_kind("iae", _build_for_kind,
              description="interpolatory autoencoder of one spectrum family (sGMCA paper App. B): "
                          "semiblind train iae --spectra F --family NAME --anchors I,J,K --out DIR",
              options=("n_anchors", "latent", "skip", "activation"))
