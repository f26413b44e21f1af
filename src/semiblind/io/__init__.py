"""Reading data cubes and writing separation results: NPZ, FITS, Chandra event lists, ENVI, MATLAB.

Every reader returns a :class:`Cube` in the project's conventions (channels first, ``(m, t)`` or ``(m, H, W)``
in FITS NumPy order, energies in keV for X-ray data). The format is chosen from the file name, or forced with
``format=``:

=================================  ======  ==========================================================
file name                          format  reader
=================================  ======  ==========================================================
``.npz``                           npz     :func:`semiblind.io.npz.load_npz` (keys X, A, S, noise...)
``.fits .fit .fts`` (``.gz``)      fits    :func:`semiblind.io.fits.load_fits` (spectral axis: WCS)
FITS with an ``EVENTS`` table,     events  :func:`bin_events` with its defaults (0.5–7 keV in 64
``.evt .evt2``                             channels, spatial bin 1)
``.hdr .img .dat .raw .bsq ...``   envi    :func:`semiblind.io.envi.load_envi` (needs ``spectral``)
``.mat`` (v5 and v7.3)             mat     :func:`semiblind.io.mat.load_mat` (HySUPP Y, E, A, H, W)
=================================  ======  ==========================================================

Results are written by :func:`save_result` as ``.npz`` or ``.fits`` (by extension), atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_path, check_output_path
from ._common import (
    FORMATS,
    Cube,
    MissingDataFileError,
    Result,
    as_path,
    detect_format,
    output_format,
    shape_str,
)

__all__ = [
    "FORMATS",
    "Cube",
    "MissingDataFileError",
    "Result",
    "bin_events",
    "detect_format",
    "load_input",
    "load_result",
    "save_result",
]


def load_input(
    path: str | os.PathLike,
    *,
    format: str | None = None,
    spectral_axis: int | str | None = None,
    index: int | None = None,
    argument: str = "INPUT",
    memmap: bool = False,
) -> Cube:
    """Read a data file into a :class:`Cube` (``X`` channels first, energies, celestial WCS, ground truth).

    Parameters
    ----------
    path : the file (see the module docstring for the recognised names).
    format : force a reader: ``"npz"``, ``"fits"``, ``"events"``, ``"envi"`` or ``"mat"``.
    spectral_axis : FITS only: the NumPy axis (0, 1, 2) of the stored array, or a ``CTYPE`` name such as
        ``"ENER"``, that holds the spectrum, when the WCS does not say so.
    index : NPZ only: which mixture of a multi-mixture file (default 0).
    argument : how messages about a missing file or a folder name it (e.g. ``"--truth"`` on the command line).
    memmap : FITS only (other formats are read into memory whatever it says): ``X`` is a read-only view of the
        memory-mapped file in its stored dtype and byte order, not a float copy (see
        :func:`semiblind.io.fits.load_fits`); for separating in pixel chunks (``chunk_pixels``).
    """
    p = as_path(path, argument=argument)
    if p.is_dir():
        raise IsADirectoryError(f"{argument} must be a data file; {str(p)!r} is a directory.")
    if not p.exists():
        raise FileNotFoundError(f"{argument} {str(p)!r} does not exist.")
    try:
        return _read_input(p, format=format, index=index, spectral_axis=spectral_axis, memmap=memmap)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        if argument == "INPUT" or not msg.startswith("INPUT "):
            raise
        try:  # the readers say INPUT; name the file as the caller does (e.g. --truth)
            renamed = type(exc)(argument + msg[len("INPUT"):])
        except Exception:  # an exception type with another constructor: keep it as it is
            raise exc from None
        raise renamed from None


def _read_input(p: Path, *, format: str | None, index: int | None, spectral_axis: Any, memmap: bool = False) -> Cube:
    fmt = detect_format(p, format)
    if spectral_axis is not None and fmt != "fits":
        raise ValueError(
            f"spectral_axis applies to FITS images only; got spectral_axis={spectral_axis!r} for a "
            f"{fmt} file."
        )
    if index is not None and fmt != "npz":
        raise ValueError(
            f"index applies to multi-mixture .npz files only; got index={index!r} for a {fmt} file."
        )
    if fmt == "npz":
        from .npz import load_npz

        return load_npz(p, index=index)
    if fmt == "fits":
        from .fits import load_fits

        return load_fits(p, spectral_axis=spectral_axis, memmap=memmap)
    if fmt == "events":
        from .events import bin_events as _bin

        return _bin(p)
    if fmt == "envi":
        from .envi import load_envi

        return load_envi(p)
    from .mat import load_mat

    return load_mat(p)


def bin_events(path: str | os.PathLike, **kwargs: Any) -> Cube:
    """Bin a Chandra-style event list into a cube; see :func:`semiblind.io.events.bin_events`."""
    from .events import bin_events as _bin

    return _bin(path, **kwargs)


def _check_result_arrays(A: Any, S: Any, energies: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    A = np.asarray(A)
    S = np.asarray(S)
    if A.ndim != 2:
        raise ValueError(
            f"A must be a 2-D array (channels, sources); got an array of shape {shape_str(A.shape)}."
        )
    if S.ndim not in (2, 3) or S.shape[0] != A.shape[1]:
        raise ValueError(
            f"S must be a 2-D array ({A.shape[1]}, pixels) or a 3-D array ({A.shape[1]}, height, "
            f"width) matching A {shape_str(A.shape)}; got an array of shape {shape_str(S.shape)}."
        )
    for name, arr in (("A", A), ("S", S)):
        if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise TypeError(f"{name} must hold real numbers; got an array of dtype {arr.dtype}.")
        n_bad = int(arr.size - np.isfinite(arr).sum())
        if n_bad:  # a result file never holds NaN or infinity (issue #16)
            raise ValueError(f"{name} must be finite to be written; got {n_bad} NaN or infinite value(s) of "
                             f"{arr.size}, so no file was written.")
    e = None
    if energies is not None:
        e = np.asarray(energies, dtype=float).ravel()
        if e.size != A.shape[0]:
            raise ValueError(f"energies must have one value per channel ({A.shape[0]}); got {e.size}.")
    return A, S, e


def save_result(
    path: str | os.PathLike,
    A: Any,
    S: Any,
    *,
    info: dict,
    energies: Any = None,
    wcs: Any = None,
    overwrite: bool = False,
    format: str | None = None,
    argument: str = "out",
) -> Path:
    """Write a separation result atomically as ``.npz`` or ``.fits`` (chosen by extension or ``format``).

    NPZ: arrays ``A (m, n)``, ``S``, ``info`` (JSON string), ``energies``, ``wcs`` (header text).
    FITS: an empty primary HDU with ``info`` as JSON (long-string ``SBINFO`` card), one image HDU per source
    map (``EXTNAME='SOURCE'``, ``EXTVER=k``) carrying the celestial WCS, and a binary table ``MIXING`` with
    columns ``CHANNEL``, ``ENERGY`` (when known) and ``A_1 … A_n`` (the spectra, columns of A).

    An existing file raises ``FileExistsError`` unless ``overwrite`` (also when another process creates it while
    this one writes); a missing folder ``FileNotFoundError``; non-finite ``A`` or ``S`` ``ValueError``.
    ``argument`` names the path in messages (``"--out"`` from the command line). Returns the path written.
    """
    p = as_path(path, argument="out")
    if not isinstance(info, dict):
        raise TypeError(f"info must be a dict; got {type(info).__name__}.")
    fmt = output_format(p, format)
    A, S, e = _check_result_arrays(A, S, energies)
    if wcs is not None and not hasattr(wcs, "to_header"):
        raise TypeError(f"wcs must be an astropy.wcs.WCS or None; got {type(wcs).__name__}.")
    check_output_path(p, overwrite=overwrite, argument=argument)
    with atomic_path(p, overwrite=overwrite, argument=argument) as tmp:
        if fmt == "npz":
            from .npz import save_npz_result

            save_npz_result(tmp, A, S, info=info, energies=e, wcs=wcs)
        else:
            from .fits import save_fits_result

            save_fits_result(
                tmp, A, S, info=info, energies=e, wcs=wcs, spectral_unit=str(info.get("spectral_unit", "keV"))
            )
    return p


def load_result(path: str | os.PathLike, *, format: str | None = None) -> Result:
    """Read a result written by :func:`save_result` (``.npz`` or ``.fits``)."""
    p = as_path(path, argument="RESULT")
    try:
        fmt = output_format(p, format)
    except ValueError:
        raise ValueError(f"RESULT must be a .npz or .fits file written by semiblind separate (the format is "
                         f"chosen by extension); got {str(p)!r}.") from None
    if fmt == "npz":
        from .npz import load_npz_result

        return load_npz_result(p)
    from .fits import load_fits_result

    return load_fits_result(p)
