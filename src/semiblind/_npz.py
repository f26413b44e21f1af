"""The one ``.npz`` reader and writer of semiblind (core, so that ``data``, ``io`` and the CLI share it).

Reading never unpickles (``allow_pickle=False`` always); writing is deterministic (uncompressed, fixed zip
timestamps: the same arrays give a byte-identical file).

Data layout (the contract of ``docs/conventions.md``): ``X``, optional ``A``, ``S``, ``noise``, ``energies``
``(m,)`` and ``meta`` (a 0-d JSON string). A file holds either **one mixture** — ``X (m, t)`` or ``(m, H, W)``,
``A (m, n)``, ``S (n, t)`` or ``(n, H, W)`` — or **a batch** with a leading mixture axis — ``X (B, m, t)`` or
``(B, m, H, W)``, ``A (B, m, n)``, ``S (B, n, t)`` or ``(B, n, H, W)``. :func:`is_batch` decides which, with these
rules, in this order:

1. ``meta["single"]`` (a bool, written by :meth:`semiblind.data.MixtureSet.save`) when present;
2. otherwise a batch when ``X`` is 4-D, or ``X`` is 3-D and ``A`` is 3-D;
3. otherwise one mixture (a 3-D ``X`` without a 3-D ``A`` is a cube ``(m, H, W)``).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np


def _pickled(argument: str, path: Path) -> ValueError:
    return ValueError(f"{argument} {str(path)!r} holds pickled data, which semiblind never loads; save plain "
                      "arrays with numpy.savez.")


def read_npz(path: str | Path, *, argument: str = "INPUT") -> dict[str, np.ndarray]:
    """All arrays of the ``.npz`` archive ``path`` (never unpickling); ``argument`` names the file in messages.

    Raises ``FileNotFoundError`` / ``IsADirectoryError`` for a missing path or a folder, ``ValueError`` for a
    file that is not an ``.npz`` archive of plain arrays (a lone ``.npy``, a pickle, a damaged zip).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{argument} {str(path)!r} does not exist.")
    if path.is_dir():
        raise IsADirectoryError(f"{argument} must be a file; {str(path)!r} is a directory.")
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if not magic.startswith(b"PK"):  # an .npz is a zip archive
        if magic.startswith(b"\x93NUMPY"):
            raise ValueError(f"{argument} {str(path)!r} is a single .npy array, not an .npz archive of named "
                             "arrays.")
        if magic.startswith(b"\x80"):
            raise _pickled(argument, path)
        raise ValueError(f"{argument} {str(path)!r} is not a readable .npz archive (it is not a zip file).")
    try:
        data = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise _pickled(argument, path) from None
        raise ValueError(f"{argument} {str(path)!r} is not a readable .npz archive ({exc}).") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{argument} {str(path)!r} is not a readable .npz archive ({exc}).") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{argument} {str(path)!r} is a single .npy array, not an .npz archive of named arrays.")
    out: dict[str, np.ndarray] = {}
    try:
        _check_declared_sizes(data, path)  # before any array is allocated
    except ValueError:
        data.close()
        raise
    try:
        with data:
            for key in data.files:
                out[key] = data[key]
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object arrays" in str(exc).lower():
            raise ValueError(f"{argument} {str(path)!r} holds an object (pickled) array, which semiblind never "
                             "loads; save plain numeric arrays with numpy.savez.") from None
        raise ValueError(f"{argument} {str(path)!r} is not a readable .npz archive ({exc}).") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{argument} {str(path)!r} is a damaged .npz archive ({exc}).") from None
    return out


def _declared(zf: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], np.dtype] | None:
    """Shape and dtype that the ``.npy`` header of ``member`` declares (``None`` when it cannot be read)."""
    fmt = np.lib.format
    try:
        with zf.open(member) as fh:
            version = fmt.read_magic(fh)
            reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _fortran, dtype = reader(fh, max_header_size=10_000)
    except Exception:  # an unreadable header: np.load reports it properly
        return None
    return tuple(int(v) for v in shape), np.dtype(dtype)


def _check_declared_sizes(data: Any, path: Path) -> None:
    """Refuse, before allocating, arrays whose ``.npy`` headers declare more than the memory budget or more bytes
    than the archive holds for them (a 200-byte file cannot hold 520 GiB)."""
    from ._budget import check_allocation, format_bytes, nbytes_of

    zf = data.zip
    total = 0
    for key in data.files:
        member = key if key in zf.namelist() else f"{key}.npy"
        if member not in zf.namelist():
            continue
        declared = _declared(zf, member)
        if declared is None:
            continue
        shape, dtype = declared
        if dtype.hasobject:
            continue  # refused as a pickle when read
        need = nbytes_of(shape, dtype)
        total += need
        dims = " × ".join(str(v) for v in shape) or "0-d"
        check_allocation(need, f"{key} in {str(path)!r} ({dims} {dtype.name})")
        info = zf.getinfo(member)
        if info.compress_type == zipfile.ZIP_STORED and need > info.file_size:
            raise ValueError(f"{key} in {str(path)!r} declares {dims} {dtype.name} values ({format_bytes(need)}) but "
                             f"the archive holds {format_bytes(info.file_size)} for it; the file is truncated or "
                             "damaged.")
    check_allocation(total, f"the arrays of {str(path)!r}")


def json_field(arr: np.ndarray | None, *, key: str, path: str | Path) -> dict[str, Any]:
    """The JSON object stored as the 0-d (or one-element) string array ``arr``; ``{}`` when ``arr`` is None.

    A JSON value that is not an object comes back as ``{key: value}``.
    """
    if arr is None:
        return {}
    try:
        if arr.size != 1:
            raise TypeError(f"one string was expected, not an array of shape {arr.shape}")
        value = json.loads(str(arr.reshape(-1)[0]))
    except (ValueError, TypeError, IndexError) as exc:
        raise ValueError(f"'{key}' in {str(path)!r} must be a JSON string; could not parse it ({exc}).") from None
    return value if isinstance(value, dict) else {key: value}


def is_batch(arrays: dict[str, np.ndarray], meta: dict[str, Any], *, path: str | Path = "") -> bool:
    """Whether the data arrays hold a batch of mixtures (leading axis) or one mixture; see the module rules."""
    flag = meta.get("single")
    if flag is not None:
        if not isinstance(flag, bool):
            raise ValueError(f"meta['single'] in {str(path)!r} must be true or false; got {flag!r}.")
        return not flag
    X, A = arrays["X"], arrays.get("A")
    return X.ndim == 4 or (X.ndim == 3 and A is not None and A.ndim == 3)


def write_npz(path: str | Path, arrays: dict[str, Any]) -> None:
    """Write ``arrays`` to ``path`` as a deterministic uncompressed ``.npz`` (no pickles, fixed timestamps).

    ``path`` is written in place: callers wanting atomicity pass the temporary path of
    :func:`semiblind._files.atomic_path`.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asarray(arr, order="C"), allow_pickle=False)


__all__ = ["is_batch", "json_field", "read_npz", "write_npz"]
