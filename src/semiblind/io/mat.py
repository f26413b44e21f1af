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
                if item.dtype.kind in "biuf":
                    _check_dataset(item, key, path)  # before reading: declared size vs budget and storage
                arr = np.asarray(item[()])
                if arr.dtype.kind not in "biuf":  # MATLAB strings/cells/structs are not needed here
                    continue
                out[key] = arr.T  # undo MATLAB's column-major storage: HDF5 shape (N, p) -> MATLAB (p, N)
    except OSError as exc:
        raise ValueError(f"INPUT {str(path)!r} is not a readable MATLAB v7.3 (HDF5) file ({exc}).") from None
    return out


def _check_dataset(item: Any, key: str, path: Path) -> None:
    """Refuse an HDF5 dataset larger than the memory budget, or one that declares values but stores none (an
    HDF5 fill-value dataset: a kilobyte file can declare gigabytes of a constant)."""
    from .._budget import check_shape

    shape = tuple(int(v) for v in item.shape)
    dims = " × ".join(str(v) for v in shape[::-1]) or "0-d"  # MATLAB's order
    need = int(np.prod(shape, dtype=object)) * item.dtype.itemsize if shape else item.dtype.itemsize
    if need > 1 << 20 and item.id.get_storage_size() == 0:
        raise ValueError(f"{key} in {str(path)!r} declares {dims} {item.dtype.name} values but stores none (an "
                         "HDF5 fill-value dataset); it holds no data to separate.")
    check_shape(shape, item.dtype, f"{key} in {str(path)!r} ({dims} {item.dtype.name})")


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


def load_mat(path: str | Path, *, pixel_order: str = "C", classic_order: str | None = None) -> Cube:
    """Read a HySUPP-style ``.mat`` file into a :class:`Cube` (``X`` from ``Y``; truth ``A`` from ``E`` and
    ``S`` from ``A``), or a file in the classic layout (``V``, ``nRow``, ``nCol``, ``nBand``; see
    :func:`load_classic_truth` for its ground-truth file).

    ``pixel_order``: ``"C"`` (row-major, HySUPP's convention) or ``"F"`` (column-major, MATLAB's ``reshape``)
    for turning the pixel axis into ``(H, W)`` in HySUPP files; ``classic_order`` the same for classic files
    (default ``"F"``: their pixels are MATLAB's column-major order).
    """
    path = Path(path)
    require_file(path)
    if pixel_order not in ("C", "F"):
        raise ValueError(f"pixel_order must be 'C' or 'F'; got {pixel_order!r}.")
    if classic_order not in (None, "C", "F"):
        raise ValueError(f"classic_order must be None, 'C' or 'F'; got {classic_order!r}.")
    d = _read(path)
    found = ", ".join(sorted(d)) or "none"
    if "Y" not in d and "V" in d:
        return _load_classic(path, d, pixel_order=classic_order if classic_order is not None else "F")
    if "Y" not in d:
        raise ValueError(
            f"INPUT {str(path)!r} must hold the data as key 'Y' (bands × pixels; HySUPP keys Y, E, "
            f"A, H, W) or 'V' (the classic layout: V, nRow, nCol, nBand); found keys: {found}."
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


# ------------------------------------------------------------------------------------------- classic layout
# The MAT files long circulated for Samson, Jasper Ridge and Urban: the data file holds ``V`` (bands × pixels),
# ``nRow``, ``nCol`` and ``nBand`` (sometimes ``maxValue``); the ground truth is a second file with ``M``
# (bands × endmembers) and ``A`` (endmembers × pixels).


def _load_classic(path: Path, d: dict[str, Any], *, pixel_order: str) -> Cube:
    V = to_float(d["V"], name="V", source=path)
    if V.ndim != 2:
        raise ValueError(f"V in {str(path)!r} must be a 2-D matrix (bands, pixels); got an array of shape "
                         f"{shape_str(V.shape)}.")
    m, N = V.shape
    if "nBand" in d and _int(d["nBand"], "nBand", path) != m:
        if _int(d["nBand"], "nBand", path) == N:  # stored pixels × bands
            V = np.ascontiguousarray(V.T)
            m, N = V.shape
        else:
            raise ValueError(f"nBand in {str(path)!r} must equal the number of rows of V ({m}); got "
                             f"{_int(d['nBand'], 'nBand', path)}.")
    image = None
    if "nRow" in d and "nCol" in d:
        H, W = _int(d["nRow"], "nRow", path), _int(d["nCol"], "nCol", path)
        if H * W != N:
            raise ValueError(f"nRow × nCol in {str(path)!r} must equal the number of pixels of V ({N}); got "
                             f"nRow={H}, nCol={W}.")
        image = (H, W)
    X = V if image is None else V.reshape((m, *image), order=pixel_order)
    meta: dict[str, Any] = {"keys": sorted(d), "layout": "classic (V, nRow, nCol, nBand)",
                            "pixel_order": pixel_order, "mat_version": "7.3 (HDF5)" if _is_hdf5(path) else "5"}
    if "maxValue" in d:
        meta["maxValue"] = float(np.asarray(d["maxValue"]).ravel()[0])
    return Cube(X=np.ascontiguousarray(X), meta=meta, source=path, format="mat")


def load_classic_truth(path: str | Path, m: int, image: tuple[int, int] | int, *, pixel_order: str = "F"
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth of a classic-layout scene from its second file: ``M (m, n)`` endmembers → ``A``, ``A (n, N)``
    abundances → ``S (n, H, W)`` (or ``(n, N)`` when ``image`` is the pixel count), reshaped in ``pixel_order``
    like the data. Also accepts HySUPP's names ``E`` and ``A``."""
    p = Path(path)
    require_file(p)
    d = _read(p)
    found = ", ".join(sorted(d)) or "none"
    key_a = "M" if "M" in d else ("E" if "E" in d else None)
    if key_a is None or "A" not in d:
        raise ValueError(f"--truth {str(p)!r} must hold the endmembers 'M' (bands × endmembers) and the "
                         f"abundances 'A' (endmembers × pixels); found keys: {found}.")
    A = to_float(d[key_a], name=key_a, source=p)
    S = to_float(d["A"], name="A", source=p)
    if A.ndim != 2 or A.shape[0] != m:
        if A.ndim == 2 and A.shape[1] == m:
            A = np.ascontiguousarray(A.T)
        else:
            raise ValueError(f"{key_a} in {str(p)!r} must be a ({m}, n) matrix (bands, endmembers); got "
                             f"{shape_str(A.shape)}.")
    N = int(np.prod(image)) if isinstance(image, tuple) else int(image)
    n = A.shape[1]
    if S.shape == (N, n):
        S = np.ascontiguousarray(S.T)
    if S.shape != (n, N):
        raise ValueError(f"A in {str(p)!r} must be a ({n}, {N}) matrix (endmembers, pixels); got "
                         f"{shape_str(S.shape)}.")
    if isinstance(image, tuple):
        S = np.ascontiguousarray(S.reshape((n, *image), order=pixel_order))
    return A, S
