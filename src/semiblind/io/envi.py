"""ENVI hyperspectral images (a text ``.hdr`` header beside a binary data file) through the optional
``spectral`` package (``pip install semiblind[remote]``).

The image ``(lines, samples, bands)`` that ``spectral`` returns is transposed to channels first, ``(bands,
lines, samples)`` = ``(m, H, W)``. Channel values are the header's ``wavelength`` list with its ``wavelength
units``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._common import Cube, MissingDataFileError, require_file, to_float


def _header_for(path: Path) -> Path:
    if path.suffix.lower() == ".hdr":
        return path
    for cand in (
        path.with_suffix(".hdr"),
        path.with_name(path.name + ".hdr"),
        path.with_suffix(".HDR"),
        path.with_name(path.name + ".HDR"),
    ):
        if cand.is_file():
            return cand
    raise FileNotFoundError(
        f"INPUT {str(path)!r} is an ENVI data file without its header; expected "
        f"{str(path.with_suffix('.hdr'))!r} beside it."
    )


def load_envi(path: str | Path) -> Cube:
    """Read an ENVI image (``.hdr`` or its data file) into a :class:`Cube` ``(bands, lines, samples)``.

    A header whose data file is missing raises :class:`~semiblind.io.MissingDataFileError` (a
    ``FileNotFoundError`` and a ``ValueError``).
    """
    path = Path(path)
    require_file(path)
    try:
        from spectral.io import envi
    except ImportError:
        raise ImportError(
            "reading ENVI files needs the optional 'spectral' package; install it with "
            "pip install 'semiblind[remote]' (or pip install spectral)."
        ) from None
    header = _header_for(path)
    data_file = None if path == header else str(path)
    try:
        img = envi.open(str(header), image=data_file)
    except envi.EnviDataFileNotFoundError:
        raise MissingDataFileError(
            f"INPUT {str(header)!r} is an ENVI header without its data file; expected a file such as "
            f"{str(header.with_suffix('.img'))!r} or {str(header.with_suffix(''))!r} beside it."
        ) from None
    except Exception as exc:  # spectral's parsing errors have several unrelated classes
        raise ValueError(
            f"INPUT {str(header)!r} is not a readable ENVI header ({type(exc).__name__}: {exc})."
        ) from None
    try:
        data = np.asarray(img.load())
    except Exception as exc:
        raise ValueError(
            f"INPUT {str(header)!r}: the ENVI data file could not be read ({type(exc).__name__}: "
            f"{exc}); it may be truncated or not match the header."
        ) from None
    X = to_float(np.moveaxis(data, 2, 0), name="the ENVI image", source=path)
    energies = unit = None
    centers = getattr(img.bands, "centers", None)
    if centers is not None and len(centers) == X.shape[0]:
        energies = np.asarray(centers, dtype=float)
        unit = getattr(img.bands, "band_unit", None) or img.metadata.get("wavelength units") or None
    meta = {"header": str(header), "interleave": str(img.metadata.get("interleave", ""))}
    if "reflectance scale factor" in img.metadata:  # spectral's load() has already divided by it
        meta["reflectance scale factor applied"] = str(img.metadata["reflectance scale factor"]).strip()
    if "description" in img.metadata:
        meta["description"] = str(img.metadata["description"]).strip()
    return Cube(X=X, energies=energies, spectral_unit=unit, meta=meta, source=path, format="envi")
