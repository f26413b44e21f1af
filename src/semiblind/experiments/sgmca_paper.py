"""Reproductions of the sGMCA paper (Carloni Gertosio, Bobin & Acero 2023, "Semi-blind source separation with
learned constraints", Signal Processing): Table 2 (IAE projections), Figure 9 (sweeps) and Table 3 (which
components are modelled).

Data: the paper's 75-channel Chandra Cas A spectra (``../shared/data/xray/chandra_casa_spectra_75ch.npz``, see
:func:`semiblind.data.casa.sgmca_splits`); IAE models of the three families are trained here (quick mode: a
short CPU budget; the paper's 10⁴–10⁵ epochs are a GPU budget). Mixtures: 4 sources — synchrotron, thermal and
two emission lines whose centres are δ channels apart — with Cas A-like maps (:func:`semiblind.data.sources.
casa_like_maps`; the real Cas A maps are not available), the thermal and line maps multiplied by the amplitude
ratio k, white Gaussian noise at the given SNR (dB, on ``‖AS‖_F``). SAD in dB is the paper's (eq. 15, mean of
the per-spectrum dB values: :func:`semiblind.metrics.sad_db`), SDR/SIR/SAR/SNR are BSS-eval
(:func:`semiblind.metrics.evaluate`).

Modes: ``quick=False`` (paper sizes where affordable), ``True`` (under 10 minutes on 2 cores), ``"smoke"``
(seconds, for tests; still asserts sGMCA above GMCA on SAD).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.casa import SGMCA_FAMILIES, sgmca_splits
from ..data.sources import casa_like_maps
from ..estimators.sgmca import SGMCA, NearestNeighbourSGMCA, OracleGMCA
from ..metrics import evaluate
from ..plot import new_figure, save_figure
from ..priors.iae import IAE
from ..solvers.gmca import GMCA
from ..solvers.nmf import HALS, SparseNMF
from ..training.iae import load_iae, projection_sad_db, save_iae, train_iae
from ._common import Progress, check_seed, child_seeds, pick_settings, resolve_out_dir, write_results

PAPER_TABLE2 = {"synchrotron": 25.26, "thermal": 25.92, "line": 24.81, "overall": 25.18}
"""Median SAD (dB) of the IAE projections of held-out spectra (sGMCA paper, Table 2)."""

PAPER_TABLE3 = {("all", 1.0): {"sad_db": 21.67, "sdr": 43.93}, ("none", 1.0): {"sad_db": 12.54, "sdr": 34.24},
                ("all", 0.01): {"sad_db": 17.73}, ("none", 0.01): {"sad_db": 5.78}}
"""sGMCA paper, Table 3 (the entries quoted in the issue; the others are not restated here)."""

MODELLED = {"all": ("synchrotron", "thermal", "line1", "line2"), "thermal+line": ("thermal", "line1", "line2"),
            "synchrotron+line": ("synchrotron", "line1", "line2"), "line": ("line1", "line2"), "none": ()}
COMPONENTS = ("synchrotron", "thermal", "line1", "line2")
_FAMILY_OF = {"synchrotron": "synchrotron", "thermal": "thermal", "line1": "line", "line2": "line"}


@dataclasses.dataclass(frozen=True)
class Settings:
    mode: str
    iae_steps: int  # Adam steps per family, trained here on the file's train split
    iae_lr: float
    iae_lr_final: float | None
    iae_batch: int
    image: int  # H = W
    runs: int  # Monte-Carlo runs per point
    snr_grid: tuple[float, ...]
    delta_grid: tuple[int, ...]
    k_grid: tuple[float, ...]
    snr: float = 40.0
    delta: int = 16
    k: float = 1.0
    max_iter: int = 50
    nmf_iter: int = 500


SMOKE = Settings("smoke", iae_steps=15000, iae_lr=3e-3, iae_lr_final=3e-5, iae_batch=50, image=32, runs=2,
                 snr_grid=(40.0,), delta_grid=(16,), k_grid=(1.0,), max_iter=30, nmf_iter=100)
QUICK = Settings("quick", iae_steps=6000, iae_lr=3e-3, iae_lr_final=3e-5, iae_batch=50, image=64, runs=3,
                 snr_grid=(20.0, 40.0, 60.0), delta_grid=(4, 16, 32), k_grid=(0.01, 0.1, 1.0))
FULL = Settings("full", iae_steps=100000, iae_lr=1e-3, iae_lr_final=1e-5, iae_batch=25, image=346, runs=100,
                snr_grid=(10.0, 20.0, 30.0, 40.0, 50.0, 60.0), delta_grid=(2, 4, 8, 16, 24, 32),
                k_grid=(0.01, 0.03, 0.1, 0.3, 1.0), nmf_iter=2000)


def settings_for(quick: bool | str) -> Settings:
    """``False`` → :data:`FULL`, ``True`` → :data:`QUICK`, ``"smoke"`` → :data:`SMOKE` (tests only); a
    :class:`Settings` is used as given."""
    return pick_settings(quick, full=FULL, quick_settings=QUICK, smoke=SMOKE)


def _check_seed(seed: Any) -> int:
    return check_seed(seed)


# ------------------------------------------------------------------------------------------ IAE models


def paper_models(s: Settings, seed: int, data_path: Any, model_root: Path, log: Progress,
                 progress: bool = False) -> dict[str, IAE]:
    """The IAE of each paper family.

    Trained here (never shipped: the paper's spectra stay in ``../shared``, and an IAE stores its anchor
    spectra) on the family's ``train`` split for ``s.iae_steps``
    Adam steps (best ``valid`` weights; the line family's valid set equals its test set, so it is trained without
    validation) — or reused from ``model_root/<family>`` when a model with the same settings and seed is there
    (the three targets share ``model_root``).
    """
    out: dict[str, IAE] = {}
    seeds = child_seeds(seed, SGMCA_FAMILIES)
    for fam in SGMCA_FAMILIES:
        d = sgmca_splits(fam, data_path)
        folder = model_root / fam
        epochs = max(1, s.iae_steps // -(-len(d["train"]) // s.iae_batch))
        want = {"epochs": epochs, "lr": s.iae_lr, "lr_final": s.iae_lr_final, "batch_size": s.iae_batch,
                "seed": seeds[fam]}
        cfg = folder / "config.json"
        if cfg.is_file():
            tr = json.loads(cfg.read_text(encoding="utf-8")).get("training", {})
            if all(tr.get(k) == v for k, v in want.items()):
                out[fam] = load_iae(folder)
                log(f"IAE {fam}: reused {folder}")
                continue
        valid = None if fam == "line" else d["valid"]
        r = train_iae(d["train"], d["anchors"], valid=valid, family=fam, epochs=epochs, lr=s.iae_lr,
                      lr_final=s.iae_lr_final, batch_size=s.iae_batch, seed=seeds[fam],
                      eval_every=max(1, epochs // 20), progress=progress)
        folder.parent.mkdir(parents=True, exist_ok=True)
        save_iae(r.model, folder)
        out[fam] = load_iae(folder)
        log(f"IAE {fam}: {r.epochs} epochs in {r.seconds:.1f} s")
    return out


def _model_root(out: Path) -> Path:
    """Where the three targets keep the IAE models they train: ``<out>/../sgmca-models`` (shared)."""
    return out.resolve().parent / "sgmca-models"


# ------------------------------------------------------------------------------------------ Table 2


def run_sgmca_iae(*, quick: bool | str = False, out_dir: Any = None, seed: int = 0, data_path: Any = None,
                  progress: bool = False) -> dict[str, Any]:
    """Table 2: median SAD (dB) of the IAE projections (fast and exact) of each family's test spectra."""
    s = settings_for(quick)
    seed = _check_seed(seed)
    out = resolve_out_dir("sgmca-iae", out_dir)
    log = Progress("sgmca-iae", progress)
    t0 = time.perf_counter()
    models = paper_models(s, seed, data_path, _model_root(out), log, progress)
    train_s = time.perf_counter() - t0
    per: dict[str, dict[str, Any]] = {}
    for fam in SGMCA_FAMILIES:
        test = sgmca_splits(fam, data_path)["test"]
        fast = projection_sad_db(models[fam], test)
        t1 = time.perf_counter()
        exact = projection_sad_db(models[fam], test, exact=True)
        per[fam] = {"fast": fast, "exact": exact, "exact_seconds": time.perf_counter() - t1, "n": len(test)}
    allf = np.concatenate([per[f]["fast"] for f in SGMCA_FAMILIES])
    alle = np.concatenate([per[f]["exact"] for f in SGMCA_FAMILIES])
    ours = {f: {"fast": float(np.median(per[f]["fast"])), "exact": float(np.median(per[f]["exact"]))}
            for f in SGMCA_FAMILIES}
    ours["overall"] = {"fast": float(np.median(allf)), "exact": float(np.median(alle))}
    # one exact projection of four spectra (the paper: about 3 s)
    four = np.stack([sgmca_splits(f, data_path)["test"][0] for f in ("synchrotron", "thermal", "line", "line")])
    timing = _time_exact_four(models, four)
    rows = [[f"median SAD (dB), {f}", ours[f]["fast"], ours[f]["exact"], PAPER_TABLE2[f],
             _verdict(ours[f]["exact"], PAPER_TABLE2[f], 2.0)] for f in (*SGMCA_FAMILIES, "overall")]
    rows.append(["one exact projection of 4 spectra (s)", None, timing, 3.0, "faster" if timing < 3 else "slower"])
    notes = [
        (f"Mode {s.mode}: IAE trained {s.iae_steps} Adam steps per family (lr {s.iae_lr:g}, cosine to "
         f"{s.iae_lr_final}, batch {s.iae_batch}; {train_s:.0f} s in all here, 0 when reused) on the CPU")
        + "; the paper trains 10⁴–10⁵ epochs (lr 1e-4, batch 25) on a GPU.",
        "Architecture: 4 fully connected layers each for encoder and decoder, width = 75 channels, skip 0.1, tanh; "
        "anchors 3/3/2 (the file's anchor spectra). Spectra brought to unit ℓ2 norm.",
        "SAD = −10·log10(angle in radians) per spectrum (paper eq. 15); medians over the test spectra "
        f"({', '.join(str(f) + ' ' + str(per[f]['n']) for f in SGMCA_FAMILIES)}). The line family has no separate "
        "validation "
        "set (its valid rows equal its test rows), so its model is trained without one.",
        "fast = encoder + barycentric weights + decoder (eq. B.4); exact = Gauss–Newton from it (eqs. 10–11).",
    ]
    md = write_results(out, "sgmca-iae", title="sGMCA paper, Table 2 — IAE projection SAD (dB), ours vs paper",
                       header=["quantity", "ours (fast)", "ours (exact)", "paper", "verdict"], rows=rows,
                       payload={"ours": ours, "paper": PAPER_TABLE2, "settings": dataclasses.asdict(s),
                                "seed": seed, "training_seconds": train_s, "exact_four_seconds": timing,
                                "per_spectrum": {f: {"fast": per[f]["fast"], "exact": per[f]["exact"]}
                                                 for f in SGMCA_FAMILIES}},
                       notes=notes)
    _figure_projections(out / "sgmca-iae_projections.png", models, data_path)
    return {"markdown": md, "ours": ours, "paper": PAPER_TABLE2, "out_dir": out, "settings": s,
            "exact_four_seconds": timing}


def _verdict(ours: float, paper: float, tol: float) -> str:
    if not np.isfinite(ours):
        return "no result"
    if abs(ours - paper) <= tol:
        return f"agrees (within {tol:g} dB)"
    return "above paper" if ours > paper else f"below paper by {paper - ours:.1f} dB"


def _time_exact_four(models: dict[str, IAE], four: np.ndarray) -> float:
    from ..priors.iae import exact_projection

    fams = ("synchrotron", "thermal", "line", "line")
    x = torch.as_tensor(four, dtype=torch.float32)
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        for j, f in enumerate(fams):
            exact_projection(models[f], x[j:j + 1])
        best = min(best, time.perf_counter() - t)
    return float(best)


def _figure_projections(path: Path, models: dict[str, IAE], data_path: Any) -> None:
    from ..priors.iae import exact_projection, fast_projection

    fig, ax = new_figure(1, 3, panel_size=(4.2, 3.0))
    for j, fam in enumerate(SGMCA_FAMILIES):
        test = sgmca_splits(fam, data_path)["test"][:3]
        x = torch.as_tensor(test / np.linalg.norm(test, axis=1, keepdims=True), dtype=torch.float32)
        with torch.no_grad():
            pf = fast_projection(models[fam], x)[0].numpy()
        pe = exact_projection(models[fam], x)[0].numpy()
        a = ax[0, j]
        for i in range(len(test)):
            a.plot(x[i].numpy(), color=f"C{i}", lw=1.5, label="truth" if i == 0 else None)
            a.plot(pf[i], color=f"C{i}", ls=":", lw=1, label="fast projection" if i == 0 else None)
            a.plot(pe[i], color=f"C{i}", ls="--", lw=1, label="exact projection" if i == 0 else None)
        a.set_title(f"{fam} (test spectra)")
        a.set_xlabel("channel")
        if j == 0:
            a.set_ylabel("unit-ℓ2 spectrum")
            a.legend(fontsize=7)
    save_figure(fig, path)


# ------------------------------------------------------------------------------------------ mixtures


def _line_pair(lines: np.ndarray, delta: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two line spectra whose centres (argmax channel) are as close as possible to ``delta`` channels apart."""
    c = lines.argmax(axis=1)
    i = int(gen.integers(len(lines)))
    target = c[i] + delta if c[i] + delta <= c.max() else c[i] - delta
    cand = np.flatnonzero(np.abs(c - target) == np.abs(c - target).min())
    j = int(gen.choice(cand))
    return lines[i], lines[j]


def make_mixtures(n_runs: int, *, size: int, snr: float, delta: int, k: float, seed: int, data_path: Any
                  ) -> dict[str, np.ndarray]:
    """``n_runs`` mixtures ``X (B, 75, size²)`` with A ``(B, 75, 4)`` (unit columns: synchrotron, thermal, line 1,
    line 2 drawn from the test splits), S ``(B, 4, size²)`` (Cas A-like maps, peak 1, the last three × k) and the
    noise ``N`` at ``snr`` dB; every draw from ``seed``."""
    gen = np.random.default_rng(seed)
    sp = {f: sgmca_splits(f, data_path)["test"] for f in SGMCA_FAMILIES}
    A = np.empty((n_runs, 75, 4))
    for b in range(n_runs):
        l1, l2 = _line_pair(sp["line"], delta, gen)
        cols = [sp["synchrotron"][gen.integers(len(sp["synchrotron"]))],
                sp["thermal"][gen.integers(len(sp["thermal"]))], l1, l2]
        A[b] = np.stack([c / np.linalg.norm(c) for c in cols], axis=1)
    S = casa_like_maps(size, size, gen, n_maps=n_runs).reshape(n_runs, 4, size * size)
    S[:, 1:] *= k
    X0 = A @ S
    sigma = np.linalg.norm(X0.reshape(n_runs, -1), axis=1) / np.sqrt(X0[0].size) * 10 ** (-snr / 20)
    N = gen.standard_normal(X0.shape) * sigma[:, None, None]
    return {"X": X0 + N, "A": A, "S": S, "N": N}


def _methods(models: dict[str, IAE], data_path: Any, s: Settings, modelled: tuple[str, ...] = COMPONENTS
             ) -> dict[str, Callable[[dict[str, np.ndarray]], tuple[np.ndarray, np.ndarray, float]]]:
    """Name → function of the mixtures returning ``(A (B, m, n), S (B, n, t), seconds)``."""
    size = s.image
    common = {"n_sources": 4, "max_iter": s.max_iter}
    fams = [_FAMILY_OF[c] for c in modelled]
    refs = [sgmca_splits(f, data_path)["train"] for f in fams]

    def batch(est: Any, d: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, float]:
        X = d["X"].reshape(len(d["X"]), 75, size, size)
        t = time.perf_counter()
        est.fit_batch(X)
        sec = (time.perf_counter() - t) / len(X)
        return est.mixing_, est.sources_.reshape(len(X), 4, -1), sec

    def per_sample(make: Callable[[int], Any], d: dict[str, np.ndarray], clip: bool = False
                   ) -> tuple[np.ndarray, np.ndarray, float]:
        As, Ss, secs = [], [], []
        for b in range(len(d["X"])):
            X = np.clip(d["X"][b], 0, None) if clip else d["X"][b]
            est = make(b)
            t = time.perf_counter()
            est.fit(X)
            secs.append(time.perf_counter() - t)
            As.append(est.mixing_)
            Ss.append(est.sources_.reshape(est.sources_.shape[0], -1))
        return np.stack(As), np.stack(Ss), float(np.mean(secs))

    return {
        "GMCA": lambda d: batch(GMCA(n_sources=4, n_scales=2, max_iter=max(s.max_iter, 100),
                                     random_state=0), d),
        "sGMCA": lambda d: batch(SGMCA(models=[models[f] for f in fams], **common), d),
        "NN-sGMCA": lambda d: batch(NearestNeighbourSGMCA(references=refs, **common), d),
        "oracle GMCA": lambda d: per_sample(lambda b: OracleGMCA(A=d["A"][b], S=d["S"][b].reshape(4, size, size)),
                                            {"X": d["X"].reshape(len(d["X"]), 75, size, size)}),
        "HALS": lambda d: per_sample(lambda b: HALS(n_sources=4, max_iter=s.nmf_iter, random_state=0), d,
                                     clip=True),
        "SNMF": lambda d: per_sample(lambda b: SparseNMF(n_sources=4, lam=1e-7, max_iter=s.nmf_iter,
                                                         random_state=0), d, clip=True),
    }


def _score(A: np.ndarray, S: np.ndarray, d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    r = evaluate(A, S, d["A"], d["S"], d["N"])
    return {k: np.atleast_1d(np.asarray(r[k], dtype=float)) for k in ("sad_db_A", "sdr", "sir", "sar", "snr")}


def _stats(v: np.ndarray) -> dict[str, float]:
    v = np.asarray(v, dtype=float)
    q = np.nanpercentile(v, [25, 50, 75]) if np.isfinite(v).any() else [np.nan] * 3
    return {"q25": float(q[0]), "median": float(q[1]), "q75": float(q[2])}


# ------------------------------------------------------------------------------------------ Figure 9


def run_sgmca_fig9(*, quick: bool | str = False, out_dir: Any = None, seed: int = 0, data_path: Any = None,
                   progress: bool = False) -> dict[str, Any]:
    """Figure 9: SAD / SDR / SIR / SAR / SNR (median and quartiles over Monte-Carlo runs) of GMCA, sGMCA,
    nearest-neighbour sGMCA, oracle GMCA, HALS and SNMF (λ = 1e-7) against (a) SNR, (b) δ and (c) k."""
    s = settings_for(quick)
    seed = _check_seed(seed)
    out = resolve_out_dir("sgmca-fig9", out_dir)
    log = Progress("sgmca-fig9", progress)
    models = paper_models(s, seed, data_path, _model_root(out), log, progress)
    methods = _methods(models, data_path, s)
    sweeps = {"snr": s.snr_grid, "delta": s.delta_grid, "k": s.k_grid}
    results: dict[str, dict[str, list[Any]]] = {}
    seconds: dict[str, list[float]] = {m: [] for m in methods}
    mseed = child_seeds(seed, ["mixtures"])["mixtures"]
    for si, (sweep, grid) in enumerate(sweeps.items()):
        results[sweep] = {}
        for pi, val in enumerate(grid):
            par = {"snr": s.snr, "delta": s.delta, "k": s.k, sweep: val}
            d = make_mixtures(s.runs, size=s.image, snr=par["snr"], delta=int(par["delta"]), k=par["k"],
                              seed=mseed + 1000 * si + pi, data_path=data_path)
            for name, fn in methods.items():
                A, S, sec = fn(d)
                seconds[name].append(sec)
                sc = _score(A, S, d)
                results[sweep].setdefault(name, []).append({"value": val, **{k: _stats(v) for k, v in sc.items()},
                                                            "per_run_sad_db": sc["sad_db_A"]})
            log(f"{sweep} = {val}: " + ", ".join(
                f"{n} {results[sweep][n][-1]['sad_db_A']['median']:.1f}" for n in methods))
    # summary table: median SAD per point
    rows = []
    for sweep, grid in sweeps.items():
        for i, val in enumerate(grid):
            rows.append([f"{sweep} = {val:g}"] + [results[sweep][n][i]["sad_db_A"]["median"] for n in methods])
    gains = [results[sw]["sGMCA"][i]["sad_db_A"]["median"] - results[sw]["GMCA"][i]["sad_db_A"]["median"]
             for sw, grid in sweeps.items() for i in range(len(grid))]
    notes = [
        f"Mode {s.mode}: {s.runs} Monte-Carlo run(s) per point on {s.image}×{s.image} Cas A-like maps (paper: 100 "
        "runs, real-morphology 346×346 maps); defaults SNR "
        f"{s.snr:g} dB, δ = {s.delta} channels, k = {s.k:g} (δ default is ours: the paper's is not restated here).",
        f"sGMCA gain over GMCA in median SAD: {min(gains):.1f} to {max(gains):.1f} dB over the points (paper: a "
        "few to 20 dB).",
        "GMCA: semiblind's GMCA (2 starlet scales, least-squares final S as sGMCA); sGMCA / NN-sGMCA: 50 iterations "
        "at most, all four components modelled (IAE / nearest training spectrum), columns identified by Algorithm 2; "
        "oracle GMCA: S from the true A, A from the true S; HALS and SNMF (λ = 1e-7) on X clipped at 0, "
        f"{s.nmf_iter} iterations.",
        "Mean seconds per mixture: " + ", ".join(f"{n} {np.mean(v):.2f}" for n, v in seconds.items()) + ".",
        "Median SAD (dB, paper eq. 15, mean over the four spectra) per point; quartiles and SDR/SIR/SAR/SNR in the "
        "JSON and the figures.",
    ]
    md = write_results(out, "sgmca-fig9", title="sGMCA paper, Figure 9 — median SAD (dB) per method",
                       header=["point", *methods], rows=rows,
                       payload={"results": results, "settings": dataclasses.asdict(s), "seed": seed,
                                "seconds_per_mixture": {n: float(np.mean(v)) for n, v in seconds.items()},
                                "sgmca_minus_gmca_sad_db": gains},
                       notes=notes, floatfmt=".2f")
    for metric in ("sad_db_A", "sdr"):
        _figure_sweeps(out / f"sgmca-fig9_{metric}.png", results, sweeps, metric)
    return {"markdown": md, "results": results, "out_dir": out, "settings": s, "gains": gains}


def _figure_sweeps(path: Path, results: dict[str, Any], sweeps: dict[str, tuple], metric: str) -> None:
    labels = {"snr": "SNR (dB)", "delta": "δ (channels)", "k": "k"}
    fig, ax = new_figure(1, len(sweeps), panel_size=(4.0, 3.0))
    for j, (sweep, grid) in enumerate(sweeps.items()):
        a = ax[0, j]
        for i, (name, pts) in enumerate(results[sweep].items()):
            x = np.asarray(grid, dtype=float)
            med = [p[metric]["median"] for p in pts]
            lo = [p[metric]["q25"] for p in pts]
            hi = [p[metric]["q75"] for p in pts]
            a.plot(x, med, marker="o", color=f"C{i}", label=name)
            a.fill_between(x, lo, hi, color=f"C{i}", alpha=0.15)
        if sweep == "k":
            a.set_xscale("log")
        a.set_xlabel(labels[sweep])
        a.set_ylabel({"sad_db_A": "SAD (dB)", "sdr": "SDR (dB)"}[metric])
        if j == 0:
            a.legend(fontsize=6)
    save_figure(fig, path)


# ------------------------------------------------------------------------------------------ Table 3


def run_sgmca_table3(*, quick: bool | str = False, out_dir: Any = None, seed: int = 0, data_path: Any = None,
                     progress: bool = False) -> dict[str, Any]:
    """Table 3: sGMCA with all / thermal + line / synchrotron + line / line only / no component modelled, for
    k = 1 and k = 0.01 (SAD dB and SDR dB, medians over the runs)."""
    s = settings_for(quick)
    seed = _check_seed(seed)
    out = resolve_out_dir("sgmca-table3", out_dir)
    log = Progress("sgmca-table3", progress)
    models = paper_models(s, seed, data_path, _model_root(out), log, progress)
    mseed = child_seeds(seed, ["mixtures"])["mixtures"]
    ours: dict[str, dict[str, Any]] = {}
    rows = []
    for kval in (1.0, 0.01):
        d = make_mixtures(s.runs, size=s.image, snr=s.snr, delta=s.delta, k=kval, seed=mseed + int(kval * 100),
                          data_path=data_path)
        X = d["X"].reshape(s.runs, 75, s.image, s.image)
        for case, comps in MODELLED.items():
            est = SGMCA(n_sources=4, models=[models[_FAMILY_OF[c]] for c in comps], max_iter=s.max_iter)
            t = time.perf_counter()
            est.fit_batch(X)
            sec = (time.perf_counter() - t) / s.runs
            sc = _score(est.mixing_, est.sources_.reshape(s.runs, 4, -1), d)
            key = f"{case}, k={kval:g}"
            ours[key] = {"sad_db": _stats(sc["sad_db_A"]), "sdr": _stats(sc["sdr"]), "seconds": sec}
            paper = PAPER_TABLE3.get((case, kval), {})
            rows.append([case, f"{kval:g}", ours[key]["sad_db"]["median"], paper.get("sad_db"),
                         ours[key]["sdr"]["median"], paper.get("sdr")])
            log(f"{key}: SAD {ours[key]['sad_db']['median']:.2f} dB, SDR {ours[key]['sdr']['median']:.2f} dB")
    direction = {f"k={kv:g}": ours[f"all, k={kv:g}"]["sad_db"]["median"] > ours[f"none, k={kv:g}"]["sad_db"]["median"]
                 for kv in (1.0, 0.01)}
    notes = [
        f"Mode {s.mode}: {s.runs} run(s) per row on {s.image}×{s.image} Cas A-like maps, SNR {s.snr:g} dB, "
        f"δ = {s.delta} channels; IAE models as in sgmca-iae ({s.iae_steps or 'shipped'} steps).",
        "'line' models both emission lines with the line IAE; 'none' is the same algorithm with no manifold (GMCA "
        "in the sGMCA form: 2 starlet scales, 50 iterations). SAD: paper eq. 15, mean over the 4 spectra.",
        "Paper entries not quoted in the issue (Table 3: all and none modelled) are left empty.",
        f"Direction (all modelled above none on SAD): {direction}.",
    ]
    md = write_results(out, "sgmca-table3", title="sGMCA paper, Table 3 — which components are modelled",
                       header=["modelled", "k", "SAD ours", "SAD paper", "SDR ours", "SDR paper"], rows=rows,
                       payload={"ours": ours, "paper": {f"{a}, k={b:g}": v for (a, b), v in PAPER_TABLE3.items()},
                                "settings": dataclasses.asdict(s), "seed": seed, "direction": direction},
                       notes=notes, floatfmt=".2f")
    _figure_table3(out / "sgmca-table3.png", ours)
    return {"markdown": md, "ours": ours, "out_dir": out, "settings": s, "direction": direction}


def _figure_table3(path: Path, ours: dict[str, Any]) -> None:
    fig, ax = new_figure(1, 1, panel_size=(6.0, 3.2))
    a = ax[0, 0]
    cases = list(MODELLED)
    x = np.arange(len(cases))
    for i, kv in enumerate((1.0, 0.01)):
        vals = [ours[f"{c}, k={kv:g}"]["sad_db"]["median"] for c in cases]
        a.bar(x + (i - 0.5) * 0.38, vals, width=0.38, label=f"k = {kv:g}")
    a.set_xticks(x)
    a.set_xticklabels(cases, fontsize=8)
    a.set_ylabel("median SAD (dB)")
    a.legend(fontsize=7)
    save_figure(fig, path)


TARGETS: dict[str, tuple[Callable[..., dict[str, Any]], str]] = {
    "sgmca-iae": (run_sgmca_iae, "sGMCA paper Table 2: IAE projection SAD per family (and Figure 3's analogue)"),
    "sgmca-fig9": (run_sgmca_fig9, "sGMCA paper Figure 9: SNR / line distance / amplitude sweeps, 6 methods"),
    "sgmca-table3": (run_sgmca_table3, "sGMCA paper Table 3: sGMCA with all / some / no components modelled"),
}


def run(name: str, **kwargs: Any) -> dict[str, Any]:
    if name not in TARGETS:
        raise ValueError(f"name must be one of {', '.join(TARGETS)}; got {name!r}.")
    return TARGETS[name][0](**kwargs)


__all__ = ["FULL", "MODELLED", "PAPER_TABLE2", "PAPER_TABLE3", "QUICK", "SMOKE", "Settings", "TARGETS",
           "make_mixtures", "paper_models", "run", "run_sgmca_fig9", "run_sgmca_iae", "run_sgmca_table3",
           "settings_for"]
