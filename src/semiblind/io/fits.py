"""FITS cubes in, FITS results out (astropy).

Reading (:func:`load_fits`): the first image HDU with at least two axes. Its spectral axis is found from the
WCS (``CTYPEi`` starting with ``ENER``, ``FREQ``, ``WAVE``, ``WAVN``, ``AWAV``, ``VRAD``, ``VOPT``, ``ZOPT``,
``VELO``, ``BETA``) or given with ``spectral_axis``; it is moved to axis 0 of the NumPy array (channels
first), the other axes keep their order, so the celestial WCS (``wcs.celestial``) still describes ``X[c]`` as
an ``(H, W)`` image. Channel values come from the spectral WCS: energies are converted to keV; frequencies,
wavelengths and velocities keep the header's ``CUNITi`` (or the WCS's SI unit when there is none). An energy
axis without ``CUNITi`` is read as keV when its values are below 100 and as eV otherwise (X-ray files in
practice; the FITS default, J, is never meant there).

Writing (:func:`save_fits_result`): an empty primary HDU (``SBINFO``: the info dict as JSON in a long-string
card), one image HDU per source map (``EXTNAME='SOURCE'``, ``EXTVER=k``, 1-based) carrying the celestial WCS,
and a binary table ``MIXING`` with ``CHANNEL``, ``ENERGY`` (when known) and ``A_1 … A_n`` (the columns of A).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._budget import check_allocation, format_bytes
from ._common import Cube, Result, check_real, dumps, require_file, shape_str, to_float

_FITS_BLOCK = 2880  # every FITS file is a whole number of 2880-byte blocks (FITS standard 4.0, sect. 3.1)

SPECTRAL_CTYPES = ("ENER", "FREQ", "WAVE", "WAVN", "AWAV", "VRAD", "VOPT", "ZOPT", "VELO", "BETA")


def _open(path: Path, *, argument: str = "INPUT", memmap: bool = False) -> Any:
    """``fits.open`` turning every unreadable/truncated-file symptom into one ``ValueError`` sentence
    (``argument``: how the message names the file, e.g. ``INPUT`` or ``RESULT``). ``memmap``: map the data
    instead of reading them (astropy keeps the map open while an array refers to it, after the file is closed);
    the declared-size and truncation checks are the same."""
    from astropy.io import fits

    require_file(path, argument=argument)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hdul = fits.open(path, memmap=bool(memmap), lazy_load_hdus=False)
            declared = sum(_declared_bytes(hdu.header) for hdu in hdul)
            if declared > path.stat().st_size:  # only a compressed file holds more than its size
                hdul.close()
                try:
                    check_allocation(2 * declared, f"{argument} {str(path)!r} (its headers declare "
                                     f"{format_bytes(declared)} of data)")
                except ValueError as exc:
                    raise _BudgetError(str(exc)) from None
            for hdu in hdul:
                _ = hdu.data  # force the read (or the map) so truncation shows up here
    except _BudgetError as exc:
        raise ValueError(str(exc)) from None
    except Exception as exc:  # astropy raises OSError, ValueError, TypeError, ... for damaged files
        size = path.stat().st_size
        with open(path, "rb") as fh:
            starts_like_fits = fh.read(9) == b"SIMPLE  ="
        if starts_like_fits:  # a FITS header whose data (or header) stops short
            blocks = (
                f"its size ({size} bytes) is not a whole number of {_FITS_BLOCK}-byte FITS blocks; "
                if size % _FITS_BLOCK
                else ""
            )
            raise ValueError(
                f"{argument} {str(path)!r} must be a complete FITS file; it is a damaged or truncated FITS file "
                f"({blocks}{type(exc).__name__}: {exc})."
            ) from None
        raise ValueError(
            f"{argument} {str(path)!r} is not a readable FITS file ({type(exc).__name__}: {exc})."
        ) from None
    for w in caught:
        if "truncat" in str(w.message).lower():
            hdul.close()
            raise ValueError(f"{argument} {str(path)!r} is a truncated FITS file ({w.message}).")
    return hdul


class _BudgetError(ValueError):
    """The declared data of a FITS file exceed the memory budget (re-raised as is by :func:`_open`)."""


def _declared_bytes(header: Any) -> int:
    """Bytes of data an HDU header declares: |BITPIX|/8 · GCOUNT · (PCOUNT + NAXIS1 ⋯ NAXISn)."""
    try:
        naxis = int(header.get("NAXIS", 0))
        if naxis <= 0:
            return 0
        size = 1
        for k in range(1, naxis + 1):
            size *= max(int(header.get(f"NAXIS{k}", 0)), 0)
        return abs(int(header.get("BITPIX", 8))) // 8 * int(header.get("GCOUNT", 1)) * (
            int(header.get("PCOUNT", 0)) + size)
    except (TypeError, ValueError):
        return 0


def _wcs(header: Any) -> Any:
    from astropy.wcs import WCS

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return WCS(header)
    except Exception:  # a header whose WCS keywords WCSLIB refuses: no WCS rather than no data
        return None


def _is_spectral(ctype: str) -> bool:
    c = ctype.strip().upper()
    return c[:4] in SPECTRAL_CTYPES


def _spectral_values(
    wcs: Any, header: Any, fits_axis: int, n: int, path: Path
) -> tuple[np.ndarray | None, str | None]:
    """Channel centres along 1-based FITS axis ``fits_axis`` and their unit (keV for energies)."""
    import astropy.units as u

    if wcs is None:
        return None, None
    ctype = str(header.get(f"CTYPE{fits_axis}", "")).strip().upper()
    if not ctype:
        return None, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sub = wcs.sub([fits_axis])
            values = np.asarray(sub.wcs_pix2world(np.arange(n, dtype=float), 0)[0], dtype=float)
    except Exception:  # e.g. a celestial axis named as the spectral one: no channel values, data still read
        return None, None
    wcs_unit = str(sub.wcs.cunit[0]) if str(sub.wcs.cunit[0]) else ""
    header_unit = str(header.get(f"CUNIT{fits_axis}", "")).strip()
    if ctype.startswith("ENER"):
        if not header_unit:
            # WCSLIB labels a unit-less ENER axis J without rescaling: the numbers are the header's, keV or eV
            unit = u.keV if np.nanmax(np.abs(values)) < 100 else u.eV
            return (values * unit).to_value(u.keV), "keV"
        try:
            return (values * u.Unit(wcs_unit or header_unit)).to_value(u.keV), "keV"
        except (ValueError, u.UnitConversionError):
            return values, wcs_unit or header_unit
    if header_unit and wcs_unit:
        try:
            return (values * u.Unit(wcs_unit)).to_value(u.Unit(header_unit)), header_unit
        except (ValueError, u.UnitConversionError):
            pass
    return values, wcs_unit or header_unit or None


def load_fits(path: str | Path, *, spectral_axis: int | str | None = None, memmap: bool = False) -> Cube:
    """Read a FITS image cube into a :class:`Cube` with channels first (see the module docstring).

    ``spectral_axis``: the NumPy axis (``0 … ndim-1`` of the stored array) or a ``CTYPE`` prefix (``"ENER"``)
    of the spectral axis, when the WCS does not identify it. Length-1 axes (e.g. a radio cube's Stokes axis)
    are dropped. A cube without a recognisable spectral axis and no option raises ``ValueError``.

    ``memmap=True`` (``semiblind separate --chunk-pixels``): ``Cube.X`` is a read-only view of the memory-mapped
    file in its stored dtype and byte order (FITS is big-endian; integers stay integers), channels first by a
    view (``np.moveaxis``), never copied; the readers of pixel chunks convert it chunk by chunk
    (:class:`semiblind.solvers._chunked.PixelChunks`). The non-finite count of ``meta`` is taken one channel at a
    time. Data that astropy must decompress or rescale (``BSCALE``/``BZERO``, tile-compressed or gzipped files)
    are read into memory as astropy returns them.
    """
    from astropy.io import fits

    path = Path(path)
    hdul = _open(path, memmap=memmap)
    with hdul:
        image = None
        for hdu in hdul:
            if (
                isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU))
                and hdu.data is not None
                and hdu.data.ndim >= 2
            ):
                image = hdu
                break
        if image is None:
            found = ", ".join(f"{h.name or 'PRIMARY'} ({type(h).__name__})" for h in hdul)
            raise ValueError(
                f"INPUT {str(path)!r} has no image HDU with at least 2 axes; found HDUs: {found}."
            )
        header = image.header.copy()
        data = np.asarray(image.data)
        hdu_name = image.name or "PRIMARY"
    file_dtype = f"{data.dtype.newbyteorder('=').name} (BITPIX {header.get('BITPIX', '?')})"
    if memmap:
        data = data.view()
        data.flags.writeable = False  # a view of the file: never written through
    elif not data.dtype.isnative:  # FITS is big-endian: the same numbers in native order (float32 stays float32)
        data = data.astype(data.dtype.newbyteorder("="))
    ndim = data.ndim
    ctypes = [str(header.get(f"CTYPE{ndim - k}", "")).strip() for k in range(ndim)]  # NumPy axis order
    axis = _find_spectral_axis(spectral_axis, ctypes, data.shape, path)
    spectral_ctype = ctypes[axis]
    # drop length-1 axes other than the spectral one (Stokes, degenerate frequency, ...)
    keep = [k for k in range(ndim) if data.shape[k] > 1 or k == axis]
    wcs = _wcs(header)
    if len(keep) < ndim:
        data = data.reshape([data.shape[k] for k in keep])
        if wcs is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                wcs = wcs.sub([ndim - k for k in sorted(keep, reverse=True)])
        axis = keep.index(axis)
        fits_spec = ndim - keep[axis]
    else:
        fits_spec = ndim - axis
    if data.ndim not in (2, 3):
        raise ValueError(
            f"INPUT {str(path)!r} must hold a 2-D (channels, pixels) or 3-D (channels, height, width) "
            f"image once length-1 axes are dropped; got an array of shape {shape_str(data.shape)}."
        )
    if memmap:  # a view: real numbers checked, nothing converted or copied
        X = np.moveaxis(check_real(data, name="the image", source=path), axis, 0)
    else:
        X = to_float(np.moveaxis(data, axis, 0), name="the image", source=path)
    energies, unit = _spectral_values(_wcs(header), header, fits_spec, X.shape[0], path)
    celestial = None
    spec_wcs_index = data.ndim - 1 - axis  # 0-based WCS index of the spectral axis after dropping axes
    if wcs is not None and wcs.has_celestial and X.ndim == 3 and spec_wcs_index not in (wcs.wcs.lng,
                                                                                         wcs.wcs.lat):
        celestial = wcs.celestial
    meta: dict[str, Any] = {"hdu": hdu_name, "spectral_ctype": spectral_ctype, "file_dtype": file_dtype}
    for key in ("OBJECT", "TELESCOP", "INSTRUME", "BUNIT", "DATE-OBS"):
        if key in header:
            meta[key.lower()] = str(header[key])
    n_bad = sum(int(X[c].size - np.isfinite(X[c]).sum()) for c in range(X.shape[0]))  # a channel at a time
    if n_bad:
        meta["n_nonfinite"] = n_bad
    return Cube(
        X=X, energies=energies, spectral_unit=unit, wcs=celestial, meta=meta, source=path, format="fits"
    )


def _find_spectral_axis(option: int | str | None, ctypes: list[str], shape: tuple, path: Path) -> int:
    ndim = len(shape)
    if option is not None:
        if isinstance(option, bool):
            raise TypeError(f"spectral_axis must be an int or a CTYPE name; got {option!r}.")
        if isinstance(option, (int, np.integer)):
            k = int(option)
            if not -ndim <= k < ndim:
                raise ValueError(
                    f"spectral_axis must be a NumPy axis in [0, {ndim - 1}] of the image of shape "
                    f"{shape_str(shape)} in {str(path)!r}; got {k}."
                )
            return k % ndim
        if isinstance(option, str):
            if option.strip().lstrip("-").isdigit():
                return _find_spectral_axis(int(option), ctypes, shape, path)
            want = option.strip().upper()
            hits = [k for k, c in enumerate(ctypes) if c.upper().startswith(want)]
            if not hits:
                raise ValueError(
                    f"spectral_axis {option!r} matches no CTYPE of {str(path)!r}; its axes (NumPy "
                    f"order) are {', '.join(repr(c) for c in ctypes)}."
                )
            return hits[0]
        raise TypeError(f"spectral_axis must be an int or a CTYPE name; got {type(option).__name__}.")
    hits = [k for k, c in enumerate(ctypes) if _is_spectral(c)]
    if not hits:
        shown = ", ".join(repr(c) if c else "''" for c in ctypes)
        raise ValueError(
            f"INPUT {str(path)!r} has no spectral axis: none of its CTYPE keywords ({shown}, NumPy order) is "
            f"{'/'.join(SPECTRAL_CTYPES)}; pass spectral_axis= (--spectral-axis) with the NumPy axis that "
            "holds the spectrum."
        )
    return hits[0]


# ------------------------------------------------------------------------------------------------ results


def save_fits_result(
    tmp: Path,
    A: np.ndarray,
    S: np.ndarray,
    *,
    info: dict,
    energies: np.ndarray | None,
    wcs: Any,
    spectral_unit: str = "keV",
) -> None:
    """Write the result HDUs to ``tmp`` (already an atomic temporary path); layout in the module docstring."""
    from astropy.io import fits

    from .._version import __version__

    m, n = A.shape
    primary = fits.PrimaryHDU()
    ph = primary.header
    ph["ORIGIN"] = ("semiblind", "written by semiblind.io.save_result")
    ph["SBVERS"] = (str(__version__), "semiblind version")
    ph["NCHAN"] = (int(m), "number of channels m")
    ph["NSOURCE"] = (int(n), "number of sources n")
    if isinstance(info.get("method"), str):
        ph["METHOD"] = (info["method"][:60], "separation method")
    ph["SBINFO"] = dumps(info)
    hdus: list[Any] = [primary]
    wcs_header = wcs.to_header() if (wcs is not None and S.ndim == 3) else None
    for k in range(n):
        img = fits.ImageHDU(np.ascontiguousarray(S[k]), name="SOURCE", ver=k + 1)
        if wcs_header is not None:
            img.header.update(wcs_header)
        img.header["SOURCE"] = (k + 1, "source index; spectrum in MIXING A_k")
        hdus.append(img)
    cols = [fits.Column(name="CHANNEL", format="J", array=np.arange(m, dtype=np.int32))]
    if energies is not None:
        cols.append(
            fits.Column(name="ENERGY", format="D", unit=spectral_unit, array=np.asarray(energies, float))
        )
    for k in range(n):
        cols.append(fits.Column(name=f"A_{k + 1}", format="D", array=np.asarray(A[:, k], dtype=float)))
    table = fits.BinTableHDU.from_columns(cols, name="MIXING")
    table.header["COMMENT"] = "Mixing matrix A (channels x sources): column A_k is the spectrum of source k."
    hdus.append(table)
    fits.HDUList(hdus).writeto(tmp, overwrite=True)


def load_fits_result(path: str | Path) -> Result:
    """Read a result written by :func:`save_fits_result`."""

    path = Path(path)
    hdul = _open(path, argument="RESULT")
    with hdul:
        names = [h.name for h in hdul]
        if "MIXING" not in names or "SOURCE" not in names:
            raise ValueError(
                f"RESULT {str(path)!r} must hold SOURCE image HDUs and a MIXING table (as written by "
                f"semiblind); found HDUs: {', '.join(n or 'PRIMARY' for n in names)}."
            )
        info: dict = {}
        if "SBINFO" in hdul[0].header:
            try:
                info = json.loads(hdul[0].header["SBINFO"])
            except ValueError as exc:
                raise ValueError(
                    f"SBINFO in {str(path)!r} must be a JSON string; could not parse it ({exc})."
                ) from None
        sources = sorted((h for h in hdul if h.name == "SOURCE"), key=lambda h: h.ver)
        S = np.stack([np.asarray(h.data) for h in sources])
        table = hdul["MIXING"]
        n = len(sources)
        A = np.stack([np.asarray(table.data[f"A_{k + 1}"], dtype=float) for k in range(n)], axis=1)
        energies = unit = None
        if "ENERGY" in table.columns.names:
            energies = np.asarray(table.data["ENERGY"], dtype=float)
            unit = table.columns["ENERGY"].unit or None
        wcs = None
        if S.ndim == 3 and "CTYPE1" in sources[0].header:
            wcs = _wcs(sources[0].header)
            if wcs is not None and wcs.has_celestial:
                wcs = wcs.celestial
    return Result(
        A=A, S=S, info=info, energies=energies, spectral_unit=unit, wcs=wcs, source=path, format="fits"
    )
