"""The report of a self-supervised LPALM run (:func:`semiblind.selfsup.selfsup_unmix`): one figure per stage and
the result files.

:func:`write_selfsup_outputs` writes into one folder: ``result.npz`` (``A (m, n)``, ``S``, ``info``),
``report.html`` (self-contained: library spread, Dirichlet fit against ``S_ref``, training curve, final spectra
and maps, timings and settings), ``report.md`` (the same tables and the figures as PNG files beside it) and
``summary.json`` (strict JSON). The trained model folder (``model/``) is written by the pipeline itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ._files import atomic_write_text
from ._json import dumps as json_dumps
from ._json import to_jsonable
from .plot import new_figure, plot_maps, plot_spectra, plot_spectra_family, save_figure
from .report import format_table, write_report
from .selfsup import SelfSupResult

__all__ = ["figure_dirichlet", "figure_training", "write_selfsup_outputs"]


def figure_dirichlet(result: SelfSupResult, *, rng: Any = 0, bins: int = 40) -> Figure:
    """Histogram of each normalised abundance of ``S_ref`` (columns divided by their sums) against draws of the
    fitted Dirichlet mixture."""
    S = np.clip(result.S_ref, 0, None)
    tot = S.sum(0, keepdims=True)
    P = S[:, tot[0] > 0] / tot[:, tot[0] > 0]
    draws = result.mixture.sample(max(P.shape[1], 1000), rng)
    n = P.shape[0]
    fig, axes = new_figure(1, n, panel_size=(3.2, 2.6))
    edges = np.linspace(0, 1, bins + 1)
    for j in range(n):
        ax = axes.flat[j]
        ax.hist(P[j], bins=edges, density=True, alpha=0.5, label="S_ref (normalised)")
        ax.hist(draws[j], bins=edges, density=True, histtype="step", lw=1.4, color="k", label="Dirichlet mixture")
        ax.set_yscale("log")
        ax.set_title(f"endmember {j + 1}", fontsize="medium")
        ax.set_xlabel("abundance")
    axes.flat[0].legend(fontsize="small", frameon=False)
    fig.suptitle(f"Dirichlet mixture ({len(result.mixture.weights)} components) against S_ref")
    return fig


def figure_training(result: SelfSupResult) -> Figure:
    """Training (and validation) loss per epoch of the network."""
    fig, axes = new_figure(1, 1, panel_size=(5.0, 3.2))
    ax = axes.flat[0]
    ep = [h["epoch"] for h in result.history]
    ax.plot(ep, [h["train_loss"] for h in result.history], marker="o", ms=3, label="train")
    if result.history and "valid_loss" in result.history[0]:
        ax.plot(ep, [h["valid_loss"] for h in result.history], marker="s", ms=3, label="validation")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("NMSE(S) + NMSE(A)")
    ax.legend(frameon=False)
    return fig


def _tables(result: SelfSupResult) -> tuple[list, list]:
    timing_rows = [[k, v] for k, v in result.timings.items()]
    setting_rows = [[k, json.dumps(to_jsonable(v)) if isinstance(v, (dict, list)) else v]
                    for k, v in result.settings.items()]
    return timing_rows, setting_rows


def write_selfsup_outputs(
    result: SelfSupResult, out_dir: str | Path, *, wavelengths: Any = None, unit: str | None = None,
    source: str = "", read_line: str = "", overwrite: bool = False,
) -> dict[str, Path]:
    """Write ``result.npz``, ``report.html``, ``report.md`` with its PNG figures and ``summary.json`` into
    ``out_dir`` (created; its parent must exist). Returns the paths written."""
    from .io import save_result

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lam = None if wavelengths is None else np.asarray(wavelengths, dtype=float)
    info = {"method": "selfsup-lpalm", "source": source, "settings": result.settings,
            "timings_s": result.timings, "noise_std_mean": float(np.mean(result.noise_std)),
            "chunk_spread_rad": result.A_chunks_spread}
    paths = {"result": save_result(out / "result.npz", result.A, result.S, info=to_jsonable(info), energies=lam,
                                   overwrite=overwrite)}
    figs = {
        "library": plot_spectra_family(result.library.members, lam, max_curves=40,
                                       title=f"1. spectra library: {result.library.members.shape[0]} VCA runs kept"),
        "dirichlet": figure_dirichlet(result),
        "training": figure_training(result),
        "spectra": plot_spectra(result.A, None, lam, titles=[f"endmember {j + 1}" for j in range(result.A.shape[1])]),
    }
    if result.image_shape is not None:
        figs["maps"] = plot_maps(result.S, titles=[f"abundance {j + 1}" for j in range(result.A.shape[1])])
    xlabel = f"wavelength ({unit})" if lam is not None and unit else ("band" if lam is None else "wavelength")
    for fig in (figs["library"], figs["spectra"]):
        for ax in fig.axes:
            if ax.get_xlabel():
                ax.set_xlabel(xlabel)
    for name, fig in figs.items():  # rendered once: the HTML embeds these PNG files
        p = out / f"fig_{name}.png"
        save_figure(fig, p, dpi=100)
        paths[f"fig_{name}"] = p
        figs[name] = p
    timing_rows, setting_rows = _tables(result)
    intro = (f"{read_line}\n\nSelf-supervised LPALM: a synthetic training set built from this image only "
             "(randomised VCA library, piecewise-linear augmentation, NNLS abundances modelled by a Dirichlet "
             f"mixture, noise estimated by HySime regression: mean σ = {np.mean(result.noise_std):.4g}), LPALM "
             f"trained on it and applied to the image (chunk spread of A: {result.A_chunks_spread:.4g} rad).")
    sections = [
        ("Input", intro, []),
        ("1. Spectra library (randomised VCA)", "Every kept run's endmembers, matched into families.",
         [("library spread", figs["library"])]),
        ("3. Abundance model", "Normalised NNLS abundances of the image against draws of the fitted mixture.",
         [("Dirichlet fit", figs["dirichlet"])]),
        ("5. Training", f"{len(result.history)} epochs.", [("training curve", figs["training"])]),
        ("Result", "Estimated endmembers (library scale) and abundance maps.",
         [("spectra", figs["spectra"])] + ([("maps", figs["maps"])] if "maps" in figs else [])),
    ]
    paths["html"] = write_report(out, title="semiblind selfsup report", sections=sections,
                                 tables=[("seconds per stage", ["stage", "seconds"], timing_rows),
                                         ("settings", ["setting", "value"], setting_rows)],
                                 overwrite=True, filename="report.html")
    md = ["# semiblind selfsup report", "", read_line, "", intro.split("\n\n", 1)[-1], "",
          "## Seconds per stage", "", format_table(["stage", "seconds"], timing_rows, style="markdown"), "",
          "## Settings", "", format_table(["setting", "value"], setting_rows, style="markdown"), ""]
    md += [f"![{name}](fig_{name}.png)" for name in figs] + [""]
    paths["markdown"] = atomic_write_text(out / "report.md", "\n".join(md))
    summary = {"A_shape": list(result.A.shape), "S_shape": list(result.S.shape), **info}
    paths["summary"] = atomic_write_text(out / "summary.json", json_dumps(summary, indent=2) + "\n")
    return paths
