"""The LPALM paper's realistic protocol (Fahes, Kervazo, Bobin & Tupin, ICLR 2022, §3.2, App. A–B) on Cas A-like
maps: the GGD-fitted training set, the starlet-detail test set (with or without pixel randomisation) and the
direct-domain test cubes.

Shapes: X ``(N, m, t)`` or ``(N, m, H, W)``, A ``(N, m, n)``, S ``(N, n, t)`` / ``(N, n, H, W)`` (channels first).

* **Reference maps** (:func:`reference_maps`): Cas A-like maps (:func:`semiblind.data.sources.casa_like_maps`)
  drawn from a seed stream that the test maps never use (``SeedSequence([seed, 0])`` for references,
  ``[seed, 1]`` for test maps), so the GGD statistics are fitted on maps never used for testing.
* **Training set** (App. B, :func:`ggd_fits`, :func:`training_set`): per source, a generalised Gaussian (mean,
  scale, shape) fitted to the non-zero starlet detail coefficients of its reference map, and the fraction ``p``
  of non-zero coefficients (:func:`semiblind.data.sources.fit_ggd_to_map`) — or a bank of such fits, one per
  reference image, each mixture drawing its sources from one image's fits; each training source row holds
  ``round(t·p)`` GGD draws and ``(1 − p)·t`` zeros, shuffled (:func:`semiblind.data.sources.sample_ggd_fit`);
  rows of unit l2 norm; ``X = A S + N`` at 30 dB (:func:`semiblind.mixing.add_noise`). Default ``t = 3000``.
* **Test set** (§3.2, :func:`detail_test_set`): Cas A-like maps in the first starlet detail domain
  (:func:`semiblind.transforms.starlet_forward`, 2-D), pixels randomised independently per source
  (:func:`semiblind.data.sources.randomize_pixels`; ``randomize=False`` keeps them, App. D.3), rows of unit l2
  norm, 30 dB. The same call also returns the direct-domain cubes of the same maps and matrices
  (:func:`direct_test_set`), which the nonnegative methods (MNNBU, SNMF-net, DNMF) need.
* **Mixing matrices** (:func:`mixing_matrices`): the paper's 750 / 150 split of the 65-channel Cas A spectra
  from ``../shared/data/xray`` (:func:`semiblind.data.casa.paper_mixing_matrices`, :func:`~semiblind.data.casa.
  lpalm_split`), or, when that folder is absent (or ``source="simulator"``), matrices of the project's simulator
  on the default 65-channel grid (:func:`semiblind.data.xray.sample_mixing_matrices`).
* **Cube training set** (:func:`cube_training_set`, not the paper's): the starlet detail coefficients of whole
  simulated Cas A-like cubes, sub-sampled — the training data of the shipped wavelet-mode image model, whose
  sources keep the spatial overlaps (partial correlations, App. D.3) that App. B's independent draws lack.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import make_rng
from ..mixing import add_noise
from ..transforms import starlet_forward
from . import sources as _src
from .mixtures import MixtureSet, simulate_xray

__all__ = [
    "TRAIN_PIXELS",
    "cube_training_set",
    "detail_test_set",
    "direct_test_set",
    "ggd_fits",
    "mixing_matrices",
    "reference_maps",
    "training_set",
]

TRAIN_PIXELS = 3000
"""t of the App. B training sources."""

SNR_DB = 30.0


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Disjoint generators for the reference maps and the test maps of one seed."""
    ss = np.random.SeedSequence(int(seed))
    ref, test = ss.spawn(2)
    return np.random.default_rng(ref), np.random.default_rng(test)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0; got {seed!r}.")
    return int(seed)


def _check_image(image: Any) -> tuple[int, int]:
    if (not isinstance(image, (tuple, list)) or len(image) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 8 for v in image)):
        raise ValueError(f"image must be a pair (H, W) of ints >= 8; got {image!r}.")
    return int(image[0]), int(image[1])


def reference_maps(seed: int = 0, image: tuple[int, int] = (128, 128), n_images: int | None = None) -> np.ndarray:
    """The Cas A-like reference maps ``(4, H, W)`` (synchrotron, thermal, iron-1, iron-2) that the GGDs are
    fitted to, or ``(n_images, 4, H, W)`` for ``n_images`` independent reference images; drawn from the
    reference stream of ``seed``, never from the stream of the test maps."""
    gen, _ = _streams(_check_seed(seed))
    H, W = _check_image(image)
    if n_images is None:
        return _src.casa_like_maps(H, W, gen, normalize="max")
    if isinstance(n_images, bool) or not isinstance(n_images, (int, np.integer)) or n_images < 1:
        raise ValueError(f"n_images must be a positive int or None; got {n_images!r}.")
    return _src.casa_like_maps(H, W, gen, n_maps=int(n_images), normalize="max")


def ggd_fits(maps: Any, n_scales: int = 1) -> list[_src.GGDFit] | list[list[_src.GGDFit]]:
    """One :class:`~semiblind.data.sources.GGDFit` per map of ``maps (n, H, W)``, fitted to the non-zero
    coefficients of its first ``n_scales`` starlet detail scales (App. B; the test set uses scale 1). For
    ``maps (R, n, H, W)`` (R reference images), a *bank*: one such list per image, which :func:`training_set`
    samples from image by image."""
    arr = np.asarray(maps, dtype=np.float64)
    if arr.ndim == 4:
        return [ggd_fits(r, n_scales) for r in arr]
    if arr.ndim != 3:
        raise ValueError(f"maps must be (n, H, W) reference images, or (R, n, H, W) for R of them; got an array "
                         f"of shape {arr.shape}.")
    return [_src.fit_ggd_to_map(r, n_scales) for r in arr]


def _fit_bank(fits: Any) -> list[list[_src.GGDFit]]:
    """``fits`` as a bank: a list of per-image lists of fits (a single list becomes a bank of one)."""
    if isinstance(fits, (list, tuple)) and fits and all(isinstance(f, _src.GGDFit) for f in fits):
        return [list(fits)]
    if (isinstance(fits, (list, tuple)) and fits and all(isinstance(b, (list, tuple)) and b for b in fits)
            and all(isinstance(f, _src.GGDFit) for b in fits for f in b)
            and len({len(b) for b in fits}) == 1):
        return [list(b) for b in fits]
    raise TypeError("fits must be a non-empty list of GGDFit (one per source), or a list of such lists of "
                    f"equal length (one per reference image); got {type(fits).__name__}.")


def mixing_matrices(source: str = "auto", *, n_train: int = 750, n_test: int = 150, data_path: Any = None,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """``(A_train (n_train, 65, 4), A_test (n_test, 65, 4), origin)``.

    ``source="paper"``: the LPALM paper's 750 / 150 split of the shared 65-channel spectra (``n_train`` /
    ``n_test`` matrices evenly spaced along each part's order, which runs from least to most similar to matrix 0,
    so that a reduced set spans the same range; all of them at 750 / 150); ``"simulator"``: fresh matrices of
    :func:`semiblind.data.xray.sample_mixing_matrices` (default grid), training and test from disjoint seeds;
    ``"auto"``: the paper's when the shared folder is found, the simulator's otherwise. ``origin`` says which.
    """
    if source not in ("auto", "paper", "simulator"):
        raise ValueError(f"source must be 'auto', 'paper' or 'simulator'; got {source!r}.")
    for name, v in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int; got {v!r}.")
    seed = _check_seed(seed)
    if source in ("auto", "paper"):
        from . import casa

        try:
            bank = casa.paper_mixing_matrices(data_path)
        except FileNotFoundError:
            if source == "paper":
                raise
        else:
            tr, te = casa.lpalm_split(bank)
            if n_train > tr.size or n_test > te.size:
                raise ValueError(f"n_train and n_test must be at most {tr.size} and {te.size} with the paper's "
                                 f"matrices; got {n_train} and {n_test}.")
            pick_tr = np.linspace(0, tr.size - 1, n_train).round().astype(np.int64)
            pick_te = np.linspace(0, te.size - 1, n_test).round().astype(np.int64)
            return bank[tr[pick_tr]], bank[te[pick_te]], "paper"
    from .xray import sample_mixing_matrices

    s_tr, s_te = np.random.SeedSequence([seed, 7]).spawn(2)
    return (sample_mixing_matrices(n_train, rng=np.random.default_rng(s_tr)),
            sample_mixing_matrices(n_test, rng=np.random.default_rng(s_te)), "simulator")


def _mix(A: np.ndarray, S: np.ndarray, snr_db: float, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    Xc = np.einsum("bmn,bnt->bmt", A, S.reshape(S.shape[0], S.shape[1], -1))
    X, N = add_noise(Xc, snr_db, gen, batched=True)
    return X, N


def training_set(A: Any, fits: Any, *, pixels: int = TRAIN_PIXELS, snr_db: float = SNR_DB,
                 rng: Any = None, dtype: Any = "float32") -> MixtureSet:
    """App. B training mixtures: for every matrix of ``A (N, m, n)``, sources drawn from ``fits`` (one per
    source, :func:`semiblind.data.sources.sample_ggd_fit`: ``round(t·p)`` GGD draws, the rest zeros, shuffled,
    unit-l2 rows), ``X = A S + N`` at ``snr_db``. ``fits`` may be a bank (one list of fits per reference
    image, :func:`ggd_fits` on ``(R, n, H, W)`` maps): every mixture then takes all its sources from the fits of
    one reference image drawn uniformly at random, so the set spans the statistics of R images, not one.
    Returns a :class:`MixtureSet` with ``meta["pixels"] = t``."""
    A = np.asarray(A, dtype=np.float64)
    bank = _fit_bank(fits)
    n = len(bank[0])
    if A.ndim != 3 or A.shape[2] != n:
        raise ValueError(f"A must be (N, m, n) with n = {n} (one GGD fit per source); got shape "
                         f"{A.shape}.")
    gen = make_rng(rng)
    N = A.shape[0]
    pixels = int(pixels)
    if len(bank) == 1:
        S = _src.sample_ggd_fit(bank[0], pixels, gen, n_samples=N, normalize="l2")
    else:
        which = gen.integers(0, len(bank), size=N)
        S = np.zeros((N, n, pixels))
        for r in np.unique(which):  # one vectorised draw per reference image (a handful), not per mixture
            idx = np.flatnonzero(which == r)
            S[idx] = _src.sample_ggd_fit(bank[r], pixels, gen, n_samples=idx.size, normalize="l2")
    X, N_ = _mix(A, S, snr_db, gen)
    dt = np.float64 if str(dtype) == "float64" else np.float32
    meta = {"protocol": "LPALM App. B (GGD fitted to Cas A-like starlet detail coefficients)",
            "pixels": pixels, "snr_db": float(snr_db),
            "fits": [f.to_dict() for f in bank[0]] if len(bank) == 1 else [[f.to_dict() for f in b] for b in bank]}
    return MixtureSet(X.astype(dt), A.astype(dt), S.astype(dt), N_.astype(dt), meta=meta)


def _test_maps(n_samples: int, image: tuple[int, int], seed: int) -> np.ndarray:
    _, gen = _streams(seed)
    return _src.casa_like_maps(*image, gen, n_maps=n_samples, normalize="max")


def detail_test_set(A: Any, *, image: tuple[int, int] = (64, 64), randomize: bool = True, seed: int = 0,
                    snr_db: float = SNR_DB, dtype: Any = "float32") -> MixtureSet:
    """§3.2 test mixtures: for every matrix of ``A (N, m, n)``, Cas A-like maps (test stream of ``seed``) in
    their first starlet detail scale, pixels randomised per source when ``randomize`` (App. D.3: not), unit-l2
    rows, ``X = A S + N`` at ``snr_db``. X ``(N, m, H·W)``, S ``(N, n, H·W)`` (flat: randomised maps are not
    images)."""
    A = np.asarray(A, dtype=np.float64)
    H, W = _check_image(image)
    seed = _check_seed(seed)
    maps = _test_maps(A.shape[0], (H, W), seed)
    details, _ = starlet_forward(maps, 1, ndim=2)
    S = details[:, :, 0].reshape(A.shape[0], maps.shape[1], H * W)
    gen = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    if randomize:
        S = _src.randomize_pixels(S, gen, batched=True)
    S = _src.normalize_rows(S, "l2")
    X, N = _mix(A, S, snr_db, gen)
    dt = np.float64 if str(dtype) == "float64" else np.float32
    meta = {"protocol": "LPALM §3.2 test set: first starlet detail scale of Cas A-like maps", "image": [H, W],
            "randomize_pixels": bool(randomize), "snr_db": float(snr_db), "seed": seed}
    return MixtureSet(X.astype(dt), A.astype(dt), S.astype(dt), N.astype(dt), meta=meta)


def direct_test_set(A: Any, *, image: tuple[int, int] = (64, 64), randomize: bool = False, seed: int = 0,
                    snr_db: float = SNR_DB, dtype: Any = "float32") -> MixtureSet:
    """The direct-domain cubes of the maps of :func:`detail_test_set` (same ``A``, ``image`` and ``seed``):
    nonnegative unit-l2 maps, ``X = A S + N`` at ``snr_db``; ``(N, m, H, W)`` cubes, or flat ``(N, m, H·W)``
    with the pixels randomised per source when ``randomize``."""
    A = np.asarray(A, dtype=np.float64)
    H, W = _check_image(image)
    seed = _check_seed(seed)
    maps = _test_maps(A.shape[0], (H, W), seed)
    S = maps.reshape(A.shape[0], maps.shape[1], H * W)
    gen = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    if randomize:
        S = _src.randomize_pixels(S, gen, batched=True)
    S = _src.normalize_rows(S, "l2")
    X, N = _mix(A, S, snr_db, gen)
    dt = np.float64 if str(dtype) == "float64" else np.float32
    meta = {"protocol": "direct-domain Cas A-like cubes", "image": [H, W], "randomize_pixels": bool(randomize),
            "snr_db": float(snr_db), "seed": seed}
    B, m, n = A.shape
    pix = (H * W,) if randomize else (H, W)
    return MixtureSet(X.reshape(B, m, *pix).astype(dt), A.astype(dt), S.reshape(B, n, *pix).astype(dt),
                      N.reshape(B, m, *pix).astype(dt), meta=meta)


def cube_training_set(n_samples: int, *, image: tuple[int, int] = (128, 128), n_scales: int = 4,
                      pixels: int = TRAIN_PIXELS, snr_db: float = SNR_DB, rng: Any = None, chunk_size: int = 4,
                      progress: bool | None = False, dtype: Any = "float32") -> MixtureSet:
    """Training mixtures for a wavelet-mode LPALM on image cubes: the starlet detail coefficients of whole
    simulated Cas A-like cubes, ``pixels`` of them drawn per mixture.

    Each mixture is one cube of :func:`semiblind.data.mixtures.simulate_xray` (``sources="casa-like"``: a fresh
    simulator mixing matrix ``(m, 4)`` with unit-norm columns, Cas A-like maps of ``image`` with unit-l2 rows,
    white Gaussian noise at ``snr_db`` on the direct-domain cube — the demo's data model). Its first
    ``n_scales`` 2-D starlet detail scales (:func:`semiblind.transforms.starlet_forward`) of X and of S are laid
    side by side, ``J·H·W`` coefficients, and ``pixels`` coefficient positions are drawn at random without
    replacement — the same positions for every channel and source, so a training column is a true column of the
    transformed cube: the sources keep their spatial overlaps (unlike App. B's independent GGD draws, and like
    the unrandomised maps of App. D.3) and the noise its real level in each scale. Both are then multiplied by
    ``c = sqrt(n / ‖X_sub‖²_F)`` per mixture, the training energy that the ``"energy"`` / ``"pixel"`` input
    scalings of :class:`semiblind.estimators.lpalm.LPALMSeparator` restore at test time (``"pixel"`` keeps the
    per-coefficient scale of these ``pixels``-column mixtures whatever the cube's size).

    Returns a :class:`MixtureSet`: X ``(N, m, pixels)``, A ``(N, m, 4)``, S ``(N, 4, pixels)`` (the scaled detail
    coefficients, so ``X ≈ A S`` up to the noise's coefficients), ``meta["pixels"] = pixels`` (the model's
    ``t_train``). ``rng`` seeds everything; ``chunk_size`` cubes are simulated and transformed at a time.
    """
    N = int(n_samples) if isinstance(n_samples, (int, np.integer)) and not isinstance(n_samples, bool) else -1
    if N < 1:
        raise ValueError(f"n_samples must be a positive int; got {n_samples!r}.")
    H, W = _check_image(image)
    for name, v, lo in (("n_scales", n_scales, 1), ("pixels", pixels, 1), ("chunk_size", chunk_size, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name} must be an int >= {lo}; got {v!r}.")
    J, pixels = int(n_scales), int(pixels)
    if pixels > J * H * W:
        raise ValueError(f"pixels must be at most the {J * H * W} detail coefficients of a {H}×{W} cube with "
                         f"{J} scales; got {pixels}.")
    gen = make_rng(rng)
    dt = np.float64 if str(dtype) == "float64" else np.float32
    Xs, As, Ss = [], [], []
    for start in range(0, N, int(chunk_size)):
        c = min(int(chunk_size), N - start)
        ms = simulate_xray(c, image=(H, W), sources="casa-like", snr_db=snr_db, dtype=dt,
                           rng=np.random.default_rng(gen.integers(2**63)), progress=progress)
        dX, _ = starlet_forward(ms.X, J, ndim=2)
        dS, _ = starlet_forward(ms.S, J, ndim=2)
        dX = dX.reshape(c, dX.shape[1], -1)
        dS = dS.reshape(c, dS.shape[1], -1)
        idx = np.stack([gen.choice(dX.shape[-1], pixels, replace=False) for _ in range(c)])[:, None, :]
        Xsub = np.take_along_axis(dX, idx, axis=-1).astype(np.float64)
        Ssub = np.take_along_axis(dS, idx, axis=-1).astype(np.float64)
        scale = np.sqrt(dS.shape[1] / np.maximum((Xsub**2).sum(axis=(-2, -1), keepdims=True), np.finfo(float).tiny))
        Xs.append((scale * Xsub).astype(dt))
        Ss.append((scale * Ssub).astype(dt))
        As.append(np.asarray(ms.A, dtype=dt))
    meta = {"protocol": "starlet detail coefficients of simulated Cas A-like cubes (simulate_xray casa-like), "
                        "sub-sampled, scaled to ||X||_F^2 = n", "pixels": pixels, "image": [H, W],
            "n_scales": J, "snr_db": float(snr_db)}
    return MixtureSet(np.concatenate(Xs), np.concatenate(As), np.concatenate(Ss), meta=meta)
