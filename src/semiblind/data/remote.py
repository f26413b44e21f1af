"""Simulated hyperspectral remote-sensing scenes built from a measured spectral library.

Endmembers come from the library shipped in the ``earthlib`` wheel (MIT licence; 7,261 reflectance spectra of
soils, vegetation canopies, non-photosynthetic vegetation, burned surfaces and urban materials, 180 bands
between 0.40 and 2.45 µm with the water-absorption windows removed; ENVI spectral library ``spectra.sli`` with
the class table ``spectra.csv``). The ENVI file is read directly with NumPy (float32 little-endian, one
spectrum per line), so only the data files of ``earthlib`` are needed, not its Earth Engine code.

The scene model is the linear mixing model of hyperspectral unmixing (Bioucas-Dias et al. 2012, IEEE JSTARS
5(2), eq. 1), ``X = A·S`` with ``A (m, n)`` endmember reflectances and abundances ``S (n, H, W)`` that are
nonnegative and sum to one in every pixel:

* **spectral variability** — each endmember is multiplied, per image, by a piecewise-linear function of
  wavelength ``1 + v·u(λ)`` through ``n_knots`` random knots with ``|u| ≤ 1`` (``v`` = ``variability``), in
  the spirit of the scaling models of spectral variability (e.g. Drumetz et al. 2016, IEEE TIP 25(8), extended
  LMM);
* **abundances** — a softmax over sources of Gaussian-smoothed random fields divided by a temperature (low
  temperature → large homogeneous regions), then the ``pure_fraction`` share of pixels with the most dominant
  source is made exactly pure (one-hot), so pure pixels form spatially coherent patches.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._backend import make_rng
from .._validation import check_int

__all__ = [
    "CLASSES",
    "Scene",
    "endmember_library",
    "select_endmembers",
    "simulate_scene",
    "smooth_abundances",
    "spectral_variability",
]

_INSTALL = "install semiblind[remote] (pip install 'semiblind[remote]')"

# User-facing class names → predicates on the library's (LEVEL_2, LEVEL_3) labels.
CLASSES: dict[str, tuple[tuple[str, ...], tuple[str, ...] | None]] = {
    "soil": (("bare",), ("soil", "dirt")),
    "sand": (("bare",), ("sand",)),
    "gravel": (("bare", "built"), ("gravel",)),
    "vegetation": (("vegetation",), None),
    "npv": (("npv",), None),  # non-photosynthetic vegetation: bark, litter, wood
    "burned": (("burned",), None),
    "urban": (("built",), None),
    "road": (("built",), ("asphalt", "road", "parking_lot", "driveway", "sidewalk")),
    "roof": (("built",), ("comp_shingle", "concrete_tile", "tile", "wood_shingle", "metal")),
}
_DEFAULT_ORDER = ("vegetation", "soil", "urban", "npv", "burned", "sand", "road", "roof", "gravel")


@dataclass(frozen=True)
class Library:
    """The spectral library: ``spectra (k, m)`` reflectances, ``wavelengths (m,)`` in µm, per-spectrum labels
    and ``usable`` (finite, nonnegative, peak reflectance above 0.02)."""

    spectra: np.ndarray
    wavelengths: np.ndarray
    names: np.ndarray
    level2: np.ndarray
    level3: np.ndarray
    usable: np.ndarray
    path: str

    def indices(self, cls: str) -> np.ndarray:
        """Indices of the usable spectra of class ``cls`` (a key of :data:`CLASSES`)."""
        if cls not in CLASSES:
            raise ValueError(f"classes must name classes among {', '.join(sorted(CLASSES))}; got {cls!r}.")
        l2, l3 = CLASSES[cls]
        ok = self.usable & np.isin(self.level2, l2)
        if l3 is not None:
            ok &= np.isin(self.level3, l3)
        return np.flatnonzero(ok)


def _earthlib_dir() -> Path:
    spec = importlib.util.find_spec("earthlib")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"Remote-sensing scenes need the earthlib spectral library; {_INSTALL}.")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _read_envi_header(path: Path) -> dict[str, str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.lstrip().startswith("ENVI"):
        raise ValueError(f"{path} must be an ENVI header starting with 'ENVI'; got another file.")
    out: dict[str, str] = {}
    key, buf = None, ""
    for line in text.splitlines()[1:]:
        if key is not None:  # continuation of a {...} value
            buf += " " + line.strip()
            if "}" in line:
                out[key] = buf
                key = None
            continue
        if "=" not in line:
            continue
        k, v = line.split("=", 1)
        k, v = k.strip().lower(), v.strip()
        if v.startswith("{") and "}" not in v:
            key, buf = k, v
        else:
            out[k] = v
    return out


def _braced_list(value: str) -> list[str]:
    return [s.strip() for s in value.strip().lstrip("{").rstrip("}").split(",")]


@functools.lru_cache(maxsize=2)
def endmember_library(path: str | None = None) -> Library:
    """Load the ENVI spectral library (default: earthlib's ``spectra.sli`` + ``spectra.csv``).

    ``path`` may name another ``.sli`` with its ``.sli.hdr`` header and a ``.csv`` class table with the
    columns ``LEVEL_2`` and ``LEVEL_3`` (one row per spectrum, in library order).
    """
    sli = Path(path) if path is not None else _earthlib_dir() / "spectra.sli"
    hdr = sli.with_name(sli.name + ".hdr")
    table = sli.with_suffix(".csv")
    for p in (sli, hdr, table):
        if not p.is_file():
            raise ValueError(f"The spectral library file {str(p)!r} is missing; {_INSTALL}.")
    h = _read_envi_header(hdr)
    samples, lines = int(h["samples"]), int(h["lines"])
    dtypes = {"4": "f4", "5": "f8", "2": "i2", "12": "u2"}
    if h.get("data type") not in dtypes:
        raise ValueError(f"{hdr} must declare an ENVI data type in {sorted(dtypes)}; got "
                         f"{h.get('data type')!r}.")
    order = ">" if h.get("byte order", "0").strip() == "1" else "<"
    raw = np.fromfile(sli, dtype=np.dtype(order + dtypes[h["data type"]]),
                      offset=int(h.get("header offset", "0")))
    if raw.size != samples * lines:
        raise ValueError(f"{sli} must hold {lines} × {samples} values as its header says; got {raw.size}.")
    factor = float(h.get("reflectance scale factor", "1") or 1)
    spectra = raw.reshape(lines, samples).astype(np.float64) * factor
    wl = np.asarray([float(v) for v in _braced_list(h["wavelength"])])
    if wl.size != samples:
        raise ValueError(f"{hdr} must list {samples} wavelengths; got {wl.size}.")
    if wl.max() > 100:  # nanometres → micrometres
        wl = wl / 1000.0
    with table.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if len(rows) != lines:
        raise ValueError(f"{table} must have one row per spectrum ({lines}); got {len(rows)}.")
    # usable spectra: finite, nonnegative, with some reflectance (no empty or dark rows)
    finite = np.all(np.isfinite(spectra), axis=1)
    usable = finite & (np.where(finite[:, None], spectra, 0).min(axis=1) >= 0)
    usable &= np.where(finite[:, None], spectra, 0).max(axis=1) > 0.02
    return Library(
        spectra=spectra,
        usable=usable,
        wavelengths=wl,
        names=np.asarray([r.get("NAME", "") for r in rows]),
        level2=np.asarray([r.get("LEVEL_2", "") for r in rows]),
        level3=np.asarray([r.get("LEVEL_3", "") for r in rows]),
        path=str(sli),
    )


def _check_unit(value: Any, name: str, *, closed_high: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
        raise TypeError(f"{name} must be a float in [0, 1]; got {value!r}.")
    v = float(value)
    if v < 0 or v > 1 or (v == 1 and not closed_high):
        raise ValueError(f"{name} must be a float in [0, 1{']' if closed_high else ')'}; got {v!r}.")
    return v


def select_endmembers(
    n_sources: int, rng: Any = None, *, classes: list[str] | tuple[str, ...] | None = None,
    library: Library | None = None,
) -> tuple[np.ndarray, list[str], list[str]]:
    """Pick ``n_sources`` distinct library spectra, one per class in ``classes`` (cycled when shorter).

    ``classes=None`` uses vegetation, soil, urban, npv, burned, sand, road, roof, gravel in that order.
    Returns ``(A (m, n), class names, spectrum names)``.
    """
    n = check_int(n_sources, "n_sources")
    lib = library if library is not None else endmember_library()
    gen = make_rng(rng)
    if classes is None:
        cls = [_DEFAULT_ORDER[i % len(_DEFAULT_ORDER)] for i in range(n)]
    else:
        if isinstance(classes, str) or len(classes) == 0:
            raise ValueError(f"classes must be a non-empty list of class names; got {classes!r}.")
        cls = [classes[i % len(classes)] for i in range(n)]
    chosen: list[int] = []
    for c in cls:  # n_sources draws (a handful), not a data loop
        pool = np.setdiff1d(lib.indices(c), chosen)
        if pool.size == 0:
            raise ValueError(f"classes asks for more {c!r} spectra than the library holds; got "
                             f"{cls.count(c)}.")
        chosen.append(int(gen.choice(pool)))
    idx = np.asarray(chosen)
    return lib.spectra[idx].T.copy(), cls, [str(s) for s in lib.names[idx]]


def spectral_variability(
    A: np.ndarray, wavelengths: np.ndarray, rng: Any = None, *, amplitude: float = 0.1, n_knots: int = 4
) -> np.ndarray:
    """Scale every column of ``A (m, n)`` by its own piecewise-linear function of wavelength.

    The function passes through ``n_knots`` knots: both ends of the wavelength range plus ``n_knots − 2``
    uniform random interior positions, with values ``1 + amplitude·u``, ``u ~ U(−1, 1)``; between knots it is
    linear, so the scaling lies in ``[1 − amplitude, 1 + amplitude]`` (a bounded, smooth, per-image
    distortion). The result is clipped at 0. Vectorised over columns and bands.
    """
    amp = _check_unit(amplitude, "variability")
    K = check_int(n_knots, "n_knots", 2)
    gen = make_rng(rng)
    A = np.asarray(A, dtype=np.float64)
    m, n = A.shape
    lam = np.asarray(wavelengths, dtype=np.float64)
    lo, hi = float(lam.min()), float(lam.max())
    inner = np.sort(gen.uniform(lo, hi, size=(n, K - 2)), axis=1)
    knots = np.concatenate([np.full((n, 1), lo), inner, np.full((n, 1), hi)], axis=1)  # (n, K)
    vals = 1.0 + amp * gen.uniform(-1.0, 1.0, size=(n, K))
    seg = np.clip((lam[None, :, None] >= knots[:, None, 1:-1]).sum(-1), 0, K - 2)  # (n, m) segment index
    k0 = np.take_along_axis(knots, seg, axis=1)
    k1 = np.take_along_axis(knots, seg + 1, axis=1)
    v0 = np.take_along_axis(vals, seg, axis=1)
    v1 = np.take_along_axis(vals, seg + 1, axis=1)
    frac = np.clip((lam[None, :] - k0) / np.where(k1 > k0, k1 - k0, 1.0), 0.0, 1.0)
    scale = v0 + frac * (v1 - v0)  # (n, m)
    return np.clip(A * scale.T, 0.0, None)


def smooth_abundances(
    n_sources: int, H: int, W: int, rng: Any = None, *, smoothness: float = 0.08, temperature: float = 0.3,
    pure_fraction: float = 0.05,
) -> np.ndarray:
    """Abundance maps ``(n, H, W)``: nonnegative, summing to one in every pixel, spatially smooth.

    ``S_k = softmax_k(Z_k / τ)`` with ``Z_k`` unit-variance Gaussian random fields smoothed by a Gaussian of
    width ``smoothness·min(H, W)`` pixels and ``τ`` = ``temperature``. The ``round(pure_fraction·H·W)`` pixels
    with the largest maximal abundance are then set to the one-hot vector of their dominant source (pure
    pixels).
    """
    from scipy import ndimage

    n = check_int(n_sources, "n_sources")
    H = check_int(H, "H")
    W = check_int(W, "W")
    pf = _check_unit(pure_fraction, "pure_fraction")
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature > 0:
        raise ValueError(f"temperature must be a positive float; got {temperature!r}.")
    if isinstance(smoothness, bool) or not isinstance(smoothness, numbers.Real) or not smoothness >= 0:
        raise ValueError(f"smoothness must be a nonnegative float; got {smoothness!r}.")
    gen = make_rng(rng)
    sigma = float(smoothness) * min(H, W)
    Z = gen.standard_normal((n, H, W))
    if sigma > 0:
        Z = ndimage.gaussian_filter(Z, sigma=(0, sigma, sigma), mode="reflect")
    Z = (Z - Z.mean(axis=(1, 2), keepdims=True)) / np.maximum(Z.std(axis=(1, 2), keepdims=True), 1e-12)
    logits = Z / float(temperature)
    logits -= logits.max(axis=0, keepdims=True)
    E = np.exp(logits)
    S = (E / E.sum(axis=0, keepdims=True)).reshape(n, H * W)
    k = int(round(pf * H * W))
    if k and n > 1:
        top = np.argsort(-S.max(axis=0), kind="stable")[:k]
        onehot = np.zeros((n, k))
        onehot[S[:, top].argmax(axis=0), np.arange(k)] = 1.0
        S[:, top] = onehot
    elif n == 1:
        S[:] = 1.0
    return S.reshape(n, H, W)


@dataclass
class Scene:
    """One simulated scene: ``X (m, H, W) = A (m, n) · S (n, H, W)``, noiseless, with its provenance."""

    X: np.ndarray
    A: np.ndarray
    S: np.ndarray
    wavelengths: np.ndarray
    classes: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


def simulate_scene(
    n_sources: int,
    H: int,
    W: int,
    rng: Any = None,
    *,
    classes: list[str] | tuple[str, ...] | None = None,
    variability: float = 0.1,
    pure_fraction: float = 0.05,
    smoothness: float = 0.08,
    temperature: float = 0.3,
    n_knots: int = 4,
) -> Scene:
    """Simulate one noiseless hyperspectral scene (linear mixing model, Bioucas-Dias et al. 2012, eq. 1).

    Endmembers: :func:`select_endmembers` (one library spectrum per class), distorted by
    :func:`spectral_variability` with amplitude ``variability``. Abundances: :func:`smooth_abundances`.
    Returns a :class:`Scene` with ``X (180, H, W)``, ``A (180, n)``, ``S (n, H, W)`` and the wavelengths in
    µm.
    """
    lib = endmember_library()
    gen = make_rng(rng)
    A0, cls, names = select_endmembers(n_sources, gen, classes=classes, library=lib)
    A = spectral_variability(A0, lib.wavelengths, gen, amplitude=variability, n_knots=n_knots)
    S = smooth_abundances(A.shape[1], H, W, gen, smoothness=smoothness, temperature=temperature,
                          pure_fraction=pure_fraction)
    X = (A @ S.reshape(S.shape[0], -1)).reshape(A.shape[0], H, W)
    return Scene(X=X, A=A, S=S, wavelengths=lib.wavelengths.copy(), classes=cls, names=names)
