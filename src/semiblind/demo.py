"""``semiblind demo``: separate a simulated Chandra-like Cas A cube with every method and write a report.

The demo is the library's front door (issue #6). In one call, :func:`run_demo`

1. simulates a Cas A-like cube with the project's own simulator,
   :func:`semiblind.data.mixtures.simulate_xray` with ``sources="casa-like"``: four families (synchrotron,
   thermal, red- and blue-shifted iron; spectra from :func:`semiblind.data.xray.sample_mixing_matrices` on the
   default 65-channel 0.5–7.5 keV grid, unit-norm columns; maps from
   :func:`semiblind.data.sources.casa_like_maps`, unit-l2 rows) on a 128 × 128 image (``quick``: 64 × 64),
   with white Gaussian noise at an SNR of 30 dB (the SNR of the shipped LPALM model's training data);
2. separates it with the shipped LPALM model (Fahes et al., ICLR 2022, eq. 8), GMCA (Bobin et al. 2007),
   PALM (Fahes et al. 2022, eq. 6) and HALS (Gillis & Glineur 2012; nonnegative), and with the later methods
   (sGMCA, ALMU) when they are installed and usable with their defaults;
3. aligns each estimate on the truth (:func:`semiblind.metrics.align`) and scores it
   (:func:`semiblind.metrics.evaluate`: NMSE of A and S, SAD in dB, SDR);
4. writes a folder (default ``semiblind-demo/``): the truth as ``truth.npz``, every result as FITS and NPZ
   (:func:`semiblind.io.save_result`), PNG figures, ``metrics.md`` / ``metrics.json`` and a self-contained
   ``index.html`` report (:func:`semiblind.report.write_report`). Every file is written atomically.

Settings that are not the methods' defaults, and why (all computed from the data, never from the truth):

- **LPALM** runs the shipped image model ``lpalm-xray65-image`` (wavelet mode: the layers on the cube's 4
  starlet detail scales, the coarse scale of S as Ã⁺c_X; trained by ``scripts/train_shipped_lpalm_image.py`` on
  detail coefficients of simulated Cas A-like cubes, :func:`semiblind.data.realistic.cube_training_set`, whose
  seeds are neither the demo's nor the validation cubes') with the input scaling its data contract names
  (``"pixel"``: the detail scales brought to ``‖Z‖²_F = n`` and the thresholds to the per-coefficient scale of
  training, S scaled back; see :class:`semiblind.estimators.lpalm.LPALMSeparator`).
  Flat ``(m, t)`` data would get the pixel model ``lpalm-xray65`` instead.
- **PALM**: ``λ = 0.03 · λ_max`` with ``λ_max = ‖A0ᵀX‖_∞`` for the random unit-column start ``A0`` drawn from
  the seed (:func:`semiblind.solvers.palm.initial_mixing`; the scale used by
  :func:`semiblind.solvers.palm.select_lambda`). The fraction was fixed once from trial runs at other seeds.
- **Iteration caps** (to stay within the time budget): GMCA ``max_iter=200`` (its default; quick: 100), PALM
  ``max_iter=2000`` (quick: 1000; its default is 5000), HALS ``max_iter=200`` (quick: 100). Capped solvers
  report ``converged=False``; the report says so.
- **Threads**: torch runs with one intra-op thread during the demo (see ``threads`` of :func:`run_demo`).
"""

from __future__ import annotations

import html
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_write_text, check_output_dir, staged_dir
from ._json import dumps as json_dumps
from ._json import to_jsonable

__all__ = [
    "DEMO_METHODS",
    "DemoResult",
    "TABLE_COLUMNS",
    "demo_table_rows",
    "run_demo",
]

SNR_DB = 30.0
"""SNR of the demo cube in dB (that of the shipped LPALM model's training data)."""

IMAGE = (128, 128)
QUICK_IMAGE = (64, 64)
PALM_LAMBDA_FRACTION = 0.03
"""PALM's λ as a fraction of ``λ_max = ‖A0ᵀX‖_∞`` (see the module docstring)."""

# Iteration caps (default run, quick run).
CAPS: dict[str, tuple[int, int]] = {"gmca": (200, 100), "palm": (2000, 1000), "hals": (200, 100)}

DEMO_METHODS = ("lpalm", "gmca", "palm", "hals", "sgmca", "nalmu", "almu")
"""The methods the demo tries, in table order; those not installed are left
out, those that fail on the demo data are listed with the reason."""

TABLE_COLUMNS = ("method", "NMSE A", "NMSE S", "SAD A (dB)", "SDR (dB)", "seconds", "iterations")
_TABLE_KEYS = ("nmse_A", "nmse_S", "sad_db_A", "sdr", "seconds", "n_iter")

# An illustrative celestial frame for the maps: centred on Cas A (RA 350.85°, Dec +58.815°), 2.46"
# pixels (5×5-binned 0.492" ACIS pixels), so that the FITS results open in any sky viewer.
_CASA_RA, _CASA_DEC, _PIXEL_ARCSEC = 350.8500, 58.8150, 2.46


@dataclass
class DemoResult:
    """What :func:`run_demo` did.

    Attributes
    ----------
    out_dir : the output folder. report : its ``index.html``.
    table : method → ``{"nmse_A", "nmse_S", "sad_db_A", "sdr", "seconds", "n_iter", "converged"}`` (every
        method that ran, in table order).
    scores : method → the full dictionary of :func:`semiblind.metrics.evaluate` (JSON-ready numbers).
    table_text : the metric table as aligned plain text (what the command line prints).
    skipped : method → why it did not run (e.g. no shipped model).
    notes : method → warnings raised while it ran (e.g. ``ConvergenceWarning`` at the iteration cap).
    files : every file written.
    wall_seconds : wall-clock time of the whole demo.
    settings : the simulation and method settings (also in ``metrics.json``).
    """

    out_dir: Path
    report: Path
    table: dict[str, dict[str, Any]]
    scores: dict[str, dict[str, Any]]
    table_text: str
    skipped: dict[str, str]
    notes: dict[str, list[str]]
    files: list[Path]
    wall_seconds: float
    settings: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- helpers


def _celestial_wcs(H: int, W: int) -> Any:
    from astropy.wcs import WCS

    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [_CASA_RA, _CASA_DEC]
    w.wcs.crpix = [(W + 1) / 2, (H + 1) / 2]
    w.wcs.cdelt = [-_PIXEL_ARCSEC / 3600.0, _PIXEL_ARCSEC / 3600.0]
    w.wcs.cunit = ["deg", "deg"]
    w.wcs.radesys = "ICRS"
    return w


@dataclass
class _Run:
    A: np.ndarray
    S: np.ndarray
    seconds: float
    n_iter: int
    converged: bool
    params: dict[str, Any]
    info: dict[str, Any]


def _separate(X: np.ndarray, n: int, method: str, seed: int, **params: Any) -> _Run:
    from .api import separate

    sep = separate(X, n, method, random_state=seed, **params)
    return _Run(A=np.asarray(sep.A), S=np.asarray(sep.S), seconds=float(sep.seconds), n_iter=int(sep.n_iter),
                converged=bool(sep.converged), params=dict(sep.params), info=dict(sep.info))


def _run_lpalm(X: np.ndarray, n: int, seed: int, quick: bool) -> _Run:
    # the separator picks the shipped model for X's kind: the wavelet-mode image model for the demo's cube
    run = _separate(X, n, "lpalm", seed)
    run.params = {"model": run.info.get("model"), "input_scale": run.info.get("input_scale_mode")}
    return run


def _run_gmca(X: np.ndarray, n: int, seed: int, quick: bool) -> _Run:
    return _separate(X, n, "gmca", seed, max_iter=CAPS["gmca"][int(quick)])


def _run_palm(X: np.ndarray, n: int, seed: int, quick: bool) -> _Run:
    import torch

    from .solvers.palm import initial_mixing, lambda_max

    Xf = torch.as_tensor(np.asarray(X, dtype=np.float32).reshape(1, X.shape[0], -1))
    A0 = initial_mixing(Xf, n, "random", rng=seed)
    lam_max = lambda_max(A0, Xf)
    lam = PALM_LAMBDA_FRACTION * lam_max
    run = _separate(X, n, "palm", seed, lam=lam, A0=A0[0].numpy(), init="given",
                    max_iter=CAPS["palm"][int(quick)], tol=1e-6)
    run.params = {k: v for k, v in run.params.items() if k != "A0"}
    run.params["A0"] = f"random unit columns from seed {seed}"
    run.info.update({"lambda": lam, "lambda_max": lam_max,
                     "lambda_rule": f"{PALM_LAMBDA_FRACTION:g} * ||A0^T X||_inf, A0 the random start"})
    return run


def _run_hals(X: np.ndarray, n: int, seed: int, quick: bool) -> _Run:
    return _separate(X, n, "hals", seed, max_iter=CAPS["hals"][int(quick)])


def _run_default(method: str) -> Callable[[np.ndarray, int, int, bool], _Run]:
    def run(X: np.ndarray, n: int, seed: int, quick: bool) -> _Run:
        return _separate(X, n, method, seed)

    return run


_RUNNERS: dict[str, Callable[[np.ndarray, int, int, bool], _Run]] = {
    "lpalm": _run_lpalm,
    "gmca": _run_gmca,
    "palm": _run_palm,
    "hals": _run_hals,
}


def demo_table_rows(table: dict[str, dict[str, Any]]) -> list[list[Any]]:
    """Rows of the metric table (columns :data:`TABLE_COLUMNS`) from :attr:`DemoResult.table`; a run that
    stopped at its iteration cap shows its iterations as ``"1000 (cap)"``."""
    return [[name] + [f"{row.get(k)} (cap)" if k == "n_iter" and row.get("converged") is False else row.get(k)
                      for k in _TABLE_KEYS] for name, row in table.items()]


def _progress(total: int, progress: bool) -> Any:
    from ._progress import tqdm  # bar on a terminal, one line per stage in a log

    return tqdm(total=total, desc="semiblind demo", unit="step", disable=not progress, file=sys.stderr,
                leave=False)


# --------------------------------------------------------------------------------------------- demo


def run_demo(
    out_dir: str | os.PathLike = "semiblind-demo",
    *,
    seed: int = 0,
    quick: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    methods: tuple[str, ...] | None = None,
    threads: int | None = 1,
) -> DemoResult:
    """Simulate a Chandra-like Cas A cube, separate it with every method, and write results, figures and an
    HTML report into ``out_dir`` (see the module docstring for the data, the methods and their settings).

    Parameters
    ----------
    out_dir : output folder; created if missing (its parent must exist). An existing non-empty folder needs
        ``overwrite=True`` (``FileExistsError`` otherwise, before anything is computed).
    seed : seeds the simulation and every method's random start.
    quick : a 64 × 64 image and lower iteration caps (a few seconds; for tests and a first look).
    overwrite : write into an existing non-empty folder, replacing the demo's files.
    progress : show a progress bar (tqdm, on stderr) over the steps.
    methods : restrict to these names of :data:`DEMO_METHODS` (default: all that are installed).
    threads : torch intra-op threads while the demo runs (restored afterwards); ``None`` keeps torch's
        setting. Default 1: the demo's arrays (65 × 16384) are too small to gain from more, and on a busy 2-core
        machine two threads made PALM's element-wise steps much slower (timings in ``docs/results.md``,
        "Front door").

    Returns
    -------
    :class:`DemoResult` with the metric table, the files written and the wall-clock time.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a nonnegative int; got {seed!r}.")
    seed = int(seed)
    for name, flag in (("quick", quick), ("overwrite", overwrite), ("progress", progress)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False; got {flag!r}.")
    from .api import methods as available_methods

    installed = available_methods()
    if methods is None:
        wanted = [m for m in DEMO_METHODS if m in installed]
    else:
        if isinstance(methods, str) or not all(isinstance(m, str) for m in methods) or not methods:
            raise TypeError(f"methods must be a non-empty tuple of method names; got {methods!r}.")
        bad = [m for m in methods if m not in DEMO_METHODS or m not in installed]
        if bad:
            avail = ", ".join(m for m in DEMO_METHODS if m in installed)
            raise ValueError(f"methods must be names among {avail}; got {', '.join(map(repr, bad))}.")
        wanted = list(methods)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive int or None; got {threads!r}.")
    out = check_output_dir(out_dir, overwrite=overwrite)
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _run_demo(out, seed, quick, progress, wanted)
    finally:
        torch.set_num_threads(before)


def _run_demo(out: Path, seed: int, quick: bool, progress: bool, wanted: list[str]) -> DemoResult:
    t_start = time.perf_counter()
    n_steps = 1 + len(wanted) + 2  # simulate, one per method, figures, files + report
    with _progress(n_steps, progress) as bar:
        bar.set_postfix_str("simulate")
        sim = _simulate(seed, quick)
        bar.update(1)
        runs: dict[str, _Run] = {}
        skipped: dict[str, str] = {}
        notes: dict[str, list[str]] = {}
        for name in wanted:
            bar.set_postfix_str(name)
            runner = _RUNNERS.get(name, _run_default(name))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    runs[name] = runner(sim["X"], sim["n"], seed, quick)
                except (ValueError, FileNotFoundError) as exc:
                    skipped[name] = str(exc)
            msgs = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
            if msgs:
                notes[name] = msgs
            bar.update(1)
        if not runs:
            raise ValueError("methods must include at least one method that runs on the demo data; every one "
                             f"failed: {'; '.join(f'{k}: {v}' for k, v in skipped.items())}")
        table, scores, aligned = _score(runs, sim)
        bar.set_postfix_str("figures")
        with staged_dir(out) as stage:  # the folder appears complete or not at all (an interrupt leaves nothing)
            figures = _figures(stage, sim, runs, aligned, table)
            bar.update(1)
            bar.set_postfix_str("files")
            settings = _settings(sim, seed, quick, runs)
            files = _write_files(stage, sim, runs, table, scores, settings, skipped, notes)
            wall = time.perf_counter() - t_start
            text = _format_text_table(table)
            report = _write_report(stage, sim, runs, table, settings, skipped, notes, figures,
                                   [*files, *figures.all()], wall)
        bar.update(1)
    files = [out / Path(p).relative_to(stage) for p in [*files, *figures.all(), report]]
    report = out / Path(report).relative_to(stage)
    return DemoResult(out_dir=out, report=report, table=table, scores=scores, table_text=text, skipped=skipped,
                      notes=notes, files=files, wall_seconds=time.perf_counter() - t_start, settings=settings)


def _simulate(seed: int, quick: bool) -> dict[str, Any]:
    from .data.mixtures import simulate_xray
    from .data.xray import FAMILIES

    H, W = QUICK_IMAGE if quick else IMAGE
    ms = simulate_xray(1, image=(H, W), sources="casa-like", snr_db=SNR_DB, rng=seed, progress=False)
    return {
        "set": ms,
        "X": np.asarray(ms.X[0]),
        "A": np.asarray(ms.A[0], dtype=np.float64),
        "S": np.asarray(ms.S[0], dtype=np.float64),
        "noise": np.asarray(ms.noise[0], dtype=np.float64),
        "energies": np.asarray(ms.energies, dtype=np.float64),
        "n": int(ms.A.shape[2]),
        "image": (H, W),
        "snr_db": float(ms.snr_db()[0]),
        "families": list(FAMILIES),
        "wcs": _celestial_wcs(H, W),
    }


def _score(runs: dict[str, _Run], sim: dict[str, Any]) -> tuple[dict, dict, dict]:
    from . import metrics

    table: dict[str, dict[str, Any]] = {}
    scores: dict[str, dict[str, Any]] = {}
    aligned: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, run in runs.items():
        s = metrics.evaluate(run.A, run.S, sim["A"], sim["S"], noise=sim["noise"])
        scores[name] = to_jsonable(s)
        table[name] = {"nmse_A": float(s["nmse_A"]), "nmse_S": float(s["nmse_S"]),
                       "sad_db_A": float(s["sad_db_A"]), "sdr": float(s["sdr"]), "seconds": run.seconds,
                       "n_iter": run.n_iter, "converged": run.converged}
        A_al, S_al = metrics.align(run.A, run.S, sim["A"])
        aligned[name] = (A_al, S_al)
    return table, scores, aligned


@dataclass
class _Figures:
    spectra: Path
    maps: Path
    residuals: Path
    bars: Path

    def all(self) -> list[Path]:
        return [self.spectra, self.maps, self.residuals, self.bars]


def _figures(out: Path, sim: dict, runs: dict[str, _Run], aligned: dict, table: dict) -> _Figures:
    from . import plot

    fig_dir = out / "figures"
    fig_dir.mkdir(exist_ok=True)
    fam = sim["families"]
    spectra = fig_dir / "spectra.png"
    fig = plot.plot_spectra({name: A_al for name, (A_al, _) in aligned.items()}, sim["A"], sim["energies"],
                            log=True, titles=list(fam))
    plot.save_figure(fig, spectra, dpi=90)
    stack = np.concatenate([sim["S"], *[S for _, S in aligned.values()]], axis=0)
    titles = [f"truth: {f}" for f in fam] + [f"{name}: {f}" for name in aligned for f in fam]
    maps = fig_dir / "maps.png"
    fig = plot.plot_maps(stack, titles=titles, ncols=len(fam), colorbar=False)
    plot.save_figure(fig, maps, dpi=75)
    residuals = fig_dir / "residuals.png"
    fig = plot.plot_residuals(sim["X"], {name: (run.A, run.S) for name, run in runs.items()}, sim["energies"],
                              ncols=3)
    plot.save_figure(fig, residuals, dpi=80)
    bars = fig_dir / "metrics.png"
    fig = plot.plot_metric_bars(table, metrics=("nmse_A", "nmse_S", "sad_db_A", "sdr", "seconds"),
                                ncols=3, title="demo metrics (after alignment on the truth)")
    plot.save_figure(fig, bars, dpi=90)
    return _Figures(spectra=spectra, maps=maps, residuals=residuals, bars=bars)


def _settings(sim: dict, seed: int, quick: bool, runs: dict[str, _Run]) -> dict[str, Any]:
    H, W = sim["image"]
    return to_jsonable({
        "simulator": "semiblind.data.mixtures.simulate_xray(1, image=(H, W), sources='casa-like', "
                     f"snr_db={SNR_DB:g}, rng=seed)",
        "image": [H, W], "channels": int(sim["X"].shape[0]), "n_sources": sim["n"], "families": sim["families"],
        "energy_keV": [float(sim["energies"][0]), float(sim["energies"][-1])], "snr_db": SNR_DB,
        "realised_snr_db": sim["snr_db"], "seed": seed, "quick": quick,
        "caps": {k: v[int(quick)] for k, v in CAPS.items()},
        "methods": {name: {"params": run.params, "info": run.info, "n_iter": run.n_iter,
                           "converged": run.converged} for name, run in runs.items()},
    })


def _format_text_table(table: dict[str, dict[str, Any]]) -> str:
    from .report import format_table

    return format_table(TABLE_COLUMNS, demo_table_rows(table), style="plain")


def _write_files(out: Path, sim: dict, runs: dict[str, _Run], table: dict, scores: dict, settings: dict,
                 skipped: dict, notes: dict) -> list[Path]:
    from .data.mixtures import MixtureSet
    from .io import save_result
    from .report import format_table

    files: list[Path] = []
    ms = sim["set"]
    truth = MixtureSet(ms.X, ms.A, ms.S, ms.noise, ms.energies, ms.meta, single=True)
    files.append(truth.save(out / "truth.npz", overwrite=True))
    res_dir = out / "results"
    res_dir.mkdir(exist_ok=True)
    for name, run in runs.items():
        info = to_jsonable({"method": name, "params": run.params, "n_iter": run.n_iter,
                             "converged": run.converged, "seconds": run.seconds, **run.info,
                             "metrics": {k: v for k, v in table[name].items() if k != "converged"},
                             "demo_seed": settings["seed"], "spectral_unit": "keV"})
        for suffix in (".fits", ".npz"):
            files.append(save_result(res_dir / f"{name}{suffix}", run.A, run.S, info=info,
                                     energies=sim["energies"], wcs=sim["wcs"], overwrite=True))
    md = ("# semiblind demo: metrics after alignment on the truth\n\n"
          + format_table(TABLE_COLUMNS, demo_table_rows(table), style="markdown") + "\n")
    if skipped:
        md += "\nSkipped: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()) + "\n"
    files.append(atomic_write_text(out / "metrics.md", md, overwrite=True))
    payload = {"table": to_jsonable(table), "scores": scores, "settings": settings, "skipped": skipped,
               "notes": notes}
    files.append(atomic_write_text(out / "metrics.json", json_dumps(payload, indent=2) + "\n", overwrite=True))
    return files


def _write_report(out: Path, sim: dict, runs: dict[str, _Run], table: dict, settings: dict, skipped: dict,
                  notes: dict, figures: _Figures, files: list[Path], wall: float) -> Path:
    from .report import html_table, write_report

    H, W = sim["image"]
    intro = (
        f"A Chandra-like cube of the supernova remnant Cassiopeia A was simulated with semiblind's own "
        f"simulator: {H} × {W} pixels, {sim['X'].shape[0]} energy channels from "
        f"{sim['energies'][0]:.2f} to {sim['energies'][-1]:.2f} keV, {sim['n']} emission families "
        f"({', '.join(sim['families'])}), white Gaussian noise at an SNR of {SNR_DB:g} dB (realised "
        f"{sim['snr_db']:.2f} dB), seed {settings['seed']}"
        f"{' (quick mode)' if settings['quick'] else ''}.\n\n"
        "Each method separated the cube without seeing the truth; its estimate was then put in the order, "
        "sign and scale of the truth (semiblind.metrics.align) and scored. NMSE: lower is better; SAD in dB "
        "(−10·log10 of the mean spectral angle) and SDR (BSS-eval, dB): higher is better. Seconds: the "
        f"method's own wall-clock time. The whole demo took {wall:.1f} s."
    )
    details = []
    for name, run in runs.items():
        bits = [f"{k}={v}" for k, v in run.params.items() if k not in ("dtype", "device", "verbose")]
        extra = ""
        if name == "lpalm":
            extra = (f" Model {run.params.get('model')}; input scale c = {run.info['input_scale'][0]:.4g} "
                     f"(mode {run.info.get('input_scale_mode')!r}: c = sqrt(n / ||Z||_F^2), Z the data the layers "
                     "see; LPALM runs on c·X and S is divided by c).")
        elif name == "palm":
            extra = (f" λ = {run.info['lambda']:.4g} = {PALM_LAMBDA_FRACTION:g} · λ_max, λ_max = "
                     f"‖A0ᵀX‖∞ = {run.info['lambda_max']:.4g} (from the data and the random start, not the "
                     "truth).")
        if run.info.get("architecture") is not None or name == "lpalm":
            state = f"{run.n_iter} layers (a network runs all its layers)"
        else:
            state = f"{run.n_iter} iterations, " + ("converged" if run.converged else "stopped at the iteration cap")
        details.append(f"{name}: {state}. Parameters: {', '.join(bits)}.{extra}")
        for msg in notes.get(name, []):
            details.append(f"{name} warning — {msg}")
    for name, why in skipped.items():
        details.append(f"{name}: not run — {why}")
    rows = demo_table_rows(table)
    metrics_html = html_table("Metrics after alignment on the truth", list(TABLE_COLUMNS), rows)
    files_list = "\n".join(
        f"<li><code>{html.escape(p.relative_to(out).as_posix())}</code></li>" for p in sorted(files))
    sections = [
        ("Data", intro, []),
        ("Metrics", "<div>" + metrics_html + "</div>", [("Metrics of every method", figures.bars)]),
        ("Spectra: estimated (dashed) vs true (black)", "The columns of A after alignment, one panel per "
         "emission family, every method in its own colour; log scale.",
         [("estimated vs true spectra", figures.spectra)]),
        ("Source maps", "First row: the true maps; then one row per method (aligned estimates, each map on "
                        "its own colour scale).", [("true and estimated maps", figures.maps)]),
        ("Residuals", "Data norm per pixel, the residual norm ‖x − As‖₂ per pixel of every method on one "
                      "colour scale (a perfect fit leaves only noise, about σ√m everywhere) and the RMS "
                      "residual per channel.", [("residuals", figures.residuals)]),
        ("Methods and settings", "\n\n".join(details), []),
        ("Files", f"<p>Written to <code>{html.escape(str(out))}</code>:</p><ul>{files_list}</ul>"
                  "<p>Re-score any result with <code>semiblind evaluate results/METHOD.npz --truth "
                  "truth.npz</code>.</p>", []),
    ]
    return write_report(out, title="semiblind demo — Cas A-like X-ray cube", sections=sections,
                        overwrite=True)
