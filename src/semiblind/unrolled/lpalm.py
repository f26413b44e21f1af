"""LPALM: PALM unrolled for sparse semi-blind source separation (Fahes, Kervazo, Bobin & Tupin, "Unrolling PALM
for sparse semi-blind source separation", ICLR 2022, eq. 8 and Appendix A), as a torch module (its ``"lpalm"``
separator lives in :mod:`semiblind.estimators`).

From ``Ã(0) = 1/√m`` (every entry; or a given ``A0``) and ``S̃(0) = 0``, layer ``k = 0 … K−1`` computes

    S̃(k+1) = ST_θ(k)( S̃(k) − W(k)ᵀ (Ã(k) S̃(k) − X) )                    (LISTA-CP-type S-update)
    Ã(k+1) = Π_{‖·‖₂≤1}( Ã(k) − (1/L_A(k)) (Ã(k) S̃(k+1) − X) S̃(k+1)ᵀ )  (PALM's A-update, with the new S)

with trainable ``θ(k) ≥ 0`` (one scalar per layer as in the paper, or one per source), ``W(k) ∈ R^{m×n}`` and
``L_A(k) > 0``. The two lines are :func:`semiblind.solvers.iterates.sparse_step_s` and
:func:`semiblind.solvers.iterates.gradient_step_a`, the functions PALM itself calls with ``W = A/L_S``,
``θ = λ/L_S`` and ``L_A = ‖SSᵀ‖₂``. Both are evaluated in Gram form (``WᵀX``, ``(WᵀA)S``, ``XSᵀ``, ``A(SSᵀ)``),
so a layer reads X twice; the whole batch is processed at once (the layer loop is
:func:`semiblind.solvers.driver.unroll`).

Initialisation (paper App. A) from one training pair ``init_pair=(A, S)``: ``L_S = λ_max(AᵀA)``,
``θ(k) = α/L_S`` with ``α = 1e-5``, ``W(k) = A/L_S``, ``L_A(k) = λ_max(SSᵀ)``.

Constraints: θ is clamped at 0 and L_A at ``L_MIN`` in the forward pass, and the training engine projects the
stored values after every step (see :mod:`semiblind.unrolled.base`).

Wavelet mode (App. A): X is starlet-transformed (:func:`semiblind.transforms.starlet_forward`, ``n_scales``
detail scales, along the pixels for ``(B, m, t)`` data, in 2-D for images), the network runs on the detail
coefficients with the scales laid side by side as pixels, the coarse scale of S is ``Ã⁺ c_X`` with the final
(or layer's) Ã, and S is the inverse transform (sum of scales).

Variants of the S-update (paper App. D) are available through ``s_update``: ``"lista-cp"`` (eq. 8, default),
``"ista-llt"`` (``W = Ã(k)/L_S(k)`` with a learned ``L_S(k)``) and ``"lista"`` (``S ← ST_θ(W1 S + W2 X)``) — the
layers of :mod:`semiblind.unrolled.lista` (LISTA-CP, ISTA-LLT, LISTA), called with LPALM's per-layer
parameters — and ``"ista"``, PALM's own S-step (paper eq. 6, first line):

    S̃(k+1) = ST_{λ/L_S}( S̃(k) − (1/L_S) Ã(k)ᵀ (Ã(k) S̃(k) − X) ),   L_S = ‖Ã(k)ᵀÃ(k)‖₂

with ``L_S`` computed from the current estimate Ã(k) in every layer and sample by PALM's rule
:func:`~semiblind.solvers.iterates.palm_step_params` (the step is skipped where ``Ã = 0``), and λ a single fixed
hyper-parameter (constructor argument ``lam``, stored in the architecture); only the A-steps ``1/L_A(k)``
are learned: PALM truncated to K iterations with learned A-step sizes.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from .._backend import as_tensor, spectral_norm_sq
from .._validation import check_initial_mixing
from ..solvers.driver import unroll
from ..solvers.iterates import batched_left_matmul, gradient_step_a, palm_step_params, sparse_step_s
from ..transforms import starlet_forward, starlet_inverse
from .base import UnrolledNet, clamp_lipschitz, clamp_theta, register_model
from .lista import ALPHA_INIT, ISTALLT, LISTA, LISTACP, THRESHOLDS, _threshold_shape

S_UPDATES = ("lista-cp", "ista-llt", "lista", "ista")

INFERENCE_BLOCK_BYTES = 1 << 20
"""Inference without gradients on a sample whose X exceeds this many bytes sweeps its pixels in blocks of about
this size (a block of X stays in cache while its S-update and its share of ``XSᵀ`` and ``SSᵀ`` are computed);
see :meth:`LPALM.inference_path`."""

S_LAYERS = {"lista-cp": LISTACP, "ista-llt": ISTALLT, "lista": LISTA}
"""The LISTA-family class whose :meth:`~semiblind.unrolled.lista.SparseCodingNet.layer` and
:meth:`~semiblind.unrolled.lista.SparseCodingNet.initial_parameters` each learned S-update uses."""

_S_PARAMETER_NAMES = {"L": "L_S"}  # LPALM stores ISTA-LLT's learned L(k) as "L_S" (names in model files)


def _pair_tensors(pair: Any, m: int, n: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate an initialisation pair ``(A (m, n), S (n, t))`` and return float tensors."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"init_pair must be a pair (A, S) of arrays; got {type(pair).__name__}.")
    A = as_tensor(pair[0], dtype=dtype).detach().cpu()
    S = as_tensor(pair[1], dtype=dtype).detach().cpu()
    if A.shape != (m, n):
        raise ValueError(f"init_pair A must have shape ({m}, {n}) (channels, sources); got {tuple(A.shape)}.")
    if S.ndim != 2 or S.shape[0] != n:
        raise ValueError(f"init_pair S must have shape ({n}, t) (sources, pixels); got {tuple(S.shape)}.")
    if not (torch.isfinite(A).all() and torch.isfinite(S).all()):
        raise ValueError("init_pair must contain only finite values; got NaN or infinite entries in A or S.")
    if float(spectral_norm_sq(A)) == 0 or float(spectral_norm_sq(S)) == 0:
        raise ValueError("init_pair A and S must not be all zeros; their largest singular value is 0.")
    return A, S


@register_model
class LPALM(UnrolledNet):
    """LPALM (Fahes et al., ICLR 2022, eq. 8) as a batched ``torch.nn.Module``.

    Parameters
    ----------
    n_channels, n_sources : channels m and sources n.
    layers : number of layers K (paper: 25).
    tied : share one set of parameters across all layers (default: untied, as in the paper).
    threshold : ``"scalar"`` (one θ per layer, the paper) or ``"per-source"`` (one θ per layer and source).
    s_update : ``"lista-cp"`` (eq. 8), ``"ista-llt"``, ``"lista"`` or ``"ista"`` (App. D variants). With
        ``"ista"`` the S-step is PALM's (``W = Ã(k)/L_S``, ``θ = λ/L_S``, ``L_S = ‖Ã(k)ᵀÃ(k)‖₂``); it has no
        threshold parameter, so ``threshold`` must be ``"scalar"``, and only ``L_A(k)`` is trained.
    lam : λ of the ``"ista"`` S-update, a fixed (not learned) float ``>= 0`` on the scale of ``AᵀX``; required
        with ``s_update="ista"`` and not accepted with the learned S-updates.
    wavelet : run on starlet detail coefficients (App. A).
    n_scales : number of starlet detail scales in wavelet mode.
    init_pair : a training pair ``(A (m, n), S (n, t))`` for the paper's initialisation; without it the
        parameters are zeros (θ, W) and ones (L), to be filled by :meth:`load_state_dict` (this is what loading
        a model file does).
    alpha : α of ``θ(k) = α/L_S``.
    dtype : ``"float32"`` (default) or ``"float64"``.

    ``forward(X (B, m, t), return_layers=False, image_shape=None, A0=None) -> (A (B, m, n), S (B, n, t))``
    and, with ``return_layers=True``, also the lists of per-layer ``A`` and ``S`` (length K; the last equals the
    output). ``A0`` replaces the start ``Ã(0) = 1/√m``. The learned S-updates are the layers of
    :mod:`semiblind.unrolled.lista` (``S_LAYERS``), ``"ista"`` is PALM's rule (:func:`palm_step_params`).
    """

    estimates_mixing: ClassVar[bool] = True
    kind: ClassVar[str] = "lpalm"

    @classmethod
    def for_training(cls, A: torch.Tensor, S: torch.Tensor, *, layers: int = 25, dtype: Any = None,
                     **options: Any) -> LPALM:
        """A freshly initialised LPALM for training triplets ``A (N, m, n)``, ``S (N, n, t)``: the paper's App. A
        initialisation from the first pair ``(A[0], S[0])``; ``options`` go to the constructor."""
        return cls(n_channels=int(A.shape[1]), n_sources=int(A.shape[2]), layers=layers, init_pair=(A[0], S[0]),
                   dtype=dtype, **options)

    def __init__(
        self,
        *,
        n_channels: int,
        n_sources: int,
        layers: int = 25,
        tied: bool = False,
        threshold: str = "scalar",
        s_update: str = "lista-cp",
        wavelet: bool = False,
        n_scales: int = 3,
        init_pair: Any = None,
        alpha: float = ALPHA_INIT,
        lam: float | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(n_channels=n_channels, n_sources=n_sources, layers=layers, dtype=dtype)
        init = init_pair
        if threshold not in THRESHOLDS:
            raise ValueError(f"threshold must be one of {', '.join(map(repr, THRESHOLDS))}; got "
                             f"{threshold!r}.")
        if s_update not in S_UPDATES:
            raise ValueError(f"s_update must be one of {', '.join(map(repr, S_UPDATES))}; got {s_update!r}.")
        if isinstance(n_scales, bool) or not isinstance(n_scales, int) or n_scales < 1:
            raise ValueError(f"n_scales must be a positive int; got {n_scales!r}.")
        if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"alpha must be a finite float >= 0; got {alpha!r}.")
        if s_update == "ista":
            if isinstance(lam, bool) or not (isinstance(lam, (int, float)) and math.isfinite(lam) and lam >= 0):
                raise ValueError(f"lam must be a finite float >= 0 when s_update is 'ista'; got {lam!r}.")
            if threshold != "scalar":
                raise ValueError(f"threshold must be 'scalar' when s_update is 'ista' (its threshold λ/L_S is "
                                 f"not learned); got {threshold!r}.")
        elif lam is not None:
            raise ValueError(f"lam must be None when s_update is {s_update!r} (only the 'ista' S-update uses a "
                             f"fixed λ); got {lam!r}.")
        self.lam = None if lam is None else float(lam)
        self.tied = bool(tied)
        self.threshold = threshold
        self.s_update = s_update
        self.wavelet = bool(wavelet)
        self.n_scales = int(n_scales)
        dt = self._param_dtype
        P = 1 if self.tied else self.layers
        m, n = self.m, self.n
        if init is not None:
            A0, S0 = _pair_tensors(init, m, n, dt)
            L_S = spectral_norm_sq(A0)
            L_A = spectral_norm_sq(S0)
            theta0 = float(alpha) / L_S
        else:
            A0 = torch.zeros(m, n, dtype=dt)
            L_S = torch.ones((), dtype=dt)
            L_A = torch.ones((), dtype=dt)
            theta0 = torch.zeros((), dtype=dt)
        if s_update != "ista":  # the "ista" S-step has the fixed threshold λ/L_S
            self.theta = nn.Parameter(theta0.expand(_threshold_shape(P, n, threshold)).clone())
        if s_update in S_LAYERS:  # the learned S-update: the LISTA-family layer's own parameters
            for name, value in S_LAYERS[s_update].initial_parameters(A0, L_S, P, initialised=init is not None).items():
                setattr(self, _S_PARAMETER_NAMES.get(name, name), nn.Parameter(value))
        self.L_A = nn.Parameter(L_A.expand(P).clone())

    # ------------------------------------------------------------------------------------------ description
    def architecture(self) -> dict[str, Any]:
        arch = {
            **super().architecture(),
            "tied": self.tied,
            "threshold": self.threshold,
            "s_update": self.s_update,
            "wavelet": self.wavelet,
            "n_scales": self.n_scales,
        }
        if self.s_update == "ista":
            arch["lam"] = self.lam
        return arch

    # ------------------------------------------------------------------------------------------ layers
    def layer_theta(self, k: int) -> torch.Tensor:
        """θ(k) as used by layer k: a 0-d tensor (scalar mode) or ``(n, 1)`` (per-source), clamped at 0.

        The ``"ista"`` S-update has no learned θ (its threshold λ/L_S depends on the current Ã); asking for it
        raises ``ValueError``.
        """
        if self.s_update == "ista":
            raise ValueError("layer_theta needs a learned threshold; s_update 'ista' uses the fixed λ/L_S "
                             "instead.")
        th = clamp_theta(self.theta[self._layer(k)])
        return th if self.threshold == "scalar" else th.unsqueeze(-1)

    def s_step(self, S: torch.Tensor, A: torch.Tensor, X: torch.Tensor, k: int) -> torch.Tensor:
        """The S-update of layer ``k`` (first line of eq. 8 for ``s_update="lista-cp"``; first line of PALM's
        eq. 6 for ``s_update="ista"``)."""
        if self.s_update == "ista":
            # PALM's own rule on the current estimate, per sample: W = Ã/L_S, θ = λ/L_S, L_S = ‖ÃᵀÃ‖₂.
            W, theta = palm_step_params(A, self.lam)
            return sparse_step_s(S, A, X, W, theta)
        layer = S_LAYERS[self.s_update]
        kk = self._layer(k)
        names = {"lista-cp": ("W",), "ista-llt": ("L",), "lista": ("W1", "W2")}[self.s_update]
        params = {name: getattr(self, _S_PARAMETER_NAMES.get(name, name))[kk] for name in names}
        return layer.layer(S, A, X, params, self.layer_theta(k))

    def a_step(self, A: torch.Tensor, S: torch.Tensor, X: torch.Tensor, k: int) -> torch.Tensor:
        """The A-update of layer ``k`` (second line of eq. 8): projected gradient step with step
        ``1/L_A(k)``."""
        return gradient_step_a(A, S, X, 1.0 / clamp_lipschitz(self.L_A[self._layer(k)]))

    def initial_estimates(self, X: torch.Tensor, A0: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``Ã(0)`` and ``S̃(0) = 0`` for a batch ``X (B, m, t)``: ``Ã(0) = A0`` when given (``(m, n)`` or
        ``(B, m, n)``, used as it is), else ``1/√m`` in every entry (the paper's start). Only the shape, dtype
        and device of ``X`` are read."""
        B, m, t = X.shape
        if A0 is None:
            A = torch.full((B, m, self.n), 1.0 / math.sqrt(m), dtype=X.dtype, device=X.device)
        else:
            A = check_initial_mixing(A0, batch=B, n_channels=m, n_sources=self.n, dtype=X.dtype, device=X.device)
        S = torch.zeros((B, self.n, t), dtype=X.dtype, device=X.device)
        return A, S

    def inference_path(self, X: torch.Tensor, return_layers: bool = False) -> str:
        """Which evaluation :meth:`forward` uses for ``X (B, m, t)``: ``"training"`` (the layer loop of
        :func:`~semiblind.solvers.driver.unroll` on the whole batch: needed when gradients are recorded or the
        per-layer values are asked for), ``"stacked"`` (no gradients, ``s_update="lista-cp"``: all K layers'
        ``W(k)ᵀX`` in one product before the loop, since W does not depend on S) or ``"blocked"`` (no gradients,
        on the CPU, a sample's X larger than :data:`INFERENCE_BLOCK_BYTES`: each layer sweeps the pixels in cache-sized
        blocks, the S-update of a block and its share of ``XSᵀ`` and ``SSᵀ`` read the block once while it is in
        cache). All three give the same numbers up to floating-point rounding (the sums over pixels are
        accumulated in a different order). Subclasses that redefine ``s_step`` or ``a_step`` always take
        ``"training"``. :meth:`forward_chunks` runs the ``"blocked"`` evaluation on X read in pixel chunks."""
        grad = torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters())
        # A subclass that redefines a layer's step (nonnegative LPALM, LPALM inside the IAE manifold) must be run
        # through its own s_step / a_step: the fast paths below inline LPALM's.
        redefined = type(self).s_step is not LPALM.s_step or type(self).a_step is not LPALM.a_step
        if grad or return_layers or redefined:
            return "training"
        if X.device.type == "cpu" and X.shape[1] * X.shape[2] * X.element_size() > INFERENCE_BLOCK_BYTES:
            return "blocked"  # a CPU cache optimisation; on a GPU the stacked product is the fast path
        return "stacked" if self.s_update == "lista-cp" else "training"

    def _s_layer(self, k: int):
        """The S-update of layer ``k`` as ``f(S, A, X, WtX=None)`` with its parameters fetched once."""
        if self.s_update == "ista":
            return lambda S, A, X, WtX=None: self.s_step(S, A, X, k)
        if self.s_update == "lista-cp":
            # Wᵀ stored contiguous: the skinny product WᵀX runs about twice as fast as on the transposed view.
            W, theta = self.W[self._layer(k)].mT.contiguous().mT, self.layer_theta(k)
            return lambda S, A, X, WtX=None: sparse_step_s(S, A, X, W, theta, WtX=WtX)
        layer = S_LAYERS[self.s_update]
        kk = self._layer(k)
        names = {"ista-llt": ("L",), "lista": ("W1", "W2")}[self.s_update]
        params = {name: getattr(self, _S_PARAMETER_NAMES.get(name, name))[kk] for name in names}
        theta = self.layer_theta(k)
        return lambda S, A, X, WtX=None: layer.layer(S, A, X, params, theta)

    def _run_stacked(self, X: torch.Tensor, A: torch.Tensor, S: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Inference, ``s_update="lista-cp"``: ``[W(0) … W(K−1)]ᵀ X`` as one ``(K·n × m) @ (m × t)`` product per
        sample, then the K layers (eq. 8) with their ``W(k)ᵀX`` slices; X is read K + 1 times, not 2K."""
        n, P = self.n, self.W.shape[0]
        Wt_all = self.W.mT.reshape(P * n, self.m).to(X.dtype).contiguous()
        WtX_all = batched_left_matmul(Wt_all, X)  # (B, P·n, t)
        for k in range(self.layers):
            kk = self._layer(k)
            S = self._s_layer(k)(S, A, X, WtX=WtX_all[:, kk * n:(kk + 1) * n])
            A = self.a_step(A, S, X, k)
        return A, S

    @staticmethod
    def _memory_blocks(X: torch.Tensor) -> list[tuple[int, int, torch.Tensor]]:
        """``(start, stop, X[..., start:stop])`` views of about :data:`INFERENCE_BLOCK_BYTES` of X each."""
        B, m, t = X.shape
        tb = max(1, INFERENCE_BLOCK_BYTES // (m * X.element_size()))
        return [(j, min(j + tb, t), X[..., j:j + tb]) for j in range(0, t, tb)]

    def _run_blocked(self, blocks: Any, A: torch.Tensor, S: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Inference over pixel blocks: ``blocks`` is re-iterable and yields ``(start, stop, X_b (B, m, c))``
        (the views of :meth:`_memory_blocks` for a large X in memory, or chunks read from a file,
        :meth:`forward_chunks`). Each layer sweeps the blocks once: per block the S-update (the layer's own rule)
        and the block's ``XSᵀ``, ``SSᵀ`` (accumulated), then PALM's A-step from the two sums
        (:func:`gradient_step_a`)."""
        B, m, n = A.shape
        S = S.clone()
        for k in range(self.layers):
            s_layer = self._s_layer(k)
            XSt = A.new_zeros(B, m, n)
            SSt = A.new_zeros(B, n, n)
            for j0, j1, Xb in blocks:
                Sb = s_layer(S[..., j0:j1], A, Xb)
                S[..., j0:j1] = Sb
                XSt += (Sb @ Xb.mT).mT  # S Xᵀ: X read in its own layout (faster)
                SSt += Sb @ Sb.mT
            step = 1.0 / clamp_lipschitz(self.L_A[self._layer(k)])
            A = gradient_step_a(A, S, None, step, SSt=SSt, XSt=XSt)
        return A, S

    @torch.no_grad()
    def forward_chunks(self, X: Any, A0: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Separate one mixture read in pixel chunks; returns ``(A (1, m, n), S (1, n, t))``.

        ``X`` is a :class:`~semiblind.solvers._chunked.PixelChunks` (or any re-iterable object with ``shape``
        ``(B, m, t)``, ``dtype`` and ``device`` that yields ``(start, stop, X_b (B, m, c))``): each layer reads
        it once, through the ``"blocked"`` evaluation of :meth:`inference_path`, so X is never held whole. The
        result equals :meth:`forward` up to the order of the floating-point sums. Pixel model only: a
        wavelet-mode network (its starlet transform mixes neighbouring pixels across chunks) and subclasses
        that redefine ``s_step`` / ``a_step`` raise ``ValueError``. ``A0`` as in :meth:`forward`.
        """
        if self.wavelet:
            raise ValueError("the LPALM model must be a pixel model (wavelet=False) to separate X in pixel chunks: "
                             "the starlet transform of a wavelet-mode model mixes neighbouring pixels across "
                             "chunks; got a wavelet-mode model (use the pixel model, e.g. lpalm-xray65, or no "
                             "chunks).")
        if type(self).s_step is not LPALM.s_step or type(self).a_step is not LPALM.a_step:
            raise ValueError(f"X in pixel chunks needs LPALM's own layers; {type(self).__name__} redefines "
                             "s_step or a_step, so it runs on a tensor X only.")
        B, m, t = X.shape
        self.check_data(int(m))
        if X.dtype != self.dtype:
            raise ValueError(f"X's chunks must be read in the network's dtype {self.dtype}; got {X.dtype}.")
        A, S = self.initial_estimates(X, A0)
        return self._run_blocked(X, A, S)

    def _run(self, X: torch.Tensor, return_layers: bool, A0: Any = None
             ) -> tuple[torch.Tensor, torch.Tensor, list, list]:
        A, S = self.initial_estimates(X, A0)
        path = self.inference_path(X, return_layers)
        if path == "stacked":
            return (*self._run_stacked(X, A, S), [], [])
        if path == "blocked":
            return (*self._run_blocked(self._memory_blocks(X), A, S), [], [])

        def layer(k: int, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            S_new = self.s_step(state["S"], state["A"], X, k)
            return {"S": S_new, "A": self.a_step(state["A"], S_new, X, k)}

        out, per_layer = unroll(layer, {"A": A, "S": S}, layers=self.layers,
                                keep=("A", "S") if return_layers else ())
        return out["A"], out["S"], per_layer.get("A", []), per_layer.get("S", [])

    def forward(
        self, X: torch.Tensor, return_layers: bool = False, image_shape: tuple[int, int] | None = None,
        A0: Any = None, transform: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple:
        """Separate a batch ``X (B, m, t)``; returns ``(A, S)`` or ``(A, S, A_layers, S_layers)``.

        ``image_shape=(H, W)`` (with ``t = H·W``) makes the wavelet mode transform in 2-D; it is ignored
        otherwise. ``A0`` (``(m, n)`` or ``(B, m, n)``): the starting point ``Ã(0)`` instead of ``1/√m``.
        ``transform``: in wavelet mode, X's starlet transform ``(details, coarse)`` when the caller has it
        already (:func:`semiblind.transforms.starlet_forward` with this network's ``n_scales``, 2-D with
        ``image_shape``, 1-D without; shapes ``(B, m, J, H, W)`` / ``(B, m, H, W)`` or ``(B, m, J, t)`` /
        ``(B, m, t)``): it is used instead of transforming X again. Ignored by a pixel model.
        """
        self._check_input(X)
        X = X.to(self.dtype)
        if not self.wavelet:
            A, S, As, Ss = self._run(X, return_layers, A0)
            return (A, S, As, Ss) if return_layers else (A, S)
        B, m, t = X.shape
        if image_shape is not None:
            H, W = (int(s) for s in image_shape)
            if H * W != t:
                raise ValueError(f"image_shape must multiply to the {t} pixels of X; got "
                                 f"{tuple(image_shape)}.")
            pix, ndim = (H, W), 2
        else:
            pix, ndim = (t,), 1
        if transform is None:
            details, coarse = starlet_forward(X.reshape(B, m, *pix), self.n_scales, ndim=ndim)
        else:
            details, coarse = (v.to(self.dtype) for v in transform)
            if (tuple(details.shape) != (B, m, self.n_scales, *pix)
                    or tuple(coarse.shape) != (B, m, *pix)):
                raise ValueError(f"transform must be X's starlet transform, details {(B, m, self.n_scales, *pix)} "
                                 f"and coarse {(B, m, *pix)}; got {tuple(details.shape)} and "
                                 f"{tuple(coarse.shape)}.")
        Xd = details.reshape(B, m, -1)
        A, Sd, As, Sds = self._run(Xd, return_layers, A0)

        def reconstruct(A_: torch.Tensor, Sd_: torch.Tensor) -> torch.Tensor:
            cS = torch.linalg.pinv(A_) @ coarse.reshape(B, m, -1)  # coarse scale of S = Ã⁺ c_X
            dS = Sd_.reshape(B, self.n, *details.shape[2:])
            S_ = starlet_inverse(dS, cS.reshape(B, self.n, *coarse.shape[2:]), ndim=ndim)
            return S_.reshape(B, self.n, t)

        S = reconstruct(A, Sd)
        if not return_layers:
            return A, S
        Ss = [S if k == len(Sds) - 1 else reconstruct(a, s) for k, (a, s) in enumerate(zip(As, Sds))]
        return A, S, As, Ss


__all__ = ["ALPHA_INIT", "LPALM", "S_UPDATES", "THRESHOLDS"]
