"""Simulated X-ray spectra of a young supernova remnant (Cas A) seen by a Chandra ACIS-like CCD.

The four emission families of the LPALM paper (Fahes et al. 2022, "Unrolling PALM for sparse semi-blind source
separation", ICLR, Figure 1) and of the sGMCA paper (Carloni Gertosio et al. 2023, "Semi-blind source
separation with learned constraints", Signal Processing) are generated from explicit physical models instead
of being read from files:

- **synchrotron**: photon flux density ``dN/dE ∝ E^(-Γ)``;
- **thermal**: bremsstrahlung-like continuum ``dN/dE ∝ g_ff(E, kT) · E^(-1) · exp(-E/kT)`` with the
  non-relativistic Born-approximation Gaunt factor ``g_ff = (√3/π) · exp(x) K0(x)``, ``x = E / (2 kT)``
  (Rybicki & Lightman 1979, eq. 5.19 averaged over a Maxwellian), plus the emission lines of
  :data:`THERMAL_LINES` whose strengths are equivalent widths (keV) with respect to that continuum;
- **iron_1 / iron_2**: the Fe XXV Kα line (6.70 keV) Doppler shifted by a receding (iron_1, red-shifted, lower
  energy) or an approaching (iron_2, blue-shifted, higher energy) line-of-sight velocity,
  ``E = E0 · (1 - s·v/c)`` with ``v > 0`` receding and ``s`` an optional exaggeration factor (``s = 1`` is
  physical).

Every spectrum then goes through the instrument, in this order:

1. photoelectric absorption ``exp(-N_H σ(E))`` with the Morrison & McCammon (1983, ApJ 270, 119) cross-section
   ``σ(E) = (c0 + c1 E + c2 E²) E⁻³ × 10⁻²⁴ cm²`` (:func:`cross_section`, :func:`absorption`);
2. an ACIS-like effective area (:func:`effective_area`): a monotone cubic (PCHIP) spline in log-log space
   through the points of :data:`EFFECTIVE_AREA_POINTS`;
3. a Gaussian energy redistribution whose FWHM grows with energy, ``FWHM(E) = sqrt(a² + b E)``
   (:func:`fwhm`, :func:`response_matrix`, :func:`redistribute`).

These are **approximations** chosen to give ACIS-like spectral shapes; they are not calibration products (no
CALDB file is read, nothing is downloaded). Each model is integrated over fine sub-bins of every channel
(``oversample`` sub-bins per channel; continua by the midpoint rule, Gaussian lines exactly with the normal
CDF), absorbed, multiplied by the effective area and redistributed onto the channels. The true-energy sub-bins
extend four FWHM beyond the band so that photons from just outside it can be detected inside it; photons
detected outside the band are lost, as with a real band selection.

The default grid :meth:`EnergyGrid.default` (``"chandra-acis-65"``) has 65 **linearly** spaced channels over
0.5–7.5 keV (108 eV per channel, close to the instrument resolution at 1–2 keV). Linear spacing is what ACIS
PI channels use, and it leaves about seven channels above 6.7 keV so that the red- and blue-shifted iron lines
land in distinct channels.

Shapes: a batch of spectra is ``(N, m)``; mixing matrices are ``(N, m, n)`` with one spectrum per column,
columns in the family order of :data:`FAMILIES`. NumPy in and out; the batched evaluation runs in torch
(float64).
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.interpolate import PchipInterpolator

from .._backend import make_rng, resolve_dtype
from ..grid import NAMED_GRIDS, EnergyGrid, _check_edges

__all__ = [
    "C_KMS",
    "EFFECTIVE_AREA_POINTS",
    "FAMILIES",
    "FE_XXV_KEV",
    "MM83_TABLE",
    "NAMED_GRIDS",
    "PRIORS",
    "THERMAL_LINES",
    "EnergyGrid",
    "Prior",
    "ThermalLine",
    "absorption",
    "cross_section",
    "effective_area",
    "fine_edges",
    "fwhm",
    "iron_lines_spectrum",
    "redistribute",
    "response_matrix",
    "sample_mixing_matrices",
    "sample_parameters",
    "sample_spectra",
    "synchrotron_spectrum",
    "thermal_spectrum",
]

C_KMS = 299_792.458
"""Speed of light in km/s."""

FE_XXV_KEV = 6.70
"""Rest energy of the Fe XXV Kα blend (keV)."""

FAMILIES = ("synchrotron", "thermal", "iron_1", "iron_2")
"""Column order of the mixing matrices (as in the LPALM paper's data)."""

_MODEL_RANGE = (0.03, 10.0)  # keV: validity of the Morrison & McCammon table
_CHUNK = 4096  # samples rendered at once by sample_mixing_matrices
_GRID_RANGE = (0.2, 9.0)  # keV: grids the simulator accepts (the band plus 4 FWHM stays inside _MODEL_RANGE)

# ----------------------------------------------------------------------------------------------- energy grid
# EnergyGrid (the model-file data contract) lives in the core module semiblind.grid; re-exported here.



def _as_grid(grid: Any) -> EnergyGrid:
    if grid is None:
        return EnergyGrid.default()
    if isinstance(grid, EnergyGrid):
        g = grid
    elif isinstance(grid, str):
        g = EnergyGrid.named(grid)
    else:
        raise TypeError(f"grid must be an EnergyGrid, a grid name or None; got {type(grid).__name__}.")
    if g.e_min < _GRID_RANGE[0] or g.e_max > _GRID_RANGE[1]:
        raise ValueError(
            f"grid must lie within {_GRID_RANGE[0]}–{_GRID_RANGE[1]} keV for the X-ray simulator; got "
            f"{g.e_min:g}–{g.e_max:g} keV."
        )
    return g


# ------------------------------------------------------------------------------------------------ instrument

MM83_TABLE = np.array(
    [
        # E_lo,  E_hi,    c0,     c1,      c2
        [0.030, 0.100, 17.3, 608.1, -2150.0],
        [0.100, 0.284, 34.6, 267.9, -476.1],
        [0.284, 0.400, 78.1, 18.8, 4.3],
        [0.400, 0.532, 71.4, 66.8, -51.4],
        [0.532, 0.707, 95.5, 145.8, -61.1],
        [0.707, 0.867, 308.9, -380.6, 294.0],
        [0.867, 1.303, 120.6, 169.3, -47.7],
        [1.303, 1.840, 141.3, 146.8, -31.5],
        [1.840, 2.471, 202.7, 104.7, -17.0],
        [2.471, 3.210, 342.7, 18.7, 0.0],
        [3.210, 4.038, 352.2, 18.7, 0.0],
        [4.038, 7.111, 433.9, -2.4, 0.75],
        [7.111, 8.331, 629.0, 30.9, 0.0],
        [8.331, 10.00, 701.2, 25.2, 0.0],
    ]
)
"""Morrison & McCammon (1983) Table 2: energy range (keV) and coefficients c0, c1, c2."""


def cross_section(energies: Any) -> np.ndarray:
    """Photoelectric cross-section per hydrogen atom (cm²), Morrison & McCammon (1983) Table 2.

    ``σ(E) = (c0 + c1·E + c2·E²) · E⁻³ × 10⁻²⁴`` cm² with E in keV, valid over 0.03–10 keV
    (``σ(1 keV) ≈ 2.42×10⁻²² cm²``). Energies exactly on a segment boundary use the upper segment.
    """
    E = np.asarray(energies, dtype=float)
    if not np.all(np.isfinite(E)) or np.any(E < _MODEL_RANGE[0]) or np.any(E > _MODEL_RANGE[1]):
        raise ValueError(
            f"energies must lie within {_MODEL_RANGE[0]}–{_MODEL_RANGE[1]} keV (the Morrison & McCammon "
            "table); "
            f"got values from {np.nanmin(E):g} to {np.nanmax(E):g} keV."
        )
    seg = np.clip(np.searchsorted(MM83_TABLE[:, 0], E, side="right") - 1, 0, len(MM83_TABLE) - 1)
    c0, c1, c2 = MM83_TABLE[seg, 2], MM83_TABLE[seg, 3], MM83_TABLE[seg, 4]
    return (c0 + c1 * E + c2 * E * E) / E**3 * 1e-24


def absorption(energies: Any, nh: Any) -> np.ndarray:
    """Transmission ``exp(-N_H · σ(E))`` of the interstellar column (Morrison & McCammon 1983).

    ``nh`` is in units of 10²² H atoms cm⁻² (the usual X-ray fitting convention; Cas A: about 1–2). A scalar
    gives shape ``energies.shape``; an array ``(N,)`` gives ``(N, *energies.shape)``.
    """
    nh_arr = np.asarray(nh, dtype=float)
    if nh_arr.ndim > 1 or not np.all(np.isfinite(nh_arr)) or np.any(nh_arr < 0):
        raise ValueError(f"nh must be a nonnegative number or 1-D array (10^22 cm^-2); got {nh!r}.")
    sigma = cross_section(energies)
    return np.exp(-np.multiply.outer(nh_arr * 1e22, sigma))


EFFECTIVE_AREA_POINTS = np.array(
    [
        # E (keV), area (cm²)
        [0.10, 1.0],
        [0.20, 8.0],
        [0.30, 25.0],
        [0.50, 90.0],
        [0.70, 230.0],
        [1.00, 430.0],
        [1.50, 600.0],
        [1.80, 540.0],
        [2.10, 400.0],
        [2.50, 440.0],
        [3.00, 430.0],
        [4.00, 390.0],
        [5.00, 330.0],
        [6.00, 260.0],
        [7.00, 190.0],
        [8.00, 120.0],
        [10.0, 40.0],
    ]
)
"""ACIS-S-like effective area points (keV, cm²): low below 0.7 keV (filter and contamination), peak at 1.5
keV, a dip at the mirror's Ir M edges (2.0–2.5 keV), falling towards 8 keV. Shapes read off typical published
ACIS-S curves, rounded; an approximation, not a calibration product."""



@functools.cache
def _aeff_spline() -> PchipInterpolator:
    """The log-log PCHIP spline through :data:`EFFECTIVE_AREA_POINTS`, built on first use (not at import)."""
    return PchipInterpolator(np.log(EFFECTIVE_AREA_POINTS[:, 0]), np.log(EFFECTIVE_AREA_POINTS[:, 1]))


def effective_area(energies: Any) -> np.ndarray:
    """Effective area (cm²): monotone cubic spline in log-log space through :data:`EFFECTIVE_AREA_POINTS`.

    Defined over 0.1–10 keV; energies outside raise ``ValueError``.
    """
    E = np.asarray(energies, dtype=float)
    lo, hi = EFFECTIVE_AREA_POINTS[0, 0], EFFECTIVE_AREA_POINTS[-1, 0]
    if not np.all(np.isfinite(E)) or np.any(E < lo * (1 - 1e-12)) or np.any(E > hi * (1 + 1e-12)):
        raise ValueError(f"energies must lie within {lo:g}–{hi:g} keV for the effective area; got "
                         f"values from {np.nanmin(E):g} to {np.nanmax(E):g} keV.")
    return np.exp(_aeff_spline()(np.log(np.clip(E, lo, hi))))


FWHM_A_KEV = 0.087
FWHM_B_KEV = 0.00302


def fwhm(energies: Any) -> np.ndarray:
    """Energy resolution FWHM (keV) of the Gaussian redistribution: ``sqrt(a² + b·E)``.

    The form of a Fano-limited CCD (read noise ``a`` plus Fano noise ``∝ √E``) with ``a = 0.087 keV`` and
    ``b = 0.00302 keV`` chosen to give 0.110 keV at 1.5 keV and 0.165 keV at 6.5 keV (ACIS: about 100–120 eV
    and 150–180 eV). An approximation of the real, position-dependent ACIS response.
    """
    E = np.asarray(energies, dtype=float)
    return np.sqrt(FWHM_A_KEV**2 + FWHM_B_KEV * E)


_FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))


def fine_edges(grid: EnergyGrid | None = None, oversample: int = 8, *, extend: bool = True) -> np.ndarray:
    """True-energy sub-bin edges used to integrate the models: ``oversample`` sub-bins per channel.

    With ``extend`` (default) the sub-bins continue ``4·FWHM`` below and above the band (with the width of the
    outermost sub-bins), so that photons of true energy just outside the band can be detected inside it.
    """
    g = _as_grid(grid)
    k = _check_oversample(oversample)
    frac = np.arange(k) / k
    inner = (g.edges[:-1, None] + np.outer(g.widths, frac)).ravel()
    inner = np.append(inner, g.e_max)
    if not extend:
        return inner
    step_lo, step_hi = g.widths[0] / k, g.widths[-1] / k
    n_lo = int(math.ceil(4.0 * float(fwhm(g.e_min)) / step_lo))
    n_lo = min(n_lo, int((g.e_min - 0.1) / step_lo))  # keep true energies above 0.1 keV
    n_hi = int(math.ceil(4.0 * float(fwhm(g.e_max)) / step_hi))
    lo = g.e_min - step_lo * np.arange(n_lo, 0, -1)
    hi = g.e_max + step_hi * np.arange(1, n_hi + 1)
    return np.concatenate([lo, inner, hi])


def _check_oversample(oversample: Any) -> int:
    if isinstance(oversample, bool) or not isinstance(oversample, numbers.Integral) \
            or not 1 <= oversample <= 256:
        raise ValueError(f"oversample must be an int between 1 and 256; got {oversample!r}.")
    return int(oversample)


def response_matrix(grid: EnergyGrid | None = None, true_edges: Any = None) -> np.ndarray:
    """Gaussian redistribution matrix ``R`` ``(m, k)``: ``R[i, j]`` is the probability that a photon of
    true energy ``E_j`` (centre of true bin ``j``) is detected in channel ``i``.

    ``R[i, j] = Φ((e_{i+1} - E_j)/σ_j) - Φ((e_i - E_j)/σ_j)`` with ``σ_j = FWHM(E_j)/2.355`` (:func:`fwhm`).
    Column ``j`` sums to the probability that the photon is detected inside the band: exactly 1 up to 1e-6 for
    true energies more than about 5σ inside the band, less near the band edges (photons detected outside the
    band are lost, as with a band selection). ``true_edges`` default to the grid's own edges (coarse: each
    channel treated as a line at its centre); pass :func:`fine_edges` for accurate work.
    """
    g = _as_grid(grid)
    te = g.edges if true_edges is None else _check_edges(true_edges)
    return _response_matrix_cached(g, te.tobytes())


@functools.lru_cache(maxsize=16)
def _response_matrix_cached(g: EnergyGrid, te_bytes: bytes) -> np.ndarray:
    from scipy.special import ndtr

    te = np.frombuffer(te_bytes, dtype=float)
    Ej = 0.5 * (te[1:] + te[:-1])
    sj = fwhm(Ej) * _FWHM_TO_SIGMA
    cdf = ndtr((g.edges[:, None] - Ej[None, :]) / sj[None, :])  # (m+1, k)
    R = np.diff(cdf, axis=0)
    R.setflags(write=False)
    return R


def redistribute(flux: Any, grid: EnergyGrid | None = None, true_edges: Any = None) -> np.ndarray:
    """Redistribute photon counts per true-energy bin ``(..., k)`` onto the channels ``(..., m)``:
    ``flux @ Rᵀ``.

    See :func:`response_matrix`; total counts are preserved for sources well inside the band (counts detected
    outside the band are lost).
    """
    R = response_matrix(grid, true_edges)
    f = np.asarray(flux, dtype=float)
    if f.ndim < 1 or f.shape[-1] != R.shape[1]:
        raise ValueError(
            f"flux must have {R.shape[1]} true-energy bins along its last axis (one per true bin); got shape "
            f"{f.shape}."
        )
    return f @ R.T


@dataclass(frozen=True)
class _Instrument:
    """Everything that depends only on the grid: fine sub-bins, σ_MM83, effective area, response (torch,
    float64)."""

    grid: EnergyGrid
    lo: torch.Tensor  # (k,) sub-bin lower edges
    hi: torch.Tensor  # (k,) sub-bin upper edges
    mid: torch.Tensor  # (k,) sub-bin centres
    width: torch.Tensor  # (k,)
    sigma_cm2: torch.Tensor  # (k,)
    area: torch.Tensor  # (k,)
    R: torch.Tensor  # (m, k)
    inband: torch.Tensor  # (m, k) 0/1: sub-bin j lies in channel i (ideal, no redistribution)


@functools.lru_cache(maxsize=16)
def _instrument(grid: EnergyGrid, oversample: int) -> _Instrument:
    fe = fine_edges(grid, oversample)
    mid = 0.5 * (fe[1:] + fe[:-1])
    R = response_matrix(grid, fe)
    chan = np.searchsorted(grid.edges, mid, side="right") - 1
    inband = np.zeros((grid.m, mid.size))
    ok = (chan >= 0) & (chan < grid.m)
    inband[chan[ok], np.nonzero(ok)[0]] = 1.0
    t = functools.partial(torch.as_tensor, dtype=torch.float64)
    return _Instrument(
        grid, t(fe[:-1]), t(fe[1:]), t(mid), t(np.diff(fe)), t(cross_section(mid)), t(effective_area(mid)),
        t(np.array(R)), t(inband),
    )


def _normalize(spec: torch.Tensor, normalize: str | None) -> torch.Tensor:
    if normalize is None:
        return spec
    if normalize == "l2":
        n = torch.linalg.vector_norm(spec, dim=-1, keepdim=True)
    else:
        n = spec.sum(dim=-1, keepdim=True)
    if bool((n <= 0).any()):
        raise ValueError("normalize cannot rescale a spectrum that is zero everywhere in the band; widen the "
                         "grid "
                         "or change the parameters.")
    return spec / n


def _check_normalize(normalize: Any) -> str | None:
    if normalize not in ("l2", "l1", None):
        raise ValueError(f"normalize must be 'l2', 'l1' or None; got {normalize!r}.")
    return normalize


def _observe(counts: torch.Tensor, inst: _Instrument, nh: torch.Tensor | None, instrument: bool,
             normalize: str | None) -> torch.Tensor:
    """Absorption, effective area and redistribution of photon counts per sub-bin ``(N, k)`` -> ``(N, m)``."""
    if nh is not None:
        counts = counts * torch.exp(-(nh[:, None] * 1e22) * inst.sigma_cm2[None, :])
    if instrument:
        out = (counts * inst.area[None, :]) @ inst.R.T
    else:
        out = counts @ inst.inband.T
    return _normalize(out, normalize)


def _param(x: Any, name: str, *, positive: bool = False, nonneg: bool = False) -> tuple[torch.Tensor, bool]:
    arr = np.asarray(x, dtype=float)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a number or a 1-D array (one value per spectrum); got shape "
                         f"{arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {x!r}.")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must be positive; got a minimum of {arr.min():g}.")
    if nonneg and np.any(arr < 0):
        raise ValueError(f"{name} must be nonnegative; got a minimum of {arr.min():g}.")
    return torch.as_tensor(np.atleast_1d(arr), dtype=torch.float64), arr.ndim == 0


def _broadcast(*ts: torch.Tensor) -> list[torch.Tensor]:
    sizes = {t.shape[0] for t in ts} - {1}
    if len(sizes) > 1:
        raise ValueError(f"per-spectrum parameters must have matching lengths (or length 1); got lengths "
                         f"{sorted(t.shape[0] for t in ts)}.")
    n = sizes.pop() if sizes else 1
    return [t.expand(n) if t.shape[0] == 1 else t for t in ts]


def _finish(out: torch.Tensor, scalar: bool, dtype: Any) -> np.ndarray:
    res = out.to(resolve_dtype(dtype)).numpy()
    return res[0] if scalar else res


def _gaussian_counts(inst: _Instrument, center: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Exact fraction of a unit Gaussian line ``(N,)`` falling in each sub-bin: ``(N, k)``."""
    c, s = center[:, None], sigma[:, None]
    return torch.special.ndtr((inst.hi[None, :] - c) / s) - torch.special.ndtr((inst.lo[None, :] - c) / s)


# ------------------------------------------------------------------------------------------------- families


def synchrotron_spectrum(
    grid: EnergyGrid | None,
    gamma: Any,
    nh: Any,
    *,
    instrument: bool = True,
    normalize: str | None = "l2",
    oversample: int = 8,
    dtype: Any = "float64",
) -> np.ndarray:
    """Synchrotron power law ``dN/dE ∝ E^(-Γ)`` observed through absorption and the instrument.

    Parameters
    ----------
    grid : :class:`EnergyGrid` (``None``: the default 65-channel grid).
    gamma : photon index Γ, a number or one per spectrum ``(N,)``.
    nh : absorbing column in 10²² cm⁻², a number or ``(N,)`` (0: no absorption).
    instrument : apply effective area and redistribution (``False``: photon counts per channel, no
        instrument).
    normalize : ``"l2"`` (default), ``"l1"`` or ``None``.

    Returns ``(m,)`` for scalar parameters, else ``(N, m)``.
    """
    inst = _instrument(_as_grid(grid), _check_oversample(oversample))
    normalize = _check_normalize(normalize)
    g, s1 = _param(gamma, "gamma")
    n, s2 = _param(nh, "nh", nonneg=True)
    g, n = _broadcast(g, n)
    counts = inst.mid[None, :] ** (-g[:, None]) * inst.width[None, :]
    return _finish(_observe(counts, inst, n, instrument, normalize), s1 and s2, dtype)


@dataclass(frozen=True)
class ThermalLine:
    """An emission line (or blend) of the thermal family: ``key``, ``label``, component energies (keV) of
    equal weight, and intrinsic Gaussian width σ (keV)."""

    key: str
    label: str
    energies: tuple[float, ...]
    sigma_kev: float


THERMAL_LINES: tuple[ThermalLine, ...] = (
    ThermalLine("o7", "O VII", (0.574,), 0.005),
    ThermalLine("o8", "O VIII", (0.654,), 0.005),
    # Fe-L: a blend of many Fe XVII–XXIV lines, modelled as 8 equal components evenly spread over 0.73–1.2 keV
    ThermalLine("fe_l", "Fe-L blend", tuple(float(x) for x in np.linspace(0.73, 1.20, 8)), 0.02),
    ThermalLine("ne9", "Ne IX", (0.922,), 0.005),
    ThermalLine("ne10", "Ne X", (1.022,), 0.005),
    ThermalLine("mg11", "Mg XI", (1.352,), 0.005),
    ThermalLine("mg12", "Mg XII", (1.473,), 0.005),
    ThermalLine("si13", "Si XIII", (1.865,), 0.005),
    ThermalLine("si14", "Si XIV", (2.006,), 0.005),
    ThermalLine("s15", "S XV", (2.461,), 0.005),
    ThermalLine("s16", "S XVI", (2.623,), 0.005),
    ThermalLine("ar17", "Ar XVII", (3.140,), 0.005),
    ThermalLine("ca19", "Ca XIX", (3.902,), 0.005),
    ThermalLine("fe25", "Fe XXV", (FE_XXV_KEV,), 0.005),
)
"""Lines of the thermal family (issue #3 list). Metal lines are narrow (σ = 5 eV, unresolved by the CCD)."""


def _bremsstrahlung(E: torch.Tensor, kT: torch.Tensor) -> torch.Tensor:
    """``g_ff(E, kT) · E⁻¹ · exp(-E/kT)`` with the Born Gaunt factor ``(√3/π) e^x K0(x)``, ``x = E/2kT``."""
    x = E / (2.0 * kT)
    gaunt = (math.sqrt(3.0) / math.pi) * torch.special.scaled_modified_bessel_k0(x)
    return gaunt * torch.exp(-E / kT) / E


def thermal_spectrum(
    grid: EnergyGrid | None,
    kT: Any,
    line_strengths: Any,
    nh: Any,
    *,
    instrument: bool = True,
    normalize: str | None = "l2",
    oversample: int = 8,
    dtype: Any = "float64",
) -> np.ndarray:
    """Thermal plasma: bremsstrahlung continuum plus the emission lines of :data:`THERMAL_LINES`.

    Continuum ``dN/dE = g_ff(E, kT) · E⁻¹ · exp(-E/kT)`` with the non-relativistic Born-approximation Gaunt
    factor ``g_ff = (√3/π) · exp(x) K0(x)``, ``x = E/(2kT)`` (Rybicki & Lightman 1979, §5.2; adequate for
    kT ≫ Z² Ry). Line ``l`` has photon flux ``W_l · dN/dE(E_l)``, ``W_l`` its equivalent width in keV (a blend
    spreads its flux over its components).

    Parameters
    ----------
    kT : temperature in keV, a number or ``(N,)``.
    line_strengths : equivalent widths (keV), ``(L,)`` or ``(N, L)`` in the order of :data:`THERMAL_LINES`,
        or a mapping ``key -> width`` (missing lines: 0). ``None``: continuum only.
    nh : absorbing column in 10²² cm⁻² (number or ``(N,)``).

    Returns ``(m,)`` for scalar parameters and a 1-D ``line_strengths``, else ``(N, m)``.
    """
    inst = _instrument(_as_grid(grid), _check_oversample(oversample))
    normalize = _check_normalize(normalize)
    t, s1 = _param(kT, "kT", positive=True)
    n, s2 = _param(nh, "nh", nonneg=True)
    L = len(THERMAL_LINES)
    if line_strengths is None:
        ew = np.zeros(L)
    elif isinstance(line_strengths, Mapping):
        keys = {ln.key for ln in THERMAL_LINES}
        bad = sorted(set(line_strengths) - keys)
        if bad:
            raise ValueError(f"line_strengths keys must be among {sorted(keys)}; got unknown key(s) {bad}.")
        ew = np.array([line_strengths.get(ln.key, 0.0) for ln in THERMAL_LINES], dtype=float)
    else:
        ew = np.asarray(line_strengths, dtype=float)
    if ew.ndim not in (1, 2) or ew.shape[-1] != L:
        raise ValueError(f"line_strengths must have shape ({L},) or (N, {L}) (one equivalent width per line "
                         "of "
                         f"THERMAL_LINES); got shape {ew.shape}.")
    if not np.all(np.isfinite(ew)) or np.any(ew < 0):
        raise ValueError("line_strengths must be finite nonnegative equivalent widths (keV).")
    ew_t = torch.as_tensor(np.atleast_2d(ew), dtype=torch.float64)
    idx = torch.arange(ew_t.shape[0])
    t, n, idx = _broadcast(t, n, idx)
    ew_t = ew_t[idx]
    counts = _bremsstrahlung(inst.mid[None, :], t[:, None]) * inst.width[None, :]
    # line profiles do not depend on the sample: (C components, k sub-bins), then one matrix product
    comp_e = [e0 for line in THERMAL_LINES for e0 in line.energies]
    comp_s = [line.sigma_kev for line in THERMAL_LINES for _ in line.energies]
    comp_line = [j for j, line in enumerate(THERMAL_LINES) for _ in line.energies]
    comp_w = [1.0 / len(line.energies) for line in THERMAL_LINES for _ in line.energies]
    e_c = torch.tensor(comp_e, dtype=torch.float64)
    profiles = _gaussian_counts(inst, e_c, torch.tensor(comp_s, dtype=torch.float64))  # (C, k)
    flux = ew_t[:, comp_line] * torch.tensor(comp_w, dtype=torch.float64) \
        * _bremsstrahlung(e_c[None, :], t[:, None])
    counts = counts + flux @ profiles
    return _finish(_observe(counts, inst, n, instrument, normalize), s1 and s2 and ew.ndim == 1, dtype)


def iron_lines_spectrum(
    grid: EnergyGrid | None,
    velocity_kms: Any,
    width_kev: Any,
    nh: Any,
    *,
    rest_energy: float = FE_XXV_KEV,
    exaggeration: float = 1.0,
    instrument: bool = True,
    normalize: str | None = "l2",
    oversample: int = 8,
    dtype: Any = "float64",
) -> np.ndarray:
    """A Doppler-shifted Fe XXV Kα line: Gaussian of intrinsic σ ``width_kev`` centred at
    ``E = E0 · (1 - s · v / c)`` (first-order Doppler, ``ΔE = -E0 · v/c``; ``v > 0`` receding).

    ``exaggeration`` ``s`` multiplies the shift (``s = 1`` physical); the sampler uses a larger value so that
    receding and approaching lines fall in distinct channels, as in the papers' spectra (see :data:`PRIORS`).
    Returns ``(m,)`` for scalar parameters, else ``(N, m)``.
    """
    inst = _instrument(_as_grid(grid), _check_oversample(oversample))
    normalize = _check_normalize(normalize)
    v, s1 = _param(velocity_kms, "velocity_kms")
    w, s2 = _param(width_kev, "width_kev", positive=True)
    n, s3 = _param(nh, "nh", nonneg=True)
    for nm, val in (("rest_energy", rest_energy), ("exaggeration", exaggeration)):
        if isinstance(val, bool) or not isinstance(val, numbers.Real) or not math.isfinite(val) or val <= 0:
            raise ValueError(f"{nm} must be a positive finite number; got {val!r}.")
    v, w, n = _broadcast(v, w, n)
    center = float(rest_energy) * (1.0 - float(exaggeration) * v / C_KMS)
    if bool((center <= 0).any()):
        raise ValueError("velocity_kms times exaggeration must stay below the speed of light; got a line "
                         "centre "
                         "at or below 0 keV.")
    counts = _gaussian_counts(inst, center, w)
    return _finish(_observe(counts, inst, n, instrument, normalize), s1 and s2 and s3, dtype)


# ----------------------------------------------------------------------------------------------------- priors


@dataclass(frozen=True)
class Prior:
    """A documented parameter prior: ``dist`` is ``"uniform"``, ``"loguniform"`` or ``"fixed"`` (value
    ``low``)."""

    dist: str
    low: float
    high: float
    unit: str
    description: str

    def __post_init__(self) -> None:
        if self.dist not in ("uniform", "loguniform", "fixed"):
            raise ValueError(f"dist must be 'uniform', 'loguniform' or 'fixed'; got {self.dist!r}.")
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low > self.high:
            raise ValueError(f"a prior needs finite bounds with low <= high; got low={self.low!r}, "
                             f"high={self.high!r}.")
        if self.dist == "loguniform" and self.low <= 0:
            raise ValueError(f"a log-uniform prior needs a positive lower bound; got {self.low!r}.")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws."""
        if self.dist == "fixed":
            return np.full(n, float(self.low))
        if self.dist == "uniform":
            return rng.uniform(self.low, self.high, size=n)
        return np.exp(rng.uniform(math.log(self.low), math.log(self.high), size=n))

    def with_value(self, value: Any) -> Prior:
        """This prior overridden by a number (fixed), a ``(low, high)`` pair (same law) or another
        :class:`Prior`."""
        if isinstance(value, Prior):
            return value
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return Prior("fixed", float(value), float(value), self.unit, self.description)
        if isinstance(value, Sequence) and len(value) == 2 and all(
            isinstance(x, numbers.Real) and not isinstance(x, bool) for x in value
        ):
            return Prior(self.dist, float(value[0]), float(value[1]), self.unit, self.description)
        raise TypeError(f"a prior override must be a number, a (low, high) pair or a Prior; got {value!r}.")


_EW = {  # equivalent-width ranges (keV), log-uniform
    "o7": (0.02, 0.2), "o8": (0.02, 0.2), "fe_l": (0.05, 0.4), "ne9": (0.02, 0.2), "ne10": (0.01, 0.15),
    "mg11": (0.02, 0.2), "mg12": (0.01, 0.1), "si13": (0.1, 1.0), "si14": (0.02, 0.3), "s15": (0.05, 0.6),
    "s16": (0.01, 0.15), "ar17": (0.01, 0.2), "ca19": (0.01, 0.2), "fe25": (0.05, 1.0),
}

PRIORS: dict[str, Prior] = {
    "nh": Prior("uniform", 1.0, 2.0, "1e22 cm^-2",
                "absorbing column, one per mixing matrix (shared by its four columns); Cas A values span "
                "about "
                "1-2e22 cm^-2 across the remnant"),
    "gamma": Prior("uniform", 1.8, 3.5, "",
                   "synchrotron photon index; Cas A non-thermal filaments and the remnant's hard tail"),
    "kT": Prior("loguniform", 0.5, 3.0, "keV", "thermal plasma temperature; Cas A shocked ejecta and CSM"),
    **{f"ew_{ln.key}": Prior("loguniform", *_EW[ln.key], "keV",
                             f"{ln.label} equivalent width w.r.t. the bremsstrahlung continuum (author's "
                             "choice "
                             "giving line-rich ejecta-like spectra; not fitted)")
       for ln in THERMAL_LINES},
    "velocity_receding": Prior("uniform", 1000.0, 4000.0, "km/s",
                               "line-of-sight velocity of the receding (red-shifted) Fe ejecta, family "
                               "iron_1"),
    "velocity_approaching": Prior("uniform", -4000.0, -1000.0, "km/s",
                                  "line-of-sight velocity of the approaching (blue-shifted) Fe ejecta, "
                                  "family iron_2"),
    "iron_width": Prior("uniform", 0.03, 0.10, "keV",
                        "intrinsic Gaussian σ of each Fe line (velocity dispersion of ~1300-4500 km/s at "
                        "6.7 keV)"),
    "exaggeration": Prior("fixed", 6.0, 6.0, "",
                          "factor s multiplying the Doppler shifts so that the two Fe lines sit in distinct "
                          "channels of the 65-channel grid, as the papers' iron spectra do (1 = physical)"),
    "fe_rest_energy": Prior("fixed", FE_XXV_KEV, FE_XXV_KEV, "keV", "rest energy of the Fe XXV Kα blend"),
}
"""Parameter priors of the simulator (override any of them with keyword arguments of
:func:`sample_mixing_matrices`)."""


def _resolve_priors(overrides: Mapping[str, Any]) -> dict[str, Prior]:
    bad = sorted(set(overrides) - set(PRIORS))
    if bad:
        raise ValueError(f"prior overrides must be among {', '.join(sorted(PRIORS))}; got unknown name(s) "
                         f"{', '.join(repr(b) for b in bad)}.")
    pri = dict(PRIORS)
    for key, val in overrides.items():
        pri[key] = PRIORS[key].with_value(val)
    for key in ("nh", "iron_width", "exaggeration", "fe_rest_energy", "kT"):
        if pri[key].low < 0 or (key != "nh" and pri[key].low <= 0):
            raise ValueError(f"the {key!r} prior must be {'nonnegative' if key == 'nh' else 'positive'}; "
                             "got a "
                             f"lower bound of {pri[key].low!r}.")
    return pri


def _check_n(n_samples: Any) -> int:
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive int; got {n_samples!r}.")
    return int(n_samples)


def sample_parameters(n_samples: int, rng: Any = None, **prior_overrides: Any) -> dict[str, np.ndarray]:
    """Draw the physical parameters of ``n_samples`` mixing matrices from :data:`PRIORS` (with overrides).

    The draws happen in the fixed order of :data:`PRIORS`, so a given seed gives the same parameters whatever
    families are later rendered. Returns ``name -> (N,)`` arrays (``iron_width`` is drawn twice, as
    ``iron_width_1`` and ``iron_width_2``); ``line_strengths`` is ``(N, L)``, the ``ew_*`` columns in the
    order of :data:`THERMAL_LINES`.
    """
    n = _check_n(n_samples)
    gen = make_rng(rng)
    pri = _resolve_priors(prior_overrides)
    out: dict[str, np.ndarray] = {}
    for key, prior in pri.items():
        if key == "iron_width":  # one width per line: iron_1 then iron_2
            out["iron_width_1"], out["iron_width_2"] = prior.sample(gen, 2 * n).reshape(2, n)
        else:
            out[key] = prior.sample(gen, n)
    out["line_strengths"] = np.stack([out[f"ew_{ln.key}"] for ln in THERMAL_LINES], axis=1)
    return out


def sample_mixing_matrices(
    n_samples: int,
    grid: EnergyGrid | None = None,
    rng: Any = None,
    *,
    normalize: str | None = "l2",
    families: Sequence[str] = FAMILIES,
    oversample: int = 8,
    return_params: bool = False,
    dtype: Any = "float64",
    **prior_overrides: Any,
) -> np.ndarray | tuple[np.ndarray, dict[str, np.ndarray]]:
    """Random Cas A–like mixing matrices ``(N, m, len(families))``, one spectrum per column.

    Each matrix is one line of sight: one ``N_H`` for its columns, then one synchrotron (Γ), one thermal (kT,
    line equivalent widths) and two iron-line spectra (receding / approaching velocity, width), drawn from
    :data:`PRIORS` (override any prior by name: a number fixes it, a ``(low, high)`` pair changes its range),
    observed through the instrument and normalised (unit l2 columns by default; ``"l1"``; ``None``).
    Columns follow ``families`` (default :data:`FAMILIES`); the parameters drawn do not depend on
    ``families``, so a subset reproduces the corresponding columns of the full draw. ``return_params`` also
    returns the draws. Vectorised over samples (LPALM paper, Fahes et al. 2022, Figure 1 families).
    """
    n = _check_n(n_samples)
    g = _as_grid(grid)
    normalize = _check_normalize(normalize)
    if isinstance(families, str) or not isinstance(families, Sequence) or len(families) == 0:
        raise ValueError(f"families must be a non-empty sequence of names among {FAMILIES}; got "
                         f"{families!r}.")
    bad = [f for f in families if f not in FAMILIES]
    if bad:
        raise ValueError(f"families must be names among {FAMILIES}; got unknown {bad}.")
    p = sample_parameters(n, rng, **prior_overrides)
    common = {"instrument": True, "normalize": normalize, "oversample": oversample, "dtype": dtype}
    iron = {"rest_energy": float(p["fe_rest_energy"][0]), "exaggeration": float(p["exaggeration"][0])}
    out_dtype = np.float64 if resolve_dtype(dtype) == torch.float64 else np.float32
    A = np.empty((n, g.m, len(families)), dtype=out_dtype)
    for start in range(0, n, _CHUNK):  # bounded memory: (chunk, sub-bins) tensors
        sl = slice(start, min(start + _CHUNK, n))
        nh = p["nh"][sl]
        for j, fam in enumerate(families):
            if fam == "synchrotron":
                col = synchrotron_spectrum(g, p["gamma"][sl], nh, **common)
            elif fam == "thermal":
                col = thermal_spectrum(g, p["kT"][sl], p["line_strengths"][sl], nh, **common)
            elif fam == "iron_1":
                col = iron_lines_spectrum(g, p["velocity_receding"][sl], p["iron_width_1"][sl], nh, **iron,
                                          **common)
            else:
                col = iron_lines_spectrum(g, p["velocity_approaching"][sl], p["iron_width_2"][sl], nh, **iron,
                                          **common)
            A[sl, :, j] = col
    return (A, p) if return_params else A


def sample_spectra(
    family: str,
    n_samples: int,
    grid: EnergyGrid | None = None,
    rng: Any = None,
    normalize: str | None = "l2",
    **prior_overrides: Any,
) -> np.ndarray:
    """``n_samples`` spectra ``(N, m)`` of one family of :data:`FAMILIES` (each with its own N_H draw)."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}; got {family!r}.")
    A = sample_mixing_matrices(n_samples, grid, rng, normalize=normalize, families=(family,),
                               **prior_overrides)
    return A[..., 0]
