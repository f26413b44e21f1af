"""MATLAB ``.mat`` files with the keys of the HySUPP unmixing benchmark datasets.

Keys: ``Y`` (bands × pixels, the data), ``E`` (bands × endmembers, the true mixing matrix — semiblind's
``A``), ``A`` (endmembers × pixels, the true abundances — semiblind's ``S``), ``H`` and ``W`` (image height
and width). Only ``Y`` is required. With ``H`` and ``W`` the pixels are reshaped to images ``(m, H, W)`` in C
(row-major) order, as HySUPP's own Python loader does; ``pixel_order="F"`` reshapes column-major (MATLAB's
``reshape``).

MAT v5 files are read with ``scipy.io.loadmat``; v7.3 files (HDF5) with ``h5py``. MATLAB stores arrays
column-major, so a ``p × N`` matrix appears in HDF5 as an ``N × p`` dataset: every dataset read by ``h5py`` is
transposed back to MATLAB's shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._common import Cube, require_file, shape_str, to_float


def _read_v73(path: Path) -> dict[str, Any]:
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "reading MATLAB v7.3 files needs the optional 'h5py' package; install it with "
            "pip install 'semiblind[mat]' (or pip install h5py)."
        ) from None
    out: dict[str, Any] = {}
    try:
        with h5py.File(path, "r") as f:
            for key, item in f.items():
                if key.startswith("#") or not isinstance(item, h5py.Dataset):
                    continue
                arr = np.asarray(item[()])
                if arr.dtype.kind not in "biuf":  # MATLAB strings/cells/structs are not needed here
                    continue
                out[key] = arr.T  # undo MATLAB's column-major storage: HDF5 shape (N, p) -> MATLAB (p, N)
    except OSError as exc:
        raise ValueError(f"INPUT {str(path)!r} is not a readable MATLAB v7.3 (HDF5) file ({exc}).") from None
    return out


def _read(path: Path) -> dict[str, Any]:
    import scipy.io

    try:
        import h5py

        if h5py.is_hdf5(path):
            return _read_v73(path)
    except ImportError:
        pass
    try:
        raw = scipy.io.loadmat(path)
    except NotImplementedError:  # a v7.3 file recognised by scipy but h5py missing
        return _read_v73(path)
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError... for non-MAT files
        raise ValueError(
            f"INPUT {str(path)!r} is not a readable MATLAB .mat file ({type(exc).__name__}: {exc})."
        ) from None
    return {k: v for k, v in raw.items() if not k.startswith("__")}


def _int(value: Any, key: str, path: Path) -> int:
    arr = np.asarray(value).ravel()
    if arr.size != 1 or not np.isfinite(arr[0]) or float(arr[0]) != int(arr[0]) or int(arr[0]) < 1:
        raise ValueError(
            f"{key} in {str(path)!r} must be a positive integer (an image size); got {arr.tolist()}."
        )
    return int(arr[0])


def load_mat(path: str | Path, *, pixel_order: str = "C") -> Cube:
    """Read a HySUPP-style ``.mat`` file into a :class:`Cube` (``X`` from ``Y``; truth ``A`` from ``E`` and
    ``S`` from ``A``).

    ``pixel_order``: ``"C"`` (row-major, HySUPP's convention) or ``"F"`` (column-major, MATLAB's ``reshape``)
    for turning the pixel axis into ``(H, W)``.
    """
    path = Path(path)
    require_file(path)
    if pixel_order not in ("C", "F"):
        raise ValueError(f"pixel_order must be 'C' or 'F'; got {pixel_order!r}.")
    d = _read(path)
    found = ", ".join(sorted(d)) or "none"
    if "Y" not in d:
        raise ValueError(
            f"INPUT {str(path)!r} must hold the data as key 'Y' (bands × pixels; HySUPP keys Y, E, "
            f"A, H, W); found keys: {found}."
        )
    Y = to_float(d["Y"], name="Y", source=path)
    if Y.ndim != 2:
        raise ValueError(
            f"Y in {str(path)!r} must be a 2-D matrix (bands, pixels); got an array of shape "
            f"{shape_str(Y.shape)}."
        )
    m, N = Y.shape
    E = to_float(d["E"], name="E", source=path) if "E" in d else None
    Ab = to_float(d["A"], name="A", source=path) if "A" in d else None
    has_h, has_w = "H" in d, "W" in d
    if has_h != has_w:
        raise ValueError(
            f"INPUT {str(path)!r} must hold both image sizes H and W or neither; found keys: {found}."
        )
    image = None
    if has_h:
        H, W = _int(d["H"], "H", path), _int(d["W"], "W", path)
        if H * W != N:
            raise ValueError(
                f"H × W in {str(path)!r} must equal the number of pixels of Y ({N}); got H={H}, W={W} "
                f"(H × W = {H * W})."
            )
        image = (H, W)
    if E is not None and (E.ndim != 2 or E.shape[0] != m):
        raise ValueError(
            f"E in {str(path)!r} must be a ({m}, n) matrix (bands, endmembers) to match Y "
            f"{shape_str(Y.shape)}; got {shape_str(E.shape)}."
        )
    if Ab is not None:
        n = E.shape[1] if E is not None else Ab.shape[0]
        if Ab.ndim != 2 or Ab.shape != (n, N):
            raise ValueError(
                f"A in {str(path)!r} must be a ({n}, {N}) matrix (endmembers, pixels) to match Y "
                f"{shape_str(Y.shape)}; got {shape_str(Ab.shape)}."
            )
    X = Y if image is None else Y.reshape((m, *image), order=pixel_order)
    S = None
    if Ab is not None:
        S = Ab if image is None else Ab.reshape((Ab.shape[0], *image), order=pixel_order)
        S = np.ascontiguousarray(S)
    meta: dict[str, Any] = {
        "keys": sorted(d),
        "pixel_order": pixel_order,
        "mat_version": "7.3 (HDF5)" if _is_hdf5(path) else "5",
    }
    return Cube(X=np.ascontiguousarray(X), A=E, S=S, meta=meta, source=path, format="mat")


def _is_hdf5(path: Path) -> bool:
    try:
        import h5py

        return bool(h5py.is_hdf5(path))
    except ImportError:
        return False
