"""Figures: families of spectra with their variability, estimated vs true spectra, source-map grids.

Every function builds a :class:`matplotlib.figure.Figure` on the Agg canvas (no pyplot, no global state, no
display needed), returns it, and, given ``path``, also writes it atomically (temporary file in the same
folder, then rename; the format follows the suffix, e.g. ``.png``, ``.pdf``, ``.svg``).

- :func:`plot_spectra_family`: many spectra of one or several families, drawn thin and translucent with their
  median, the analogue of the LPALM paper's Figure 1 (Fahes et al. 2022);
- :func:`plot_spectra`: estimated columns of a mixing matrix beside the true ones, one panel per component;
- :func:`plot_maps`: a grid of source maps ``(n, H, W)``.
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

from ._backend import to_numpy
from ._files import atomic_path

__all__ = ["new_figure", "plot_maps", "plot_spectra", "plot_spectra_family", "save_figure"]

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


def _energies(energies: Any, m: int) -> tuple[np.ndarray, str]:
    """x-axis values and label: keV centres (an array or an object with ``centers``), else channel indices."""
    if energies is None:
        return np.arange(m), "channel"
    e = np.asarray(getattr(energies, "centers", energies), dtype=float)
    if e.shape != (m,):
        raise ValueError(f"energies must hold one value per channel ({m}); got shape {e.shape}.")
    return e, "energy (keV)"


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
    ax.set_yscale("log")
    ax.set_ylim(max(positive.min(), positive.max() * 1e-4), positive.max() * 2.0)


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
) -> Figure:
    """Estimated spectra (columns of ``A_est`` ``(m, n)``) beside the true ones ``A_true`` ``(m, n)``, one
    panel per component. The columns are drawn as given: align them first (permutation and scale) if
    needed."""
    est = _check_ndim(A_est, "A_est", (1, 2), "a 2-D mixing matrix (m channels, n spectra)")
    if est.ndim == 1:
        est = est[:, None]
    true = None
    if A_true is not None:
        true = _check_ndim(A_true, "A_true", (1, 2), "a 2-D mixing matrix (m channels, n spectra)")
        if true.ndim == 1:
            true = true[:, None]
        if true.shape != est.shape:
            raise ValueError(f"A_true must have the shape of A_est {est.shape}; got {true.shape}.")
    m, n = est.shape
    x, xlabel = _energies(energies, m)
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
        ax.plot(x, est[:, j], color=FAMILY_COLORS[j % len(FAMILY_COLORS)], lw=1.2, ls="--", label="estimate")
        if log:
            both = est[:, j] if true is None else np.concatenate([est[:, j], true[:, j]])
            _set_log(ax, both)
        ax.set_title(names[j], fontsize="medium")
        ax.set_xlabel(xlabel)
        ax.legend(loc="upper right", fontsize="small", frameon=False)
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
