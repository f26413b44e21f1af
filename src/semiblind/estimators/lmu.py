"""Separators of the unrolled multiplicative updates: ``"nalmu"`` and ``"almu"`` (Kervazo, Chetoui & Cohen,
EUSIPCO 2024) with a trained model, and ``"dnmf"`` (Nasser, Eldar & Sharan 2022), retrained on every image.

The networks are in :mod:`semiblind.unrolled.lmu`. ``nalmu`` / ``almu`` pick the shipped model
(``nalmu-xray65`` / ``almu-xray65``) whose channel count, source count and (when the data have an energy axis)
energy grid match, exactly as ``lpalm`` does (:class:`~semiblind.estimators._learned.LearnedSeparator`).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from .._validation import BOOL, Interval, check_nonnegative_data
from ..solvers.base import COMMON_CONSTRAINTS, BaseSeparator, FitResult, register
from ..solvers.nmf import nnls_hals
from ..training.per_image import train_per_image
from ..unrolled.lmu import DNMF, EPS, data_scale, mu_start
from ._learned import LearnedSeparator


class _MUNetSeparator(LearnedSeparator):
    nonnegative: ClassVar[bool] = True
    needs_model_file: ClassVar[bool] = False

    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        X = check_nonnegative_data(X, method=self.name)
        return super()._fit_batch(X, image_shape=image_shape)


@register
class NALMUSeparator(_MUNetSeparator):
    """``method="nalmu"``: NALMU (Algorithm 1 of Kervazo, Chetoui & Cohen 2024), MU unrolled with learned masks.

    Parameters
    ----------
    n_sources : number of sources; must equal the model's.
    model : a model folder, a shipped model name (``"nalmu-xray65"``) or a :class:`~semiblind.unrolled.lmu.NALMU`
        module. Default (None): the shipped NALMU whose channel and source counts (and energy grid, when
        ``energies`` is given) match X.
    energies, random_state, dtype, device, verbose : as for ``lpalm``.

    The network is scale-equivariant (it normalises X itself), so no input rescaling is applied. X must be
    nonnegative (noise-level negative entries are clipped with a warning, as for ``mu``).
    """

    name = "nalmu"
    family = "unrolled MU with a learned mask per layer"
    reference = "Kervazo, Chetoui & Cohen 2024 (EUSIPCO)"
    model_classes = ("NALMU",)


@register
class ALMUSeparator(_MUNetSeparator):
    """``method="almu"``: ALMU (Algorithm 2 of Kervazo, Chetoui & Cohen 2024): NALMU, then MU layers whose masks an
    MLP per layer predicts from NALMU's A.

    Parameters as :class:`NALMUSeparator`; the default model is the shipped ``"almu-xray65"``.
    """

    name = "almu"
    family = "unrolled MU with masks predicted by per-layer MLPs"
    reference = "Kervazo, Chetoui & Cohen 2024 (EUSIPCO)"
    model_classes = ("ALMU",)


@register
class DNMFSeparator(BaseSeparator):
    """``method="dnmf"``: DNMF (Nasser, Eldar & Sharan 2022), trained on the pixels of the image it separates.

    The network (:class:`~semiblind.unrolled.lmu.DNMF`) unrolls MU for S with ``Aᵀ`` and ``AᵀA`` replaced by
    trainable nonnegative matrices per layer. Our reading of the unsupervised, per-image setting:

    1. X is scaled by its RMS pixel norm c and started from NNDSVDa ``(A₀, S₀)`` with unit-norm columns of A₀
       (as NALMU); the network's weights start at ``W₂ = A₀ᵀ``, ``W₁ = A₀ᵀA₀`` (MU with A₀ fixed);
    2. the weights and a nonnegative A (from A₀) are trained jointly with Adam (:func:`train_per_image`,
       ``epochs`` steps, learning rate ``lr``, projections onto ``≥ 0`` after each step) on
       ``‖X − A H‖²_F / ‖X‖²_F + λ ‖H‖₁ / ‖X‖₁``, ``H`` the network's output (the λ term is the ℓ1 regulariser of
       the paper, normalised here by ``‖X‖₁`` so that λ ∈ {0, 1, 2} is comparable across images);
    3. A is re-estimated from the final H by nonnegative least squares (``A = argmin_{A≥0} ‖X − A H‖``,
       :func:`semiblind.solvers.nmf.nnls_hals` on the transposed problem), S = c·H.

    A batch of images is trained at once, one set of weights per image.

    Parameters (keyword-only)
    -------------------------
    n_sources : number of sources.
    layers : number of layers (default 10).
    lam : λ ≥ 0 (default 0; the ALMU paper reports the best of 0, 1, 2).
    epochs : Adam steps (default 300). lr : learning rate (default 1e-2).
    progress : show a progress bar while training (default True).
    random_state : unused (the start is deterministic). dtype, device, verbose : as everywhere.
    """

    name: ClassVar[str] = "dnmf"
    family: ClassVar[str] = "unrolled MU on S with learned matrices, retrained per image"
    reference: ClassVar[str] = "Nasser, Eldar & Sharan 2022"
    nonnegative: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **COMMON_CONSTRAINTS,
        "layers": [Interval(int, 1, None, closed="left")],
        "lam": [Interval(float, 0, None, closed="left")],
        "epochs": [Interval(int, 1, None, closed="left")],
        "lr": [Interval(float, 0, None, closed="neither")],
        "progress": [BOOL],
    }

    def __init__(
        self,
        *,
        n_sources: int = 2,
        layers: int = 10,
        lam: float = 0.0,
        epochs: int = 300,
        lr: float = 1e-2,
        progress: bool = True,
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        self.n_sources = n_sources
        self.layers = layers
        self.lam = lam
        self.epochs = epochs
        self.lr = lr
        self.progress = progress
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        X = check_nonnegative_data(X, method=self.name).clamp_min(0)
        c = data_scale(X)
        Xn = X / c
        A0, _ = mu_start(Xn, self.n_sources, EPS)
        net = DNMF(A0=A0, layers=self.layers, dtype=X.dtype).to(X.device)
        A = torch.nn.Parameter(A0.clone())
        xx = Xn.square().sum((-2, -1)).clamp_min(EPS)
        x1 = Xn.sum((-2, -1)).clamp_min(EPS)
        lam = float(self.lam)

        def loss_fn(epoch: int) -> torch.Tensor:
            H = net(Xn)
            rec = (Xn - A @ H).square().sum((-2, -1)) / xx
            return (rec + lam * H.sum((-2, -1)) / x1).sum()

        def project() -> None:
            net.project_()
            A.clamp_(min=EPS)

        with torch.enable_grad():  # fit runs under no_grad; this method trains
            curve = train_per_image([*net.parameters(), A], loss_fn, epochs=int(self.epochs), lr=float(self.lr),
                                    post_step=project, progress=bool(self.progress), desc="dnmf (per image)")
        with torch.no_grad():
            H = net(Xn)
            A_fin = nnls_hals(H.mT, Xn.mT).mT.clamp_min(EPS)
        if not (math.isfinite(curve[-1]) and bool(torch.isfinite(A_fin).all()) and bool(torch.isfinite(H).all())):
            raise ValueError("dnmf produced non-finite estimates; lower lr.")
        return FitResult(A=A_fin, S=H * c, n_iter=int(self.epochs), converged=True, history={"loss": curve},
                         info={"layers": int(self.layers), "lam": lam, "epochs": int(self.epochs)})

    def _transform_batch(self, X: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        """S ≥ 0 with A fixed by :func:`nnls_hals`."""
        X = check_nonnegative_data(X, method=self.name)
        return nnls_hals(A.expand(X.shape[0], -1, -1), X)


__all__ = ["ALMUSeparator", "DNMFSeparator", "NALMUSeparator"]
