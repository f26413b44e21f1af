""":class:`LearnedSeparator`: the common code of the estimators backed by a trained network.

A learned method is a registered subclass of :class:`LearnedSeparator` (that is what "learned" means in the
method table). It resolves ``model`` (a folder, a shipped name or a module), checks the data contract (channel
and source counts, energy grid), runs the network on ``X (B, m, t)`` and returns its ``A (B, m, n)`` and
``S (B, n, t)``.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from typing import Any, ClassVar

import numpy as np
import torch

from .._validation import NONE, InstanceOf, Predicate
from ..solvers._chunked import PixelChunks
from ..solvers.base import COMMON_CONSTRAINTS, BaseSeparator, FitResult
from ..training.model_files import check_energy_grid, find_shipped_model, load_model, read_config
from ..unrolled.base import UnrolledNet

_MODEL_CONSTRAINT = [
    NONE,
    InstanceOf((str, os.PathLike), "a model folder or a shipped model name"),
    InstanceOf((UnrolledNet,), "an UnrolledNet module"),
]


class LearnedSeparator(BaseSeparator):
    """Base class of the separators backed by a trained network (model resolution, checks, forward).

    Subclasses set ``name``, ``family``, ``reference``, ``model_classes`` (the ``architecture.class`` names they
    accept) and ``needs_model_file`` (False when a shipped model is picked by default), and may override
    :meth:`_forward` and :meth:`_input_scale`.

    Parameters
    ----------
    n_sources : number of sources; must equal the model's.
    model : a model folder, a shipped model name or a network module (see the subclass).
    energies : the data's channel energies in keV ``(m,)``, or None; when given, the model's energy grid must match.
    random_state : unused by a trained network (accepted for the common interface).
    dtype, device : computation precision and device.
    verbose : print the model used, its size and the time taken (stderr).

    ``n_iter_`` is the number of layers; ``converged_`` is True (a network runs a fixed number of layers).
    """

    model_classes: ClassVar[tuple[str, ...]] = ()
    needs_model_file: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **COMMON_CONSTRAINTS,
        "model": _MODEL_CONSTRAINT,
        "energies": [NONE, Predicate(lambda e: np.ndim(e) == 1 and np.all(np.isfinite(e)),
                                     "None or a 1-D array of channel energies in keV")],
    }

    def __init__(
        self,
        *,
        n_sources: int,
        model: Any = None,
        energies: Any = None,
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        self.n_sources = n_sources
        self.model = model
        self.energies = energies
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _resolve_model(self, m: int) -> tuple[UnrolledNet, str]:
        if isinstance(self.model, UnrolledNet):  # a copy: fitting must not move or cast the caller's module
            net, label = copy.deepcopy(self.model), f"<{type(self.model).__name__} module>"
        elif self.model is None:
            if self.needs_model_file:
                raise ValueError(
                    f"model must be given for method {self.name!r} (a folder written by `semiblind train "
                    f"{self.name}` or semiblind.training.save_model()); got None."
                )
            label = find_shipped_model(m, self.n_sources, classes=self.model_classes, energies=self.energies)
            net = load_model(label)
        else:
            net = load_model(self.model)
            label = str(self.model)
            if self.energies is not None:
                check_energy_grid(read_config(self.model), self.energies, label=label)
        if type(net).__name__ not in self.model_classes:
            raise ValueError(
                f"model must be a {' or '.join(self.model_classes)} model for method {self.name!r}; got a "
                f"{type(net).__name__} model ({label})."
            )
        net.check_data(m, self.n_sources)
        return net.to(dtype=self._dtype, device=self._device).eval(), label

    def _forward(self, net: UnrolledNet, X: torch.Tensor, image_shape: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """``(A (B, m, n), S (B, n, t))`` of the network for ``X (B, m, t)`` (a subclass with a ``chunk_pixels``
        path also receives a :class:`~semiblind.solvers._chunked.PixelChunks`)."""
        return net(X)

    def _input_scale(self, X: torch.Tensor) -> torch.Tensor | None:
        """Per-sample factor ``c`` applied to X before the network (``None``: no rescaling)."""
        return None

    def _fit_batch(self, X: torch.Tensor, *, image_shape: tuple[int, ...] | None) -> FitResult:
        t0 = time.perf_counter()
        net, label = self._resolve_model(int(X.shape[1]))
        self.model_ = net
        c = self._input_scale(X)
        if c is None:
            Xin = X
        else:  # X read in pixel chunks (``chunk_pixels``) is scaled chunk by chunk as it is read
            Xin = X.scaled(c) if isinstance(X, PixelChunks) else c * X
        A, S = self._forward(net, Xin, image_shape)
        info = {"model": label, "architecture": net.architecture()}
        if c is not None:
            S = S / c
            info["input_scale"] = c.reshape(-1).tolist()
        if self.verbose:
            print(f"{self.name}: model {label} ({type(net).__name__}, {net.layers} layers) on {X.shape[0]} "
                  f"sample(s) of {X.shape[2]} pixels in {time.perf_counter() - t0:.3g} s", file=sys.stderr)
        return FitResult(A=A, S=S, n_iter=net.layers, converged=True, info=info)
