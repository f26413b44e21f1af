"""``method="mnnbu"``: MNNBU (Qian et al., IEEE TGRS 2020), ISTA unrolled for the abundances with a trainable
endmember layer, trained on the image it unmixes (network: :class:`semiblind.unrolled.mnnbu.MNNBU`)."""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import torch

from .._validation import BOOL, Interval, check_nonnegative_data
from ..solvers.base import COMMON_CONSTRAINTS, BaseSeparator, FitResult, register
from ..training.per_image import train_per_image
from ..unrolled.mnnbu import MNNBU
from ._unmixing_start import apply_to_new_images, vca_fcls_start


def mnnbu_lr(epoch: int, lr: float = 0.002, decay_from: int = 100, every: int = 50, factor: float = 1.2) -> float:
    """The paper's schedule as the issue states it: ``lr`` for epochs 0–99, then divided by 1.2 at epoch 100
    and every 50 epochs after."""
    return lr if epoch < decay_from else lr / factor ** ((epoch - decay_from) // every + 1)


@register
class MNNBUSeparator(BaseSeparator):
    """MNNBU (Qian, Xiong, Zhou, Sun & Gong 2020): unsupervised, retrained on every image inside ``fit``.

    Parameters (keyword-only)
    -------------------------
    n_sources : number of endmembers n.
    layers : unrolled ISTA layers K (default 10).
    epochs : Adam steps on the image (paper: 500).
    lr : initial learning rate (paper: 0.002; divided by 1.2 every 50 epochs from epoch 100, :func:`mnnbu_lr`).
    normalise_sources : return S with unit-l2 rows instead of sum-to-one abundances (the LPALM paper normalised
        the sum-to-one methods' S before comparing; A is rescaled inversely, so ``A S`` is unchanged).
    random_state : seed of VCA's random directions. dtype, device as everywhere. verbose : a progress bar (tqdm,
        stderr) over the epochs and a one-line summary.

    Start: VCA endmembers and FCLS abundances of ``X/c`` (``c = ‖X‖_F/√t``); S is scaled back by ``c``. Needs
    ``X ≥ 0`` (small negative noise is clipped, with a warning). ``n_iter_`` is the number of epochs,
    ``history_["loss"]`` the training curve of the first sample; ``network_`` the trained network
    (:meth:`apply_network` runs it on other images); a batch trains every image at once (each on
    its own loss).
    """

    name: ClassVar[str] = "mnnbu"
    family: ClassVar[str] = "unrolled ISTA unmixing, trained per image (sum-to-one)"
    reference: ClassVar[str] = "Qian et al. 2020 (IEEE TGRS)"
    nonnegative: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **COMMON_CONSTRAINTS,
        "layers": [Interval(int, 1, None, closed="left")],
        "epochs": [Interval(int, 1, None, closed="left")],
        "lr": [Interval(float, 0, None, closed="neither")],
        "normalise_sources": [BOOL],
    }

    def __init__(self, *, n_sources: int = 2, layers: int = 10, epochs: int = 500, lr: float = 0.002,
                 normalise_sources: bool = False, random_state: Any = None, dtype: str = "float32",
                 device: Any = "cpu", verbose: bool = False) -> None:
        self.n_sources = n_sources
        self.layers = layers
        self.epochs = epochs
        self.lr = lr
        self.normalise_sources = normalise_sources
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        X = check_nonnegative_data(X, method=self.name).clamp_min(0)
        c, A0, S0 = vca_fcls_start(X, self.n_sources, self._rng())
        Xn = X / c
        net = MNNBU(A0=A0, S0=S0, layers=self.layers).to(X.device)
        with torch.enable_grad():
            curve = train_per_image(net.parameters(), lambda e: net.loss(Xn), epochs=self.epochs, lr=self.lr,
                                    lr_at=lambda e: mnnbu_lr(e, self.lr), post_step=net.project_,
                                    progress=self.verbose, desc="mnnbu")
        with torch.no_grad():
            A, S = net(Xn)
            A, S = A.detach(), S.detach() * c
            if self.normalise_sources:
                norms = torch.linalg.vector_norm(S, dim=-1, keepdim=True).clamp_min(torch.finfo(S.dtype).tiny)
                S, A = S / norms, A * norms.mT
        self.network_ = net.eval()
        if self.verbose:
            print(f"mnnbu: {self.epochs} epochs, final loss {curve[-1]:.4g}", file=sys.stderr)
        return FitResult(A=A, S=S, n_iter=self.epochs, converged=True, history={"loss": curve},
                         info={"start": "VCA + FCLS", "layers": self.layers})


    @torch.no_grad()
    def apply_network(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(A (B, m, n), S (B, n, t))`` of the network trained by :meth:`fit` (on its first image) for other
        images ``X (B, m, t)``, each from its own FCLS start for the trained endmembers (the "generalisation"
        row of the LPALM paper's Table 2)."""
        if not hasattr(self, "network_"):
            raise ValueError(f"This {type(self).__name__} instance is not fitted yet; call fit(X) first.")
        net = self.network_
        return apply_to_new_images(net, X.to(net.S0.dtype), net.A[:1].detach())


__all__ = ["MNNBUSeparator", "mnnbu_lr"]
