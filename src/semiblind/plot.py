"""Figures: families of spectra with their variability, estimated vs true spectra, source-map grids.

Every function builds a :class:`matplotlib.figure.Figure` on the Agg canvas (no pyplot, no global state, no
display needed), returns it, and, given ``path``, also writes it atomically (temporary file in the same
folder, then rename; the format follows the suffix, e.g. ``.png``, ``.pdf``, ``.svg``).

- :func:`plot_spectra_family`: many spectra of one or several families, drawn thin and translucent with their
  median, the analogue of the LPALM paper's Figure 1 (Fahes et al. 2022);
- :func:`plot_spectra`: estimated columns of a mixing matrix beside the true ones, one panel per component;
- :func:`plot_maps`: a grid of source maps ``(n, H, W)``;
- :func:`plot_metric_bars`: grouped bars of a method × metric table, one panel per metric;
- :func:`plot_layer_curves`: per-layer (or per-iteration) curves of unrolled networks and solvers;
- :func:`plot_residual`: where and at which energies a separation fails to explain the data
  (``R = X − A·S``: data and residual norm maps per pixel, RMS spectra per channel).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from ._backend import to_numpy
from ._files import atomic_path

__all__ = [
    "new_figure",
    "plot_layer_curves",
    "plot_maps",
    "plot_metric_bars",
    "plot_residual",
    "plot_residuals",
    "plot_spectra",
    "plot_spectra_family",
    "residual_maps",
    "save_figure",
]

FAMILY_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink",
                 "tab:gray", "tab:olive", "tab:cyan")


def new_figure(nrows: int = 1, ncols: int = 1, *, panel_size: tuple[float, float] = (4.0, 3.0),
               squeeze: bool = False, **subplot_kw: Any) -> tuple[Figure, np.ndarray]:
    """A figure on the Agg canvas with an ``(nrows, ncols)`` array of axes (``squeeze=False`` by default)."""
    fig = Figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=squeeze, **subplot_kw)
    return fig, axes


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = 120, overwrite: bool = True) -> None:
    """Write ``fig`` to ``path`` atomically; the format is taken from the suffix (``.png`` when there is
    none)."""
    fmt = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
    with atomic_path(path, overwrite=overwrite, argument="path") as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)


def _finish(fig: Figure, path: str | os.PathLike | None, dpi: int) -> Figure:
    if path is not None:
        save_figure(fig, path, dpi=dpi)
    return fig


def _grid_shape(n: int, ncols: int | None) -> tuple[int, int]:
    if ncols is None:
        ncols = 2 if n == 4 else min(n, 4)
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive int or None; got {ncols!r}.")
    ncols = min(ncols, n)
    return math.ceil(n / ncols), ncols


def spectral_label(unit: str | None) -> str:
    """The x-axis label of spectra in the data's spectral ``unit``: ``"energy (keV)"`` (also for ``None``),
    ``"wavelength (nm)"``, ``"wavelength (µm)"``, ``"frequency (Hz)"``, ``"wavenumber (cm-1)"``, else
    ``"spectral axis (UNIT)"``."""
    if unit is None or not str(unit).strip():
        return "energy (keV)"
    u = str(unit).strip()
    key = u.lower().replace("μ", "µ")
    if key in ("kev", "ev", "mev", "gev", "j", "erg"):
        return f"energy ({u})"
    if key in ("nm", "um", "µm", "micron", "microns", "micrometers", "nanometers", "angstrom", "å", "m", "mm",
               "cm"):
        return f"wavelength ({'µm' if key in ('um', 'micron', 'microns', 'micrometers') else u})"
    if key.endswith("hz"):
        return f"frequency ({u})"
    if key in ("cm-1", "1/cm", "cm^-1"):
        return f"wavenumber ({u})"
    return f"spectral axis ({u})"


def _energies(energies: Any, m: int, unit: str | None = None) -> tuple[np.ndarray, str]:
    """x-axis values and label: centres (an array or an object with ``centers``) in ``unit`` (default keV),
    else channel indices."""
    if energies is None:
        return np.arange(m), "channel"
    e = np.asarray(getattr(energies, "centers", energies), dtype=float)
    if e.shape != (m,):
        raise ValueError(f"energies must hold one value per channel ({m}); got shape {e.shape}.")
    return e, spectral_label(unit)


def _titles(titles: Any, n: int, default: Sequence[str]) -> list[str]:
    if titles is None:
        return list(default)
    if isinstance(titles, str) or len(titles) != n:
        raise ValueError(f"titles must be a sequence of {n} strings (one per panel); got {titles!r}.")
    return [str(t) for t in titles]


def _check_ndim(x: Any, name: str, ndims: tuple[int, ...], expect: str) -> np.ndarray:
    arr = np.asarray(to_numpy(x), dtype=float)
    if arr.ndim not in ndims or arr.size == 0:
        raise ValueError(f"{name} must be {expect}; got an array of shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values; got {int((~np.isfinite(arr)).sum())} "
                         "non-finite value(s).")
    return arr


def _set_log(ax: Any, data: np.ndarray) -> None:
    positive = data[data > 0]
    if positive.size == 0:
        raise ValueError("log=True needs some positive values to draw; every value is <= 0.")
    _log_axis(ax)
    ax.set_ylim(max(positive.min(), positive.max() * 1e-4), positive.max() * 2.0)


def _log_axis(ax: Any) -> None:
    """Logarithmic y-axis with decade ticks only (unlabelled minor ticks cost more than the rest of the
    drawing under the constrained layout, and add little)."""
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(NullLocator())


def plot_spectra_family(
    spectra: Any,
    energies: Any = None,
    *,
    family_names: Sequence[str] | None = None,
    max_curves: int | None = 50,
    log: bool = False,
    show_median: bool = True,
    title: str | None = None,
    ncols: int | None = None,
    path: str | os.PathLike | None = None,
    dpi: int = 120,
) -> Figure:
    """Spectra with their variability: every sample drawn thin and translucent, the median drawn bold.

    The analogue of the LPALM paper's Figure 1 (Fahes et al. 2022). ``spectra`` is ``(N, m)`` (one family, one
    panel) or ``(N, m, n)`` (mixing matrices: panel ``j`` shows column ``j`` of every matrix). ``energies``:
    channel energies ``(m,)`` or an :class:`~semiblind.data.xray.EnergyGrid` (default: channel index).
    ``max_curves`` caps the number of samples drawn (the first ones; ``None``: all); the median uses all
    samples.
    """
    arr = _check_ndim(spectra, "spectra", (2, 3), "a 2-D array (N spectra, m channels) or a 3-D stack of "
                      "mixing matrices (N, m channels, n families)")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    N, m, n = arr.shape
    if max_curves is not None and (isinstance(max_curves, bool) or not isinstance(max_curves, int)
                                   or max_curves < 1):
        raise ValueError(f"max_curves must be a positive int or None; got {max_curves!r}.")
    x, xlabel = _energies(energies, m)
    names = _titles(family_names, n, [f"family {j + 1}" for j in range(n)] if n > 1 else [""])
    nrows, nc = _grid_shape(n, ncols)
    fig, axes = new_figure(nrows, nc)
    shown = arr if max_curves is None else arr[:max_curves]
    for j in range(nrows * nc):
        ax = axes.flat[j]
        if j >= n:
            ax.set_visible(False)
            continue
        color = FAMILY_COLORS[j % len(FAMILY_COLORS)]
        alpha = float(np.clip(3.0 / max(shown.shape[0], 1), 0.05, 0.6))
        ax.plot(x, shown[:, :, j].T, color=color, alpha=alpha, lw=0.8)
        if show_median:
            ax.plot(x, np.median(arr[:, :, j], axis=0), color="k", lw=1.4, label="median")
            ax.legend(loc="upper right", fontsize="small", frameon=False)
        if log:
            _set_log(ax, arr[:, :, j])
        ax.set_title(f"{names[j]} ({N} samples)" if names[j] else f"{N} samples", fontsize="medium")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("amplitude")
    if title:
        fig.suptitle(title)
    return _finish(fig, path, dpi)


def plot_spectra(
    A_est: Any,
    A_true: Any = None,
    energies: Any = None,
    log: bool = False,
    *,
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    path: str | os.PathLike | None = None,
    dpi: int = 120,
    spectral_unit: str | None = None,
) -> Figure:
    """Estimated spectra (columns of ``A_est`` ``(m, n)``) beside the true ones ``A_true`` ``(m, n)``, one
    panel per component. The columns are drawn as given: align them first (permutation and scale) if
    needed. ``spectral_unit`` names the unit of ``energies`` on the x-axis (default keV).

    ``A_est`` may also be a dict ``{label: (m, n) array}`` (e.g. one aligned estimate per method): every
    estimate is then drawn dashed in its own colour, labelled, in each panel.
    """
    if isinstance(A_est, dict):
        if not A_est:
            raise ValueError("A_est must be a mixing matrix or a non-empty dict {label: mixing matrix}; got {}.")
        ests = {str(k): _check_ndim(v, f"A_est[{k!r}]", (1, 2), "a 2-D mixing matrix (m channels, n spectra)")
                for k, v in A_est.items()}
        multi = True
    else:
        ests = {"estimate": _check_ndim(A_est, "A_est", (1, 2), "a 2-D mixing matrix (m channels, n spectra)")}
        multi = False
    ests = {k: (v[:, None] if v.ndim == 1 else v) for k, v in ests.items()}
    shape0 = next(iter(ests.values())).shape
    for k, v in ests.items():
        if v.shape != shape0:
            raise ValueError(f"A_est[{k!r}] must have the shape {shape0} of the first estimate; got {v.shape}.")
    true = None
    if A_true is not None:
        true = _check_ndim(A_true, "A_true", (1, 2), "a 2-D mixing matrix (m channels, n spectra)")
        if true.ndim == 1:
            true = true[:, None]
        if true.shape != shape0:
            raise ValueError(f"A_true must have the shape of A_est {shape0}; got {true.shape}.")
    m, n = shape0
    x, xlabel = _energies(energies, m, spectral_unit)
    names = _titles(titles, n, [f"component {j + 1}" for j in range(n)])
    nrows, nc = _grid_shape(n, ncols)
    fig, axes = new_figure(nrows, nc)
    for j in range(nrows * nc):
        ax = axes.flat[j]
        if j >= n:
            ax.set_visible(False)
            continue
        if true is not None:
            ax.plot(x, true[:, j], color="k", lw=1.6, label="truth")
        for i, (label, est) in enumerate(ests.items()):
            color = FAMILY_COLORS[(i if multi else j) % len(FAMILY_COLORS)]
            ax.plot(x, est[:, j], color=color, lw=1.2, ls="--", label=label)
        if log:
            parts = [e[:, j] for e in ests.values()] + ([] if true is None else [true[:, j]])
            _set_log(ax, np.concatenate(parts))
        ax.set_title(names[j], fontsize="medium")
        ax.set_xlabel(xlabel)
        ax.legend(loc="best" if multi else "upper right", fontsize="x-small" if multi else "small",
                  frameon=False)
    return _finish(fig, path, dpi)


def plot_maps(
    S: Any,
    log: bool = False,
    titles: Sequence[str] | None = None,
    *,
    shape: tuple[int, int] | None = None,
    cmap: str = "magma",
    ncols: int | None = None,
    colorbar: bool = True,
    path: str | os.PathLike | None = None,
    dpi: int = 120,
) -> Figure:
    """A grid of source maps ``S`` ``(n, H, W)`` (or ``(n, t)`` with ``shape=(H, W)``), each with its own
    colour scale. ``log`` uses a logarithmic colour scale over the positive values (non-positive pixels are
    drawn blank).
    """
    arr = _check_ndim(S, "S", (2, 3), "a 3-D stack of maps (n, height, width) or a 2-D (n, pixels) array "
                      "with shape=(height, width)")
    if arr.ndim == 2:
        if shape is None or len(shape) != 2 or int(shape[0]) * int(shape[1]) != arr.shape[1]:
            raise ValueError(f"shape must be (height, width) with height*width = {arr.shape[1]} pixels for "
                             f"2-D S; got {shape!r}.")
        arr = arr.reshape(arr.shape[0], int(shape[0]), int(shape[1]))
    n = arr.shape[0]
    names = _titles(titles, n, [f"source {j + 1}" for j in range(n)])
    nrows, nc = _grid_shape(n, ncols)
    fig, axes = new_figure(nrows, nc, panel_size=(3.2, 3.0))
    for j in range(nrows * nc):
        ax = axes.flat[j]
        ax.set_xticks([])
        ax.set_yticks([])
        if j >= n:
            ax.set_visible(False)
            continue
        img = arr[j]
        if log:
            pos = img[img > 0]
            if pos.size == 0:
                raise ValueError(f"log=True needs positive pixels; map {j} has none.")
            norm = LogNorm(vmin=max(pos.min(), pos.max() * 1e-4), vmax=pos.max())
            im = ax.imshow(np.where(img > 0, img, np.nan), cmap=cmap, norm=norm, origin="lower")
        else:
            im = ax.imshow(img, cmap=cmap, origin="lower")
        ax.set_title(names[j], fontsize="medium")
        if colorbar:
            fig.colorbar(im, ax=ax, shrink=0.8)
    return _finish(fig, path, dpi)


# ------------------------------------------------------------------------------------------- metric bars

METRIC_LABELS: dict[str, tuple[str, bool]] = {
    # key: (label, higher is better)
    "nmse_A": ("NMSE A", False),
    "nmse_S": ("NMSE S", False),
    "nmse_db_A": ("NMSE A (dB)", False),
    "nmse_db_S": ("NMSE S (dB)", False),
    "sad_A": ("SAD A (mean cosine)", True),
    "sad_S": ("SAD S (mean cosine)", True),
    "sad_db_A": ("SAD A (dB)", True),
    "sad_db_S": ("SAD S (dB)", True),
    "sdr": ("SDR (dB)", True),
    "sir": ("SIR (dB)", True),
    "sar": ("SAR (dB)", True),
    "snr": ("SNR (dB)", True),
    "seconds": ("time (s)", False),
}
"""Axis label and direction ("higher is better") of the metric keys of :func:`semiblind.metrics.evaluate`."""


def _finite_number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"table values must be numbers; got {value!r}.") from None


def plot_metric_bars(
    table: dict[str, dict[str, Any]],
    metrics: Sequence[str] = ("nmse_A", "nmse_S", "sad_db_A", "sdr"),
    path: str | os.PathLike | None = None,
    *,
    log: bool | None = None,
    ncols: int | None = None,
    title: str | None = None,
    dpi: int = 120,
) -> Figure:
    """Bars of a method × metric table: one panel per metric, one bar per method (in the table's order).

    ``table`` maps a method name to a dict ``{metric: value}`` (e.g. the output of
    :func:`semiblind.metrics.evaluate` plus ``"seconds"``); ``metrics`` picks the panels. Each panel's y-label
    says whether higher or lower is better (for the keys of :data:`METRIC_LABELS`). ``log``: logarithmic
    y-axis; ``None`` (default) uses it for linear NMSE values and times when they are all positive.
    Non-finite values (an infinite SDR, a diverged method) get no bar but a text mark (``inf``, ``-inf``,
    ``nan``); a metric missing for a method is marked ``n/a``.
    """
    if not isinstance(table, dict) or not table:
        raise ValueError(f"table must be a non-empty dict {{method: {{metric: value}}}}; got {table!r:.80}.")
    for name, row in table.items():
        if not isinstance(row, dict):
            raise TypeError(f"table[{name!r}] must be a dict {{metric: value}}; got {type(row).__name__}.")
    if isinstance(metrics, str) or not isinstance(metrics, Sequence) or len(metrics) == 0:
        raise ValueError(f"metrics must be a non-empty sequence of metric names; got {metrics!r}.")
    present = {k for row in table.values() for k in row}
    missing = [m for m in metrics if m not in present]
    if missing:
        raise ValueError(f"metrics must be keys of the table's rows ({', '.join(sorted(present))}); got "
                         f"{', '.join(map(repr, missing))}.")
    if log is not None and not isinstance(log, bool):
        raise TypeError(f"log must be True, False or None; got {log!r}.")
    names = [str(k) for k in table]
    k = len(metrics)
    nrows, nc = _grid_shape(k, ncols if ncols is not None else min(k, 4))
    fig, axes = new_figure(nrows, nc, panel_size=(max(3.2, 0.7 * len(names) + 1.5), 3.2))
    x = np.arange(len(names))
    for j in range(nrows * nc):
        ax = axes.flat[j]
        if j >= k:
            ax.set_visible(False)
            continue
        key = metrics[j]
        vals = np.array([_finite_number(table[n][key]) if key in table[n] else np.nan for n in table])
        finite = np.isfinite(vals)
        use_log = log if log is not None else (
            (key.startswith("nmse_") and "_db" not in key or key == "seconds")
            and bool(finite.any()) and bool(np.all(vals[finite] > 0)))
        if use_log and np.any(vals[finite] <= 0):
            raise ValueError(f"log=True needs positive values; metric {key!r} has values <= 0.")
        colors = [FAMILY_COLORS[i % len(FAMILY_COLORS)] for i in np.flatnonzero(finite)]
        ax.bar(x[finite], vals[finite], color=colors, width=0.7)
        if use_log:
            _log_axis(ax)
        rows = list(table.values())
        for i in np.flatnonzero(~finite):
            if key not in rows[i]:
                mark = "n/a"
            else:
                mark = "nan" if np.isnan(vals[i]) else ("inf" if vals[i] > 0 else "-inf")
            ax.annotate(mark, (x[i], 0.02), xycoords=("data", "axes fraction"), ha="center", va="bottom",
                        fontsize="small", color="0.3")
        for i in np.flatnonzero(finite):
            ax.annotate(format(vals[i], ".3g"), (x[i], vals[i]), ha="center",
                        va="bottom" if vals[i] >= 0 or use_log else "top", fontsize="x-small",
                        xytext=(0, 2 if vals[i] >= 0 or use_log else -2), textcoords="offset points")
        label, higher = METRIC_LABELS.get(key, (key, None))
        hint = "" if higher is None else (" — higher is better" if higher else " — lower is better")
        ax.set_title(label + hint, fontsize="medium")
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=30 if len(names) > 4 else 0)
        ax.margins(y=0.15)
    if title:
        fig.suptitle(title)
    return _finish(fig, path, dpi)


# ------------------------------------------------------------------------------------------- layer curves


def plot_layer_curves(
    per_layer: dict[str, Any],
    ylabel: str,
    log: bool = True,
    path: str | os.PathLike | None = None,
    *,
    xlabel: str = "layer",
    title: str | None = None,
    dpi: int = 120,
) -> Figure:
    """One curve per entry of ``per_layer`` (label → sequence of values, e.g. NMSE(S) after each layer of an
    unrolled network, or a solver's objective per iteration), drawn against ``1 … K`` on one axis.

    ``log`` (default True) uses a logarithmic y-axis; it needs positive values. Curves may have different
    lengths (a network of 25 layers beside a solver's first 25 iterations...).
    """
    if not isinstance(per_layer, dict) or not per_layer:
        raise ValueError(f"per_layer must be a non-empty dict {{label: sequence of values}}; got "
                         f"{per_layer!r:.80}.")
    if not isinstance(ylabel, str):
        raise TypeError(f"ylabel must be a str; got {type(ylabel).__name__}.")
    curves = {str(k): _check_ndim(v, f"per_layer[{k!r}]", (1,), "a 1-D sequence of values (one per layer)")
              for k, v in per_layer.items()}
    fig, axes = new_figure(1, 1, panel_size=(6.0, 4.0))
    ax = axes[0, 0]
    for i, (label, y) in enumerate(curves.items()):
        ax.plot(np.arange(1, y.size + 1), y, color=FAMILY_COLORS[i % len(FAMILY_COLORS)], lw=1.5,
                marker="o" if y.size <= 30 else None, ms=3, label=label)
    if log:
        _set_log(ax, np.concatenate(list(curves.values())))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", frameon=False)
    if title:
        ax.set_title(title)
    return _finish(fig, path, dpi)


# ------------------------------------------------------------------------------------------- residual


RESIDUAL_KINDS = ("norm", "relative", "sum")


def residual_maps(X: Any, A: Any, S: Any, *, shape: tuple[int, int] | None = None,
                  floor: float = 1e-2) -> dict[str, np.ndarray]:
    """The per-pixel and per-channel summaries of ``R = X − A·S`` drawn by :func:`plot_residual`.

    Returns ``data`` (``‖x_p‖₂``, map), ``norm`` (``‖r_p‖₂``, map), ``relative`` (``‖r_p‖₂ / ‖x_p‖₂``, NaN
    where ``‖x_p‖₂ < floor · max_p ‖x_p‖₂``, map), ``sum`` (``Σ_c r_cp``, map), ``rms_data`` and
    ``rms_residual`` (root mean square over pixels, per channel, ``(m,)``) and ``total``
    (``‖R‖_F / ‖X‖_F``, 0-d).
    """
    Xa = _check_ndim(X, "X", (2, 3), "a 2-D array (channels, pixels) or a cube (channels, height, width)")
    Aa = _check_ndim(A, "A", (2,), "a 2-D mixing matrix (channels, sources)")
    Sa = _check_ndim(S, "S", (2, 3), "a 2-D array (sources, pixels) or maps (sources, height, width)")
    m = Xa.shape[0]
    if Xa.ndim == 3:
        img = Xa.shape[1:]
    elif Sa.ndim == 3:
        img = Sa.shape[1:]
    else:
        img = tuple(shape) if shape is not None else None
    Xf, Sf = Xa.reshape(m, -1), Sa.reshape(Sa.shape[0], -1)
    if Aa.shape[0] != m or Aa.shape[1] != Sf.shape[0] or Sf.shape[1] != Xf.shape[1]:
        raise ValueError(f"A and S must fit X {Xa.shape}: A (channels={m}, n) and S (n, pixels="
                         f"{Xf.shape[1]}); got A {Aa.shape} and S {Sa.shape}.")
    if img is None or len(img) != 2 or int(img[0]) * int(img[1]) != Xf.shape[1]:
        raise ValueError(f"shape must be (height, width) with height*width = {Xf.shape[1]} pixels when X and "
                         f"S are flat; got {shape!r}.")
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0 <= floor < 1:
        raise ValueError(f"floor must be a number in [0, 1); got {floor!r}.")
    R = Xf - Aa @ Sf
    xn = np.linalg.norm(Xf, axis=0)
    rn = np.linalg.norm(R, axis=0)
    ok = xn >= floor * xn.max() if xn.max() > 0 else np.zeros_like(xn, dtype=bool)
    rel = np.full_like(rn, np.nan)
    rel[ok] = rn[ok] / xn[ok]
    H, W = (int(v) for v in img)
    total = np.linalg.norm(R) / np.linalg.norm(Xf) if np.linalg.norm(Xf) > 0 else np.inf
    return {
        "data": xn.reshape(H, W),
        "norm": rn.reshape(H, W),
        "relative": rel.reshape(H, W),
        "sum": R.sum(axis=0).reshape(H, W),
        "rms_data": np.sqrt(np.mean(Xf**2, axis=1)),
        "rms_residual": np.sqrt(np.mean(R**2, axis=1)),
        "total": np.asarray(total),
    }


def plot_residual(
    X: Any,
    A: Any,
    S: Any,
    energies: Any = None,
    *,
    kind: str = "norm",
    shape: tuple[int, int] | None = None,
    floor: float = 1e-2,
    cmap: str = "magma",
    title: str | None = None,
    path: str | os.PathLike | None = None,
    dpi: int = 120,
    spectral_unit: str | None = None,
) -> Figure:
    """Where and at which energies ``A·S`` fails to explain the data: three panels.

    1. the data, ``‖x_p‖₂`` per pixel (the norm of each pixel's spectrum);
    2. the residual ``R = X − A·S`` per pixel, as chosen by ``kind``: ``"norm"`` ``‖r_p‖₂`` (default; with
       white noise of standard deviation σ a perfect fit leaves ``≈ σ√m`` everywhere, so structure in this
       map is signal left unexplained), ``"relative"`` ``‖r_p‖₂ / ‖x_p‖₂`` (pixels fainter than ``floor`` ×
       the brightest are left blank, since there the ratio measures only noise), or ``"sum"`` the
       channel-summed residual ``Σ_c r_cp`` (signed, diverging colours centred on 0: flux missing or in
       excess);
    3. the root-mean-square over pixels of the data and of the residual, per channel, against ``energies``
       (keV centres or an :class:`~semiblind.data.xray.EnergyGrid`; default channel index), log scale:
       lines or bands where the spectra are wrong stand out.

    The title gives ``‖X − A·S‖_F / ‖X‖_F``. ``X``: ``(m, H, W)`` or ``(m, t)`` with ``shape=(H, W)`` (or maps
    ``S`` ``(n, H, W)``); ``A`` ``(m, n)``. :func:`plot_residuals` compares several estimates.
    """
    return plot_residuals(X, {title or "": (A, S)}, energies, kind=kind, shape=shape, floor=floor, cmap=cmap,
                          path=path, dpi=dpi, spectral_unit=spectral_unit)


def plot_residuals(
    X: Any,
    estimates: dict[str, tuple[Any, Any]],
    energies: Any = None,
    *,
    kind: str = "norm",
    shape: tuple[int, int] | None = None,
    floor: float = 1e-2,
    cmap: str = "magma",
    ncols: int | None = None,
    path: str | os.PathLike | None = None,
    dpi: int = 120,
    spectral_unit: str | None = None,
) -> Figure:
    """The residual panels of :func:`plot_residual` for several estimates ``{label: (A, S)}`` of the same
    data: the data map, one residual map per estimate (on one shared colour scale, clipped at the 99.5th
    percentile of all of them, so the maps compare directly), and one per-channel panel with the data's RMS
    and every estimate's RMS residual. Each residual map's title gives its ``‖X − A·S‖_F / ‖X‖_F``.
    """
    if kind not in RESIDUAL_KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, RESIDUAL_KINDS))}; got {kind!r}.")
    if not isinstance(estimates, dict) or not estimates:
        raise ValueError(f"estimates must be a non-empty dict {{label: (A, S)}}; got {estimates!r:.80}.")
    res = {}
    for label, pair in estimates.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"estimates[{label!r}] must be a pair (A, S); got {type(pair).__name__}.")
        res[str(label)] = residual_maps(X, pair[0], pair[1], shape=shape, floor=floor)
    first = next(iter(res.values()))
    x, xlabel = _energies(energies, first["rms_data"].size, spectral_unit)
    k = len(res)
    n_panels = k + 2
    nrows, nc = _grid_shape(n_panels, ncols if ncols is not None else min(n_panels, 4))
    fig, axes = new_figure(nrows, nc, panel_size=(3.9, 3.4))
    flat = list(axes.flat)
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    ax0 = flat[0]
    im = ax0.imshow(first["data"], cmap=cmap, origin="lower")
    fig.colorbar(im, ax=ax0, shrink=0.8)
    ax0.set_title("data ‖x‖₂ per pixel", fontsize="medium")
    maps = [r[kind] for r in res.values()]
    finite = np.concatenate([mp[np.isfinite(mp)].ravel() for mp in maps])
    if kind == "sum":
        lim = float(np.percentile(np.abs(finite), 99.5)) if finite.size else 1.0
        norm_kw = {"cmap": "RdBu_r", "vmin": -(lim or 1.0), "vmax": lim or 1.0}
        what = "Σ_channels (x − As)"
    else:
        hi = float(np.percentile(finite, 99.5)) if finite.size else 1.0
        norm_kw = {"cmap": cmap, "vmin": 0.0, "vmax": hi or 1.0}
        what = "‖x − As‖₂" if kind == "norm" else "‖x − As‖₂ / ‖x‖₂"
    for i, (label, r) in enumerate(res.items()):
        ax = flat[1 + i]
        im = ax.imshow(r[kind], origin="lower", **norm_kw)
        fig.colorbar(im, ax=ax, shrink=0.8, extend="both" if kind == "sum" else "max")
        head = f"{label}: " if label else ""
        ax.set_title(f"{head}{what}\n‖X − AS‖_F/‖X‖_F = {float(r['total']):.3g}", fontsize="small")
    for ax in flat[: k + 1]:
        ax.set_xticks([])
        ax.set_yticks([])
    ax = flat[k + 1]
    ax.plot(x, first["rms_data"], color="k", lw=1.4, label="data")
    for i, (label, r) in enumerate(res.items()):
        ax.plot(x, r["rms_residual"], color=FAMILY_COLORS[(i + 3) % len(FAMILY_COLORS)] if k == 1 else
                FAMILY_COLORS[i % len(FAMILY_COLORS)], lw=1.1, label=f"residual {label}".strip())
    both = np.concatenate([first["rms_data"], *[r["rms_residual"] for r in res.values()]])
    if np.any(both > 0):
        pos = both[both > 0]
        _log_axis(ax)
        ax.set_ylim(max(pos.min(), pos.max() * 1e-5) / 2, pos.max() * 2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("RMS over pixels")
    ax.set_title("per channel", fontsize="medium")
    ax.legend(fontsize="x-small", frameon=False)
    return _finish(fig, path, dpi)
