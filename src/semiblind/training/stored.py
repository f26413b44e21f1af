"""Stored training sets read lazily: memory-mapped ``.npz`` members or HDF5 datasets, gathered batch by batch.

A training set of 700 mixtures of 65 × 3000 is already 1.2 GB; 100,000 do not fit in memory. :func:`open_stored`
opens a stored set without reading its arrays:

* an **uncompressed** ``.npz`` (the :class:`~semiblind.data.mixtures.MixtureSet` layout that ``semiblind
  simulate`` and :func:`numpy.savez` write): each member ``X.npy``, ``A.npy``, ``S.npy`` is a ``.npy`` file stored
  as is inside the zip, so its data start at a fixed offset (the zip local header, then the ``.npy`` header)
  and are :class:`numpy.memmap`-ed in place. A **compressed** member (:func:`numpy.savez_compressed`) cannot be
  mapped: it is read into memory (after the memory-budget check) with a one-line notice on stderr, so such
  files still train as before, without the memory saving;
* an **HDF5** file (``.h5`` / ``.hdf5``, as ``semiblind simulate ... --out FILE.h5`` writes it): datasets ``X``,
  ``A``, ``S`` and a JSON ``meta`` attribute; needs the optional ``h5py`` (a ``ValueError`` says so when missing).

Shapes: ``X (N, m, t)`` or ``(N, m, H, W)``, ``A (N, m, n)``, ``S (N, n, t)`` or ``(N, n, H, W)``; the arrays are
seen as ``(N, rows, pixels)`` with the pixels flattened (channels first), at the training dtype. A single-mixture
``.npz`` (``X (m, t)``, ``A (m, n)``, ``S (n, t)``) is a set of one.

The training engine (:func:`semiblind.training.engine.train`) asks a :class:`StoredSet` for each batch with
:meth:`StoredSet.take`: the batch's indices are sorted and de-duplicated (memory maps read in file order; HDF5
fancy indexing needs increasing indices), read, converted to the training dtype and put back in batch order, so
a batch holds the same numbers as the in-memory set's and training gives bit-identical weights. Validation
(every value finite, the dynamic range of X for the training dtype) and the training-data fingerprint of the
checkpoint (:func:`semiblind.training.checkpoint.data_fingerprint`) read the arrays in chunks of about
:data:`CHUNK_BYTES`, never the whole set at once.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._npz import is_batch, json_field

CHUNK_BYTES = 32 * 2**20
"""About how many bytes (at the training dtype) one chunk of a validation scan or fingerprint reads."""

HDF5_SUFFIXES = (".h5", ".hdf5")

_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # zip local file header: signature ... name length, extra length


def _np_dtype(dtype: torch.dtype) -> np.dtype:
    return np.dtype(str(dtype).replace("torch.", ""))


class StoredArray:
    """One array of a stored set, read on demand: ``source`` (a :class:`numpy.memmap`, an ``h5py.Dataset`` or an
    array) of shape ``(N, r, *pixels)`` seen as ``(N, r, c)`` (pixels flattened) at the torch ``dtype``.

    Indexing (``arr[i]``, ``arr[a:b]``, ``arr[index array or tensor]``) returns a torch tensor, as indexing a
    tensor would; :meth:`read` returns the NumPy array. ``shape``, ``ndim``, ``dtype`` and ``len`` describe it.
    """

    def __init__(self, source: Any, dtype: torch.dtype, name: str) -> None:
        self.source, self.dtype, self.name = source, dtype, name
        shp = tuple(int(v) for v in source.shape)
        self._rows = shp[:2]
        self.shape = torch.Size((*shp[:2], int(np.prod(shp[2:], dtype=np.int64)) if len(shp) > 2 else 1))
        self.ndim = 3

    def __len__(self) -> int:
        return int(self.shape[0])

    def with_dtype(self, dtype: torch.dtype) -> StoredArray:
        return StoredArray(self.source, dtype, self.name)

    def row_block(self) -> int:
        """Rows per chunk of a scan: about :data:`CHUNK_BYTES` at this dtype."""
        row = int(self.shape[1]) * int(self.shape[2]) * _np_dtype(self.dtype).itemsize
        return max(1, CHUNK_BYTES // max(row, 1))

    def read(self, idx: Any) -> np.ndarray:
        """Rows ``idx`` (an int, a slice, or a 1-D int array / tensor in any order, repeats allowed) as a
        writable C-ordered array ``(k, r, c)`` (``(r, c)`` for an int) of this dtype."""
        if isinstance(idx, torch.Tensor):
            idx = idx.detach().cpu().numpy()
        scalar = isinstance(idx, (int, np.integer)) and not isinstance(idx, bool)
        if scalar or isinstance(idx, slice):
            i = int(idx) if scalar else idx
            if scalar and not -len(self) <= i < len(self):
                raise IndexError(f"index {i} is out of range for {self.name} of {len(self)} mixtures.")
            block = np.asarray(self.source[slice(i % len(self), i % len(self) + 1) if scalar else i])
        else:
            ix = np.asarray(idx)
            if ix.ndim != 1 or not (np.issubdtype(ix.dtype, np.integer) or ix.size == 0):
                raise IndexError(f"index must be an int, a slice or a 1-D array of ints; got {idx!r}.")
            ix = ix.astype(np.int64) % max(len(self), 1)
            if ix.size == 0:
                block = np.empty((0, *self._rows[1:], *self.source.shape[2:]), dtype=self.source.dtype)
            else:
                uniq, inverse = np.unique(ix, return_inverse=True)  # increasing: file order, HDF5's rule
                block = np.asarray(self.source[uniq])
                if uniq.size != ix.size or np.any(uniq != ix):
                    block = block[inverse.reshape(-1)]
        out = block.reshape(block.shape[0], int(self.shape[1]), int(self.shape[2]))
        target = _np_dtype(self.dtype)
        if out.dtype != target or not out.flags.writeable or not out.flags.c_contiguous:
            with np.errstate(over="ignore"):  # a value beyond the dtype becomes inf: the finiteness check says so
                out = np.ascontiguousarray(out.astype(target))
        return out[0] if scalar else out

    def __getitem__(self, idx: Any) -> torch.Tensor:
        return torch.from_numpy(self.read(idx))

    def chunks(self) -> Any:
        """Yield ``(start, block)`` over the whole array in chunks of :meth:`row_block` rows."""
        step = self.row_block()
        for start in range(0, len(self), step):
            yield start, self.read(slice(start, min(start + step, len(self))))


class StoredSet:
    """A training set in a file, read lazily (see the module docstring): ``X``, ``A``, ``S`` are
    :class:`StoredArray` views ``(N, m, t)``, ``(N, m, n)``, ``(N, n, t)`` at ``dtype`` (float32 unless
    :meth:`with_dtype` says otherwise), ``meta`` the file's settings, ``path`` the file and ``format``
    (``"npz"`` or ``"hdf5"``). :meth:`take` gathers a batch; :meth:`check` validates every value chunk by chunk.
    Use it as a context manager (or call :meth:`close`) to release an HDF5 file.
    """

    def __init__(self, path: Path, sources: dict[str, Any], meta: dict[str, Any], fmt: str,
                 dtype: torch.dtype = torch.float32, *, handle: Any = None, _scans: dict | None = None) -> None:
        self.path, self.meta, self.format, self.dtype = path, meta, fmt, dtype
        self._sources, self._handle = sources, handle
        self._scans: dict[str, Any] = {} if _scans is None else _scans  # shared by the dtype views
        self.X, self.A, self.S = (StoredArray(sources[k], dtype, k) for k in ("X", "A", "S"))

    def __len__(self) -> int:
        return len(self.X)

    def __repr__(self) -> str:
        return (f"StoredSet({str(self.path)!r}, {self.format}, X={tuple(self.X.shape)}, A={tuple(self.A.shape)}, "
                f"S={tuple(self.S.shape)}, {str(self.dtype).replace('torch.', '')})")

    def with_dtype(self, dtype: torch.dtype) -> StoredSet:
        """The same file seen at another torch dtype (no data read)."""
        if dtype == self.dtype:
            return self
        return StoredSet(self.path, self._sources, self.meta, self.format, dtype, handle=self._handle,
                         _scans=self._scans)

    def nbytes(self) -> int:
        """Bytes of X, A and S at this dtype (what reading the whole set into memory would take)."""
        item = _np_dtype(self.dtype).itemsize
        return sum(int(np.prod(a.shape)) * item for a in (self.X, self.A, self.S))

    def take(self, idx: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mixtures ``idx`` (a slice or 1-D indices, in the order given) as tensors ``X (k, m, t)``,
        ``A (k, m, n)``, ``S (k, n, t)`` of this dtype."""
        return self.X[idx], self.A[idx], self.S[idx]

    def scan(self) -> dict[str, Any]:
        """Chunk by chunk, at this dtype: whether each of X, A, S is finite, and ``max|X|``, the RMS of X and
        its number of entries (for the dynamic-range check). Cached: a dtype at least as wide as the stored
        one reuses the scan at the stored dtype (widening changes no value)."""
        stored = np.result_type(*(self._sources[k].dtype for k in ("X", "A", "S")))
        mine = _np_dtype(self.dtype)
        key = "stored" if mine.itemsize >= stored.itemsize and stored.kind == "f" else mine.str
        if key not in self._scans:
            view = self if key != "stored" else self.with_dtype(
                torch.float64 if stored.itemsize > 4 else torch.float32)
            out: dict[str, Any] = {}
            for name in ("X", "A", "S"):
                arr = getattr(view, name)
                finite, amax, sq = True, 0.0, 0.0
                for _, block in arr.chunks():
                    if not np.isfinite(block).all():
                        finite = False
                        break
                    if name == "X" and block.size:
                        amax = max(amax, float(np.max(np.abs(block))))
                        with np.errstate(over="ignore"):
                            sq += float(np.square(block, dtype=np.float64).sum())
                out[name] = finite
                if name == "X":
                    n = int(np.prod(arr.shape))
                    out.update(amax=amax, rms=math.sqrt(sq / max(n, 1)), entries=n)
            self._scans[key] = out
        return self._scans[key]

    def check(self, name: str = "train_set") -> None:
        """Refuse a set with a NaN or infinite value (at this dtype) in X, A or S, read chunk by chunk."""
        scan = self.scan()
        for k in ("X", "A", "S"):
            if not scan[k]:
                raise ValueError(f"{name}.{k} must contain only finite values; got NaN or infinite entries "
                                 f"(in {str(self.path)!r}).")

    def check_range(self, dtype: Any, *, name: str, float64_hint: str) -> None:
        """:func:`semiblind._ranges.check_dynamic_range` of X, from the chunked scan's ``max|X|`` and RMS: the
        same limits (:func:`semiblind._ranges.magnitude_limits`) and the same sentence."""
        from .._ranges import check_magnitude

        scan = self.scan()
        amax, rms, n = scan["amax"], scan["rms"], scan["entries"]
        if n == 0 or amax == 0 or not math.isfinite(amax):
            return
        check_magnitude(amax, rms, n, dtype, name=name, float64_hint=float64_hint)

    def read_all(self) -> dict[str, Any]:
        """The whole set in memory: ``{"X", "A", "S"}`` tensors of this dtype and ``meta`` (the eager path)."""
        from .._budget import check_allocation

        check_allocation(self.nbytes(), f"the arrays of {str(self.path)!r}")
        return {"X": self.X[:], "A": self.A[:], "S": self.S[:], "meta": dict(self.meta)}

    def close(self) -> None:
        """Release the file (HDF5 handle; memory maps are released with the last reference)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> StoredSet:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ------------------------------------------------------------------------------------------------ opening


def open_stored(path: str | os.PathLike, *, argument: str = "path") -> StoredSet:
    """Open the training set ``path`` lazily: an ``.npz`` (memory-mapped members; a compressed member is read
    into memory with a notice) or an HDF5 file (``.h5`` / ``.hdf5``; needs ``h5py``). ``argument`` names the
    file in messages. Nothing but the headers, the ``meta`` entry and the shapes is read.

    Raises ``FileNotFoundError`` for a missing file, ``ValueError`` for a file that is not such a set (not an
    archive / HDF5 file, pickled or non-numeric arrays, X, A or S missing, shapes that do not match, a truncated
    member, ``h5py`` missing).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{argument} {str(p)!r} does not exist" + (" (it is a folder)." if p.is_dir()
                                                                            else "."))
    if p.suffix.lower() in HDF5_SUFFIXES:
        ds = _open_hdf5(p, argument)
    else:
        ds = _open_npz(p, argument)
    try:
        check_shapes(argument + " " + repr(str(p)), ds.X.shape, ds.A.shape, ds.S.shape)
    except ValueError:
        ds.close()
        raise
    return ds


def check_shapes(name: str, X: Any, A: Any, S: Any) -> None:
    """Refuse shapes other than X ``(N, m, t)``, A ``(N, m, n)``, S ``(N, n, t)`` with matching sizes, N ≥ 1."""
    X, A, S = (tuple(int(v) for v in s) for s in (X, A, S))
    if len(X) != 3 or len(A) != 3 or len(S) != 3:
        raise ValueError(f"{name} must hold X (N, m, t), A (N, m, n) and S (N, n, t); got shapes {X}, {A} and "
                         f"{S}.")
    N, m, t = X
    if A[:2] != (N, m) or S != (N, A[2], t):
        raise ValueError(f"{name} must hold X (N, m, t), A (N, m, n) and S (N, n, t) with matching N, m, n, t; "
                         f"got shapes {X}, {A} and {S}.")
    if N == 0:
        raise ValueError(f"{name} must hold at least one sample; got 0.")


def _missing(p: Path, argument: str, keys: Any) -> None:
    missing = [k for k in ("X", "A", "S") if k not in keys]
    if missing:
        raise ValueError(f"{argument} {str(p)!r} must hold arrays X, A and S; {', '.join(missing)} missing.")


def _npz_member(p: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, fh: Any, argument: str) -> Any:
    """Member ``info`` of the archive as a read-only memory map (stored) or an array read into memory
    (compressed, with a notice)."""
    fmt = np.lib.format
    key = info.filename[:-4]
    if info.flag_bits & 0x1:
        raise ValueError(f"{argument} {str(p)!r}: member {info.filename} is encrypted; it cannot be read.")
    if info.compress_type != zipfile.ZIP_STORED:
        from .._budget import check_allocation, format_bytes

        with zf.open(info) as src:
            version = fmt.read_magic(src)
            reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _fortran, dtype = reader(src, max_header_size=10_000)
        need = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        check_allocation(need, f"{key} in {str(p)!r}")
        print(f"semiblind: {key} in {str(p)!r} is compressed and cannot be memory-mapped; reading it into memory "
              f"({format_bytes(need)}). Store the set uncompressed (semiblind simulate, numpy.savez) or as .h5 "
              "to read it lazily.", file=sys.stderr, flush=True)
        with zf.open(info) as src:
            return fmt.read_array(src, allow_pickle=False)
    fh.seek(info.header_offset)
    head = fh.read(_LOCAL_HEADER.size)
    if len(head) != _LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
        raise ValueError(f"{argument} {str(p)!r} is a damaged .npz archive (bad local header of "
                         f"{info.filename}).")
    fields = _LOCAL_HEADER.unpack(head)
    start = info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]
    fh.seek(start)
    try:
        version = fmt.read_magic(fh)
        reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = reader(fh, max_header_size=10_000)
    except ValueError as exc:
        raise ValueError(f"{argument} {str(p)!r}: member {info.filename} is not a readable .npy array "
                         f"({exc}).") from None
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise ValueError(f"{argument} {str(p)!r} holds an object (pickled) array {key}, which semiblind never "
                         "loads; save plain numeric arrays with numpy.savez.")
    offset = fh.tell()
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if offset + need > start + info.compress_size or offset + need > p.stat().st_size:
        raise ValueError(f"{key} in {str(p)!r} declares {shape} {dtype.name} values but the archive holds fewer "
                         "bytes for it; the file is truncated or damaged.")
    if need == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(p, dtype=dtype, mode="r", offset=offset, shape=tuple(shape), order="F" if fortran else "C")


def _open_npz(p: Path, argument: str) -> StoredSet:
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError) as exc:
        with open(p, "rb") as fh:
            magic = fh.read(6)
        what = "a single .npy array" if magic.startswith(b"\x93NUMPY") else "not a zip archive"
        raise ValueError(f"{argument} {str(p)!r} is not a readable .npz archive ({what}: {exc}); give an .npz "
                         "(keys X, A, S) or an .h5 file.") from None
    with zf, open(p, "rb") as fh:
        infos = {i.filename[:-4]: i for i in zf.infolist() if i.filename.endswith(".npy")}
        _missing(p, argument, infos)
        arrays = {k: _npz_member(p, zf, infos[k], fh, argument) for k in ("X", "A", "S")}
        meta_arr = None
        if "meta" in infos:
            with zf.open(infos["meta"]) as src:
                try:
                    meta_arr = np.lib.format.read_array(src, allow_pickle=False)
                except ValueError as exc:
                    raise ValueError(f"{argument} {str(p)!r}: 'meta' is not a plain string array ({exc}).") from None
    for k, a in arrays.items():
        if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
            raise ValueError(f"{argument} {str(p)!r}: {k} must be an array of real numbers; got dtype {a.dtype}.")
    meta = json_field(meta_arr, key="meta", path=p)
    single = not is_batch(arrays, meta, path=p)
    meta.pop("single", None)
    if single:  # one mixture: a set of one (a view, nothing read)
        arrays = {k: a.reshape((1, *a.shape)) for k, a in arrays.items()}
    return StoredSet(p, arrays, meta, "npz")


def _open_hdf5(p: Path, argument: str) -> StoredSet:
    from ..data.mixtures import import_h5py

    h5py = import_h5py(f"reading {argument} {str(p)!r}")
    if not h5py.is_hdf5(p):
        raise ValueError(f"{argument} {str(p)!r} is not an HDF5 file; give an .h5 file with datasets X, A, S (or "
                         "an .npz).")
    f = h5py.File(p, "r")
    try:
        keys = [k for k in ("X", "A", "S") if isinstance(f.get(k), h5py.Dataset)]
        _missing(p, argument, keys)
        arrays = {k: f[k] for k in ("X", "A", "S")}
        for k, a in arrays.items():
            if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
                raise ValueError(f"{argument} {str(p)!r}: {k} must be an array of real numbers; got dtype "
                                 f"{a.dtype}.")
            if a.ndim < 3:
                raise ValueError(f"{argument} {str(p)!r}: {k} must have a leading mixture axis (an HDF5 set holds "
                                 f"X (N, m, t), A (N, m, n), S (N, n, t)); got shape {a.shape}.")
        raw = f.attrs.get("meta")
        meta: dict[str, Any] = {}
        if raw is not None:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
            try:
                meta = json.loads(text)
            except ValueError as exc:
                raise ValueError(f"'meta' in {str(p)!r} must be a JSON string; could not parse it ({exc}).") from None
            meta = meta if isinstance(meta, dict) else {"meta": meta}
        meta.pop("single", None)
    except BaseException:
        f.close()
        raise
    return StoredSet(p, arrays, meta, "hdf5", handle=f)


__all__ = ["CHUNK_BYTES", "HDF5_SUFFIXES", "StoredArray", "StoredSet", "check_shapes", "open_stored"]
