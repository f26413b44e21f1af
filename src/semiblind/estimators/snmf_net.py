"""``method="snmf-net"``: SNMF-net (Xiong, Zhou & Qian, IEEE TGRS 2021), ℓ1/2-sparse NMF's multiplicative
updates unrolled into alternating layers, trained on the image it unmixes (network:
:class:`semiblind.unrolled.snmf_net.SNMFNet`)."""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import torch

from .._validation import Interval, check_nonnegative_data
from ..solvers.base import COMMON_CONSTRAINTS, BaseSeparator, FitResult, register
from ..training.per_image import train_per_image
from ..unrolled.snmf_net import SNMFNet, sparseness_lambda
from ._unmixing_start import apply_to_new_images, vca_fcls_start


@register
class SNMFNetSeparator(BaseSeparator):
    """SNMF-net (Xiong et al. 2021): unsupervised, retrained on every image inside ``fit``.

    Parameters (keyword-only)
    -------------------------
    n_sources : number of endmembers n.
    layers : alternating MU layers K (default 10).
    epochs, lr : Adam steps on the image and learning rate (defaults 300 and 1e-3).
    random_state : seed of VCA's random directions. dtype, device as everywhere. verbose : a progress bar (tqdm,
        stderr) over the epochs and a one-line summary.

    Start: VCA endmembers (trainable) and FCLS abundances of ``X/c`` (``c = ‖X‖_F/√t``), every layer's λ at
    Qian et al.'s sparseness estimate; the loss is the reconstruction error summed over the layers (eq. 5). S is
    scaled back by ``c``. Needs ``X ≥ 0`` (small negative noise is clipped, with a warning). ``n_iter_`` is the
    number of epochs, ``history_["loss"]`` the training curve of the first sample; ``network_`` the trained
    network (:meth:`apply_network` runs it on other images).
    """

    name: ClassVar[str] = "snmf-net"
    family: ClassVar[str] = "unrolled l1/2-sparse NMF, trained per image"
    reference: ClassVar[str] = "Xiong et al. 2021 (IEEE TGRS)"
    nonnegative: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **COMMON_CONSTRAINTS,
        "layers": [Interval(int, 1, None, closed="left")],
        "epochs": [Interval(int, 1, None, closed="left")],
        "lr": [Interval(float, 0, None, closed="neither")],
    }

    def __init__(self, *, n_sources: int = 2, layers: int = 10, epochs: int = 300, lr: float = 1e-3,
                 random_state: Any = None, dtype: str = "float32", device: Any = "cpu",
                 verbose: bool = False) -> None:
        self.n_sources = n_sources
        self.layers = layers
        self.epochs = epochs
        self.lr = lr
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        X = check_nonnegative_data(X, method=self.name).clamp_min(0)
        c, A0, S0 = vca_fcls_start(X, self.n_sources, self._rng())
        Xn = X / c
        net = SNMFNet(A0=A0, S0=S0, lam0=sparseness_lambda(Xn), layers=self.layers).to(X.device)
        with torch.enable_grad():
            curve = train_per_image(net.parameters(), lambda e: net.loss(Xn), epochs=self.epochs, lr=self.lr,
                                    post_step=net.project_, progress=self.verbose, desc="snmf-net")
        with torch.no_grad():
            A, S = net(Xn)
        self.network_ = net.eval()
        if self.verbose:
            print(f"snmf-net: {self.epochs} epochs, final loss {curve[-1]:.4g}", file=sys.stderr)
        return FitResult(A=A.detach(), S=S.detach() * c, n_iter=self.epochs, converged=True,
                         history={"loss": curve}, info={"start": "VCA + FCLS", "layers": self.layers})


    @torch.no_grad()
    def apply_network(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(A (B, m, n), S (B, n, t))`` of the network trained by :meth:`fit` (on its first image) for other
        images ``X (B, m, t)``, each from its own FCLS start for the trained endmembers (the "generalisation"
        row of the LPALM paper's Table 2)."""
        if not hasattr(self, "network_"):
            raise ValueError(f"This {type(self).__name__} instance is not fitted yet; call fit(X) first.")
        net = self.network_
        return apply_to_new_images(net, X.to(net.S0.dtype), net.A0[:1].detach())


__all__ = ["SNMFNetSeparator"]
