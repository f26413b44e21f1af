"""CNNAEU: the convolutional autoencoder for spectral–spatial unmixing of Palsson, Ulfarsson & Sveinsson (2021),
"Convolutional Autoencoder for Spectral–Spatial Hyperspectral Unmixing", IEEE TGRS 59(1), 535–549, in the form
the HySUPP benchmark (Rasti et al. 2024) describes it; written here in torch from that description.

Shapes (channels first): a batch of patches ``X (B, m, P, P)`` → abundances ``S (B, n, P, P)`` and the
reconstruction ``X̂ (B, m, P, P)``.

- **Encoder**: 3×3 convolution ``m → 48`` (reflect padding, no bias), LeakyReLU (slope 0.02), batch norm,
  2-D dropout (0.2); 1×1 convolution ``48 → n`` (no bias), LeakyReLU, batch norm, 2-D dropout.
- **Abundances**: ``S = softmax(scale · code)`` over the sources (nonnegative, sum to one in every pixel;
  ``scale`` = 3 sharpens them).
- **Decoder**: one linear convolution ``n → m`` with a ``k × k`` kernel (default 11, reflect padding, no bias):
  the reconstruction of a pixel mixes the abundances of its neighbourhood. Its weights are the endmembers:
  ``A = mean over the kernel of W (m, n, k, k)`` (HySUPP's read-out; the angle of a column does not depend on
  that scaling).
- **Loss**: the mean over pixels of the spectral angle between ``x`` and ``x̂`` (:func:`sad_loss`).

The module is a plain ``nn.Module`` (not an :class:`~semiblind.unrolled.base.UnrolledNet`: it is trained on the
image it unmixes and never saved as a model file); the estimator ``"cnnaeu"``
(:mod:`semiblind.estimators.cnnaeu`) trains it per image.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CNNAEU", "sad_loss"]


def sad_loss(X: torch.Tensor, X_hat: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Mean spectral angle (radians) between the pixels of ``X`` and ``X_hat`` ``(B, m, ...)`` (channel axis 1).

    ``arccos`` of the cosine clamped to ``[−1 + 1e-7, 1 − 1e-7]`` so that the gradient stays finite at a perfect
    fit."""
    dot = (X * X_hat).sum(1)
    cos = dot / (torch.linalg.vector_norm(X, dim=1) * torch.linalg.vector_norm(X_hat, dim=1)).clamp_min(eps)
    return torch.acos(cos.clamp(-1 + 1e-7, 1 - 1e-7)).mean()


class CNNAEU(nn.Module):
    """The CNNAEU autoencoder (see the module docstring).

    Parameters (keyword-only)
    -------------------------
    n_channels : bands m. n_sources : endmembers n. hidden : filters of the first convolution (48).
    kernel_size : decoder kernel k (odd; 11). scale : softmax sharpness (3). dropout : 2-D dropout rate (0.2).
    negative_slope : LeakyReLU slope (0.02). dtype : parameter dtype.

    ``forward(X (B, m, H, W)) -> (S (B, n, H, W), X_hat (B, m, H, W))``; :meth:`endmembers` gives ``A (m, n)``.
    """

    def __init__(
        self,
        *,
        n_channels: int,
        n_sources: int,
        hidden: int = 48,
        kernel_size: int = 11,
        scale: float = 3.0,
        dropout: float = 0.2,
        negative_slope: float = 0.02,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        for name, v in (("n_channels", n_channels), ("n_sources", n_sources), ("hidden", hidden),
                        ("kernel_size", kernel_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int; got {v!r}.")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (the decoder is centred on each pixel); got {kernel_size}.")
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a positive float; got {scale!r}.")
        if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
            raise ValueError(f"dropout must be a float in [0, 1); got {dropout!r}.")
        self.n_channels, self.n_sources, self.kernel_size = int(n_channels), int(n_sources), int(kernel_size)
        self.scale = float(scale)
        act = {"negative_slope": float(negative_slope)}
        self.encoder = nn.Sequential(
            nn.Conv2d(n_channels, hidden, kernel_size=3, padding=1, padding_mode="reflect", bias=False),
            nn.LeakyReLU(**act),
            nn.BatchNorm2d(hidden),
            nn.Dropout2d(dropout),
            nn.Conv2d(hidden, n_sources, kernel_size=1, bias=False),
            nn.LeakyReLU(**act),
            nn.BatchNorm2d(n_sources),
            nn.Dropout2d(dropout),
        )
        self.decoder = nn.Conv2d(n_sources, n_channels, kernel_size=kernel_size, padding=kernel_size // 2,
                                 padding_mode="reflect", bias=False)
        self.to(dtype)

    def abundances(self, X: torch.Tensor) -> torch.Tensor:
        """``S = softmax(scale · encoder(X))`` over the source axis: ``(B, n, H, W)``."""
        return F.softmax(self.scale * self.encoder(X), dim=1)

    def forward(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(X, torch.Tensor) or X.ndim != 4 or X.shape[1] != self.n_channels:
            shape = tuple(X.shape) if hasattr(X, "shape") else type(X).__name__
            raise ValueError(f"X must be a 4-D tensor (batch, {self.n_channels} channels, height, width); got "
                             f"{shape}.")
        pad = self.kernel_size // 2
        if min(X.shape[-2:]) <= pad:
            raise ValueError(f"X must be larger than {pad} pixels in both directions for the {self.kernel_size}×"
                             f"{self.kernel_size} decoder's reflect padding; got {tuple(X.shape[-2:])}.")
        S = self.abundances(X)
        return S, self.decoder(S)

    def endmembers(self) -> torch.Tensor:
        """``A (m, n)``: the decoder weights averaged over the kernel."""
        return self.decoder.weight.mean(dim=(-2, -1))
