"""Source maps ``S (n, t)`` or ``(n, H, W)`` for simulated mixtures.

* :func:`ggd_sources` — i.i.d. generalized Gaussian samples, density ∝ exp(−|x/σ|^β)
  (``scipy.stats.gennorm``), shape β = 0.3 as in the LPALM paper (Fahes, Kervazo, Bobin & Tupin 2022,
  "Unrolling PALM for sparse semi-blind source separation", ICLR, §4.1), optionally with an exact fraction of
  zeros.
* :func:`fit_ggd_to_map` / :func:`ggd_fit_sources` — the LPALM paper's App. B protocol: fit a GGD (mean,
  scale, shape) to the non-zero starlet detail coefficients of a reference map, keep their non-zero fraction
  ``p``, then draw ``t·p`` samples from the fit, pad with ``t·(1−p)`` zeros and shuffle.
* :func:`natural_image_sources` — grey-level crops of the photographs shipped inside scikit-image (the ALMU
  paper, Gkillas et al., used tiny ImageNet; these are an offline stand-in), nonnegative.
* :func:`casa_like_maps` — Cassiopeia A–like morphology for the four X-ray families (synchrotron shell,
  thermal ring, two iron groups), nonnegative, sparse and partially overlapping.
* :func:`randomize_pixels` — an independent random permutation of the pixels of every source (the LPALM paper
  randomises pixels to weaken partial correlations between sources).

Every function takes a seed or a ``numpy.random.Generator``; the same seed gives the same maps.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._backend import make_rng
from .._validation import check_int

__all__ = [
    "GGDFit",
    "casa_like_maps",
    "fit_ggd_to_map",
    "ggd_fit_sources",
    "ggd_sources",
    "natural_image_sources",
    "normalize_rows",
    "randomize_pixels",
    "sample_ggd_fit",
]

_NORMALIZE = (None, "l2", "l1", "max")


# ---------------------------------------------------------------------------------------------------- helpers


def _check_fraction(value: Any, name: str, *, high_open: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
        raise TypeError(f"{name} must be a float in [0, 1); got {value!r}.")
    v = float(value)
    if v < 0 or (v >= 1 if high_open else v > 1):
        raise ValueError(f"{name} must be a float in [0, 1{')' if high_open else ']'}; got {v!r}.")
    return v


def _check_normalize(normalize: Any) -> str | None:
    if normalize not in _NORMALIZE:
        raise ValueError(f"normalize must be one of 'l2', 'l1', 'max' or None; got {normalize!r}.")
    return normalize


def normalize_rows(S: np.ndarray, normalize: str | None = "l2") -> np.ndarray:
    """Scale every source map (all axes after the source axis ``-2`` for ``(..., n, t)``) to unit
    ``normalize`` norm.

    ``S`` is ``(..., n, t)``; ``normalize`` is ``"l2"`` (‖s‖₂ = 1), ``"l1"`` (Σ|s| = 1), ``"max"`` (max|s| =
    1) or ``None`` (unchanged). All-zero rows stay zero.
    """
    _check_normalize(normalize)
    if normalize is None:
        return S
    a = np.abs(S)
    if normalize == "l2":
        norm = np.sqrt(np.sum(S * S, axis=-1, keepdims=True))
    elif normalize == "l1":
        norm = np.sum(a, axis=-1, keepdims=True)
    else:
        norm = np.max(a, axis=-1, keepdims=True)
    return S / np.where(norm > 0, norm, 1.0)


def _shuffle_last(x: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """Independent uniform permutation of the last axis of every row (argsort of i.i.d. uniform keys)."""
    order = np.argsort(gen.random(x.shape), axis=-1, kind="stable")
    return np.take_along_axis(x, order, axis=-1)


# ------------------------------------------------------------------------------------------------------- GGD


def ggd_sources(
    n_sources: int,
    n_pixels: int,
    rng: Any = None,
    *,
    beta: float = 0.3,
    sparsity: float | None = None,
    normalize: str | None = "l2",
    n_samples: int | None = None,
    nonnegative: bool = False,
) -> np.ndarray:
    """Generalized Gaussian sources, the LPALM paper's synthetic sources (Fahes et al. 2022, §4.1, β = 0.3).

    Each entry is drawn from ``scipy.stats.gennorm(beta)`` (density ``β/(2Γ(1/β))·exp(−|x|^β)``). With
    ``sparsity = f``, exactly ``round(f·t)`` entries of every row are set to zero at uniformly random
    positions. Rows are then scaled to unit ``normalize`` norm. ``nonnegative=True`` takes absolute values
    first.

    Returns ``(n_sources, n_pixels)``, or ``(n_samples, n_sources, n_pixels)`` when ``n_samples`` is given.
    """
    from scipy import stats

    n = check_int(n_sources, "n_sources")
    t = check_int(n_pixels, "n_pixels")
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a positive float; got {beta!r}.")
    _check_normalize(normalize)
    gen = make_rng(rng)
    shape = (n, t) if n_samples is None else (check_int(n_samples, "n_samples"), n, t)
    S = stats.gennorm.rvs(float(beta), size=shape, random_state=gen)
    if nonnegative:
        S = np.abs(S)
    if sparsity is not None:
        f = _check_fraction(sparsity, "sparsity")
        k = int(round(f * t))
        if k:
            mask = np.zeros(shape, dtype=bool)
            mask[..., :k] = True
            S[_shuffle_last(mask, gen)] = 0.0
    return normalize_rows(S, normalize)


@dataclass(frozen=True)
class GGDFit:
    """A generalized Gaussian fitted to a map's non-zero starlet detail coefficients (LPALM paper, App. B).

    ``loc`` (mean), ``scale`` and ``beta`` (shape) are the ``scipy.stats.gennorm`` parameters; ``p`` is the
    fraction of non-zero detail coefficients, used as the non-zero fraction of the generated sources.
    """

    loc: float
    scale: float
    beta: float
    p: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def fit_ggd_to_map(map_: Any, n_scales: int = 3, *, max_coefficients: int = 10000,
                   only_scale: int | None = None) -> GGDFit:
    """Fit a GGD to the non-zero starlet detail coefficients of one reference map (LPALM paper, App. B).

    ``map_`` is a 2-D image ``(H, W)`` (2-D starlet) or a 1-D signal ``(t,)`` (1-D starlet); the ``n_scales``
    detail scales ``w_1 … w_J`` of :func:`semiblind.transforms.starlet_forward` are pooled, or only scale
    ``w_j`` with ``only_scale=j`` (``1 ≤ j ≤ n_scales``; for per-scale statistics). Coefficients with
    ``|w| > 1e-10·max|w|`` count as non-zero; ``p`` is their fraction. Mean, scale and shape are
    maximum-likelihood estimates (``scipy.stats.gennorm.fit``) on at most ``max_coefficients`` of them (an
    evenly spaced subset, so the fit is deterministic).
    """
    from scipy import stats

    from ..transforms import starlet_forward

    arr = np.asarray(map_, dtype=np.float64)
    if arr.ndim not in (1, 2) or arr.size == 0:
        raise ValueError("map_ must be a non-empty 1-D signal (t,) or 2-D image (H, W); got shape "
                         f"{arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError("map_ must contain only finite values; got NaN or infinite entries.")
    J = check_int(n_scales, "n_scales")
    details, _ = starlet_forward(arr, J, ndim=arr.ndim)
    details = np.asarray(details, dtype=np.float64)
    if only_scale is not None:
        if isinstance(only_scale, bool) or not isinstance(only_scale, (int, np.integer)) or not 1 <= only_scale <= J:
            raise ValueError(f"only_scale must be an int in [1, n_scales = {J}] or None; got {only_scale!r}.")
        details = details[int(only_scale) - 1]
    w = details.ravel()
    peak = float(np.max(np.abs(w))) if w.size else 0.0
    if peak == 0.0:
        raise ValueError("map_ must have structure: all of its starlet detail coefficients are zero.")
    nz = w[np.abs(w) > 1e-10 * peak]
    p = nz.size / w.size
    if nz.size < 10:
        raise ValueError(f"map_ must have at least 10 non-zero starlet detail coefficients to fit a GGD; "
                         f"got {nz.size}.")
    if nz.size > max_coefficients:
        nz = nz[np.linspace(0, nz.size - 1, max_coefficients).astype(np.int64)]
    beta, loc, scale = stats.gennorm.fit(nz)
    return GGDFit(loc=float(loc), scale=float(scale), beta=float(beta), p=float(p))


def sample_ggd_fit(
    fits: list[GGDFit] | tuple[GGDFit, ...],
    n_pixels: int,
    rng: Any = None,
    *,
    n_samples: int | None = None,
    normalize: str | None = "l2",
) -> np.ndarray:
    """Draw sources from fitted GGDs (LPALM paper, App. B): for source ``i``, ``round(t·p_i)`` GGD samples,
    padded with zeros to ``t`` and shuffled, independently for every row.

    Returns ``(len(fits), n_pixels)`` or ``(n_samples, len(fits), n_pixels)``.
    """
    from scipy import stats

    t = check_int(n_pixels, "n_pixels")
    if len(fits) == 0 or not all(isinstance(f, GGDFit) for f in fits):
        raise TypeError("fits must be a non-empty sequence of GGDFit; got "
                        f"{type(fits).__name__} of length {len(fits)}.")
    gen = make_rng(rng)
    N = 1 if n_samples is None else check_int(n_samples, "n_samples")
    n = len(fits)
    S = np.zeros((N, n, t))
    for i, f in enumerate(fits):  # one draw per source family (a handful), vectorised over samples/pixels
        k = min(t, max(1, int(round(t * f.p))))
        S[:, i, :k] = stats.gennorm.rvs(f.beta, loc=f.loc, scale=f.scale, size=(N, k), random_state=gen)
    S = normalize_rows(_shuffle_last(S, gen), normalize)
    return S[0] if n_samples is None else S


def ggd_fit_sources(
    reference_maps: Any,
    n_pixels: int,
    rng: Any = None,
    *,
    n_samples: int | None = None,
    n_scales: int = 3,
    normalize: str | None = "l2",
) -> np.ndarray:
    """Sources drawn from GGDs fitted to reference maps ``(n, H, W)`` (or ``(n, t)``), LPALM paper App. B.

    Fits :func:`fit_ggd_to_map` to each reference map, then samples with :func:`sample_ggd_fit`.
    Returns ``(n, n_pixels)`` or ``(n_samples, n, n_pixels)``.
    """
    ref = np.asarray(reference_maps, dtype=np.float64)
    if ref.ndim not in (2, 3):
        raise ValueError("reference_maps must be (n, H, W) images or (n, t) signals; got an array of shape "
                         f"{ref.shape}.")
    fits = [fit_ggd_to_map(r, n_scales) for r in ref]
    return sample_ggd_fit(fits, n_pixels, rng, n_samples=n_samples, normalize=normalize)


# ------------------------------------------------------------------------------------------- natural images

# Images inside the scikit-image wheel that load offline (no pooch download).
NATURAL_IMAGES = ("camera", "astronaut", "coins", "moon", "text", "brick", "grass", "gravel", "chelsea",
                  "coffee", "rocket", "page", "cell", "hubble_deep_field", "immunohistochemistry")
_BANK_SIZE = 256


@functools.lru_cache(maxsize=2)
def _image_bank(size: int = _BANK_SIZE) -> np.ndarray:
    """The shipped images as grey levels in [0, 1], centre-cropped to squares and resized to ``size ×
    size``."""
    try:
        from skimage import color, data, transform
    except ImportError:
        raise ValueError("sources='natural' needs scikit-image; install semiblind[images] "
                         "(pip install 'semiblind[images]').") from None
    bank = []
    for name in NATURAL_IMAGES:
        try:
            img = np.asarray(getattr(data, name)())
        except Exception:  # an image missing from this scikit-image build is simply skipped
            continue
        img = img.astype(np.float64)
        if img.ndim == 3:
            img = color.rgb2gray(img[..., :3] / 255.0)
        else:
            img = img / (255.0 if img.max() > 1 else 1.0)
        h, w = img.shape
        s = min(h, w)
        img = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        bank.append(transform.resize(img, (size, size), anti_aliasing=True, preserve_range=True))
    if not bank:
        raise ValueError("sources='natural' found no usable image in skimage.data; reinstall scikit-image.")
    return np.clip(np.stack(bank), 0.0, 1.0)


def natural_image_sources(
    n_sources: int,
    H: int,
    W: int,
    rng: Any = None,
    *,
    n_samples: int | None = None,
    min_crop: float = 0.25,
    normalize: str | None = "l2",
) -> np.ndarray:
    """Grey-level natural-image sources ``(n, H, W)`` (or ``(n_samples, n, H, W)``), nonnegative.

    Stand-in for the ALMU paper's tiny-ImageNet sources, built offline from :data:`NATURAL_IMAGES`. Each
    source is a distinct image (while there are enough), from which a random square crop of side ``c·256``
    with ``c ~ U(min_crop, 1)`` at a random position, randomly flipped, is resampled bilinearly to ``H × W``
    (all crops at once with ``torch.nn.functional.grid_sample``). Rows are then scaled to unit ``normalize``
    norm.
    """
    import torch
    import torch.nn.functional as F

    n = check_int(n_sources, "n_sources")
    H = check_int(H, "H")
    W = check_int(W, "W")
    c_min = _check_fraction(min_crop, "min_crop", high_open=False)
    if c_min == 0:
        raise ValueError("min_crop must be a float in (0, 1]; got 0.")
    _check_normalize(normalize)
    gen = make_rng(rng)
    bank = _image_bank()
    k = bank.shape[0]
    N = 1 if n_samples is None else check_int(n_samples, "n_samples")
    keys = gen.random((N, k))
    order = np.argsort(keys, axis=1)
    idx = order[:, np.arange(n) % k]  # distinct images per sample while n <= k
    scale = gen.uniform(c_min, 1.0, size=(N, n))
    cx = gen.uniform(-1.0, 1.0, size=(N, n)) * (1.0 - scale)
    cy = gen.uniform(-1.0, 1.0, size=(N, n)) * (1.0 - scale)
    flip = np.where(gen.random((N, n, 2)) < 0.5, -1.0, 1.0)
    theta = np.zeros((N * n, 2, 3))
    theta[:, 0, 0] = (scale * flip[..., 0]).ravel()
    theta[:, 1, 1] = (scale * flip[..., 1]).ravel()
    theta[:, 0, 2] = cx.ravel()
    theta[:, 1, 2] = cy.ravel()
    imgs = torch.as_tensor(bank[idx.ravel()][:, None])
    grid = F.affine_grid(torch.as_tensor(theta), [N * n, 1, H, W], align_corners=False)
    out = F.grid_sample(imgs, grid, mode="bilinear", padding_mode="border", align_corners=False)
    S = out[:, 0].numpy().reshape(N, n, H * W).clip(min=0.0)
    S = normalize_rows(S, normalize).reshape(N, n, H, W)
    return S[0] if n_samples is None else S


# ------------------------------------------------------------------------------------------- Cas A morphology


def _azimuthal(theta: np.ndarray, gen: np.random.Generator, B: int, n_modes: int, decay: float) -> np.ndarray:
    """Random azimuthal modulation Σ_k a_k cos(kθ + φ_k), a_k ~ N(0, k^(−decay)), for ``B`` maps: ``(B, H,
    W)``."""
    k = np.arange(1, n_modes + 1, dtype=np.float64)
    a = gen.standard_normal((B, n_modes)) * k ** (-decay)
    phi = gen.uniform(0, 2 * np.pi, size=(B, n_modes))
    # theta (B, H, W) -> (B, K, H, W)
    waves = np.cos(k[None, :, None, None] * theta[:, None] + phi[:, :, None, None])
    return np.einsum("bk,bkhw->bhw", a, waves)


def _smooth_field(gen: np.random.Generator, B: int, H: int, W: int, sigma: float) -> np.ndarray:
    """Unit-variance Gaussian random fields ``(B, H, W)`` smoothed with a Gaussian of ``sigma`` pixels."""
    from scipy import ndimage

    z = ndimage.gaussian_filter(gen.standard_normal((B, H, W)), sigma=(0, sigma, sigma), mode="wrap")
    return z / z.std(axis=(1, 2), keepdims=True)


def _soft_cut(x: np.ndarray, level: np.ndarray) -> np.ndarray:
    """``max(x − level·max(x), 0)`` per map: exact zeros below the cut, continuity above it."""
    peak = x.max(axis=(-2, -1), keepdims=True)
    return np.maximum(x - level * peak, 0.0)


def casa_like_maps(
    H: int,
    W: int,
    rng: Any = None,
    *,
    n_maps: int | None = None,
    normalize: str | None = "max",
) -> np.ndarray:
    """Cassiopeia A–like maps of the four X-ray families, ``(4, H, W)`` (or ``(n_maps, 4, H, W)``), in the
    order synchrotron, thermal, iron-1, iron-2.

    A morphological caricature of Chandra images of Cas A (e.g. Picquenot et al. 2019, A&A 627, A139, Fig. 1):

    * **synchrotron**: a thin bright shell ``exp(−(r − ρ(θ))²/2w²)`` at the forward shock, ``w`` = 2.5–5 % of
      the radius, whose radius ``ρ(θ)`` and brightness are modulated azimuthally by random low-order Fourier
      series, plus 6–12 thin straight filaments near the rim (Gaussian profile in the distance to a segment);
    * **thermal**: a wide ring at 0.5–0.75 of the shell radius multiplied by a log-normal clump field
      (exponential of a smoothed Gaussian random field);
    * **iron-1 / iron-2**: two groups of 4–9 Gaussian clumps on opposite sides of the remnant (receding and
      approaching ejecta), inside the shell, overlapping the thermal ring.

    Each map is soft-cut (``max(x − c·max x, 0)``) so that it is nonnegative with exact zeros; typical
    non-zero fractions (96 × 96, 5th–95th percentiles) are ≈ 10–20 % (synchrotron), 20–75 % (thermal) and 6–17
    % (each iron map). Everything is vectorised over maps and pixels; the seed controls all of it.
    ``normalize`` scales each map (default: peak 1).
    """
    H = check_int(H, "H", 8)
    W = check_int(W, "W", 8)
    _check_normalize(normalize)
    gen = make_rng(rng)
    B = 1 if n_maps is None else check_int(n_maps, "n_maps")
    size = float(min(H, W))

    # geometry: centre, shell radius (pixels), polar coordinates normalised by the radius
    R = gen.uniform(0.36, 0.45, size=B) * size
    c0 = np.stack([gen.uniform(-0.04, 0.04, size=B) * size + (H - 1) / 2,
                   gen.uniform(-0.04, 0.04, size=B) * size + (W - 1) / 2], axis=1)
    yy, xx = np.meshgrid(np.arange(H, dtype=np.float64), np.arange(W, dtype=np.float64), indexing="ij")
    dy = yy[None] - c0[:, 0, None, None]
    dx = xx[None] - c0[:, 1, None, None]
    r = np.hypot(dy, dx) / R[:, None, None]
    theta = np.arctan2(dy, dx)

    # synchrotron: modulated thin shell + filaments
    rho = 1.0 + 0.035 * _azimuthal(theta, gen, B, 5, 1.0)
    w = gen.uniform(0.025, 0.05, size=B)[:, None, None]
    bright = np.clip(1.0 + 0.45 * _azimuthal(theta, gen, B, 6, 0.7), 0.15, None)
    sync = np.exp(-0.5 * ((r - rho) / w) ** 2) * bright
    n_fil = 12
    use = np.arange(n_fil)[None, :] < gen.integers(6, n_fil + 1, size=B)[:, None]  # (B, F)
    ang = gen.uniform(0, 2 * np.pi, size=(B, n_fil))
    rad = gen.uniform(0.75, 1.0, size=(B, n_fil)) * R[:, None]
    ori = ang + np.pi / 2 + gen.normal(0, 0.6, size=(B, n_fil))  # mostly tangential wisps
    half = gen.uniform(0.08, 0.25, size=(B, n_fil)) * R[:, None]
    px = c0[:, 1, None] + rad * np.cos(ang)
    py = c0[:, 0, None] + rad * np.sin(ang)
    ux, uy = np.cos(ori), np.sin(ori)
    ex = xx[None, None] - px[..., None, None]
    ey = yy[None, None] - py[..., None, None]
    along = np.clip(ex * ux[..., None, None] + ey * uy[..., None, None], -half[..., None, None],
                    half[..., None, None])
    d2 = (ex - along * ux[..., None, None]) ** 2 + (ey - along * uy[..., None, None]) ** 2
    fw = np.maximum(0.7, 0.006 * size)
    amp = gen.uniform(0.4, 1.0, size=(B, n_fil)) * use
    sync = sync + np.einsum("bf,bfhw->bhw", amp, np.exp(-0.5 * d2 / fw**2))
    sync = _soft_cut(sync, gen.uniform(0.08, 0.14, size=(B, 1, 1)))

    # thermal: clumpy ring inside the shell
    rho_t = gen.uniform(0.5, 0.75, size=B)[:, None, None] * (1.0 + 0.05 * _azimuthal(theta, gen, B, 4, 1.0))
    w_t = gen.uniform(0.18, 0.34, size=B)[:, None, None]
    contrast = gen.uniform(0.8, 1.2, size=(B, 1, 1))
    clumps = np.exp(contrast * _smooth_field(gen, B, H, W, max(1.0, 0.03 * size)))
    ring = np.exp(-0.5 * ((r - rho_t) / w_t) ** 2)
    therm = _soft_cut(ring * clumps, gen.uniform(0.005, 0.04, size=(B, 1, 1)))

    # iron: two groups of clumps on opposite sides
    n_cl = 9
    phi0 = gen.uniform(0, 2 * np.pi, size=B)
    irons = []
    for side in (0.0, np.pi):  # the two groups (a fixed count of two, not a loop over data)
        used = np.arange(n_cl)[None, :] < gen.integers(4, n_cl + 1, size=B)[:, None]
        a = (phi0 + side)[:, None] + gen.normal(0, 0.45, size=(B, n_cl))
        rr = gen.uniform(0.45, 0.9, size=(B, n_cl)) * R[:, None]
        cx = c0[:, 1, None] + rr * np.cos(a)
        cy = c0[:, 0, None] + rr * np.sin(a)
        sg = gen.uniform(0.07, 0.14, size=(B, n_cl)) * R[:, None]
        g2 = ((xx[None, None] - cx[..., None, None]) ** 2 + (yy[None, None] - cy[..., None, None]) ** 2)
        amp = gen.uniform(0.3, 1.0, size=(B, n_cl)) * used
        blob = np.einsum("bc,bchw->bhw", amp, np.exp(-0.5 * g2 / sg[..., None, None] ** 2))
        irons.append(_soft_cut(blob, gen.uniform(0.02, 0.06, size=(B, 1, 1))))

    S = np.stack([sync, therm, irons[0], irons[1]], axis=1)  # (B, 4, H, W)
    S = normalize_rows(S.reshape(B, 4, H * W), normalize).reshape(B, 4, H, W)
    return S[0] if n_maps is None else S


# ------------------------------------------------------------------------------------------- pixel shuffling


def randomize_pixels(S: Any, rng: Any = None, *, batched: bool | None = None) -> np.ndarray:
    """Apply an independent uniform random permutation to the pixels of every source (LPALM paper, §4.1).

    ``S`` is one set of maps ``(n, t)`` or ``(n, H, W)``, or a batch ``(N, n, t)`` / ``(N, n, H, W)``.
    ``batched`` says whether axis 0 indexes samples; ``None`` (as in :func:`semiblind.mixing.add_noise`): 2-D
    is one set, 3-D and 4-D are batches, so a single ``(n, H, W)`` needs ``batched=False``. The shape is kept;
    each map's histogram is unchanged, its spatial structure (and its correlation with the other maps) is
    destroyed.
    """
    arr = np.asarray(S)
    if arr.ndim < 2 or arr.ndim > 4:
        raise ValueError(f"S must be (n, t), (n, H, W), (N, n, t) or (N, n, H, W); got shape {arr.shape}.")
    is_batch = arr.ndim > 2 if batched is None else bool(batched)
    lead = 2 if is_batch else 1
    if arr.ndim - lead not in (1, 2):
        raise ValueError(f"S with batched={batched!r} must have 1 or 2 pixel axes; got shape {arr.shape}.")
    gen = make_rng(rng)
    flat = arr.reshape(arr.shape[:lead] + (-1,))
    return _shuffle_last(flat, gen).reshape(arr.shape)
