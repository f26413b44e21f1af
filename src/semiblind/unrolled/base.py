"""Shared machinery of the unrolled networks: the :class:`UnrolledNet` base module, the network registration
used when a model file is loaded or a kind is trained, and the parameter constraints (θ ≥ 0, L > 0).

Every network maps a batch ``X (B, m, t)`` to estimates ``A (B, m, n)`` and ``S (B, n, t)`` through ``K`` layers,
each of which calls an iterate of :mod:`semiblind.solvers.iterates` with learned parameters.
``forward(X, return_layers=True)`` also returns the per-layer estimates (lists of length ``K``), used by
layer-weighted losses and by per-layer validation curves (LPALM paper, Fahes et al. ICLR 2022, Figure 2b).

Constraints on learned parameters. Thresholds must stay nonnegative and Lipschitz-type constants positive. They
are stored as plain parameters, *clamped in the forward pass* (``θ ↦ max(θ, 0)``, ``L ↦ max(L, L_MIN)``), and the
training engine calls :meth:`UnrolledNet.constrain_` after every optimiser step, which projects the stored values
onto the same sets (projected gradient). The soft-threshold's gradient with respect to θ is nonzero at θ = 0, so a
threshold projected to 0 can grow again.

Registration. ``@register_model`` on a network class (:func:`semiblind._registry.register_network`) makes it
loadable from a ``config.json`` whose ``architecture.class`` is the class name; a class that also sets ``kind``
(e.g. ``"lpalm"``) and defines the classmethod ``for_training(A, S, *, layers, dtype, **options)`` becomes
trainable with ``semiblind train <kind>``. This layer never imports the training layer: model files are written
by :func:`semiblind.training.model_files.save_model`.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import torch
from torch import nn

from .. import _registry
from .._backend import resolve_dtype

# Smallest admissible value of a learned Lipschitz constant (L_A, L^(k)); 1/L is used as a step size.
L_MIN = 1e-8

register_model = _registry.register_network
"""Class decorator: register a network class (see :func:`semiblind._registry.register_network`)."""


def model_classes() -> dict[str, type[UnrolledNet]]:
    """Architecture name → module class of the networks registered so far (see
    :func:`semiblind.training.model_files.network_classes` for the discovered list)."""
    return _registry.networks()


def check_layers(layers: Any) -> int:
    if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
        raise ValueError(f"layers must be a positive int; got {layers!r}.")
    return int(layers)


def check_start_pair(A0: Any, S0: Any) -> None:
    """A per-image network's start: ``A0 (B, m, n)`` and ``S0 (B, n, t)`` with the same B and n."""
    if A0.ndim != 3 or S0.ndim != 3 or S0.shape[:2] != (A0.shape[0], A0.shape[2]):
        raise ValueError(f"A0 must be (B, m, n) and S0 (B, n, t) with the same B and n; got shapes "
                         f"{tuple(A0.shape)} and {tuple(S0.shape)}.")


def check_dims(n_channels: Any, n_sources: Any) -> tuple[int, int]:
    for name, v in (("n_channels", n_channels), ("n_sources", n_sources)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int; got {v!r}.")
    if n_sources > n_channels:
        raise ValueError(f"n_sources must be at most n_channels; got n_sources={n_sources} and "
                         f"n_channels={n_channels}.")
    return int(n_channels), int(n_sources)


LEGACY_ARCHITECTURE_KEYS = {"m": "n_channels", "n": "n_sources"}
"""Names of ``config.json`` architecture entries written before the constructors said what they are."""


def modern_architecture(arch: dict[str, Any]) -> dict[str, Any]:
    """An architecture dict with legacy keys (``m``, ``n``) renamed (``n_channels``, ``n_sources``)."""
    return {LEGACY_ARCHITECTURE_KEYS.get(k, k): v for k, v in arch.items()}


class UnrolledNet(nn.Module):
    """Base class of the unrolled networks.

    Subclasses define ``architecture()`` (a JSON-able dict with ``"class"``, ``"layers"``, the sizes and their
    own options, accepted back by ``cls(**architecture_without_class)``) and ``forward``. A trainable network
    also sets ``kind`` (its ``semiblind train`` key) and the classmethod
    ``for_training(A (N, m, n), S (N, n, t), *, layers, dtype, **options)`` returning an initialised instance.

    Attributes
    ----------
    n_channels, n_sources, layers : channels m, sources n, number of layers K (``m``, ``n``: read-only short
        names of the first two, the shape letters of ``X (m, t)``, ``A (m, n)``).
    estimates_mixing : whether the network estimates A (LPALM) or only S with A given or fixed (LISTA family).
    contract : the data contract written into ``config.json`` (energy grid, preprocessing, training data,
        validation metrics); filled by the training engine and the scripts, see
        :mod:`semiblind.training.model_files`.
    """

    estimates_mixing: ClassVar[bool] = True
    kind: ClassVar[str | None] = None  # `semiblind train <kind>`; None: loadable, not trainable from the CLI

    def __init__(self, *, n_channels: int, n_sources: int, layers: int, dtype: Any = None) -> None:
        super().__init__()
        self.n_channels, self.n_sources = check_dims(n_channels, n_sources)
        self.layers = check_layers(layers)
        self._param_dtype = resolve_dtype(dtype)
        self.contract: dict[str, Any] = {}

    # ------------------------------------------------------------------------------------------ description
    def architecture(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "layers": self.layers, "n_channels": self.n_channels,
                "n_sources": self.n_sources}

    @property
    def m(self) -> int:
        """Number of channels (``n_channels``)."""
        return self.n_channels

    @property
    def n(self) -> int:
        """Number of sources (``n_sources``)."""
        return self.n_sources

    @property
    def dtype(self) -> torch.dtype:
        p = next(iter(self.parameters()), None)
        return p.dtype if p is not None else self._param_dtype

    @property
    def device(self) -> torch.device:
        p = next(iter(self.parameters()), None)
        return p.device if p is not None else torch.device("cpu")

    def _layer(self, k: int) -> int:
        """Index of the parameters used by layer ``k`` (0 for every layer when tied)."""
        return 0 if getattr(self, "tied", False) else k

    def check_data(self, m: int, n: int | None = None, *, what: str = "X") -> None:
        """Raise ``ValueError`` (stating both numbers) when data with ``m`` channels / ``n`` sources do not fit."""
        if m != self.m:
            raise ValueError(
                f"{what} has {m} channels but this {type(self).__name__} model was trained for {self.m} "
                f"channels."
            )
        if n is not None and n != self.n:
            raise ValueError(
                f"n_sources must be {self.n}, the number of sources this {type(self).__name__} model was "
                f"trained for; got {n}."
            )

    def _check_input(self, X: torch.Tensor) -> None:
        if not isinstance(X, torch.Tensor) or X.ndim != 3:
            shape = tuple(X.shape) if hasattr(X, "shape") else type(X).__name__
            raise ValueError(f"X must be a 3-D tensor (batch, channels, pixels); got {shape}.")
        self.check_data(int(X.shape[1]))

    # ------------------------------------------------------------------------------------------ constraints
    @torch.no_grad()
    def constrain_(self) -> None:
        """Project the stored parameters onto their admissible sets (θ ≥ 0, L ≥ L_MIN); called after each step."""
        for name, p in self.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf.startswith("theta"):
                p.clamp_(min=0)
            elif leaf.startswith("L"):
                p.clamp_(min=L_MIN)

    # ------------------------------------------------------------------------------------------ copies
    def copy(self) -> UnrolledNet:
        return copy.deepcopy(self)


def clamp_theta(theta: torch.Tensor) -> torch.Tensor:
    """θ used in the forward pass: ``max(θ, 0)``."""
    return theta.clamp_min(0)


def clamp_lipschitz(L: torch.Tensor) -> torch.Tensor:
    """Lipschitz constant used in the forward pass: ``max(L, L_MIN)``."""
    return L.clamp_min(L_MIN)
