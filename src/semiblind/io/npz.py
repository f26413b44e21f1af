"""NumPy ``.npz`` datasets and results (never pickles: ``allow_pickle=False`` always).

Dataset layout (the ``MixtureSet`` layout of ``semiblind.data``): ``X`` ``(m, t)`` or ``(m, H, W)``, optional
``A`` ``(m, n)``, ``S`` ``(n, t)`` or ``(n, H, W)``, ``noise`` (like ``X``), ``energies`` ``(m,)`` in keV,
``meta`` a JSON string. A file holding several mixtures stacks them along a leading axis: ``X`` ``(B, m, t)``
with ``A`` ``(B, m, n)``, or ``X`` ``(B, m, H, W)``; :func:`load_npz` then returns mixture ``index``. Whether a
file is one mixture or a batch follows the rules of :mod:`semiblind._npz` (``meta["single"]`` first, then the
shapes), the same for :class:`semiblind.data.MixtureSet` and every reader here.

Result layout (:func:`save_npz_result`): ``A``, ``S``, ``info`` (JSON string), optional ``energies`` and
``wcs`` (the celestial WCS header as a string).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._npz import is_batch, json_field, read_npz, write_npz
from ._common import Cube, Result, check_energies, dumps, shape_str, to_float


def load_npz(path: str | Path, *, index: int | None = None) -> Cube:
    """Read an ``.npz`` dataset (see the module docstring for the layout) into a :class:`Cube`.

    For a multi-mixture file, mixture ``index`` (default 0) is returned and ``meta`` records ``index`` and
    ``n_samples``. A file without ``X`` raises ``ValueError`` listing the keys found.
    """
    path = Path(path)
    d = read_npz(path)
    if "X" not in d:
        found = ", ".join(sorted(d)) or "none"
        raise ValueError(f"INPUT {str(path)!r} has no 'X' array; found keys: {found}.")
    X = to_float(d["X"], name="X", source=path)
    A = to_float(d["A"], name="A", source=path) if "A" in d else None
    S = to_float(d["S"], name="S", source=path) if "S" in d else None
    noise = to_float(d["noise"], name="noise", source=path) if "noise" in d else None
    energies = d.get("energies")
    meta = json_field(d.get("meta"), key="meta", path=path)

    if is_batch(d, meta, path=path):
        n_samples = int(X.shape[0])
        idx = 0 if index is None else index
        if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)):
            raise TypeError(f"index must be an int; got {type(idx).__name__} {idx!r}.")
        if not 0 <= int(idx) < n_samples:
            raise ValueError(
                f"index must be in [0, {n_samples - 1}] for {str(path)!r}, which holds {n_samples} "
                f"mixtures; got {idx}."
            )
        idx = int(idx)
        # every truth array of a multi-mixture file carries the leading mixture axis
        A = A[idx] if A is not None and A.ndim == 3 else A
        S = S[idx] if S is not None and S.ndim >= 3 else S
        noise = noise[idx] if noise is not None and noise.ndim == X.ndim else noise
        X = X[idx]
        if energies is not None and np.ndim(energies) == 2:
            energies = energies[idx]
        meta = {
            **meta,
            "index": idx,
            "n_samples": n_samples,
            "selected": f"mixture {idx} of {n_samples} in the file",
        }
    elif index not in (None, 0):
        raise ValueError(
            f"index must be None or 0 for {str(path)!r}, which holds a single mixture; got {index!r}."
        )

    if X.ndim not in (2, 3):
        raise ValueError(
            f"X in {str(path)!r} must be a 2-D array (channels, pixels) or a 3-D cube (channels, "
            f"height, width); got an array of shape {shape_str(X.shape)}."
        )
    m = X.shape[0]
    if A is not None and (A.ndim != 2 or A.shape[0] != m):
        raise ValueError(
            f"A in {str(path)!r} must have shape ({m}, n) to match X {shape_str(X.shape)}; got "
            f"{shape_str(A.shape)}."
        )
    if S is not None and A is not None:
        pix = X.shape[1:]
        ok = S.shape[0] == A.shape[1] and (
            S.shape[1:] == pix or (S.ndim == 2 and S.shape[1] == int(np.prod(pix)))
        )
        if not ok:
            raise ValueError(
                f"S in {str(path)!r} must have shape ({A.shape[1]}, {', '.join(map(str, pix))}) to "
                f"match A {shape_str(A.shape)} and X {shape_str(X.shape)}; got {shape_str(S.shape)}."
            )
        if S.ndim == 2 and X.ndim == 3:
            S = S.reshape((S.shape[0], *X.shape[1:]))
    if noise is not None and noise.shape != X.shape:
        raise ValueError(
            f"noise in {str(path)!r} must have the shape of X {shape_str(X.shape)}; got "
            f"{shape_str(noise.shape)}."
        )
    e = check_energies(energies, m, source=path)
    unit = meta.get("spectral_unit", meta.get("energy_unit", "keV" if e is not None else None))
    wcs = None
    if "wcs" in d:
        wcs = _wcs_from_string(d["wcs"], path=path)
    return Cube(
        X=X,
        energies=e,
        spectral_unit=unit,
        wcs=wcs,
        A=A,
        S=S,
        noise=noise,
        meta=meta,
        source=path,
        format="npz",
    )


def _wcs_from_string(arr: np.ndarray, *, path: Path | str = "") -> Any:
    """The celestial WCS stored as a FITS header string (``None`` for an empty string); anything else — another
    dtype, several strings, text that is not a header, a header without sky axes — is one ``ValueError``."""
    import warnings

    from astropy.io import fits
    from astropy.wcs import WCS

    where = f"wcs in {str(path)!r}"
    if arr.dtype.kind not in "US" or arr.size != 1:
        raise ValueError(f"{where} must be one FITS header string (as semiblind writes it); got an array of dtype "
                         f"{arr.dtype} and shape {shape_str(arr.shape)}.")
    text = str(arr.reshape(-1)[0])
    if not text.strip():
        return None
    cards = [line for line in text.splitlines() if line.strip()]
    if not any(len(c) > 8 and c[8:10] == "= " for c in cards):
        raise ValueError(f"{where} must be a FITS header string (KEYWORD = value cards); it holds none: "
                         f"{text.strip()[:40]!r}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wcs = WCS(fits.Header.fromstring(text, sep="\n"))
    except Exception as exc:  # astropy/WCSLIB raise many types for bad headers
        raise ValueError(f"{where} must be a valid FITS WCS header; it is not ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}).") from None
    if not wcs.has_celestial:
        raise ValueError(f"{where} must describe a celestial (sky) WCS; its axes are "
                         f"{', '.join(repr(str(c)) for c in wcs.wcs.ctype) or 'none'}.")
    return wcs


def save_npz_result(
    tmp: Path, A: np.ndarray, S: np.ndarray, *, info: dict, energies: np.ndarray | None, wcs: Any
) -> None:
    """Write the result arrays to ``tmp`` (already an atomic temporary path)."""
    arrays: dict[str, np.ndarray] = {"A": np.asarray(A), "S": np.asarray(S), "info": np.array(dumps(info))}
    if energies is not None:
        arrays["energies"] = np.asarray(energies, dtype=float)
    if wcs is not None:
        arrays["wcs"] = np.array(wcs.to_header().tostring(sep="\n"))
    write_npz(tmp, arrays)


def load_npz_result(path: str | Path) -> Result:
    """Read a result written by :func:`semiblind.io.save_result` to ``.npz``."""
    path = Path(path)
    d = read_npz(path, argument="RESULT")
    if "X" in d and "info" not in d:
        raise ValueError(
            f"RESULT {str(path)!r} must be a result written by semiblind separate (arrays A, S and info); "
            "it is a data file (it holds X), whose A and S are ground truth, not an estimate."
        )
    missing = [k for k in ("A", "S") if k not in d]
    if missing:
        raise ValueError(
            f"RESULT {str(path)!r} must hold arrays 'A' and 'S'; missing {', '.join(missing)}; "
            f"found keys: {', '.join(sorted(d)) or 'none'}."
        )
    A = to_float(d["A"], name="A", source=path)
    S = to_float(d["S"], name="S", source=path)
    info = json_field(d.get("info"), key="info", path=path)
    e = check_energies(d.get("energies"), A.shape[0], source=path) if A.ndim == 2 else None
    wcs = _wcs_from_string(d["wcs"], path=path) if "wcs" in d else None
    return Result(
        A=A,
        S=S,
        info=info,
        energies=e,
        spectral_unit=info.get("spectral_unit", "keV" if e is not None else None),
        wcs=wcs,
        source=path,
        format="npz",
    )
