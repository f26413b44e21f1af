"""How an LPALM network is fed data of any size: the ``input_scale`` modes of the ``"lpalm"`` separator.

LPALM's thresholds θ(k) are absolute numbers learned on training mixtures of ``t_train`` pixels whose sources
have unit-l2 rows, so a source entry is of order ``1/√t_train``; its A-steps ``1/L_A(k)`` were learned with
``‖SSᵀ‖ ≈ 1``. Two ways to feed a mixture of ``t`` pixels (``t`` counts the pixels the network sees: ``J·H·W``
detail coefficients in wavelet mode):

- ``"energy"``: scale the network's input ``Z`` (X, or its starlet details in wavelet mode) by
  ``c = sqrt(n / ‖Z‖²_F)``, the training energy. ``SSᵀ`` keeps its training scale, but source entries shrink as
  ``1/√t``, so the learned thresholds act ``√(t/t_train)`` times harder than in training.
- ``"pixel"``: the same ``c``, and every θ(k) (λ for the ``"ista"`` S-update) multiplied by
  ``sqrt(t_train / t)``. Because a layer is positively homogeneous once θ scales with the data, this is
  exactly running the network on data with the per-pixel scale of training (``‖Z‖²_F = n·t/t_train``) with its
  A-steps divided by ``t/t_train``: every layer sees what it saw in training, whatever t. ``t_train`` comes from
  the model's data contract (``preprocessing.t_train``, written by the training engine).

In both modes S is divided by ``c`` afterwards, so ``separate(k·X)`` gives the same A and ``k`` times S.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch

from ..transforms import starlet_forward

INPUT_SCALES = ("energy", "pixel", "none")


def train_pixels(net: Any) -> int | None:
    """``t_train`` of the model's data contract (``preprocessing.t_train``), or None when it does not say."""
    pre = (getattr(net, "contract", {}) or {}).get("preprocessing") or {}
    t = pre.get("t_train")
    return int(t) if isinstance(t, (int, float)) and not isinstance(t, bool) and t > 0 else None


def wavelet_transform(net: Any, X: torch.Tensor, image_shape: tuple[int, ...] | None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """The starlet transform ``(details, coarse)`` that the wavelet-mode network ``net`` computes of
    ``X (B, m, t)`` (:func:`semiblind.transforms.starlet_forward` with its ``n_scales``; 2-D on images of
    ``image_shape``, 1-D otherwise), in the form :meth:`semiblind.unrolled.LPALM.forward` accepts as
    ``transform``."""
    B, m, _ = X.shape
    if image_shape is not None and len(image_shape) == 2:
        return starlet_forward(X.reshape(B, m, *image_shape), net.n_scales, ndim=2)
    return starlet_forward(X, net.n_scales, ndim=1)


def network_input(net: Any, X: torch.Tensor, image_shape: tuple[int, ...] | None) -> torch.Tensor:
    """What the layers of ``net`` see for ``X (B, m, t)``: X itself, or in wavelet mode its ``n_scales`` starlet
    detail scales side by side ``(B, m, J·t)`` (2-D on images of ``image_shape``, 1-D otherwise)."""
    if not getattr(net, "wavelet", False):
        return X
    details, _ = wavelet_transform(net, X, image_shape)
    return details.reshape(X.shape[0], X.shape[1], -1)


def energy_scale(Z: torch.Tensor, n: int) -> torch.Tensor:
    """``c = sqrt(n / ‖Z‖²_F)`` per sample ``(B, 1, 1)`` of ``Z (B, m, t)``: the factor that brings Z to the
    training energy of n unit-norm spectra times unit-l2 source rows."""
    energy = Z.square().sum(dim=(-2, -1), keepdim=True)
    return torch.sqrt(n / energy.clamp_min(torch.finfo(Z.dtype).tiny))


def input_scale_factor(net: Any, X: torch.Tensor, image_shape: tuple[int, ...] | None, n: int) -> torch.Tensor:
    """``c = sqrt(n / ‖Z‖²_F)`` per sample ``(B, 1, 1)``, Z the network's input (:func:`network_input`)."""
    return energy_scale(network_input(net, X, image_shape), n)


def threshold_scaled(net: Any, factor: float) -> Any:
    """A copy of ``net`` whose thresholds θ(k) (or fixed λ of the ``"ista"`` S-update) are multiplied by
    ``factor``; ``net`` itself is unchanged (and returned as is for ``factor == 1``)."""
    if factor == 1.0:
        return net
    out = copy.deepcopy(net)
    with torch.no_grad():
        if getattr(out, "lam", None) is not None:
            out.lam = float(out.lam) * factor
        theta = getattr(out, "theta", None)
        if isinstance(theta, torch.Tensor):
            theta.mul_(factor)
    return out


def pixel_factor(net: Any, X: torch.Tensor) -> float:
    """``sqrt(t_train / t)`` with t the number of pixels the network sees for ``X (B, m, t)``
    (:func:`network_pixels`; only the shape of X is read); ``ValueError`` without t_train."""
    t_train = train_pixels(net)
    if t_train is None:
        raise ValueError("input_scale must be 'energy' or 'none' for this model: 'pixel' needs the number of "
                         "training pixels t_train in its data contract (preprocessing.t_train); got none.")
    return math.sqrt(t_train / network_pixels(net, X))


def network_pixels(net: Any, X: torch.Tensor) -> int:
    """How many pixels the layers of ``net`` see for ``X (B, m, t)`` (:func:`network_input`'s last axis), from
    the shape alone: ``t``, or ``J·t`` in wavelet mode (the starlet transform is undecimated: J detail scales of
    t pixels each, 1-D or 2-D alike)."""
    t = int(X.shape[-1])
    return int(net.n_scales) * t if getattr(net, "wavelet", False) else t


__all__ = ["INPUT_SCALES", "energy_scale", "input_scale_factor", "network_input", "network_pixels",
           "pixel_factor", "threshold_scaled", "train_pixels", "wavelet_transform"]
