"""Sets of simulated mixtures ``X = A·S + N`` and their ``.npz`` files.

:class:`MixtureSet` holds ``X (N, m, t)`` or ``(N, m, H, W)``, the ground truth ``A (N, m, n)`` and ``S (N, n,
t)`` / ``(N, n, H, W)``, the noise, the channel axis and a JSON-ready ``meta`` dict. Its file layout is part
of the public contract (``docs/conventions.md``): an uncompressed ``.npz`` with keys ``X``, ``A``, ``S`` and
optional ``noise``, ``energies`` and ``meta`` (a JSON string), written atomically, read with
``allow_pickle=False``. A *single-mixture* file holds ``X (m, t)`` or ``(m, H, W)`` with optional ``A (m, n)``
and ``S (n, t)``; it loads as a set of one that remembers it was single (and is saved back in the same
layout).

Simulators (noise at an exact per-sample SNR, :func:`semiblind.mixing.add_noise`):

* :func:`simulate_xray` — Cas A–like spectra (:func:`semiblind.data.xray.sample_mixing_matrices`) with GGD,
  GGD-fitted, natural-image or Cas A–like sources (LPALM paper, Fahes et al. 2022, §4–5 and App. B);
* :func:`simulate_paper_xray` — the papers' own spectra (:mod:`semiblind.data.casa`) with the same sources;
* :func:`simulate_remote` — hyperspectral scenes from the earthlib library (:mod:`semiblind.data.remote`).

Sets are generated in chunks of ``chunk_size`` samples, each from its own child generator; the result depends
on the seed and on ``chunk_size``. :func:`simulate_to_file` writes a set chunk by chunk (a set larger than the
memory) to an ``.npz`` of the layout above or to an HDF5 file (``.h5`` / ``.hdf5``: datasets ``X``, ``A``, ``S``,
``noise``, ``energies``, a ``meta`` JSON attribute; needs the optional ``h5py``), with the same arrays as the
in-memory simulator for the same seed.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.utils.data

from .._backend import make_rng, resolve_dtype
from .._files import atomic_path
from .._json import dumps as json_dumps
from .._npz import is_batch, json_field, read_npz, write_npz
from .._validation import check_int
from .._version import __version__
from ..mixing import add_noise, realised_snr_db
from . import sources as _src

__all__ = ["SOURCE_KINDS", "STREAM_SUFFIXES", "MixtureSet", "import_h5py", "simulate_paper_xray", "simulate_remote",
           "simulate_to_file", "simulate_xray"]

SOURCE_KINDS = ("ggd", "ggd-fit", "natural", "casa-like")
_KEYS = ("X", "A", "S", "noise", "energies", "meta")


def _shape(s: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(v)) for v in s) + ("," if len(s) == 1 else "") + ")"


def _as_float(x: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of real numbers; got {type(x).__name__} ({exc}).") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or \
            np.iscomplexobj(arr):
        raise TypeError(f"{name} must be an array of real numbers; got an array of dtype {arr.dtype}.")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values; got {int(np.sum(~np.isfinite(arr)))} "
                         "NaN or infinite value(s).")
    return arr


# ------------------------------------------------------------------------------------------------ MixtureSet


class MixtureSet:
    """A set of ``N`` mixtures with their ground truth.

    Parameters
    ----------
    X : ``(N, m, t)`` or ``(N, m, H, W)`` observed data (channels first).
    A : ``(N, m, n)`` mixing matrices, optional.
    S : ``(N, n, t)`` or ``(N, n, H, W)`` sources, optional; with image data ``S`` may also be flat
        ``(N, n, H·W)`` (it is reshaped to the image).
    noise : same shape as ``X``, optional (then ``X − noise`` is the clean mixture ``A·S``).
    energies : ``(m,)`` channel axis (keV for X-rays, µm for remote sensing; ``meta["channel_unit"]``),
    optional.
    meta : JSON-serialisable dict (provenance: simulator, seed, SNR, grid, ...), optional.
    single : the set came from (and saves to) a single-mixture file.
    """

    def __init__(self, X: Any, A: Any = None, S: Any = None, noise: Any = None, energies: Any = None,
                 meta: dict[str, Any] | None = None, *, single: bool = False) -> None:
        X = _as_float(X, "X")
        if X.ndim not in (3, 4) or X.size == 0:
            raise ValueError("X must be a non-empty 3-D array (samples, channels, pixels) or 4-D array "
                             "(samples, channels, height, width); got an array of shape "
                             f"{_shape(X.shape)}.")
        N, m = X.shape[:2]
        pix = X.shape[2:]
        if A is not None:
            A = _as_float(A, "A")
            if A.ndim != 3 or A.shape[:2] != (N, m):
                raise ValueError(f"A must have shape (N, m, n) = ({N}, {m}, n) to match X "
                                 f"{_shape(X.shape)}; got an array of shape {_shape(A.shape)}.")
        if S is not None:
            S = _as_float(S, "S")
            n_expect = A.shape[2] if A is not None else (S.shape[1] if S.ndim >= 2 else 0)
            t = int(np.prod(pix))
            if S.ndim == 3 and len(pix) == 2 and S.shape == (N, n_expect, t):
                S = S.reshape((N, n_expect) + pix)
            if S.shape != (N, n_expect) + pix:
                with_a = f" and A {_shape(A.shape)}" if A is not None else ""
                raise ValueError(f"S must have shape {_shape((N, n_expect) + pix)} (samples, sources, "
                                 f"pixels of X) to match X {_shape(X.shape)}{with_a}; got {_shape(S.shape)}.")
        if noise is not None:
            noise = _as_float(noise, "noise")
            if noise.shape != X.shape:
                raise ValueError(f"noise must have the shape of X {_shape(X.shape)}; got "
                                 f"{_shape(noise.shape)}.")
        if energies is not None:
            energies = _as_float(energies, "energies")
            if energies.shape != (m,):
                raise ValueError(f"energies must be a 1-D array of {m} channel values (one per channel of "
                                 f"X); got an array of shape {_shape(energies.shape)}.")
        meta = {} if meta is None else meta
        if not isinstance(meta, dict):
            raise TypeError(f"meta must be a dict; got {type(meta).__name__}.")
        try:
            json_dumps(meta)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"meta must be JSON-serialisable (numbers, strings, lists, dicts); got {exc}."
                            ) from None
        if single and N != 1:
            raise ValueError(f"single must be False for a set of {N} mixtures; a single-mixture set has "
                             "N = 1.")
        self.X, self.A, self.S, self.noise, self.energies = X, A, S, noise, energies
        self.meta: dict[str, Any] = dict(meta)
        self.single = bool(single)

    # ------------------------------------------------------------------------------------------- description
    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_sources(self) -> int | None:
        if self.A is not None:
            return int(self.A.shape[2])
        return int(self.S.shape[1]) if self.S is not None else None

    @property
    def image_shape(self) -> tuple[int, int] | None:
        """``(H, W)`` for image data, ``None`` for flat pixels."""
        return (int(self.X.shape[2]), int(self.X.shape[3])) if self.X.ndim == 4 else None

    @property
    def n_pixels(self) -> int:
        return int(np.prod(self.X.shape[2:]))

    @property
    def clean(self) -> np.ndarray:
        """The noiseless mixtures ``X − noise`` (``X`` itself when no noise is stored)."""
        return self.X if self.noise is None else self.X - self.noise

    def snr_db(self) -> np.ndarray:
        """Realised per-sample SNR ``10·log10(‖X − N‖²/‖N‖²)`` in dB, ``(N,)``; needs the stored noise."""
        if self.noise is None:
            raise ValueError("snr_db needs the noise; this MixtureSet has noise=None.")
        return realised_snr_db(self.clean, self.noise, batched=True)

    def __len__(self) -> int:
        return self.n_samples

    def __repr__(self) -> str:
        parts = [f"X={_shape(self.X.shape)}"]
        for k in ("A", "S", "noise"):
            v = getattr(self, k)
            if v is not None:
                parts.append(f"{k}={_shape(v.shape)}")
        return f"MixtureSet({', '.join(parts)}{', single' if self.single else ''})"

    def _take(self, idx: Any, single: bool = False) -> MixtureSet:
        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]
        return MixtureSet(pick(self.X), pick(self.A), pick(self.S), pick(self.noise), self.energies,
                          dict(self.meta), single=single)

    def __getitem__(self, key: Any) -> MixtureSet:
        """``ms[i]`` → a set of one mixture; ``ms[a:b]``, ``ms[[i, j]]``, ``ms[mask]`` → a subset."""
        if isinstance(key, (numbers.Integral, np.integer)) and not isinstance(key, bool):
            i = int(key)
            if not -self.n_samples <= i < self.n_samples:
                raise IndexError(f"index must be in [-{self.n_samples}, {self.n_samples}); got {i}.")
            return self._take(slice(i % self.n_samples, i % self.n_samples + 1), single=self.single)
        if isinstance(key, slice):
            out = self._take(key)
        else:
            idx = np.asarray(key)
            if idx.dtype == bool:
                if idx.shape != (self.n_samples,):
                    raise IndexError(f"a boolean index must have shape ({self.n_samples},); got "
                                     f"{_shape(idx.shape)}.")
            elif not np.issubdtype(idx.dtype, np.integer) or idx.ndim != 1:
                raise IndexError("index must be an int, a slice, or a 1-D array of ints or bools; got "
                                 f"{key!r}.")
            out = self._take(idx)
        if out.n_samples == 0:
            raise IndexError(f"index {key!r} selects no mixture out of {self.n_samples}.")
        return out

    # --------------------------------------------------------------------------------------------- split
    def split(self, sizes: Sequence[float] | Sequence[int], rng: Any = None) -> tuple[MixtureSet, ...]:
        """Split into consecutive parts of the given ``sizes``.

        ``sizes`` are either fractions (floats summing to 1; the part sizes are the rounded cumulative
        boundaries ``round(N·Σf)``) or counts (ints summing to at most ``N``; leftover mixtures are left out).
        With ``rng`` (seed or Generator) the mixtures are shuffled first; with ``rng=None`` the order is kept.
        """
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) == 0:
            raise TypeError(f"sizes must be a non-empty sequence of fractions or counts; got {sizes!r}.")
        N = self.n_samples
        if all(isinstance(s, (numbers.Integral, np.integer)) and not isinstance(s, bool) for s in sizes):
            counts = np.asarray(sizes, dtype=np.int64)
            if np.any(counts < 1) or counts.sum() > N:
                raise ValueError(f"sizes as counts must be positive ints summing to at most {N}; got "
                                 f"{list(sizes)}.")
            bounds = np.concatenate([[0], np.cumsum(counts)])
        elif all(isinstance(s, numbers.Real) and not isinstance(s, bool) for s in sizes):
            fr = np.asarray(sizes, dtype=np.float64)
            if np.any(fr <= 0) or abs(fr.sum() - 1.0) > 1e-6:
                raise ValueError("sizes as fractions must be positive floats summing to 1; got "
                                 f"{list(sizes)}.")
            bounds = np.concatenate([[0], np.round(np.cumsum(fr) * N).astype(np.int64)])
            bounds[-1] = N
            if np.any(np.diff(bounds) < 1):
                raise ValueError(f"sizes {list(sizes)} leave an empty part for a set of {N} mixtures.")
        else:
            raise TypeError(f"sizes must be all floats (fractions) or all ints (counts); got {list(sizes)}.")
        order = np.arange(N) if rng is None else make_rng(rng).permutation(N)
        return tuple(self._take(order[a:b]) for a, b in zip(bounds[:-1], bounds[1:]))

    # ------------------------------------------------------------------------------------------------ torch
    def torch_dataset(self, dtype: Any = None, *, targets: bool = True) -> Any:
        """A ``torch.utils.data.Dataset`` over the mixtures.

        Item ``i`` is ``(X (m, t), A (m, n), S (n, t))`` as flat tensors of ``dtype`` (float32 by default), or
        ``X`` alone with ``targets=False`` (self-supervised training needs no ground truth).
        """
        dt = resolve_dtype(dtype)
        if targets and (self.A is None or self.S is None):
            raise ValueError("torch_dataset(targets=True) needs A and S; this MixtureSet lacks "
                             f"{' and '.join(k for k in ('A', 'S') if getattr(self, k) is None)} "
                             "(use targets=False for X only).")
        N, m = self.n_samples, self.n_channels
        tensors = [torch.as_tensor(np.ascontiguousarray(self.X.reshape(N, m, -1)), dtype=dt)]
        if targets:
            tensors.append(torch.as_tensor(np.ascontiguousarray(self.A), dtype=dt))
            S = np.ascontiguousarray(self.S.reshape(N, self.S.shape[1], -1))
            tensors.append(torch.as_tensor(S, dtype=dt))
        return _TensorsDataset(tensors)

    # ------------------------------------------------------------------------------------------------- files
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the ``.npz`` layout (single layout when ``single``), ``meta`` as a 0-d JSON
        string."""
        meta = dict(self.meta)
        meta["single"] = self.single
        out: dict[str, np.ndarray] = {}
        for k in ("X", "A", "S", "noise"):
            v = getattr(self, k)
            if v is not None:
                out[k] = v[0] if self.single else v
        if self.energies is not None:
            out["energies"] = self.energies
        out["meta"] = np.asarray(json_dumps(meta, sort_keys=True))
        return out

    def save(self, path: str | Path, overwrite: bool = True) -> Path:
        """Write the set atomically to ``path`` (``.npz``; see the module docstring for the layout).

        The archive is deterministic: the same arrays give a byte-identical file (fixed zip timestamps, no
        compression, no pickles).
        """
        p = Path(path)
        if p.suffix != ".npz":
            raise ValueError(f"path must end in .npz; got {str(p)!r}.")
        with atomic_path(p, overwrite=overwrite, argument="path") as tmp:
            write_npz(tmp, self.to_arrays())
        return p

    @classmethod
    def load(cls, path: str | Path) -> MixtureSet:
        """Read a set saved by :meth:`save`, or a single-mixture file (``X (m, t)`` or ``(m, H, W)``, optional
        ``A (m, n)``, ``S (n, t)`` or ``(n, H, W)``), with ``allow_pickle=False``.

        One mixture or a batch: the rules of :func:`semiblind._npz.is_batch` (``meta["single"]`` when present,
        else a batch when ``X`` is 4-D or ``A`` is 3-D, else one mixture), shared with :mod:`semiblind.io`.
        """
        p = Path(path)
        arrays = read_npz(p, argument="path")
        if "X" not in arrays:
            raise ValueError(f"path {str(p)!r} must hold an array named 'X'; got keys {sorted(arrays)}.")
        meta = json_field(arrays.get("meta"), key="meta", path=p)
        single = not is_batch(arrays, meta, path=p)
        meta.pop("single", None)
        X = arrays["X"]
        if single:
            if X.ndim not in (2, 3):
                raise ValueError(f"a single-mixture file must hold X (m, t) or (m, H, W); {str(p)!r} holds X "
                                 f"of shape {_shape(X.shape)}.")
            for k, nd in (("A", (2,)), ("S", (2, 3)), ("noise", (X.ndim,))):
                if k in arrays and arrays[k].ndim not in nd:
                    raise ValueError(f"a single-mixture file's {k} must be {nd[0]}-D; {str(p)!r} holds {k} "
                                     f"of shape {_shape(arrays[k].shape)}.")
            batch = {k: arrays[k][None] for k in ("X", "A", "S", "noise") if k in arrays}
        else:
            batch = {k: arrays[k] for k in ("X", "A", "S", "noise") if k in arrays}
        return cls(batch["X"], batch.get("A"), batch.get("S"), batch.get("noise"), arrays.get("energies"),
                   meta, single=single)


class _TensorsDataset(torch.utils.data.Dataset):
    """Map-style dataset over tensors sharing their first dimension."""

    def __init__(self, tensors: list[Any]) -> None:
        self.tensors = tensors

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0])

    def __getitem__(self, i: int) -> Any:
        if len(self.tensors) == 1:
            return self.tensors[0][i]
        return tuple(t[i] for t in self.tensors)


# ------------------------------------------------------------------------------------------------ simulators


def _check_snr(snr_db: Any) -> float:
    bad_type = isinstance(snr_db, bool) or not isinstance(snr_db, numbers.Real)
    if bad_type or np.isnan(snr_db) or snr_db == -np.inf:
        raise ValueError(f"snr_db must be a finite number of decibels or +inf (no noise); got {snr_db!r}.")
    return float(snr_db)


def _check_layout(pixels: Any, image: Any, sources: str) -> tuple[int, tuple[int, int] | None]:
    """``(t, (H, W) or None)`` from exactly one of ``pixels`` and ``image``."""
    if sources not in SOURCE_KINDS:
        kinds = ", ".join(repr(k) for k in SOURCE_KINDS)
        raise ValueError(f"sources must be one of {kinds}; got {sources!r}.")
    if (pixels is None) == (image is None):
        raise ValueError("give exactly one of pixels (an int, flat pixels) and image ((H, W), maps); got "
                         f"pixels={pixels!r} and image={image!r}.")
    if image is not None:
        if isinstance(image, (str, bytes)) or not isinstance(image, Sequence) or len(image) != 2:
            raise ValueError(f"image must be a pair (H, W) of ints; got {image!r}.")
        H, W = (check_int(v, "image", 8 if sources in ("natural", "casa-like") else 1) for v in image)
        return H * W, (H, W)
    if sources in ("natural", "casa-like"):
        raise ValueError(f"sources={sources!r} makes 2-D maps and needs image=(H, W); got pixels={pixels!r}.")
    return check_int(pixels, "pixels", 2), None


def _seed_meta(rng: Any) -> dict[str, Any]:
    is_int = isinstance(rng, (numbers.Integral, np.integer)) and not isinstance(rng, bool)
    return {"seed": int(rng)} if is_int else {}


def _progress(total: int, progress: bool | None, desc: str) -> Any:
    from .._progress import tqdm  # bar on a terminal, one line per stage in a log

    disable = (not progress) if progress is not None else (True if total < 500 else None)
    return tqdm(total=total, disable=disable, desc=desc, unit="mixture", leave=False)


def check_simulation_size(n_samples: int, m: int, n: int, t: int, dtype: Any, *, noise: bool, what: str,
                          label: str = "n_samples") -> None:
    """Refuse, before drawing anything, a simulation whose arrays exceed the memory budget: X (and the noise)
    ``(N, m, t)``, A ``(N, m, n)``, S ``(N, n, t)``, twice (the chunks and their concatenation; for a streamed
    set, ``n_samples`` is one chunk's and ``label`` ``"chunk_size"``)."""
    from .._budget import check_allocation, nbytes_of

    per = (2 if noise else 1) * nbytes_of((n_samples, m, t), dtype) + nbytes_of((n_samples, m, n), dtype) + \
        nbytes_of((n_samples, n, t), dtype)
    check_allocation(2 * per, f"{what} with {label}={n_samples}, {m} channels, {n} sources and {t} pixels "
                              f"({np.dtype(dtype).name})")


class _Plan:
    """A simulation cut into chunks: the in-memory simulators (:meth:`run`) and :func:`simulate_to_file`
    (which writes every chunk to disk as it comes) share it, so both give the same arrays for the same seed.

    ``make_chunk(start, size, gen)`` returns the chunk's arrays (``X``, ``A``, ``S`` and ``noise`` unless the
    SNR is infinite); chunk ``k`` uses its own child generator seeded by ``(base, k)``, ``base`` drawn from
    ``gen`` when the chunks start (so chunk ``k`` can be regenerated alone). ``shapes`` are the full arrays'
    shapes (same keys, that order), ``meta()`` the settings, read once every chunk has been made.
    """

    def __init__(self, *, n_samples: int, chunk_size: int, gen: np.random.Generator,
                 make_chunk: Callable[[int, int, np.random.Generator], dict[str, np.ndarray]], desc: str,
                 shapes: dict[str, tuple[int, ...]], dtype: np.dtype, energies: np.ndarray | None,
                 meta: Callable[[], dict[str, Any]], what: str) -> None:
        self.n_samples, self.chunk_size, self.gen, self.make_chunk = n_samples, chunk_size, gen, make_chunk
        self.desc, self.shapes, self.dtype, self.energies, self.meta, self.what = (desc, shapes, dtype, energies,
                                                                                  meta, what)

    def nbytes(self) -> int:
        """Bytes of the data arrays (X, A, S, noise) of the whole set."""
        return sum(int(np.prod(s)) * self.dtype.itemsize for s in self.shapes.values())

    def chunks(self, progress: bool | None) -> Any:
        """Yield ``(start, arrays)`` for consecutive chunks (a progress bar counts the mixtures)."""
        base = int(self.gen.integers(0, 2**63 - 1))
        N, size = self.n_samples, self.chunk_size
        with _progress(N, progress, self.desc) as bar:
            for k, start in enumerate(range(0, N, size)):
                c = min(size, N - start)
                yield start, self.make_chunk(start, c, np.random.default_rng([base, k]))
                bar.update(c)

    def run(self, progress: bool | None) -> MixtureSet:
        """The whole set in memory (refused first when it exceeds the memory budget)."""
        X, A, S = (self.shapes[k] for k in ("X", "A", "S"))
        check_simulation_size(self.n_samples, X[1], A[2], int(np.prod(X[2:])), self.dtype,
                              noise="noise" in self.shapes, what=self.what)
        parts: dict[str, list[np.ndarray]] = {}
        for _, out in self.chunks(progress):
            for key, v in out.items():
                parts.setdefault(key, []).append(v)
        out = {k: np.concatenate(v, axis=0) for k, v in parts.items()}
        return MixtureSet(out["X"], out["A"], out["S"], out.get("noise"), self.energies, self.meta())


def _shapes(N: int, m: int, n: int, t: int, image: tuple[int, int] | None, noise: bool) -> dict[str, tuple]:
    pix = image if image is not None else (t,)
    out = {"X": (N, m, *pix), "A": (N, m, n), "S": (N, n, *pix)}
    return {**out, "noise": (N, m, *pix)} if noise else out


def _mix(A: np.ndarray, S: np.ndarray, snr_db: float, gen: np.random.Generator, dtype: np.dtype,
         image: tuple[int, int] | None) -> dict[str, np.ndarray]:
    """``X = A·S + N`` for a chunk: ``A (c, m, n)``, flat ``S (c, n, t)``; noise at exactly ``snr_db`` per
    sample."""
    Xc = np.matmul(A, S)
    out: dict[str, np.ndarray] = {}
    if np.isposinf(snr_db):
        X = Xc
    else:
        X, noise = add_noise(Xc, snr_db, gen, batched=True)
        out["noise"] = noise
    c, m, n = A.shape
    shape = (c, m) + (image if image is not None else (S.shape[-1],))
    out.update(X=X.reshape(shape), A=A, S=S.reshape((c, n) + shape[2:]))
    if "noise" in out:
        out["noise"] = out["noise"].reshape(shape)
    return {k: v.astype(dtype, copy=False) for k, v in out.items()}


def _np_dtype(dtype: Any) -> np.dtype:
    return np.dtype(np.float64 if resolve_dtype(dtype) == torch.float64 else np.float32)


class _SourceMaker:
    """Draws flat sources ``(c, n, t)`` of one kind (see :func:`simulate_xray`)."""

    def __init__(self, kind: str, n: int, t: int, image: tuple[int, int] | None, *, beta: float,
                 sparsity: float | None, normalize: str | None, reference_maps: Any, randomize: bool,
                 gen: np.random.Generator) -> None:
        self.kind, self.n, self.t, self.image = kind, n, t, image
        self.beta, self.sparsity, self.normalize, self.randomize = beta, sparsity, normalize, randomize
        if sparsity is not None and kind != "ggd":
            raise ValueError(f"sparsity applies to sources='ggd' only; got sparsity={sparsity!r} with "
                             f"sources={kind!r}.")
        if kind == "casa-like" and n not in (3, 4):
            raise ValueError(f"sources='casa-like' makes maps for 4 families (or 3, iron merged); got {n} "
                             "sources.")
        self.fits: list[_src.GGDFit] | None = None
        if kind == "ggd-fit":
            if reference_maps is None:  # Cas A–like references, drawn once for the whole set
                reference_maps = self._casa(np.random.default_rng(gen.integers(0, 2**63 - 1)), 1, (96, 96))[0]
            ref = np.asarray(reference_maps, dtype=np.float64)
            if ref.ndim not in (2, 3) or ref.shape[0] != n:
                raise ValueError(f"reference_maps must be {n} maps (n, H, W) or (n, t), one per source; "
                                 f"got an array of shape {_shape(ref.shape)}.")
            self.fits = [_src.fit_ggd_to_map(r) for r in ref]

    def _casa(self, gen: np.random.Generator, c: int, image: tuple[int, int]) -> np.ndarray:
        M = _src.casa_like_maps(image[0], image[1], gen, n_maps=c, normalize=None)
        if self.n == 3:  # the 75-channel set has one line family: both iron groups
            M = np.concatenate([M[:, :2], M[:, 2:].sum(axis=1, keepdims=True)], axis=1)
        return M

    def __call__(self, c: int, gen: np.random.Generator) -> np.ndarray:
        n, t = self.n, self.t
        if self.kind == "ggd":
            S = _src.ggd_sources(n, t, gen, beta=self.beta, sparsity=self.sparsity, normalize=self.normalize,
                                 n_samples=c)
        elif self.kind == "ggd-fit":
            S = _src.sample_ggd_fit(self.fits, t, gen, n_samples=c, normalize=self.normalize)
        elif self.kind == "natural":
            S = _src.natural_image_sources(n, *self.image, gen, n_samples=c, normalize=self.normalize)
        else:
            S = _src.normalize_rows(self._casa(gen, c, self.image).reshape(c, n, t), self.normalize)
        S = S.reshape(c, n, t)
        return _src.randomize_pixels(S, gen, batched=True) if self.randomize else S


def simulate_xray(
    n_samples: int,
    *,
    pixels: int | None = None,
    image: tuple[int, int] | None = None,
    sources: str = "ggd",
    randomize_pixels: bool = False,
    snr_db: float = 30.0,
    grid: Any = None,
    rng: Any = None,
    beta: float = 0.3,
    sparsity: float | None = None,
    reference_maps: Any = None,
    normalize_sources: str | None = "l2",
    dtype: Any = "float32",
    chunk_size: int = 256,
    progress: bool | None = None,
) -> MixtureSet:
    """Simulate ``n_samples`` X-ray mixtures of the four Cas A families (LPALM paper, Fahes et al. 2022,
    §4–5).

    ``A`` columns are synchrotron, thermal, iron-1, iron-2 spectra from
    :func:`semiblind.data.xray.sample_mixing_matrices` on ``grid`` (default: 65 channels, 0.5–7.5 keV), one
    fresh matrix per sample; ``S`` comes from ``sources``: ``"ggd"``
    (:func:`~semiblind.data.sources.ggd_sources`, shape ``beta``, optional ``sparsity``), ``"ggd-fit"`` (App.
    B: GGDs fitted to ``reference_maps``, by default Cas A–like maps drawn from the seed), ``"natural"`` or
    ``"casa-like"`` (these two need ``image``). Give ``pixels`` (flat ``t``) or ``image=(H, W)``.
    ``randomize_pixels`` permutes every source's pixels independently. Noise: white Gaussian at exactly
    ``snr_db`` per sample (``+inf``: none).

    Returns a :class:`MixtureSet` with X ``(N, m, t)`` or ``(N, m, H, W)``, A ``(N, m, 4)``, S, noise, the
    channel centres in keV and a ``meta`` dict with every setting (and the seed when an int was given).
    """
    return _plan_xray(n_samples, pixels=pixels, image=image, sources=sources,
                      randomize_pixels=randomize_pixels, snr_db=snr_db, grid=grid, rng=rng, beta=beta,
                      sparsity=sparsity, reference_maps=reference_maps, normalize_sources=normalize_sources,
                      dtype=dtype, chunk_size=chunk_size).run(progress)


def _plan_xray(n_samples: int, *, pixels: int | None, image: tuple[int, int] | None, sources: str,
               randomize_pixels: bool, snr_db: float, grid: Any, rng: Any, beta: float,
               sparsity: float | None, reference_maps: Any, normalize_sources: str | None, dtype: Any,
               chunk_size: int) -> _Plan:
    from .xray import FAMILIES, EnergyGrid, sample_mixing_matrices

    N = check_int(n_samples, "n_samples")
    t, img = _check_layout(pixels, image, sources)
    snr = _check_snr(snr_db)
    chunk = check_int(chunk_size, "chunk_size")
    dt = _np_dtype(dtype)
    g = EnergyGrid.default() if grid is None else grid
    if isinstance(g, str):
        g = EnergyGrid.named(g)
    gen = make_rng(rng)
    maker = _SourceMaker(sources, len(FAMILIES), t, img, beta=beta, sparsity=sparsity,
                         normalize=normalize_sources, reference_maps=reference_maps,
                         randomize=bool(randomize_pixels), gen=gen)

    def make_chunk(start: int, c: int, cg: np.random.Generator) -> dict[str, np.ndarray]:
        A = np.asarray(sample_mixing_matrices(c, g, cg), dtype=np.float64)
        return _mix(A, maker(c, cg), snr, cg, dt, img)

    meta = {"simulator": "xray", "families": list(FAMILIES), "sources": sources, "n_samples": N,
            "pixels": t, "image": list(img) if img else None, "randomize_pixels": bool(randomize_pixels),
            "snr_db": snr, "beta": float(beta), "sparsity": sparsity, "normalize_sources": normalize_sources,
            "ggd_fits": [f.to_dict() for f in maker.fits] if maker.fits else None, "grid": g.to_dict(),
            "channel_quantity": "energy", "channel_unit": "keV", "chunk_size": chunk,
            "semiblind_version": __version__, **_seed_meta(rng)}
    return _Plan(n_samples=N, chunk_size=chunk, gen=gen, make_chunk=make_chunk, desc="simulate xray",
                 shapes=_shapes(N, g.m, len(FAMILIES), t, img, not np.isposinf(snr)), dtype=dt,
                 energies=np.asarray(g.centers, dtype=np.float64), meta=lambda: meta, what="simulate_xray")


def simulate_paper_xray(
    n_samples: int | None = None,
    spectra: int = 65,
    *,
    pixels: int | None = None,
    image: tuple[int, int] | None = None,
    sources: str = "ggd",
    randomize_pixels: bool = False,
    snr_db: float = 30.0,
    rng: Any = None,
    subset: Any = None,
    path: Any = None,
    beta: float = 0.3,
    sparsity: float | None = None,
    reference_maps: Any = None,
    normalize_sources: str | None = "l2",
    dtype: Any = "float32",
    chunk_size: int = 256,
    progress: bool | None = None,
) -> MixtureSet:
    """Mixtures built on the papers' own Cas A spectra (:mod:`semiblind.data.casa`) with the sources of
    :func:`simulate_xray`.

    * ``spectra=65`` — the LPALM paper's 900 matrices (:func:`~semiblind.data.casa.paper_mixing_matrices`;
      4 sources). ``subset``: ``None`` (all), ``"train"`` / ``"test"`` (the paper's 750/150 split,
      :func:`~semiblind.data.casa.lpalm_split`) or an index array. ``n_samples=None`` uses every matrix of the
      subset once, in order; otherwise ``n_samples`` matrices are drawn from it uniformly with replacement.
    * ``spectra=75`` — the sGMCA paper's families synchrotron, thermal and line (3 sources, rows of unit l1
      norm); ``subset``: ``None`` (all rows), ``"anchors"``, ``"train"``, ``"valid"`` or ``"test"``; every
      sample takes an independent uniformly drawn row of each family; ``n_samples`` is required. With
      ``sources="casa-like"`` the line map is the sum of the two iron maps.

    The files carry no energy axis, so ``energies`` is ``None``.
    """
    return _plan_paper_xray(n_samples, spectra, pixels=pixels, image=image, sources=sources,
                            randomize_pixels=randomize_pixels, snr_db=snr_db, rng=rng, subset=subset,
                            path=path, beta=beta, sparsity=sparsity, reference_maps=reference_maps,
                            normalize_sources=normalize_sources, dtype=dtype,
                            chunk_size=chunk_size).run(progress)


def _plan_paper_xray(n_samples: int | None, spectra: int, *, pixels: int | None,
                     image: tuple[int, int] | None, sources: str, randomize_pixels: bool, snr_db: float,
                     rng: Any, subset: Any, path: Any, beta: float, sparsity: float | None,
                     reference_maps: Any, normalize_sources: str | None, dtype: Any,
                     chunk_size: int) -> _Plan:
    from . import casa

    if spectra not in (65, 75):
        raise ValueError(f"spectra must be 65 (LPALM set) or 75 (sGMCA set); got {spectra!r}.")
    gen = make_rng(rng)
    if spectra == 65:
        bank = casa.paper_mixing_matrices(path)
        if subset is None:
            idx = np.arange(bank.shape[0])
        elif isinstance(subset, str):
            if subset not in ("train", "test"):
                raise ValueError("subset must be None, 'train', 'test' or an index array for spectra=65; "
                                 f"got {subset!r}.")
            idx = casa.lpalm_split(bank)[0 if subset == "train" else 1]
        else:
            idx = np.asarray(subset)
            if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer) or \
                    idx.min() < 0 or idx.max() >= bank.shape[0]:
                raise ValueError(f"subset must be a 1-D array of indices in [0, {bank.shape[0]}); got "
                                 f"{subset!r}.")
        if n_samples is None:
            pick = idx
        else:
            pick = idx[gen.integers(0, idx.size, size=check_int(n_samples, "n_samples"))]
        A_all = bank[pick]
        families = list(casa.FAMILIES_65)
    else:
        if n_samples is None:
            raise ValueError("n_samples must be given for spectra=75 (each sample draws one row per family); "
                             "got None.")
        N = check_int(n_samples, "n_samples")
        d = casa.load_spectra(75, path)
        splits = casa.SGMCA_SPLITS if subset is None else (subset,)
        if subset is not None and subset not in casa.SGMCA_SPLITS:
            raise ValueError(f"subset must be None or one of {casa.SGMCA_SPLITS} for spectra=75; got "
                             f"{subset!r}.")
        cols = []
        for fam in casa.SGMCA_FAMILIES:  # three families
            rows = np.concatenate([d[f"{fam}_{s}"] for s in splits], axis=0)
            cols.append(rows[gen.integers(0, rows.shape[0], size=N)])
        A_all = np.stack(cols, axis=-1)
        pick = None
        families = list(casa.SGMCA_FAMILIES)
    N = A_all.shape[0]
    t, img = _check_layout(pixels, image, sources)
    snr = _check_snr(snr_db)
    chunk = check_int(chunk_size, "chunk_size")
    dt = _np_dtype(dtype)
    maker = _SourceMaker(sources, A_all.shape[2], t, img, beta=beta, sparsity=sparsity,
                         normalize=normalize_sources, reference_maps=reference_maps,
                         randomize=bool(randomize_pixels), gen=gen)

    def make_chunk(start: int, c: int, cg: np.random.Generator) -> dict[str, np.ndarray]:
        return _mix(A_all[start:start + c], maker(c, cg), snr, cg, dt, img)

    meta = {"simulator": "paper-xray", "spectra": int(spectra), "families": families,
            "subset": subset if (subset is None or isinstance(subset, str)) else [int(i) for i in subset],
            "matrix_indices": None if pick is None else [int(i) for i in pick], "sources": sources,
            "n_samples": N,
            "pixels": t, "image": list(img) if img else None, "randomize_pixels": bool(randomize_pixels),
            "snr_db": snr, "beta": float(beta), "sparsity": sparsity, "normalize_sources": normalize_sources,
            "ggd_fits": [f.to_dict() for f in maker.fits] if maker.fits else None, "chunk_size": chunk,
            "channel_quantity": "channel index (the papers' files carry no energy axis)",
            "semiblind_version": __version__, **_seed_meta(rng)}
    return _Plan(n_samples=N, chunk_size=chunk, gen=gen, make_chunk=make_chunk,
                 desc=f"simulate paper-xray {spectra}",
                 shapes=_shapes(N, A_all.shape[1], A_all.shape[2], t, img, not np.isposinf(snr)), dtype=dt,
                 energies=None, meta=lambda: meta, what="simulate_paper_xray")


def simulate_remote(
    n_samples: int,
    *,
    image: tuple[int, int] = (32, 32),
    n_sources: int = 4,
    snr_db: float = 30.0,
    rng: Any = None,
    classes: Sequence[str] | None = None,
    variability: float = 0.1,
    pure_fraction: float = 0.05,
    smoothness: float = 0.08,
    temperature: float = 0.3,
    dtype: Any = "float32",
    chunk_size: int = 64,
    progress: bool | None = None,
) -> MixtureSet:
    """Simulate ``n_samples`` hyperspectral scenes (:func:`semiblind.data.remote.simulate_scene`): earthlib
    endmembers (one per class of ``classes``) with per-image piecewise-linear variability, smooth sum-to-one
    abundances with a ``pure_fraction`` share of pure pixels, and white noise at exactly ``snr_db`` per scene.

    Returns a :class:`MixtureSet` with X ``(N, 180, H, W)``, A ``(N, 180, n)``, S ``(N, n, H, W)``, the band
    wavelengths (µm) as ``energies`` and the chosen classes and spectrum names in ``meta``.
    """
    return _plan_remote(n_samples, image=image, n_sources=n_sources, snr_db=snr_db, rng=rng,
                        classes=classes, variability=variability, pure_fraction=pure_fraction,
                        smoothness=smoothness, temperature=temperature, dtype=dtype,
                        chunk_size=chunk_size).run(progress)


def _plan_remote(n_samples: int, *, image: tuple[int, int], n_sources: int, snr_db: float, rng: Any,
                 classes: Sequence[str] | None, variability: float, pure_fraction: float, smoothness: float,
                 temperature: float, dtype: Any, chunk_size: int) -> _Plan:
    from . import remote

    N = check_int(n_samples, "n_samples")
    n = check_int(n_sources, "n_sources")
    if image is None:
        raise ValueError("image must be a pair (H, W) of ints for remote-sensing scenes; got None.")
    t, img = _check_layout(None, image, "ggd")  # any size (the ggd rule: H, W >= 1)
    snr = _check_snr(snr_db)
    chunk = check_int(chunk_size, "chunk_size")
    dt = _np_dtype(dtype)
    lib = remote.endmember_library()
    gen = make_rng(rng)
    names: list[list[str]] = []
    cls_used: list[str] = []

    def make_chunk(start: int, c: int, cg: np.random.Generator) -> dict[str, np.ndarray]:
        # one vectorised scene per sample: scenes differ in endmembers, variability and regions
        scenes = [remote.simulate_scene(n, img[0], img[1], cg, classes=classes, variability=variability,
                                        pure_fraction=pure_fraction, smoothness=smoothness,
                                        temperature=temperature)
                  for _ in range(c)]
        names.extend(sc.names for sc in scenes)
        cls_used[:] = scenes[0].classes
        A = np.stack([sc.A for sc in scenes])
        S = np.stack([sc.S.reshape(n, t) for sc in scenes])
        return _mix(A, S, snr, cg, dt, img)

    def meta() -> dict[str, Any]:  # the classes and names are known once the chunks are made
        return {"simulator": "remote", "library": "earthlib spectra.sli", "classes": cls_used,
                "endmember_names": names, "n_samples": N, "image": list(img), "n_sources": n, "snr_db": snr,
                "variability": float(variability), "pure_fraction": float(pure_fraction),
                "smoothness": float(smoothness), "temperature": float(temperature), "chunk_size": chunk,
                "channel_quantity": "wavelength", "channel_unit": "um", "semiblind_version": __version__,
                **_seed_meta(rng)}

    m = int(np.asarray(lib.wavelengths).shape[0])
    return _Plan(n_samples=N, chunk_size=chunk, gen=gen, make_chunk=make_chunk, desc="simulate remote",
                 shapes=_shapes(N, m, n, t, img, not np.isposinf(snr)), dtype=dt, energies=lib.wavelengths,
                 meta=meta, what="simulate_remote")


# ------------------------------------------------------------------------------------------------ streaming


STREAM_SUFFIXES = (".npz", ".h5", ".hdf5")
"""File suffixes :func:`simulate_to_file` writes: an ``.npz`` (the :class:`MixtureSet` layout) or HDF5."""


def import_h5py(what: str) -> Any:
    """The ``h5py`` module, or a ``ValueError`` saying that ``what`` (e.g. "writing 'set.h5'") needs it."""
    try:
        import h5py
    except ImportError:
        raise ValueError(f"{what} needs the optional 'h5py' package (HDF5 files); install it with pip install h5py "
                         "(or pip install 'semiblind[all]'), or use an .npz file.") from None
    return h5py


def simulate_to_file(path: str | Path, simulator: str = "xray", /, *, overwrite: bool = False,
                     progress: bool | None = None, notify: Callable[[dict[str, Any]], None] | None = None,
                     **options: Any) -> Path:
    """Simulate a set with ``simulator`` (``"xray"``, ``"paper-xray"`` or ``"remote"``: the keyword ``options``
    of :func:`simulate_xray`, :func:`simulate_paper_xray` or :func:`simulate_remote`, ``n_samples`` included)
    and write it to ``path`` chunk by chunk, never holding the whole set: memory stays at a few chunks.

    ``path`` and ``simulator`` are positional (``options`` may hold :func:`simulate_paper_xray`'s own ``path``).
    ``path`` ends in ``.npz`` (the :class:`MixtureSet` layout, byte-identical to ``simulate_*(...).save(path)``;
    X is written straight into the archive, A, S and the noise are spooled to a temporary folder beside
    ``path`` and copied in after it, so the disk briefly holds them twice) or ``.h5`` / ``.hdf5`` (datasets
    ``X``, ``A``, ``S``, ``noise``, ``energies`` and a JSON ``meta`` attribute, written in place; needs ``h5py``).
    The arrays equal the in-memory simulator's for the same options and seed. The file is written under a
    temporary name and renamed when complete (:func:`semiblind._files.atomic_path`). Returns ``path``.

    Refused before anything is drawn: a chunk over the memory budget
    (:func:`check_simulation_size` of ``chunk_size`` mixtures) and a file larger than the free disk space.
    ``notify``, when given, is called then with ``{"n_samples", "shapes", "nbytes"}`` (the arrays' shapes and
    total bytes), e.g. to announce the write.
    """
    import inspect
    import shutil

    from .._files import atomic_path, check_output_path

    simulators = {"xray": (simulate_xray, _plan_xray), "paper-xray": (simulate_paper_xray, _plan_paper_xray),
                  "remote": (simulate_remote, _plan_remote)}
    if simulator not in simulators:
        raise ValueError(f"simulator must be one of {', '.join(map(repr, simulators))}; got {simulator!r}.")
    p = Path(path)
    if p.suffix.lower() not in STREAM_SUFFIXES:
        raise ValueError(f"path must end in {', '.join(STREAM_SUFFIXES)}; got {str(p)!r}.")
    h5 = p.suffix.lower() != ".npz"
    h5py = import_h5py(f"writing {str(p)!r}") if h5 else None
    public, planner = simulators[simulator]
    try:
        bound = inspect.signature(public).bind(**options)
    except TypeError as exc:
        raise TypeError(f"options must be keyword arguments of {public.__name__}; {exc}.") from None
    bound.apply_defaults()
    kwargs = dict(bound.arguments)
    kwargs.pop("progress", None)
    check_output_path(p, overwrite=overwrite, argument="path")
    plan = planner(**kwargs)
    X, A = plan.shapes["X"], plan.shapes["A"]
    check_simulation_size(min(plan.chunk_size, plan.n_samples), X[1], A[2], int(np.prod(X[2:])), plan.dtype,
                          noise="noise" in plan.shapes, what=f"{plan.what} to a file", label="chunk_size")
    spooled = plan.nbytes() - int(np.prod(plan.shapes["X"])) * plan.dtype.itemsize
    need = plan.nbytes() + (0 if h5 else spooled)
    free = shutil.disk_usage(p.parent if str(p.parent) else ".").free
    if need > free:
        from .._budget import format_bytes

        raise OSError(f"path {str(p)!r} would need {format_bytes(need)} of disk for {plan.n_samples} mixtures; "
                      f"its folder has {format_bytes(free)} free.")
    if notify is not None:
        notify({"n_samples": plan.n_samples, "shapes": dict(plan.shapes), "nbytes": plan.nbytes()})
    with atomic_path(p, overwrite=overwrite, argument="path") as tmp:
        if h5:
            _write_h5(tmp, plan, progress, h5py)
        else:
            import tempfile

            with tempfile.TemporaryDirectory(prefix=f".{p.name}.", suffix=".spool", dir=tmp.parent) as spool:
                _write_npz(tmp, plan, progress, Path(spool))
    return p


def _checked(key: str, v: np.ndarray, shape: tuple[int, ...], start: int) -> np.ndarray:
    """A chunk of array ``key`` as C-ordered values, refused when not finite or not of the planned shape."""
    if tuple(v.shape[1:]) != tuple(shape[1:]):
        raise ValueError(f"the simulator's chunk of {key} has shape {_shape(v.shape)}; {_shape(shape)} was "
                         "planned (nothing was written).")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{key} must contain only finite values; the chunk starting at mixture {start} does not "
                         "(nothing was written).")
    return np.ascontiguousarray(v)


def _final_meta(plan: _Plan) -> str:
    return json_dumps({**plan.meta(), "single": False}, sort_keys=True)  # as MixtureSet.to_arrays writes it


def _write_h5(tmp: Path, plan: _Plan, progress: bool | None, h5py: Any) -> None:
    with h5py.File(tmp, "w") as f:
        dsets = {k: f.create_dataset(k, shape=s, dtype=plan.dtype) for k, s in plan.shapes.items()}
        for start, out in plan.chunks(progress):
            for k, v in out.items():
                dsets[k][start:start + len(v)] = _checked(k, v, plan.shapes[k], start)
        if plan.energies is not None:
            f.create_dataset("energies", data=np.asarray(plan.energies, dtype=np.float64))
        f.attrs["meta"] = _final_meta(plan)


def _npz_member(zf: Any, name: str) -> Any:
    """An open member ``name.npy`` of ``zf``, framed as :func:`semiblind._npz.write_npz` frames it."""
    import zipfile

    info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return zf.open(info, "w", force_zip64=True)


def _npy_header(fh: Any, shape: tuple[int, ...], dtype: np.dtype) -> None:
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)}
    np.lib.format.write_array_header_1_0(fh, header)


def _write_npz(tmp: Path, plan: _Plan, progress: bool | None, spool: Path) -> None:
    import shutil
    import zipfile

    rest = [k for k in plan.shapes if k != "X"]
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        files = {k: open(spool / f"{k}.raw", "wb") for k in rest}  # closed below
        try:
            with _npz_member(zf, "X") as fx:
                _npy_header(fx, plan.shapes["X"], plan.dtype)
                for start, out in plan.chunks(progress):
                    for k, v in out.items():
                        block = memoryview(_checked(k, v, plan.shapes[k], start)).cast("B")
                        (fx if k == "X" else files[k]).write(block)
        finally:
            for fh in files.values():
                fh.close()
        for k in rest:
            with _npz_member(zf, k) as fh, open(spool / f"{k}.raw", "rb") as src:
                _npy_header(fh, plan.shapes[k], plan.dtype)
                shutil.copyfileobj(src, fh, 1 << 24)
            (spool / f"{k}.raw").unlink()
        small = {} if plan.energies is None else {"energies": np.asarray(plan.energies)}
        small["meta"] = np.asarray(_final_meta(plan))
        for k, arr in small.items():
            with _npz_member(zf, k) as fh:
                np.lib.format.write_array(fh, np.asarray(arr, order="C"), allow_pickle=False)
