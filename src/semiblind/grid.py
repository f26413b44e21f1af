"""Energy grids of X-ray channels: the :class:`EnergyGrid` of the model-file data contract (core: no files, no
instrument model; nothing is computed at import).

A grid is the channel bin edges in keV, ``edges`` ``(m + 1,)``, with ``centers`` ``(m,)``. Named grids
(:data:`NAMED_GRIDS`) travel by name in JSON contracts (:meth:`EnergyGrid.to_dict`). The X-ray simulator
(:mod:`semiblind.data.xray`) re-exports this class.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


def _check_edges(edges: Any) -> np.ndarray:
    try:
        e = np.array(edges, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"edges must be a 1-D array of bin edges in keV; got {type(edges).__name__}.") \
            from None
    if e.ndim != 1 or e.size < 3:
        raise ValueError(
            f"edges must be a 1-D array of at least 3 bin edges in keV (2 channels); got shape {e.shape}."
        )
    if not np.all(np.isfinite(e)) or e[0] <= 0:
        raise ValueError(f"edges must be finite and positive (keV); got a first edge of {e[0]!r}.")
    if np.any(np.diff(e) <= 0):
        raise ValueError("edges must be strictly increasing; got at least one non-increasing pair of edges.")
    return e


@dataclass(frozen=True, eq=False)
class EnergyGrid:
    """Channel bin edges in keV: ``edges`` ``(m + 1,)``, ``centers`` ``(m,)`` (arithmetic mid-points).

    Build one with :meth:`linear`, :meth:`log`, :meth:`default` or :meth:`named`, or from any increasing
    edges.
    ``name`` labels named grids (``"chandra-acis-65"``) and travels with :meth:`to_dict` into JSON contracts.
    """

    edges: np.ndarray
    name: str | None = None

    def __post_init__(self) -> None:
        e = _check_edges(self.edges)
        e.setflags(write=False)
        object.__setattr__(self, "edges", e)
        if self.name is not None and not isinstance(self.name, str):
            raise TypeError(f"name must be a string or None; got {type(self.name).__name__}.")

    @property
    def m(self) -> int:
        """Number of channels."""
        return int(self.edges.size - 1)

    @property
    def centers(self) -> np.ndarray:
        """Channel centres (keV), ``(m,)``."""
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    @property
    def widths(self) -> np.ndarray:
        """Channel widths (keV), ``(m,)``."""
        return np.diff(self.edges)

    @property
    def e_min(self) -> float:
        return float(self.edges[0])

    @property
    def e_max(self) -> float:
        return float(self.edges[-1])

    def __len__(self) -> int:
        return self.m

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EnergyGrid):
            return NotImplemented
        return np.array_equal(self.edges, other.edges)  # the name is a label: same edges, same grid

    def __hash__(self) -> int:
        return hash(self.edges.tobytes())

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return f"EnergyGrid({label}m={self.m}, {self.e_min:g}–{self.e_max:g} keV)"

    @classmethod
    def linear(cls, e_min: float, e_max: float, m: int, name: str | None = None) -> EnergyGrid:
        """``m`` channels of equal width between ``e_min`` and ``e_max`` keV."""
        _check_range(e_min, e_max, m)
        return cls(np.linspace(float(e_min), float(e_max), int(m) + 1), name)

    @classmethod
    def log(cls, e_min: float, e_max: float, m: int, name: str | None = None) -> EnergyGrid:
        """``m`` channels of equal width in log-energy (constant ``ΔE/E``) between ``e_min`` and ``e_max``
        keV."""
        _check_range(e_min, e_max, m)
        return cls(np.geomspace(float(e_min), float(e_max), int(m) + 1), name)

    @classmethod
    def named(cls, name: str) -> EnergyGrid:
        """A grid of :data:`NAMED_GRIDS` by name."""
        if name not in NAMED_GRIDS:
            raise ValueError(f"name must be one of {', '.join(repr(k) for k in NAMED_GRIDS)}; got {name!r}.")
        spacing, lo, hi, m = NAMED_GRIDS[name]
        return (cls.linear if spacing == "linear" else cls.log)(lo, hi, m, name=name)

    @classmethod
    def default(cls) -> EnergyGrid:
        """The default grid ``"chandra-acis-65"``: 65 linear channels over 0.5–7.5 keV."""
        return cls.named("chandra-acis-65")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: ``{"name", "unit": "keV", "edges": [...]}``."""
        return {"name": self.name, "unit": "keV", "edges": [float(x) for x in self.edges]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EnergyGrid:
        """Inverse of :meth:`to_dict`; a dict holding only a known ``name`` gives that named grid."""
        if not isinstance(d, Mapping):
            raise TypeError("d must be a mapping with key 'edges' (and optional 'name'); got "
                            f"{type(d).__name__}.")
        unit = d.get("unit", "keV")
        if unit != "keV":
            raise ValueError(f"the energy grid unit must be 'keV'; got {unit!r}.")
        if "edges" not in d:
            if d.get("name") in NAMED_GRIDS:
                return cls.named(d["name"])
            raise ValueError("an energy grid dict needs an 'edges' list or a known 'name'; got keys "
                             f"{sorted(d)}.")
        return cls(np.asarray(d["edges"], dtype=float), d.get("name"))


def _check_range(e_min: Any, e_max: Any, m: Any) -> None:
    if isinstance(m, bool) or not isinstance(m, numbers.Integral) or int(m) < 2:
        raise ValueError(f"m must be an int of at least 2 channels; got {m!r}.")
    for nm, v in (("e_min", e_min), ("e_max", e_max)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)) or v <= 0:
            raise ValueError(f"{nm} must be a positive finite energy in keV; got {v!r}.")
    if not float(e_min) < float(e_max):
        raise ValueError(f"e_min must be smaller than e_max; got e_min={e_min!r} and e_max={e_max!r}.")


NAMED_GRIDS: dict[str, tuple[str, float, float, int]] = {
    "chandra-acis-65": ("linear", 0.5, 7.5, 65),
}
"""Named grids: ``name -> (spacing, e_min keV, e_max keV, channels)``."""


__all__ = ["NAMED_GRIDS", "EnergyGrid"]
