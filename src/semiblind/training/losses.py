"""Training losses for unrolled separation networks, differentiable torch code.

The default is the LPALM paper's eq. 9 (Fahes et al., ICLR 2022): the mean over the batch of
``NMSE(S_pred, S*) + NMSE(A_pred, A*)`` at the last layer, with ``NMSE(Y, Y*) = ‖Y − Y*‖²_F / ‖Y*‖²_F`` per
sample. Options: weights per layer (``Σ_k w_k ℓ(A(k), S(k))``) and a spectral-angle term for A (``"angle"``:
:func:`mean_angle`, the mean ``arccos(cos(a_i, a*_i))`` in radians over columns, 0 = perfect; ``"cosine"``: the
mean ``1 − cos``), used by unrolled MU. ``"sad"`` is accepted as an older name of ``"angle"``; it is *not*
:func:`semiblind.metrics.sad`, which is a mean cosine (1 = perfect).

No permutation matching happens inside the loss: the estimated sources are compared with the true ones in the
order the training data give them. This is sound because the networks are trained on data that always list the
source families in the same order, so a trained network learns to output them in that order; evaluating on
data in another order needs :func:`semiblind.metrics.align` first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

LOSSES = ("nmse", "angle", "cosine", "nmse_s")
_ALIASES = {"sad": "angle"}  # older name, kept for the command line's --loss sad

_EPS = 1e-12


def nmse(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Per-sample normalised squared error ``‖pred − true‖²_F / ‖true‖²_F`` over all but the first axis;
    ``(B,)``."""
    dims = tuple(range(1, true.ndim))
    num = (pred - true).pow(2).sum(dim=dims)
    den = true.pow(2).sum(dim=dims).clamp_min(_EPS)
    return num / den


def cosine_columns(A_pred: torch.Tensor, A_true: torch.Tensor) -> torch.Tensor:
    """Cosine between matching columns of ``(B, m, n)`` matrices; ``(B, n)``."""
    num = (A_pred * A_true).sum(dim=-2)
    den = (A_pred.norm(dim=-2) * A_true.norm(dim=-2)).clamp_min(_EPS)
    return num / den


def mean_angle(A_pred: torch.Tensor, A_true: torch.Tensor) -> torch.Tensor:
    """Per-sample mean spectral angle (radians, 0 = perfect) between matching columns; ``(B,)``.

    The cosine is clipped to ``[−1 + 1e-7, 1 − 1e-7]`` so that the gradient of ``arccos`` stays finite.
    """
    c = cosine_columns(A_pred, A_true).clamp(-1 + 1e-7, 1 - 1e-7)
    return torch.arccos(c).mean(dim=-1)


def one_minus_cosine(A_pred: torch.Tensor, A_true: torch.Tensor) -> torch.Tensor:
    """Per-sample mean ``1 − cos(a_i, a*_i)`` over columns; ``(B,)``."""
    return (1 - cosine_columns(A_pred, A_true)).mean(dim=-1)


@dataclass
class SeparationLoss:
    """``loss(A_layers, S_layers, A_true, S_true) -> scalar``, the batch mean of a per-layer weighted loss.

    kind : ``"nmse"`` (eq. 9: NMSE(S) + NMSE(A)), ``"angle"`` (NMSE(S) + mean spectral angle of A, radians;
        ``"sad"`` is an alias), ``"cosine"`` (NMSE(S) + mean (1 − cos)) or ``"nmse_s"`` (NMSE(S) only). The A
        term is dropped for networks that do not estimate A (``A_layers`` None).
    layer_weights : None (last layer only) or one weight per layer (≥ 0, not all zero).
    """

    kind: str = "nmse"
    layer_weights: Sequence[float] | None = None

    def __post_init__(self) -> None:
        self.kind = _ALIASES.get(self.kind, self.kind)
        if self.kind not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))} or a callable; got "
                             f"{self.kind!r}.")
        if self.layer_weights is not None:
            w = [float(x) for x in self.layer_weights]
            if any(x < 0 or x != x for x in w) or not any(x > 0 for x in w):
                raise ValueError(f"layer_weights must be nonnegative numbers, not all zero; got "
                                 f"{self.layer_weights!r}.")
            self.layer_weights = w

    def per_sample(self, A: torch.Tensor | None, S: torch.Tensor, A_true: torch.Tensor,
                   S_true: torch.Tensor) -> torch.Tensor:
        """The loss of one layer's estimates, per sample; ``(B,)``."""
        out = nmse(S, S_true)
        if A is None or self.kind == "nmse_s":
            return out
        if self.kind == "nmse":
            return out + nmse(A, A_true)
        if self.kind == "angle":
            return out + mean_angle(A, A_true)
        return out + one_minus_cosine(A, A_true)

    def __call__(self, A_layers: Sequence[torch.Tensor] | None, S_layers: Sequence[torch.Tensor],
                 A_true: torch.Tensor, S_true: torch.Tensor) -> torch.Tensor:
        K = len(S_layers)
        if self.layer_weights is None:
            weights = [0.0] * (K - 1) + [1.0]
        else:
            if len(self.layer_weights) != K:
                raise ValueError(f"layer_weights must have one weight per layer ({K}); got "
                                 f"{len(self.layer_weights)}.")
            weights = list(self.layer_weights)
        total = S_layers[-1].new_zeros(())
        for k, w in enumerate(weights):
            if w == 0:
                continue
            A_k = None if A_layers is None else A_layers[k]
            total = total + w * self.per_sample(A_k, S_layers[k], A_true, S_true).mean()
        return total


LossFn = Callable[[Any, Sequence[torch.Tensor], torch.Tensor, torch.Tensor], torch.Tensor]


def make_loss(loss: str | LossFn = "nmse", layer_weights: Sequence[float] | None = None) -> LossFn:
    """A loss callable from a name (see :class:`SeparationLoss`) or a user callable (returned as is)."""
    if callable(loss):
        if layer_weights is not None:
            raise ValueError("layer_weights must be None when loss is a callable; got both.")
        return loss
    if not isinstance(loss, str):
        raise TypeError(f"loss must be a loss name or a callable; got {type(loss).__name__}.")
    return SeparationLoss(loss, layer_weights)


__all__ = ["LOSSES", "SeparationLoss", "cosine_columns", "make_loss", "mean_angle", "nmse",
           "one_minus_cosine"]
