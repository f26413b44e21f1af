"""Training sets drawn from a simulator on the fly, never stored (``semiblind train --simulate xray``).

A :class:`SimulatedSource` stands for an epoch of ``per_epoch`` mixtures; global batch ``b`` of epoch ``e`` is
drawn by :func:`semiblind.data.mixtures.simulate_xray` with the generator ``SeedSequence([seed, e, b])``, so a
run is reproducible and resumable, and every data-parallel rank draws the same global batch and takes its own
slice (the run equals the single-process run). :meth:`SimulatedSource.probe` is a small set with its own seed
(``SeedSequence([seed, 2**32 - 1])``) used to size and initialise the network.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._validation import check_int


@dataclass
class SimulatedSource:
    """``per_epoch`` X-ray mixtures per epoch (X ``(B, m, t)``, A ``(B, m, n)``, S ``(B, n, t)`` per batch) from
    ``simulate_xray(pixels=pixels, sources=sources, snr_db=snr_db, **options)``; ``seed`` fixes every draw."""

    per_epoch: int
    pixels: int = 500
    sources: str = "ggd"
    snr_db: float = 30.0
    seed: int = 0
    simulator: str = "xray"
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.per_epoch = check_int(self.per_epoch, "per_epoch", 1)
        self.pixels = check_int(self.pixels, "pixels", 1)
        self.seed = check_int(self.seed, "seed", 0)
        if self.simulator != "xray":
            raise ValueError(f"simulator must be 'xray'; got {self.simulator!r}.")

    def draw(self, n: int, key: list[int], dtype: torch.dtype = torch.float32) -> Any:
        """``n`` mixtures drawn with ``SeedSequence([seed, *key])``: a dict ``X, A, S, meta`` (the layout
        :func:`semiblind.training.engine.as_dataset` reads)."""
        from ..data.mixtures import simulate_xray

        rng = np.random.default_rng(np.random.SeedSequence([self.seed, *[int(k) for k in key]]))
        ms = simulate_xray(int(n), pixels=self.pixels, sources=self.sources, snr_db=self.snr_db, rng=rng,
                           dtype="float64" if dtype == torch.float64 else "float32", progress=False, **self.options)
        return {"X": ms.X, "A": ms.A, "S": ms.S, "meta": dict(ms.meta or {})}

    def batch(self, epoch: int, b: int, n: int, dtype: torch.dtype = torch.float32) -> Any:
        """Global batch ``b`` (``n`` mixtures) of epoch ``epoch`` (both 0-based)."""
        return self.draw(n, [epoch, b], dtype)

    def probe(self, n: int = 8, dtype: torch.dtype = torch.float32) -> Any:
        """A small set for sizing and initialising a network (its own seed, not part of any epoch)."""
        return self.draw(n, [2**32 - 1], dtype)

    def describe(self) -> dict[str, Any]:
        """The simulator's settings (JSON), written into the model's contract and hashed into the fingerprint."""
        return {"simulator": self.simulator, "per_epoch": self.per_epoch, "pixels": self.pixels,
                "sources": self.sources, "snr_db": float(self.snr_db), "seed": self.seed,
                "options": {k: v for k, v in self.options.items()}}

    def fingerprint(self, m: int, n: int) -> dict[str, Any]:
        """The identity of this training stream, in :func:`~semiblind.training.checkpoint.data_fingerprint`'s
        layout (``--resume`` with other simulator settings is refused)."""
        digest = hashlib.sha256(json.dumps(self.describe(), sort_keys=True, default=str).encode()).hexdigest()
        shapes = {"X": [self.per_epoch, m, self.pixels], "A": [self.per_epoch, m, n], "S": [self.per_epoch, n,
                                                                                             self.pixels]}
        return {"shapes": shapes, "sha256": digest}


__all__ = ["SimulatedSource"]
