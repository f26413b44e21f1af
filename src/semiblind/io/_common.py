"""Shared pieces of the file readers: the :class:`Cube` every reader returns, format detection, small helpers.

Shapes follow the project conventions: channels first, images in FITS NumPy order ``(m, H, W)``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import _json

FORMATS = ("npz", "fits", "events", "envi", "mat")

_FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz")
_EVENT_SUFFIXES = (".evt", ".evt2", ".evt.gz", ".evt2.gz")
_ENVI_SUFFIXES = (".hdr", ".img", ".dat", ".raw", ".bsq", ".bil", ".bip")


class MissingDataFileError(FileNotFoundError, ValueError):
    """A header points to data that is not there (e.g. an ENVI ``.hdr`` without its binary file).

    Both a ``FileNotFoundError`` and a ``ValueError``, so callers may catch either.
    """


@dataclass
class Cube:
    """Data read from a file, in the project's conventions.

    Attributes
    ----------
    X : ``(m, t)`` or ``(m, H, W)`` float array, channels first.
    energies : ``(m,)`` channel centres or ``None``; keV for X-ray data, otherwise in ``spectral_unit``.
    spectral_unit : unit of ``energies`` (``"keV"``, ``"nm"``, ``"Hz"``, ...) or ``None``.
    wcs : the celestial ``astropy.wcs.WCS`` of the ``(H, W)`` image or ``None``.
    A, S, noise : ground truth stored in the file (``A (m, n)``, ``S (n, t)`` or ``(n, H, W)``, noise like X)
        or ``None``.
    meta : free-form metadata (JSON-compatible).
    source : the path that was read.
    format : one of ``"npz"``, ``"fits"``, ``"events"``, ``"envi"``, ``"mat"``.
    """

    X: np.ndarray
    energies: np.ndarray | None = None
    spectral_unit: str | None = None
    wcs: Any = None
    A: np.ndarray | None = None
    S: np.ndarray | None = None
    noise: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    source: Path | None = None
    format: str = ""

    @property
    def n_channels(self) -> int:
        return int(self.X.shape[0])

    @property
    def image_shape(self) -> tuple[int, int] | None:
        """``(H, W)`` for a cube, ``None`` for ``(m, t)`` data."""
        return (int(self.X.shape[1]), int(self.X.shape[2])) if self.X.ndim == 3 else None

    @property
    def has_truth(self) -> bool:
        return self.A is not None and self.S is not None

    def summary(self) -> list[tuple[str, str]]:
        """(field, value) rows describing the data: shape, axes, spectral range, WCS, ground truth."""
        rows: list[tuple[str, str]] = [
            ("file", str(self.source) if self.source is not None else "-"),
            ("format", self.format or "-"),
            ("shape", "(" + ", ".join(str(s) for s in self.X.shape) + ")"),
            ("axes", "(channels, height, width)" if self.X.ndim == 3 else "(channels, pixels)"),
            ("dtype", str(self.X.dtype)),
        ]
        finite = np.isfinite(self.X)
        n_bad = int(finite.size - finite.sum())
        if finite.any():
            vals = self.X[finite]
            rows.append(
                (
                    "values",
                    f"min {float(vals.min()):.4g}, max {float(vals.max()):.4g}, "
                    f"mean {float(vals.mean()):.4g}",
                )
            )
        rows.append(("non-finite values", str(n_bad)))
        if self.energies is not None and len(self.energies):
            unit = f" {self.spectral_unit}" if self.spectral_unit else ""
            e = np.asarray(self.energies, dtype=float)
            rows.append(("spectral axis", f"{e.size} channels from {e.min():.4g} to {e.max():.4g}{unit}"))
        else:
            rows.append(("spectral axis", f"{self.n_channels} channels (no energy/wavelength values)"))
        rows.append(("celestial WCS", wcs_summary(self.wcs)))
        if self.has_truth:
            truth = f"A {tuple(self.A.shape)}, S {tuple(self.S.shape)}"
            if self.noise is not None:
                truth += f", noise {tuple(self.noise.shape)}"
            rows.append(("ground truth", f"yes: {truth} ({self.A.shape[1]} sources)"))
        else:
            rows.append(("ground truth", "no"))
        for key, value in self.meta.items():
            if isinstance(value, (str, int, float, bool)) or value is None:
                rows.append((f"meta.{key}", str(value)))
            elif isinstance(value, (list, tuple)) and len(value) <= 6:
                rows.append((f"meta.{key}", json.dumps(value)))
        return rows


def wcs_summary(wcs: Any) -> str:
    """One line describing a celestial WCS: axis types, reference value and pixel, pixel scale."""
    if wcs is None:
        return "none"
    w = wcs.wcs
    ctype = "/".join(str(c) for c in w.ctype)
    crval = ", ".join(f"{v:.6g}" for v in w.crval)
    crpix = ", ".join(f"{v:.6g}" for v in w.crpix)
    try:
        scale = np.abs(np.diag(wcs.pixel_scale_matrix))
        cdelt = ", ".join(f"{v:.4g}" for v in scale)
    except Exception:  # a WCS without a usable matrix still prints its other fields
        cdelt = "?"
    return f"{ctype}; CRVAL ({crval}); CRPIX ({crpix}); pixel scale ({cdelt}) per pixel"


def as_path(path: Any, *, argument: str = "input") -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{argument} must be a path (str or os.PathLike); got {type(path).__name__}.")
    return Path(path)


def require_file(path: Path, *, argument: str = "INPUT") -> None:
    if not path.exists():
        raise FileNotFoundError(f"{argument} {str(path)!r} does not exist.")
    if path.is_dir():
        raise IsADirectoryError(f"{argument} must be a file; {str(path)!r} is a directory.")


def lower_name(path: Path) -> str:
    return path.name.lower()


def detect_format(path: Path, format: str | None = None) -> str:
    """The reader for ``path``: ``format`` when given, otherwise from the file name.

    ``.npz`` → npz; ``.fits/.fit/.fts`` (optionally ``.gz``) → fits, or events when the file has an ``EVENTS``
    table; ``.evt/.evt2`` → events; ``.hdr/.img/.dat/.raw/.bsq/.bil/.bip`` → envi; ``.mat`` → mat.
    """
    if format is not None:
        if not isinstance(format, str) or format.lower() not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)} or None; got {format!r}.")
        return format.lower()
    name = lower_name(path)
    if name.endswith(".npz"):
        return "npz"
    if name.endswith(_EVENT_SUFFIXES):
        return "events"
    if name.endswith(_FITS_SUFFIXES):
        return "events" if has_events_table(path) else "fits"
    if name.endswith(_ENVI_SUFFIXES):
        return "envi"
    if name.endswith(".mat"):
        return "mat"
    raise ValueError(
        f"INPUT {str(path)!r} has an unknown file type; expected a name ending in .npz, "
        ".fits/.fit/.fts[.gz], .evt/.evt2, .hdr/.img/.dat (ENVI) or .mat, or pass format= (--format) "
        f"with one of {', '.join(FORMATS)}."
    )


def has_events_table(path: str | Path) -> bool:
    """True when ``path`` is a readable FITS file with a binary table named ``EVENTS``."""
    import warnings

    from astropy.io import fits

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False) as hdul:
                return any(isinstance(h, fits.BinTableHDU) and h.name.upper() == "EVENTS" for h in hdul)
    except Exception:  # unreadable: the FITS reader reports it properly
        return False


def output_format(path: Path, format: str | None = None) -> str:
    """``npz`` or ``fits`` for an output path (by name, or ``format``)."""
    if format is not None:
        if not isinstance(format, str) or format.lower() not in ("npz", "fits"):
            raise ValueError(f"format must be 'npz', 'fits' or None for a result file; got {format!r}.")
        return format.lower()
    name = lower_name(path)
    if name.endswith(".npz"):
        return "npz"
    if name.endswith(_FITS_SUFFIXES):
        return "fits"
    raise ValueError(
        f"out must end in .npz or .fits (the result format is chosen by extension); got {str(path)!r}."
    )


def check_real(arr: Any, *, name: str, source: Path) -> np.ndarray:
    """``arr`` as an array (no copy) after checking that it holds real numbers; ``TypeError`` otherwise."""
    a = np.asarray(arr)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise TypeError(f"{name} in {str(source)!r} must hold real numbers; got an array of dtype {a.dtype}.")
    if np.iscomplexobj(a):
        raise TypeError(f"{name} in {str(source)!r} must hold real numbers; got complex values.")
    return a


def to_float(arr: Any, *, name: str, source: Path) -> np.ndarray:
    """A real array as float (float32 stays float32, everything else becomes float64)."""
    a = check_real(arr, name=name, source=source)
    if a.dtype in (np.float32, np.float64):
        return np.asarray(a, order="C")  # (ascontiguousarray would turn a 0-d array into shape (1,))
    return np.asarray(a, dtype=np.float64, order="C")


def shape_str(shape: tuple) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def check_energies(energies: Any, m: int, *, source: Path, name: str = "energies") -> np.ndarray | None:
    if energies is None:
        return None
    e = np.asarray(energies, dtype=float).ravel()
    if e.size != m:
        raise ValueError(f"{name} in {str(source)!r} must have one value per channel ({m}); got {e.size}.")
    return e


def json_default(obj: Any) -> Any:
    """``json.dumps`` fallback for NumPy scalars/arrays and paths."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


def dumps(obj: Any) -> str:
    """Strict JSON text (the one policy of :mod:`semiblind._json`: non-finite numbers → ``null``)."""
    return _json.dumps(obj)


@dataclass
class Result:
    """A separation result read back from a file written by :func:`semiblind.io.save_result`.

    ``A (m, n)``, ``S (n, t)`` or ``(n, H, W)``, ``info`` (method, parameters, metrics, ...), ``energies
    (m,)`` or ``None``, the celestial ``wcs`` of the maps or ``None``.
    """

    A: np.ndarray
    S: np.ndarray
    info: dict = field(default_factory=dict)
    energies: np.ndarray | None = None
    spectral_unit: str | None = None
    wcs: Any = None
    source: Path | None = None
    format: str = ""

    def summary(self) -> list[tuple[str, str]]:
        """(field, value) rows describing the result: shapes, spectral axis, WCS and the info entries."""
        rows: list[tuple[str, str]] = [
            ("file", str(self.source) if self.source is not None else "-"),
            ("format", f"{self.format or '-'} (separation result)"),
            ("A (mixing matrix)", shape_str(self.A.shape) + " (channels, sources)"),
            ("S (sources)", shape_str(self.S.shape)
             + (" (sources, height, width)" if self.S.ndim == 3 else " (sources, pixels)")),
        ]
        if self.energies is not None and len(self.energies):
            unit = f" {self.spectral_unit}" if self.spectral_unit else ""
            e = np.asarray(self.energies, dtype=float)
            rows.append(("spectral axis", f"{e.size} channels from {e.min():.4g} to {e.max():.4g}{unit}"))
        rows.append(("celestial WCS", wcs_summary(self.wcs)))
        for key, value in self.info.items():
            text = value if isinstance(value, str) else json.dumps(value, default=json_default)
            rows.append((f"info.{key}", text if len(text) <= 100 else text[:97] + "..."))
        return rows

