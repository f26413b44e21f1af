"""``method="cnnaeu"``: the convolutional autoencoder of Palsson, Ulfarsson & Sveinsson (2021, IEEE TGRS 59(1)),
trained on the image it unmixes (:class:`semiblind.unrolled.cnnaeu.CNNAEU`).

Training follows HySUPP's description of the method: square patches of ``patch_size`` pixels cut at random
positions of the cube (their number scales with the image, ``n_patches = 250 · H·W·m / (307·307·162)``, at least
one batch), mini-batches of ``batch_size`` patches, ``epochs`` passes over the patches, the spectral-angle
reconstruction loss, and at the end one forward pass of the whole image in evaluation mode (no dropout, batch
norm's running statistics) for the abundances, the decoder weights averaged over the kernel for the endmembers.
One difference: the optimiser is Adam (the shared per-image loop,
:func:`semiblind.training.per_image.train_per_image`) where HySUPP uses RMSprop, both at ``lr = 3e-4``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from .._validation import NONE, Interval
from ..solvers.base import COMMON_CONSTRAINTS, BaseSeparator, FitResult, register
from ..training.per_image import train_per_image
from ..unrolled.cnnaeu import CNNAEU, sad_loss

#: HySUPP's patch budget: 250 patches for a 307 × 307 × 162 image, scaled by the image's size.
PATCH_BUDGET = (250, 307 * 307 * 162)


def n_patches_for(H: int, W: int, m: int) -> int:
    """HySUPP's number of training patches for an ``H × W`` image of ``m`` bands."""
    return int(PATCH_BUDGET[0] * H * W * m / PATCH_BUDGET[1])


@register
class CNNAEUSeparator(BaseSeparator):
    """CNNAEU (Palsson et al. 2021) trained per image inside :meth:`fit` (see the module docstring).

    Parameters (keyword-only)
    -------------------------
    n_sources : number of endmembers n.
    epochs : passes over the patches (HySUPP: 320).
    lr : Adam learning rate (3e-4).
    batch_size : patches per step (15).
    patch_size : patch side in pixels (40; cut to the image's smaller side when the image is smaller).
    n_patches : number of patches; None (default): HySUPP's rule, at least ``batch_size``.
    scale : softmax sharpness of the abundances (3). kernel_size : decoder kernel (11, odd).
    random_state : seed of the initial weights, of the patch positions and of the batch order (same seed,
        same result on the same device and thread count).
    dtype, device : as everywhere. verbose : show the training progress bar.

    X must be a cube ``(m, H, W)`` (the encoder and decoder are convolutions). ``mixing_`` ``(m, n)`` is on
    the decoder's scale; ``sources_`` ``(n, H, W)`` are nonnegative and sum to one in every pixel;
    ``history_["loss"]`` is the per-step training loss; ``n_iter_`` the number of Adam steps.
    """

    name: ClassVar[str] = "cnnaeu"
    family: ClassVar[str] = "autoencoder trained per image (convolutional, spectral-angle loss)"
    reference: ClassVar[str] = "Palsson, Ulfarsson & Sveinsson 2021 (IEEE TGRS)"
    nonnegative: ClassVar[bool] = False
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **COMMON_CONSTRAINTS,
        "epochs": [Interval(int, 1, None, closed="left")],
        "lr": [Interval(float, 0, None, closed="neither")],
        "batch_size": [Interval(int, 1, None, closed="left")],
        "patch_size": [Interval(int, 8, None, closed="left")],
        "n_patches": [NONE, Interval(int, 1, None, closed="left")],
        "scale": [Interval(float, 0, None, closed="neither")],
        "kernel_size": [Interval(int, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        n_sources: int = 3,
        epochs: int = 320,
        lr: float = 3e-4,
        batch_size: int = 15,
        patch_size: int = 40,
        n_patches: int | None = None,
        scale: float = 3.0,
        kernel_size: int = 11,
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        self.n_sources = n_sources
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.patch_size = patch_size
        self.n_patches = n_patches
        self.scale = scale
        self.kernel_size = kernel_size
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        if image_shape is None:
            raise ValueError(f"X must be a cube (channels, height, width) for method 'cnnaeu' (a convolutional "
                             f"network); got pixels without an image shape, shape {tuple(X.shape[1:])}.")
        H, W = image_shape
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd; got {self.kernel_size}.")
        if min(H, W) <= self.kernel_size // 2 + 1:
            raise ValueError(f"X must be larger than {self.kernel_size // 2 + 1} pixels in both directions for a "
                             f"{self.kernel_size}×{self.kernel_size} decoder; got an image of {H} × {W}.")
        B, m, _ = X.shape
        As, Ss, hist = [], [], []
        for b in range(B):  # one network per image of a batch (each image trains its own)
            A, S, curve = self._fit_one(X[b].reshape(m, H, W), self._rng())
            As.append(A)
            Ss.append(S)
            hist.append(curve)
        steps = len(hist[0])
        return FitResult(A=torch.stack(As), S=torch.stack(Ss), n_iter=steps, converged=True,
                         history={"loss": hist[0]}, info={"steps": steps, "final_loss": hist[0][-1]})

    def _fit_one(self, cube: torch.Tensor, gen: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, list]:
        m, H, W = cube.shape
        P = int(min(self.patch_size, H, W))
        n_p = self.n_patches if self.n_patches is not None else max(n_patches_for(H, W, m), self.batch_size)
        torch_seed = int(gen.integers(0, 2**63 - 1))
        top = gen.integers(0, H - P + 1, size=n_p)
        left = gen.integers(0, W - P + 1, size=n_p)
        rows = torch.as_tensor(top[:, None] + np.arange(P)[None, :])  # (n_p, P)
        cols = torch.as_tensor(left[:, None] + np.arange(P)[None, :])
        patches = cube[:, rows[:, :, None], cols[:, None, :]].permute(1, 0, 2, 3).contiguous()  # (n_p, m, P, P)
        per_epoch = -(-n_p // self.batch_size)
        steps = self.epochs * per_epoch
        order = np.concatenate([gen.permutation(n_p) for _ in range(self.epochs)])
        # fork the generators this fit reseeds (manual_seed reseeds CUDA's too): the caller's states come back
        with torch.random.fork_rng(devices=[cube.device] if cube.device.type == "cuda" else []):
            torch.manual_seed(torch_seed)
            net = CNNAEU(n_channels=m, n_sources=self.n_sources, kernel_size=self.kernel_size,
                         scale=float(self.scale), dtype=cube.dtype).to(cube.device)
            net.train()

            def loss_fn(step: int) -> torch.Tensor:
                e, j = divmod(step, per_epoch)
                idx = order[e * n_p + j * self.batch_size: e * n_p + min((j + 1) * self.batch_size, n_p)]
                batch = patches[torch.as_tensor(idx)]
                _, X_hat = net(batch)
                return sad_loss(batch, X_hat)

            with torch.enable_grad():  # fit() runs under no_grad; training needs the graph
                curve = train_per_image(net.parameters(), loss_fn, epochs=steps, lr=float(self.lr),
                                        progress=bool(self.verbose), desc="cnnaeu training")
        net.eval()
        with torch.no_grad():
            S = net.abundances(cube[None])[0].reshape(self.n_sources, H * W)
            A = net.endmembers().detach().clone()
        return A, S, curve

    def _transform_batch(self, X: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        from ..solvers.vca import fcls_batch

        return fcls_batch(X, A.expand(X.shape[0], -1, -1)).to(X.dtype)


__all__ = ["CNNAEUSeparator", "PATCH_BUDGET", "n_patches_for"]
