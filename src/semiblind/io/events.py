"""Chandra-style event lists: a FITS binary table ``EVENTS`` with columns ``x``, ``y`` (sky pixels) and
``energy`` (eV), binned into a cube ``(m, H, W)`` — how X-ray users get a cube from an observation.

The binning is one vectorised ``numpy.histogramdd`` over (energy, y, x). The image's sky WCS is built from the
``TCTYPn``/``TCRVLn``/``TCRPXn``/``TCDLTn`` keywords of the x and y columns (n = the column number), when
present: an image pixel ``p`` (1-based) along x covers sky pixels ``[x0 + (p-1)·b, x0 + p·b)`` with ``b =
spatial_bin``, so its centre is ``x0 + (p - ½)·b`` and the image WCS has ``CDELT = TCDLT·b`` and ``CRPIX =
(TCRPX - x0)/b + ½``.

Defaults used by :func:`semiblind.io.load_input` on an event file: 0.5–7 keV in 64 channels of equal width,
spatial bin 1, the whole field (the bounding box of the events, from ``floor(min)`` of x and y).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._budget import check_allocation, nbytes_of
from ._common import Cube, require_file

DEFAULT_E_MIN = 0.5
DEFAULT_E_MAX = 7.0
DEFAULT_N_CHANNELS = 64


def _column(names: list[str], want: str) -> str | None:
    for n in names:
        if n.lower() == want:
            return n
    return None


def _grid(energy_grid: Any, e_min: float, e_max: float, n_channels: int) -> np.ndarray:
    if energy_grid is not None:
        edges = np.asarray(energy_grid, dtype=float).ravel()
        if edges.size < 3 or not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
            raise ValueError(
                "energy_grid must be at least 3 increasing finite bin edges in keV (2 channels or "
                f"more); got {edges.size} value(s){'' if edges.size < 3 else ' not strictly increasing'}."
            )
        return edges
    if isinstance(n_channels, bool) or not isinstance(n_channels, (int, np.integer)) or n_channels < 2:
        raise ValueError(f"n_channels must be an int of at least 2; got {n_channels!r}.")
    check_allocation(nbytes_of((int(n_channels) + 1,)), f"n_channels={int(n_channels)} (the channel edges)")
    if not (np.isfinite(e_min) and np.isfinite(e_max) and 0 <= e_min < e_max):
        raise ValueError(
            f"e_min and e_max must satisfy 0 <= e_min < e_max (keV); got e_min={e_min!r}, e_max={e_max!r}."
        )
    return np.linspace(float(e_min), float(e_max), int(n_channels) + 1)


def _sky_wcs(header: Any, xcol: int, ycol: int, x0: float, y0: float, b: int) -> Any:
    """The binned image's celestial WCS from the x/y column keywords, or ``None`` when they are absent."""
    from astropy.wcs import WCS

    keys = ("TCTYP", "TCRVL", "TCRPX", "TCDLT")
    if not all(f"{k}{c}" in header for k in keys for c in (xcol, ycol)):
        return None
    w = WCS(naxis=2)
    w.wcs.ctype = [str(header[f"TCTYP{xcol}"]), str(header[f"TCTYP{ycol}"])]
    w.wcs.crval = [float(header[f"TCRVL{xcol}"]), float(header[f"TCRVL{ycol}"])]
    w.wcs.cdelt = [float(header[f"TCDLT{xcol}"]) * b, float(header[f"TCDLT{ycol}"]) * b]
    w.wcs.crpix = [
        (float(header[f"TCRPX{xcol}"]) - x0) / b + 0.5,
        (float(header[f"TCRPX{ycol}"]) - y0) / b + 0.5,
    ]
    w.wcs.cunit = [
        str(header.get(f"TCUNI{xcol}", "deg")) or "deg",
        str(header.get(f"TCUNI{ycol}", "deg")) or "deg",
    ]
    if "EQUINOX" in header:
        w.wcs.equinox = float(header["EQUINOX"])
    if "RADESYS" in header:
        w.wcs.radesys = str(header["RADESYS"])
    w.wcs.set()
    return w


def bin_events(
    path: str | Path,
    *,
    energy_grid: Any = None,
    e_min: float = DEFAULT_E_MIN,
    e_max: float = DEFAULT_E_MAX,
    n_channels: int = DEFAULT_N_CHANNELS,
    spatial_bin: int = 1,
    region: tuple[float, float, float, float] | None = None,
) -> Cube:
    """Bin the ``EVENTS`` table of ``path`` into a cube ``(m, H, W)`` of counts.

    Parameters
    ----------
    energy_grid : channel edges in keV (``m + 1`` increasing values); overrides ``e_min``, ``e_max``,
        ``n_channels`` (``m`` equal channels between ``e_min`` and ``e_max`` keV).
    spatial_bin : sky pixels per image pixel along x and y (an int ≥ 1).
    region : ``(x_min, x_max, y_min, y_max)`` in sky pixels, half-open ``[min, max)`` and rounded up to whole
        bins; events outside are dropped. Default: the bounding box of the events (from ``floor`` of the
        minimum, the maximum included). Energy channels are half-open: an event on the top edge is dropped.

    Returns a :class:`Cube` with ``energies`` the channel centres (keV), ``wcs`` from the column keywords and
    ``meta`` holding the edges, the binning and the event counts (total, in the cube).
    """
    from astropy.io import fits

    from .fits import _open

    path = Path(path)
    require_file(path)
    edges = _grid(energy_grid, e_min, e_max, n_channels)
    if isinstance(spatial_bin, bool) or not isinstance(spatial_bin, (int, np.integer)) or spatial_bin < 1:
        raise ValueError(f"spatial_bin must be an int of at least 1; got {spatial_bin!r}.")
    b = int(spatial_bin)
    hdul = _open(path)
    with hdul:
        tables = [h for h in hdul if isinstance(h, fits.BinTableHDU) and h.name.upper() == "EVENTS"]
        if not tables:
            found = ", ".join(h.name or "PRIMARY" for h in hdul)
            raise ValueError(f"INPUT {str(path)!r} has no EVENTS table; found HDUs: {found}.")
        ev = tables[0]
        names = list(ev.columns.names)
        cols = {k: _column(names, k) for k in ("x", "y", "energy")}
        missing = [k for k, v in cols.items() if v is None]
        if missing:
            raise ValueError(
                f"the EVENTS table of {str(path)!r} must have columns x, y, energy (eV); missing "
                f"{', '.join(missing)}; found columns: {', '.join(names)}."
            )
        x = np.asarray(ev.data[cols["x"]], dtype=float)
        y = np.asarray(ev.data[cols["y"]], dtype=float)
        energy_kev = np.asarray(ev.data[cols["energy"]], dtype=float) / 1000.0  # eV -> keV
        header = ev.header.copy()
        xcol = names.index(cols["x"]) + 1
        ycol = names.index(cols["y"]) + 1
    if x.size == 0:
        raise ValueError(f"the EVENTS table of {str(path)!r} is empty; there is nothing to bin.")
    if region is None:
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.any():
            raise ValueError(f"the EVENTS table of {str(path)!r} has no finite x, y positions.")
        x0, x1 = float(np.floor(x[ok].min())), float(x[ok].max())
        y0, y1 = float(np.floor(y[ok].min())), float(y[ok].max())
    else:
        reg = np.asarray(region, dtype=float).ravel()
        if reg.size != 4 or not np.all(np.isfinite(reg)) or reg[1] <= reg[0] or reg[3] <= reg[2]:
            raise ValueError(
                f"region must be (x_min, x_max, y_min, y_max) with x_min < x_max and y_min < y_max; "
                f"got {region!r}."
            )
        x0, x1, y0, y1 = (float(v) for v in reg)
    if region is None:  # the bounding box, its maximum included
        nx = int(np.floor((x1 - x0) / b)) + 1
        ny = int(np.floor((y1 - y0) / b)) + 1
    else:  # [x_min, x_max) rounded up to whole bins
        nx = int(np.ceil((x1 - x0) / b))
        ny = int(np.ceil((y1 - y0) / b))
    m = edges.size - 1
    # histogramdd allocates the float64 cube and the edge arrays; the result is one more float64 copy
    check_allocation(
        2 * nbytes_of((m, ny, nx)) + nbytes_of((nx + ny + 2,)),
        f"the event cube of {str(path)!r} ({m} channels × {ny} × {nx} pixels from x in [{x0:g}, "
        f"{x0 + b * nx:g}), y in [{y0:g}, {y0 + b * ny:g}) at spatial_bin={b}; pass region= or a larger "
        "spatial_bin to bin a smaller field)",
    )
    x_edges = x0 + b * np.arange(nx + 1, dtype=float)
    y_edges = y0 + b * np.arange(ny + 1, dtype=float)
    # half-open bins everywhere: histogramdd would otherwise count events on the last edge
    keep = (energy_kev < edges[-1]) & (y < y_edges[-1]) & (x < x_edges[-1])
    sample = np.stack([energy_kev[keep], y[keep], x[keep]], axis=1)
    counts, _ = np.histogramdd(sample, bins=(edges, y_edges, x_edges))
    centres = 0.5 * (edges[:-1] + edges[1:])
    wcs = _sky_wcs(header, xcol, ycol, x0, y0, b)
    meta = {
        "energy_edges_keV": edges.tolist(),
        "spatial_bin": b,
        "region": [x0, x0 + b * nx, y0, y0 + b * ny],
        "n_events": int(x.size),
        "n_events_binned": int(counts.sum()),
    }
    for key in ("OBJECT", "TELESCOP", "INSTRUME", "OBS_ID", "EXPOSURE"):
        if key in header:
            meta[key.lower()] = header[key] if isinstance(header[key], (int, float)) else str(header[key])
    return Cube(
        X=counts.astype(np.float64, copy=False),
        energies=centres,
        spectral_unit="keV",
        wcs=wcs,
        meta=meta,
        source=path,
        format="events",
    )
