"""LPALM inside learned spectral manifolds: LPALM (Fahes et al. 2022) whose A-step is followed by the IAE fast
projection (sGMCA paper eq. B.4) of every modelled column.

Beyond both papers: the unrolled network keeps the columns that an IAE models on that IAE's manifold after each
layer's A-step, the way sGMCA does after GMCA's. The projection is differentiable, so the network trains through
it; the IAEs themselves are frozen (their weights travel in the model file, their architectures in
``architecture["iae"]``). Columns are mapped to models by position (``mapping[j]`` is the column of IAE ``j``),
as in training sets whose columns follow the simulator's family order.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ..priors.iae import IAE, fast_projection, unit_rows
from .base import register_model
from .lpalm import LPALM


@register_model
class LPALMIAE(LPALM):
    """LPALM with an IAE fast projection of the modelled columns after each A-step.

    Parameters: those of :class:`~semiblind.unrolled.lpalm.LPALM`, plus ``iae`` — a list of IAE architecture
    dictionaries (``IAE.architecture()``) or IAE modules, one per modelled column — and ``mapping`` — the column
    of each (default ``0, 1, …``). ``for_training(A, S, *, layers, dtype, models=[...], **options)`` loads the
    IAE modules with :func:`semiblind.training.iae.load_iae`-loaded modules passed in ``models``.
    """

    kind: ClassVar[str | None] = None  # built by the experiment / scripts with trained IAE modules

    def __init__(self, *, n_channels: int, n_sources: int, iae: Any = (), mapping: Any = None, layers: int = 25,
                 dtype: Any = None, **options: Any) -> None:
        super().__init__(n_channels=n_channels, n_sources=n_sources, layers=layers, dtype=dtype, **options)
        mods = []
        for j, item in enumerate(iae):
            if isinstance(item, IAE):
                net = item
            elif isinstance(item, dict):
                arch = {k: v for k, v in item.items() if k != "class"}
                net = IAE(**arch, dtype=self._param_dtype)
            else:
                raise TypeError(f"iae[{j}] must be an IAE module or its architecture dict; got {type(item).__name__}.")
            if net.m != self.m:
                raise ValueError(f"iae[{j}] models {net.m} channels; the network has {self.m}.")
            for p in net.parameters():
                p.requires_grad_(False)
            mods.append(net.to(self._param_dtype))
        self.iae = nn.ModuleList(mods)
        cols = list(range(len(mods))) if mapping is None else [int(c) for c in mapping]
        if len(cols) != len(mods) or len(set(cols)) != len(cols) or not all(0 <= c < self.n for c in cols):
            raise ValueError(f"mapping must list {len(mods)} distinct columns in [0, {self.n}); got {mapping!r}.")
        self.mapping = cols
        self._options = dict(options)

    def architecture(self) -> dict[str, Any]:
        return {**super().architecture(), "iae": [m.architecture() for m in self.iae], "mapping": self.mapping}

    def a_step(self, A: torch.Tensor, S: torch.Tensor, X: torch.Tensor, k: int) -> torch.Tensor:
        """LPALM's A-step, then each modelled column ← its unit-norm IAE fast projection (differentiable)."""
        A = super().a_step(A, S, X, k)
        if not len(self.iae):
            return A
        cols = list(A.unbind(dim=-1))
        for net, c in zip(self.iae, self.mapping):  # loop over the few modelled columns; batched over samples
            p = unit_rows(fast_projection(net, cols[c])[0])
            ok = torch.linalg.vector_norm(p, dim=-1, keepdim=True) > 0
            cols[c] = torch.where(ok, p, cols[c])
        return torch.stack(cols, dim=-1)

    def train(self, mode: bool = True) -> LPALMIAE:
        super().train(mode)
        self.iae.eval()  # the IAEs stay frozen
        return self
