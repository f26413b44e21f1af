"""Reading a real hyperspectral scene for unmixing: any format :func:`semiblind.io.load_input` reads (ENVI, MAT
in the HySUPP or classic layout, FITS, NPZ), bad bands removed, band values brought to a common scale, and one
line saying what was read.

Band scaling (``scaling``):

- ``"auto"`` (default): an ENVI ``reflectance scale factor`` in the header is applied when present (the ENVI
  reader applies it while reading); otherwise
  data whose values are all integers and whose maximum is above 1.5 are taken as **integer-coded** — as
  reflectance ×10⁴ when the maximum is at most 16,000 (AVIRIS / HySUPP convention: divided by 10⁴), as raw
  digital numbers above that (divided by their maximum); non-integer data with a maximum above 1.5 are divided
  by their maximum; data already in ``[0, 1.5]`` (reflectance or max-normalised) are kept.
- ``"reflectance"``: divide by 10⁴. ``"max"``: divide by the maximum. ``"none"``: keep the values.

Bad bands (``drop_bands``): ``"1-4,100-110"`` — 1-based, inclusive ranges or single bands, as in ENVI's band
numbering; the remaining bands keep their wavelengths.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace

import numpy as np

from ._common import Cube, shape_str

__all__ = ["SCALINGS", "parse_band_ranges", "read_scene", "scale_bands"]

SCALINGS = ("auto", "reflectance", "max", "none")


def parse_band_ranges(spec: str | None, n_bands: int, *, argument: str = "--drop-bands") -> np.ndarray:
    """0-based indices of the bands named by ``spec`` (``"1-4,100-110,150"``, 1-based inclusive); sorted,
    unique. ``None`` or ``""`` gives none. Bands outside ``1..n_bands`` raise ``ValueError``."""
    if spec is None or not str(spec).strip():
        return np.zeros(0, dtype=int)
    out: list[int] = []
    for part in str(spec).split(","):
        part = part.strip()
        mt = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if mt is None:
            raise ValueError(f"{argument} must be comma-separated 1-based bands or ranges such as '1-4,100-110'; "
                             f"got {part!r} in {spec!r}.")
        lo = int(mt.group(1))
        hi = int(mt.group(2)) if mt.group(2) is not None else lo
        if lo < 1 or hi > n_bands or lo > hi:
            raise ValueError(f"{argument} ranges must lie within bands 1..{n_bands} with start <= end; got "
                             f"{part!r}.")
        out.extend(range(lo - 1, hi))
    return np.unique(np.asarray(out, dtype=int))


def scale_bands(X: np.ndarray, scaling: str = "auto", *, factor: float | None = None) -> tuple[np.ndarray, str]:
    """``X`` brought to reflectance-like scale (see the module docstring) and a few words saying how.

    ``factor``: a scale factor stated by the file (ENVI ``reflectance scale factor``), used by ``"auto"``.
    """
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {', '.join(map(repr, SCALINGS))}; got {scaling!r}.")
    x = np.asarray(X, dtype=np.float64)
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        raise ValueError("X must hold finite values; got none.")
    vmax = float(finite.max())
    if scaling == "none":
        return x, "values kept"
    if scaling == "reflectance":
        return x / 1e4, "divided by 10⁴ (reflectance ×10⁴)"
    if scaling == "max":
        if vmax <= 0:
            raise ValueError(f"X must have a positive maximum to be max-normalised; got {vmax!r}.")
        return x / vmax, f"divided by its maximum {vmax:.6g} (max-normalised)"
    if factor is not None and factor > 0 and factor != 1:
        return x / factor, f"divided by the file's reflectance scale factor {factor:.6g}"
    if vmax <= 1.5:
        return x, f"kept (maximum {vmax:.4g}: reflectance or max-normalised)"
    integral = bool(np.all(finite == np.round(finite)))
    if integral and vmax <= 16000:
        return x / 1e4, f"divided by 10⁴ (integer-coded reflectance ×10⁴, maximum {vmax:.6g})"
    what = "integer digital numbers" if integral else "values above 1.5"
    return x / vmax, f"divided by its maximum {vmax:.6g} ({what}, max-normalised)"


def read_scene(
    path: str | os.PathLike,
    *,
    drop_bands: str | None = None,
    scaling: str = "auto",
    format: str | None = None,
    keep_truth: bool = False,
) -> tuple[Cube, str]:
    """Read a scene for unmixing; return the :class:`Cube` (``X (m, H, W)`` or ``(m, t)`` float64, bad bands
    removed, scaled) and one line saying what was read.

    The ground truth a file may carry (``A``, ``S``, ``noise``) is removed unless ``keep_truth``: a separation
    pipeline never needs it (score the result afterwards with ``semiblind evaluate --truth``).
    """
    from . import load_input

    cube = load_input(path, format=format)
    X = np.asarray(cube.X)
    m = int(X.shape[0])
    drop = parse_band_ranges(drop_bands, m)
    keep = np.setdiff1d(np.arange(m), drop)
    if keep.size < 2:
        raise ValueError(f"--drop-bands must leave at least 2 of the {m} bands; got {keep.size} left.")
    meta_in = cube.meta if isinstance(cube.meta, dict) else {}
    factor = None
    if meta_in.get("reflectance scale factor") is not None:  # a factor the reader left to apply
        try:
            factor = float(meta_in["reflectance scale factor"])
        except (TypeError, ValueError):
            factor = None
    Xs, how = scale_bands(X[keep], scaling, factor=factor)
    if meta_in.get("reflectance scale factor applied") is not None:
        applied = meta_in["reflectance scale factor applied"]
        how = f"divided by the header's reflectance scale factor {applied}, then {how}"
    if not np.all(np.isfinite(Xs)):
        bad = int((~np.isfinite(Xs)).sum())
        raise ValueError(f"INPUT {str(path)!r} holds {bad} NaN or infinite value(s) in the kept bands; drop those "
                         "bands with --drop-bands or fix the file.")
    energies = None if cube.energies is None else np.asarray(cube.energies, dtype=float)[keep]
    unit = cube.spectral_unit
    if isinstance(cube.meta, dict) and cube.meta.get("channel_unit"):
        unit = str(cube.meta["channel_unit"])
    A = S = noise = None
    if keep_truth:
        A = None if cube.A is None else np.asarray(cube.A)[keep]
        S, noise = cube.S, (None if cube.noise is None else np.asarray(cube.noise)[keep])
    meta = {**(cube.meta if isinstance(cube.meta, dict) else {}), "dropped_bands": (drop + 1).tolist(),
            "scaling": how}
    out = replace(cube, X=np.ascontiguousarray(Xs), energies=energies, spectral_unit=unit, A=A, S=S, noise=noise,
                  meta=meta)
    pix = f"{X.shape[1]} × {X.shape[2]} pixels" if X.ndim == 3 else f"{X.shape[1]} pixels"
    band_txt = f"{keep.size} of {m} bands" if drop.size else f"{m} bands"
    if energies is not None and energies.size:
        band_txt += f" ({energies.min():.4g}–{energies.max():.4g} {unit or ''})".replace(" )", ")")
    layout = cube.meta.get("layout") if isinstance(cube.meta, dict) else None
    truth = " (its ground truth is not used)" if (cube.A is not None or cube.S is not None) and not keep_truth else ""
    line = (f"read {str(path)!r}: {cube.format}{' ' + layout if layout else ''}, {band_txt}, {pix}, "
            f"array {shape_str(out.X.shape)}; values {how}{truth}.")
    if drop.size:
        line = line[:-1] + f"; dropped bands {drop_bands}."
    return out, line
