"""The training loss of the unrolled multiplicative updates (Kervazo, Chetoui & Cohen, EUSIPCO 2024, eq. 3).

    L = − Σ_l v^(l) · ( SAD(A^(l), A*) + SAD(S^(l), S*) ),     v^(l) = (l − 1)/(L − 1),

where SAD is the papers' mean cosine between matched columns of A (rows of S), 1 = perfect
(:func:`semiblind.metrics.sad`). The matching (Hungarian assignment on the columns of A,
:func:`semiblind.metrics.match`) is computed **without gradient** at every layer; the cosines of the matched
pairs are differentiable. The paper sums over the data set; here the per-sample loss is averaged over the batch
(a constant factor), so learning rates do not depend on the batch size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .. import metrics

_EPS = 1e-12


def linear_layer_weights(layers: int) -> list[float]:
    """The paper's ``v^(l) = (l − 1)/(L − 1)`` for ``l = 1..L`` (``[1.0]`` when ``L = 1``)."""
    if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
        raise ValueError(f"layers must be a positive int; got {layers!r}.")
    if layers == 1:
        return [1.0]
    return [(k) / (layers - 1) for k in range(layers)]


def _cos(P: torch.Tensor, T: torch.Tensor, dim: int) -> torch.Tensor:
    num = (P * T).sum(dim=dim)
    den = (torch.linalg.vector_norm(P, dim=dim) * torch.linalg.vector_norm(T, dim=dim)).clamp_min(_EPS)
    return num / den


def matched_sad(A: torch.Tensor, S: torch.Tensor, A_true: torch.Tensor,
                S_true: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample mean cosine of matched columns of A and matched rows of S, ``((B,), (B,))``, differentiable
    in ``A`` and ``S``; the permutation and signs come from :func:`semiblind.metrics.match` on A (no gradient)."""
    with torch.no_grad():
        perm, signs = metrics.match(A.detach(), A_true.detach())
    perm_t = torch.as_tensor(perm, device=A.device)
    sg = torch.as_tensor(signs, dtype=A.dtype, device=A.device)
    Ap = A.gather(-1, perm_t.unsqueeze(-2).expand(*A.shape)) * sg.unsqueeze(-2)
    Sp = S.gather(-2, perm_t.unsqueeze(-1).expand(*S.shape)) * sg.unsqueeze(-1)
    return _cos(Ap, A_true, -2).mean(-1), _cos(Sp, S_true, -1).mean(-1)


class LMUSADLoss:
    """Callable ``loss(A_layers, S_layers, A_true, S_true) -> scalar`` of eq. 3 for the training engine.

    layer_weights : one weight per layer (≥ 0, not all zero); default the paper's ``v^(l)`` over all layers.
    ALMU's second stage passes zeros for the frozen NALMU layers.
    """

    __name__ = "lmu_sad"

    def __init__(self, layer_weights: Sequence[float] | None = None) -> None:
        if layer_weights is not None:
            w = [float(x) for x in layer_weights]
            if any(not (x >= 0) for x in w) or not any(x > 0 for x in w):
                raise ValueError(f"layer_weights must be nonnegative numbers, not all zero; got {layer_weights!r}.")
            self.layer_weights: list[float] | None = w
        else:
            self.layer_weights = None

    def weights(self, K: int) -> list[float]:
        if self.layer_weights is None:
            return linear_layer_weights(K)
        if len(self.layer_weights) != K:
            raise ValueError(f"layer_weights must have one weight per layer ({K}); got {len(self.layer_weights)}.")
        return self.layer_weights

    def __call__(self, A_layers: Sequence[torch.Tensor] | None, S_layers: Sequence[torch.Tensor],
                 A_true: torch.Tensor, S_true: torch.Tensor) -> torch.Tensor:
        if A_layers is None:
            raise ValueError("the eq. 3 loss needs networks that estimate A (NALMU, ALMU); got A_layers=None.")
        total = S_layers[-1].new_zeros(())
        for w, A, S in zip(self.weights(len(S_layers)), A_layers, S_layers):
            if w == 0:
                continue
            ca, cs = matched_sad(A, S, A_true, S_true)
            total = total - w * (ca + cs).mean()
        return total


__all__ = ["LMUSADLoss", "linear_layer_weights", "matched_sad"]
