"""The experiments of the LPALM paper (Fahes, Kervazo, Bobin & Tupin, "Unrolling PALM for sparse
semi-blind source separation", ICLR 2022), rerun on the same spectra with the library's own data, solvers,
networks and metrics.

Protocol (paper §4–5): the 900 mixing matrices built from
``../shared/data/xray/chandra_casa_spectra_65ch.npz`` (:func:`semiblind.data.casa.paper_mixing_matrices`),
split 750 train / 150 test (:func:`semiblind.data.casa.lpalm_split`); sources are generalised-Gaussian with
β = 0.3, t = 500 pixels, n = 4, SNR 30 dB (:func:`semiblind.data.mixtures.simulate_paper_xray`). NMSE(S) is
measured after alignment (:func:`semiblind.metrics.align`, on A). Nothing here redefines an algorithm or a
metric.

Targets (each a function ``run_<name>(*, quick=False, out_dir=None, seed=0, data_path=None, progress=True)
-> dict``, writing ``<name>.md``, ``<name>.json`` and PNG figures into ``out_dir``, default
``semiblind-reproduce/<name>/``):

- ``lpalm-table1`` (:func:`run_lpalm_table1`, paper Table 1): PALM (:func:`semiblind.solvers.palm.palm`)
  with the best λ of a 30-value grid chosen on 45 training samples
  (:func:`semiblind.solvers.palm.select_lambda`), initialised with a random training A and ``S0 = A0⁺X``,
  versus LPALM (25 layers, trained on the 750 training mixtures with Adam, lr 1e-4, batch 1, 100 epochs,
  :func:`semiblind.training.train`); median NMSE(S) on the 150 test mixtures, median PALM iterations
  versus 25 layers, wall-clock per mixture.
- ``lpalm-fig2`` (:func:`run_lpalm_fig2`, Figure 2): (a) PALM's median NMSE and median iterations versus
  λ; (b) LPALM's mean NMSE(S) per layer on the training and test sets.
- ``lpalm-init`` (:func:`run_lpalm_init`, §3.1.1): on one test mixture, PALM from 15 random training
  initialisations (best λ per initialisation) — median, best, worst and standard deviation of NMSE(S) —
  against LPALM from its generic initialisation.
- ``lpalm-appendix-d`` (:func:`run_lpalm_appendix_d`, Appendix D): the S-update variants ISTA, ISTA-LLT,
  LISTA and LISTA-CP, trained and tested with varying (given) A, with the true A and with a 10 dB-noisy A;
  and LPALM built with each S-update (``s_update`` of :class:`semiblind.unrolled.LPALM`: ISTA with a fixed
  λ, ISTA-LLT, LISTA, LISTA-CP).
- ``lpalm-thresholds`` (:func:`run_lpalm_thresholds`, an option beyond the paper): LPALM
  trained with one threshold per layer (the paper's) and with one per layer and source, on the same data
  and seeds; median test NMSE(S) and NMSE(A).

Modes. ``quick=False`` uses the paper's settings (:data:`FULL`). ``quick=True`` (:data:`QUICK`, the
command line's ``--quick``) reduces epochs, samples, λ values and iteration caps so that each target runs
in about ten minutes on two cores; every reduction is listed in the output. ``quick="smoke"``
(:data:`SMOKE`) uses tiny sizes so that a target runs end to end in seconds: it exists for the test suite
only and its numbers mean nothing. Everything is deterministic given ``seed``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import metrics
from ..data import casa
from ..data.mixtures import MixtureSet, simulate_paper_xray
from ..mixing import add_noise
from ..plot import new_figure, save_figure
from ..prox import project_columns_sphere
from ..solvers.ista import ista
from ..solvers.palm import lambda_grid, lambda_max, palm, select_lambda
from ..training import Dataset, build_model, evaluate, train
from ._common import Progress, child_seeds, pick_settings, resolve_out_dir, write_results

PAPER = "Fahes, Kervazo, Bobin & Tupin, ICLR 2022"

# The paper's own figures (Table 1 and §5) that our runs are compared with.
PAPER_TABLE1 = {
    "lpalm_median_nmse": 0.00085,
    "palm_median_nmse": 0.0176,
    "palm_median_iterations": 2011,
    "lpalm_layers": 25,
}


@dataclass(frozen=True)
class Settings:
    """Sizes of one run. ``FULL`` holds the paper's values; ``QUICK`` and ``SMOKE`` reduce them."""

    mode: str
    pixels: int = 500                 # t
    n_train: int | None = None        # None: the 750 training matrices
    n_test: int | None = None         # None: the 150 test matrices
    n_select: int = 45                # training samples used to choose PALM's λ
    n_lambdas: int = 30               # size of the λ grid
    palm_max_iter: int = 5000
    palm_tol: float = 1e-7
    palm_dtype: str = "float64"       # tol = 1e-7 is below float32 rounding of S (see semiblind.solvers.palm)
    layers: int = 25
    epochs: int = 100
    lr: float = 1e-4
    batch_size: int = 1
    n_timing: int = 20                # test mixtures timed one at a time (wall-clock per mixture)
    n_inits: int = 15                 # lpalm-init: random training initialisations of PALM
    d_n_train: int | None = None      # lpalm-appendix-d: training mixtures per network (None: all)
    d_epochs: int = 100
    d_ista_max_iter: int = 5000
    thr_seeds: int = 3                # lpalm-thresholds: training seeds per threshold mode

    def reductions(self, fields: tuple[str, ...] | None = None) -> list[str]:
        """``"field: paper value → this run's value"`` for every setting (of ``fields``; default all) that
        differs from :data:`FULL`."""
        out = []
        for f in dataclasses.fields(self):
            if f.name == "mode" or (fields is not None and f.name not in fields):
                continue
            a, b = getattr(FULL, f.name), getattr(self, f.name)
            if a != b:
                out.append(f"{f.name}: {_describe(f.name, a)} → {_describe(f.name, b)}")
        return out


def _describe(field: str, v: Any) -> str:
    if v is None:
        return {"n_train": "750 (all)", "n_test": "150 (all)", "d_n_train": "750 (all)"}.get(field, "all")
    return f"{v:g}" if isinstance(v, float) else str(v)


FULL = Settings(mode="full")
QUICK = Settings(mode="quick", n_select=15, n_lambdas=10, palm_max_iter=1000, epochs=12, lr=1e-3,
                 batch_size=16, n_timing=5, n_inits=5, d_n_train=250, d_epochs=6, d_ista_max_iter=1000,
                 thr_seeds=2)
SMOKE = Settings(mode="smoke", pixels=64, n_train=12, n_test=4, n_select=4, n_lambdas=3, palm_max_iter=20,
                 layers=3, epochs=1, lr=1e-3, batch_size=4, n_timing=1, n_inits=2, d_n_train=8, d_epochs=1,
                 d_ista_max_iter=20, thr_seeds=1)


# A few seconds, for the test of the paper's direction: LPALM after K = 5 trained layers against PALM after 200
# iterations (40 times as many; best λ of the same grid) on the same 8 test mixtures (Figure 2b's claim that
# the unrolled network reaches in a few layers what PALM needs many iterations for). Measured ratio of the
# median NMSE(S), LPALM / PALM, over seeds 0–5: 0.07, 0.07, 0.09, 0.04, 0.10, 0.44. Against a PALM run to
# convergence (up to 2000 iterations) these sizes are too small: LPALM then loses (ratios 0.98–3.5), which is
# why the Table 1 direction itself is tested with QUICK (tests marked slow).
DIRECTION = Settings(mode="direction", pixels=64, n_train=96, n_test=8, n_select=4, n_lambdas=3,
                     palm_max_iter=200, layers=5, epochs=25, lr=3e-3, batch_size=8, n_timing=1, n_inits=2,
                     d_n_train=8, d_epochs=1, d_ista_max_iter=20, thr_seeds=1)


def settings_for(quick: bool | str | Settings) -> Settings:
    """``False`` → :data:`FULL`, ``True`` → :data:`QUICK`, ``"smoke"`` → :data:`SMOKE` (tests only); a
    :class:`Settings` is used as given."""
    return pick_settings(quick, full=FULL, quick_settings=QUICK, smoke=SMOKE)


# ------------------------------------------------------------------------------------------------------ data


def paper_data(s: Settings, seed: int, data_path: Any = None) -> tuple[MixtureSet, MixtureSet]:
    """The paper's training and test mixtures (GGD β = 0.3, ``s.pixels`` pixels, 30 dB) on the 750/150 split.

    Raises ``FileNotFoundError`` (with the folders searched) when the shared spectra file is absent.
    """
    bank = casa.paper_mixing_matrices(data_path)
    tr_idx, te_idx = casa.lpalm_split(bank)
    if s.n_train is not None:
        tr_idx = tr_idx[: s.n_train]
    if s.n_test is not None:
        te_idx = te_idx[: s.n_test]
    sd = child_seeds(seed, ["train", "test"])
    common = {"pixels": s.pixels, "sources": "ggd", "beta": 0.3, "snr_db": 30.0, "path": data_path,
              "progress": False}
    tr = simulate_paper_xray(None, 65, subset=tr_idx, rng=sd["train"], **common)
    te = simulate_paper_xray(None, 65, subset=te_idx, rng=sd["test"], **common)
    return tr, te


def _aligned_nmse(A_est: Any, S_est: Any, A_true: np.ndarray, S_true: np.ndarray) -> np.ndarray:
    """Per-sample NMSE(S) after alignment on A (:func:`semiblind.metrics.aligned_nmse`)."""
    return np.atleast_1d(metrics.aligned_nmse(A_est, S_est, A_true, S_true, batched=True)[0])


def _lambda_grid(X: np.ndarray, A0: np.ndarray, n_lambdas: int) -> np.ndarray | None:
    """The λ grid: ``None`` (select_lambda's own 30-value grid) at the paper's size, otherwise ``n_lambdas``
    log-spaced values over the same range ``[1e-5·λ_max, λ_max]`` with ``λ_max`` the median ``‖A0ᵀX‖_∞``."""
    if n_lambdas == 30:
        return None
    return lambda_grid(lambda_max(project_columns_sphere(A0), X), n_lambdas)


def _train_lpalm(s: Settings, tr: MixtureSet, seed: int, progress: bool, model_dir: Path | None,
                 layers: int | None = None, **options: Any) -> tuple[Any, Any]:
    """Build (paper App. A initialisation) and train an LPALM network; returns ``(model, TrainResult)``."""
    torch.manual_seed(seed)  # build_model draws nothing at random; this only pins any torch default
    model = build_model("lpalm", tr, layers=layers or s.layers, **options)
    res = train(model, tr, None, epochs=s.epochs, lr=s.lr, batch_size=s.batch_size, seed=seed,
                out_dir=model_dir, overwrite=True, progress=progress,
                description={"experiment": "LPALM paper reproduction", "mode": s.mode})
    return res.model, res


@torch.no_grad()
def _lpalm_forward(model: Any, X: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, float]:
    Xt = torch.as_tensor(X, dtype=model.dtype)
    t0 = time.perf_counter()
    A, S = model(Xt)
    return A, S, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------- Table 1 core


def _table1_core(s: Settings, seed: int, data_path: Any, log: Progress,
                 model_dir: Path | None) -> dict[str, Any]:
    sd = child_seeds(seed, ["data", "init", "select", "train"])
    tr, te = paper_data(s, sd["data"], data_path)
    log(f"data: {tr.n_samples} train / {te.n_samples} test mixtures, t = {s.pixels}")
    rng = np.random.default_rng(sd["init"])
    init_idx = int(rng.integers(tr.n_samples))
    A0 = tr.A[init_idx]
    sel_rng = np.random.default_rng(sd["select"])
    sel = np.sort(sel_rng.choice(tr.n_samples, size=min(s.n_select, tr.n_samples), replace=False))
    grid = _lambda_grid(tr.X[sel], A0, s.n_lambdas)
    t0 = time.perf_counter()
    lam_sel = select_lambda(tr.X[sel], tr.S[sel], 4, grid, A_train=tr.A[sel], A0=A0, init="given",
                            max_iter=s.palm_max_iter, tol=s.palm_tol, dtype=s.palm_dtype)
    log(f"λ selection on {sel.size} training samples, {lam_sel.lambdas.size} values: best λ = "
        f"{lam_sel.best_lambda:.4g} ({time.perf_counter() - t0:.1f} s)")

    t0 = time.perf_counter()
    res = palm(te.X, 4, lam_sel.best_lambda, A0=A0, init="given", max_iter=s.palm_max_iter, tol=s.palm_tol,
               dtype=s.palm_dtype, record_history=False)
    palm_batch_s = time.perf_counter() - t0
    palm_nmse = _aligned_nmse(res.A, res.S, te.A, te.S)
    palm_iter = res.n_iter.cpu().numpy()
    palm_conv = res.converged.cpu().numpy()
    log(f"PALM on {te.n_samples} test mixtures: median NMSE {np.median(palm_nmse):.4g}, median iterations "
        f"{np.median(palm_iter):g} ({palm_batch_s:.1f} s)")

    model, tres = _train_lpalm(s, tr, sd["train"], log.enabled, model_dir)
    log(f"LPALM trained: {tres.epochs_run} epochs in {tres.seconds:.1f} s (best epoch {tres.best_epoch})")
    A_l, S_l, lpalm_batch_s = _lpalm_forward(model, te.X)
    lpalm_nmse = _aligned_nmse(A_l, S_l, te.A, te.S)
    log(f"LPALM on the test set: median NMSE {np.median(lpalm_nmse):.4g}")

    # Wall-clock per mixture: the same test mixtures one at a time, for both methods.
    n_time = min(s.n_timing, te.n_samples)
    t_palm, t_lpalm = [], []
    for i in range(n_time):
        t0 = time.perf_counter()
        palm(te.X[i:i + 1], 4, lam_sel.best_lambda, A0=A0, init="given", max_iter=s.palm_max_iter,
             tol=s.palm_tol, dtype=s.palm_dtype, record_history=False)
        t_palm.append(time.perf_counter() - t0)
        t_lpalm.append(_lpalm_forward(model, te.X[i:i + 1])[2])
    log(f"timing on {n_time} mixture(s): PALM {np.median(t_palm):.3g} s, LPALM {np.median(t_lpalm):.3g} s")
    return {
        "settings": s, "train": tr, "test": te, "init_index": init_idx, "select_indices": sel,
        "lambda_selection": lam_sel, "palm_nmse": palm_nmse, "palm_iterations": palm_iter,
        "palm_converged": palm_conv, "palm_batch_seconds": palm_batch_s, "lpalm_nmse": lpalm_nmse,
        "lpalm_batch_seconds": lpalm_batch_s, "model": model, "train_result": tres,
        "palm_seconds_single": np.asarray(t_palm), "lpalm_seconds_single": np.asarray(t_lpalm),
    }


_TABLE1_FIELDS = ("pixels", "n_train", "n_test", "n_select", "n_lambdas", "palm_max_iter", "palm_tol",
                  "palm_dtype", "layers", "epochs", "lr", "batch_size", "n_timing")
_INIT_FIELDS = tuple(f for f in _TABLE1_FIELDS if f != "n_timing") + ("n_inits",)
_D_FIELDS = ("pixels", "n_test", "n_select", "n_lambdas", "palm_tol", "palm_dtype", "layers", "lr",
             "batch_size", "d_n_train", "d_epochs", "d_ista_max_iter")
_THR_FIELDS = ("pixels", "n_train", "n_test", "layers", "epochs", "lr", "batch_size", "thr_seeds")


def _settings_notes(s: Settings, fields: tuple[str, ...]) -> list[str]:
    notes = [f"Paper: {PAPER}. Mode: {s.mode}."]
    red = s.reductions(fields)
    if red:
        notes.append("Reduced from the paper's settings: " + "; ".join(red) + ".")
    else:
        notes.append("All settings are the paper's.")
    if s.mode == "smoke":
        notes.append("Smoke mode (tests only): tiny sizes, the numbers are meaningless.")
    elif s.mode == "direction":
        notes.append(f"Direction mode (tests): LPALM with {s.layers} layers against PALM capped at "
                     f"{s.palm_max_iter} iterations, not Table 1's converged PALM.")
    return notes


def _check_common(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0; got {seed!r}.")
    return int(seed)


def run_lpalm_table1(*, quick: bool | str = False, out_dir: Any = None, seed: int = 0, data_path: Any = None,
                     progress: bool = True) -> dict[str, Any]:
    """Reproduce the LPALM paper's Table 1: median test NMSE(S) of PALM (best λ) and LPALM, iterations, time.

    Writes ``lpalm-table1.md``, ``lpalm-table1.json`` and ``lpalm-table1_nmse.png`` (per-mixture NMSE of both
    methods) into ``out_dir``; in full mode the trained LPALM is saved to ``out_dir/lpalm-model``. Returns a
    dict with the table (``"markdown"``), our numbers (``"ours"``), the paper's (``"paper"``) and
    ``"out_dir"``.
    """
    s = settings_for(quick)
    seed = _check_common(seed)
    out = resolve_out_dir("lpalm-table1", out_dir)
    log = Progress("lpalm-table1", progress)
    c = _table1_core(s, seed, data_path, log, out / "lpalm-model" if s.mode == "full" else None)
    ours = {
        "lpalm_median_nmse": float(np.median(c["lpalm_nmse"])),
        "palm_median_nmse": float(np.median(c["palm_nmse"])),
        "palm_median_iterations": float(np.median(c["palm_iterations"])),
        "lpalm_layers": int(c["model"].layers),
        "palm_converged_fraction": float(np.mean(c["palm_converged"])),
        "palm_seconds_per_mixture": float(np.median(c["palm_seconds_single"])),
        "lpalm_seconds_per_mixture": float(np.median(c["lpalm_seconds_single"])),
        "palm_batch_seconds_per_mixture": c["palm_batch_seconds"] / c["test"].n_samples,
        "lpalm_batch_seconds_per_mixture": c["lpalm_batch_seconds"] / c["test"].n_samples,
        "best_lambda": c["lambda_selection"].best_lambda,
        "lpalm_training_seconds": float(c["train_result"].seconds),
    }
    rows = [
        ["median NMSE(S), test, LPALM", ours["lpalm_median_nmse"], PAPER_TABLE1["lpalm_median_nmse"]],
        ["median NMSE(S), test, PALM (best λ)", ours["palm_median_nmse"], PAPER_TABLE1["palm_median_nmse"]],
        ["PALM median iterations", ours["palm_median_iterations"], PAPER_TABLE1["palm_median_iterations"]],
        ["LPALM layers", ours["lpalm_layers"], PAPER_TABLE1["lpalm_layers"]],
        ["PALM converged (fraction of test mixtures)", ours["palm_converged_fraction"], None],
        ["PALM wall-clock per mixture (s)", ours["palm_seconds_per_mixture"], None],
        ["LPALM wall-clock per mixture (s)", ours["lpalm_seconds_per_mixture"], None],
        ["LPALM wall-clock per mixture, batched (s)", ours["lpalm_batch_seconds_per_mixture"], None],
        ["LPALM training time (s)", ours["lpalm_training_seconds"], None],
    ]
    notes = _settings_notes(s, _TABLE1_FIELDS) + [
        f"Test set: {c['test'].n_samples} mixtures; NMSE after alignment on A (semiblind.metrics.align).",
        f"PALM: λ = {ours['best_lambda']:.4g} chosen on {c['select_indices'].size} training samples from "
        f"{c['lambda_selection'].lambdas.size} values; A0 = training matrix #{c['init_index']}, S0 = A0⁺X; "
        f"tol {s.palm_tol:g} on ‖ΔA‖_F and ‖ΔS‖_F, max {s.palm_max_iter} iterations, {s.palm_dtype}.",
        f"LPALM: {s.layers} layers, Adam lr {s.lr:g}, batch {s.batch_size}, {s.epochs} epochs on "
        f"{c['train'].n_samples} mixtures (no validation set: best weights by training loss).",
        f"Wall-clock per mixture: median over {len(c['palm_seconds_single'])} test mixture(s) run one at a "
        f"time, on {torch.get_num_threads()} torch thread(s); the paper gives no time for this table.",
    ]
    md = write_results(out, "lpalm-table1", title="LPALM paper, Table 1 — ours vs paper",
                       header=["quantity", "ours", "paper"], rows=rows,
                       payload={"ours": ours, "paper": PAPER_TABLE1, "settings": dataclasses.asdict(s),
                                "seed": seed, "per_mixture": {"palm_nmse": c["palm_nmse"],
                                                              "lpalm_nmse": c["lpalm_nmse"],
                                                              "palm_iterations": c["palm_iterations"]}},
                       notes=notes)
    _figure_nmse_box(out / "lpalm-table1_nmse.png", c["palm_nmse"], c["lpalm_nmse"])
    return {"markdown": md, "ours": ours, "paper": PAPER_TABLE1, "out_dir": out, "settings": s}


def _figure_nmse_box(path: Path, palm_nmse: np.ndarray, lpalm_nmse: np.ndarray) -> None:
    fig, ax = new_figure(1, 1, panel_size=(4.5, 3.5))
    a = ax[0, 0]
    a.boxplot([palm_nmse, lpalm_nmse], tick_labels=["PALM (best λ)", "LPALM"])
    a.set_yscale("log")
    a.axhline(PAPER_TABLE1["palm_median_nmse"], color="tab:blue", ls=":", label="paper PALM median")
    a.axhline(PAPER_TABLE1["lpalm_median_nmse"], color="tab:orange", ls=":", label="paper LPALM median")
    a.set_ylabel("NMSE(S) per test mixture")
    a.legend(fontsize=7)
    save_figure(fig, path)


# ------------------------------------------------------------------------------------------------ Figure 2


def run_lpalm_fig2(*, quick: bool | str = False, out_dir: Any = None, seed: int = 0, data_path: Any = None,
                   progress: bool = True) -> dict[str, Any]:
    """Reproduce the LPALM paper's Figure 2: (a) PALM median NMSE(S) and median iterations versus λ on the
    training samples used for the choice of λ; (b) LPALM mean NMSE(S) per layer, training and test sets.

    Writes ``lpalm-fig2.md`` / ``.json``, ``lpalm-fig2a.png`` and ``lpalm-fig2b.png``.
    """
    s = settings_for(quick)
    seed = _check_common(seed)
    out = resolve_out_dir("lpalm-fig2", out_dir)
    log = Progress("lpalm-fig2", progress)
    c = _table1_core(s, seed, data_path, log, None)
    sel = c["lambda_selection"]
    ev_tr = evaluate(c["model"], c["train"])
    ev_te = evaluate(c["model"], c["test"])
    k_best = int(np.argmin(sel.median_nmse))
    rows = [
        ["(a) best λ", sel.best_lambda, None],
        ["(a) PALM median NMSE(S) at best λ (training samples)", float(sel.median_nmse[k_best]), None],
        ["(a) PALM median iterations at best λ", float(sel.median_iterations[k_best]), None],
        ["(b) LPALM mean NMSE(S), last layer, train", ev_tr["nmse_S"], None],
        ["(b) LPALM mean NMSE(S), last layer, test", ev_te["nmse_S"], None],
        ["(b) LPALM mean NMSE(S), layer 1, test", ev_te["nmse_S_layers"][0], None],
    ]
    notes = _settings_notes(s, _TABLE1_FIELDS) + [
        "The paper shows Figure 2 as curves without a table of values; its Table 1 medians are "
        f"{PAPER_TABLE1['palm_median_nmse']} (PALM) and {PAPER_TABLE1['lpalm_median_nmse']} (LPALM), with "
        f"{PAPER_TABLE1['palm_median_iterations']} PALM iterations. Compare the shapes of the curves "
        "(lpalm-fig2a.png, lpalm-fig2b.png).",
        "(b) is the mean over samples without alignment (the network keeps the training data's family "
        "order).",
    ]
    payload = {"settings": dataclasses.asdict(s), "seed": seed, "lambdas": sel.lambdas,
               "median_nmse": sel.median_nmse, "median_iterations": sel.median_iterations,
               "nmse_S_layers_train": ev_tr["nmse_S_layers"], "nmse_S_layers_test": ev_te["nmse_S_layers"],
               "nmse_A_layers_train": ev_tr["nmse_A_layers"], "nmse_A_layers_test": ev_te["nmse_A_layers"]}
    md = write_results(out, "lpalm-fig2", title="LPALM paper, Figure 2 — ours",
                       header=["quantity", "ours", "paper"], rows=rows, payload=payload, notes=notes)
    fig, ax = new_figure(1, 2, panel_size=(4.2, 3.3))
    a, b = ax[0, 0], ax[0, 1]
    a.loglog(sel.lambdas, sel.median_nmse, "o-", color="tab:blue")
    a.set_xlabel("λ")
    a.set_ylabel("median NMSE(S)", color="tab:blue")
    b2 = a.twinx()
    b2.semilogx(sel.lambdas, sel.median_iterations, "s--", color="tab:red")
    b2.set_ylabel("median iterations", color="tab:red")
    a.set_title("(a) PALM versus λ")
    b.axis("off")
    save_figure(fig, out / "lpalm-fig2a.png")
    fig, ax = new_figure(1, 1, panel_size=(4.5, 3.5))
    a = ax[0, 0]
    k = np.arange(1, len(ev_te["nmse_S_layers"]) + 1)
    a.semilogy(k, ev_tr["nmse_S_layers"], "o-", label="train")
    a.semilogy(k, ev_te["nmse_S_layers"], "s-", label="test")
    a.axhline(PAPER_TABLE1["lpalm_median_nmse"], color="gray", ls=":", label="paper Table 1 (median, test)")
    a.set_xlabel("layer")
    a.set_ylabel("mean NMSE(S)")
    a.set_title("(b) LPALM per layer")
    a.legend(fontsize=7)
    save_figure(fig, out / "lpalm-fig2b.png")
    return {"markdown": md, "ours": payload, "paper": PAPER_TABLE1, "out_dir": out, "settings": s}


# ------------------------------------------------------------------------------------------------ §3.1.1


def run_lpalm_init(*, quick: bool | str = False, out_dir: Any = None, seed: int = 0, data_path: Any = None,
                   progress: bool = True) -> dict[str, Any]:
    """Reproduce the LPALM paper's §3.1.1: PALM's sensitivity to its initialisation on one test mixture.

    PALM is started from ``n_inits`` (paper: 15) random training matrices; for each, λ is chosen on the
    training samples (:func:`select_lambda` from that start) and PALM is run on the test mixture. The median,
    best, worst and standard deviation of its NMSE(S) are compared with LPALM from its generic start.
    Writes ``lpalm-init.md`` / ``.json`` and ``lpalm-init.png``.
    """
    s = settings_for(quick)
    seed = _check_common(seed)
    out = resolve_out_dir("lpalm-init", out_dir)
    log = Progress("lpalm-init", progress)
    sd = child_seeds(seed, ["data", "inits", "select", "train", "sample"])
    tr, te = paper_data(s, sd["data"], data_path)
    rng = np.random.default_rng(sd["inits"])
    inits = rng.choice(tr.n_samples, size=min(s.n_inits, tr.n_samples), replace=False)
    sel = np.sort(np.random.default_rng(sd["select"]).choice(tr.n_samples, size=min(s.n_select, tr.n_samples),
                                                             replace=False))
    i_test = int(np.random.default_rng(sd["sample"]).integers(te.n_samples))
    lams = []
    for j, idx in enumerate(inits):
        A0 = tr.A[idx]
        ls = select_lambda(tr.X[sel], tr.S[sel], 4, _lambda_grid(tr.X[sel], A0, s.n_lambdas),
                           A_train=tr.A[sel], A0=A0, init="given", max_iter=s.palm_max_iter,
                           tol=s.palm_tol, dtype=s.palm_dtype)
        lams.append(ls.best_lambda)
        log(f"initialisation {j + 1}/{inits.size} (training matrix #{idx}): best λ {ls.best_lambda:.4g}")
    k = inits.size
    res = palm(np.repeat(te.X[i_test:i_test + 1], k, axis=0), 4, np.asarray(lams), A0=tr.A[inits],
               init="given", max_iter=s.palm_max_iter, tol=s.palm_tol, dtype=s.palm_dtype,
               record_history=False)
    palm_nmse = _aligned_nmse(res.A, res.S, np.repeat(te.A[i_test:i_test + 1], k, 0),
                              np.repeat(te.S[i_test:i_test + 1], k, 0))
    model_dir = out / "lpalm-model" if s.mode == "full" else None
    model, _ = _train_lpalm(s, tr, sd["train"], log.enabled, model_dir)
    A_l, S_l, _ = _lpalm_forward(model, te.X[i_test:i_test + 1])
    lpalm_nmse = float(_aligned_nmse(A_l, S_l, te.A[i_test:i_test + 1], te.S[i_test:i_test + 1])[0])
    ours = {"palm_median": float(np.median(palm_nmse)), "palm_best": float(palm_nmse.min()),
            "palm_worst": float(palm_nmse.max()), "palm_std": float(palm_nmse.std()), "lpalm": lpalm_nmse,
            "test_index": i_test, "init_indices": inits, "lambdas": lams, "palm_nmse": palm_nmse,
            "palm_iterations": res.n_iter.cpu().numpy()}
    rows = [["PALM NMSE(S), median over initialisations", ours["palm_median"], None],
            ["PALM NMSE(S), best initialisation", ours["palm_best"], None],
            ["PALM NMSE(S), worst initialisation", ours["palm_worst"], None],
            ["PALM NMSE(S), standard deviation", ours["palm_std"], None],
            ["LPALM NMSE(S), generic initialisation", ours["lpalm"], None]]
    notes = _settings_notes(s, _INIT_FIELDS) + [
        f"One test mixture (#{i_test} of the test set); {k} PALM initialisations from random training "
        "matrices, each with its own best λ.",
        "Paper §3.1.1 states that PALM's result varies strongly with the initialisation and that LPALM, "
        "which has a single generic initialisation, needs no such choice; its numbers for this experiment "
        "are not transcribed here (the paper column is left empty rather than guessed).",
    ]
    md = write_results(out, "lpalm-init", title="LPALM paper §3.1.1 — sensitivity to initialisation",
                       header=["quantity", "ours", "paper"], rows=rows,
                       payload={"ours": ours, "settings": dataclasses.asdict(s), "seed": seed}, notes=notes)
    fig, ax = new_figure(1, 1, panel_size=(4.5, 3.5))
    a = ax[0, 0]
    a.semilogy(np.arange(1, k + 1), np.sort(palm_nmse), "o", label="PALM, one point per initialisation")
    a.axhline(lpalm_nmse, color="tab:orange", label="LPALM (generic init)")
    a.set_xlabel("initialisation (sorted)")
    a.set_ylabel("NMSE(S)")
    a.legend(fontsize=7)
    save_figure(fig, out / "lpalm-init.png")
    return {"markdown": md, "ours": ours, "paper": None, "out_dir": out, "settings": s}


# ------------------------------------------------------------------------------------------------ Appendix D


def run_lpalm_appendix_d(*, quick: bool | str = False, out_dir: Any = None, seed: int = 0,
                         data_path: Any = None, progress: bool = True) -> dict[str, Any]:
    """Reproduce the LPALM paper's Appendix D: the choice of the S-update.

    (1) With A varying across samples and given to the network (its true value, or the true value plus 10 dB
    white noise, in training and test): ISTA (classical, best λ of the grid on the training samples),
    ISTA-LLT, LISTA and LISTA-CP (``mixing="given"``); median test NMSE(S). (2) LPALM built with each
    S-update (``s_update`` = ``"lista-cp"`` (eq. 8), ``"ista-llt"``, ``"lista"``, and ``"ista"``: PALM's
    S-step with ``L_S`` of the current Ã and a fixed λ, only the A-steps learned); median test NMSE(S) after
    alignment. The λ of the ``"ista"`` variant is the one chosen for the classical ISTA with the true A in
    (1) — on the same training samples and grid, for the same S-step and data scale.
    Writes ``lpalm-appendix-d.md`` / ``.json`` and ``lpalm-appendix-d.png``.
    """
    s = settings_for(quick)
    seed = _check_common(seed)
    out = resolve_out_dir("lpalm-appendix-d", out_dir)
    log = Progress("lpalm-appendix-d", progress)
    sd = child_seeds(seed, ["data", "noise", "select", "train"])
    tr, te = paper_data(s, sd["data"], data_path)
    if s.d_n_train is not None:
        tr = tr[np.arange(min(s.d_n_train, tr.n_samples))]
    nrng = np.random.default_rng(sd["noise"])
    A_tr_noisy = add_noise(tr.A, 10.0, nrng, batched=True)[0]  # ‖A‖²_F / ‖noise‖²_F = 10 per matrix
    A_te_noisy = add_noise(te.A, 10.0, nrng, batched=True)[0]
    sel = np.sort(np.random.default_rng(sd["select"]).choice(tr.n_samples, size=min(s.n_select, tr.n_samples),
                                                             replace=False))
    ds = dataclasses.replace(s, epochs=s.d_epochs)
    results: dict[str, dict[str, float]] = {}
    ista_lam: dict[str, float] = {}
    for label, A_tr, A_te in (("true A", tr.A, te.A), ("10 dB-noisy A", A_tr_noisy, A_te_noisy)):
        row: dict[str, float] = {}
        # ISTA with the given A: λ from a grid on the training samples, then the test set.
        grid = lambda_grid(lambda_max(A_tr[sel], tr.X[sel]), s.n_lambdas)
        Xs = np.repeat(tr.X[sel][None], grid.size, 0).reshape(-1, *tr.X.shape[1:])
        As = np.repeat(A_tr[sel][None], grid.size, 0).reshape(-1, *tr.A.shape[1:])
        r = ista(Xs, As, np.repeat(grid, sel.size), max_iter=s.d_ista_max_iter, tol=s.palm_tol,
                 dtype=s.palm_dtype, record_history=False)
        err = np.asarray(metrics.nmse(r.S.cpu().numpy(), np.tile(tr.S[sel], (grid.size, 1, 1)), batched=True))
        lam = float(grid[int(np.argmin(np.median(err.reshape(grid.size, sel.size), axis=1)))])
        ista_lam[label] = lam
        r = ista(te.X, A_te, lam, max_iter=s.d_ista_max_iter, tol=s.palm_tol, dtype=s.palm_dtype,
                 record_history=False)
        row["ISTA"] = float(np.median(metrics.nmse(r.S.cpu().numpy(), te.S, batched=True)))
        train_set = Dataset(torch.as_tensor(tr.X), torch.as_tensor(A_tr, dtype=torch.float32),
                            torch.as_tensor(tr.S), {})
        for kind, name in (("ista-llt", "ISTA-LLT"), ("lista", "LISTA"), ("lista-cp", "LISTA-CP")):
            net = build_model(kind, train_set, layers=s.layers, mixing="given")
            train(net, train_set, None, epochs=ds.epochs, lr=s.lr, batch_size=s.batch_size, seed=sd["train"],
                  progress=log.enabled)
            with torch.no_grad():
                _, S_hat = net(torch.as_tensor(te.X, dtype=net.dtype),
                               A=torch.as_tensor(A_te, dtype=net.dtype))
            row[name] = float(np.median(metrics.nmse(S_hat.double().numpy(), te.S, batched=True)))
        log(f"{label}: " + ", ".join(f"{k} {v:.4g}" for k, v in row.items()))
        results[label] = row
    lp: dict[str, float] = {}
    for s_update, name in (("ista", "LPALM (ISTA S-update, fixed λ)"),
                           ("ista-llt", "LPALM (ISTA-LLT S-update)"), ("lista", "LPALM (LISTA S-update)"),
                           ("lista-cp", "LPALM (LISTA-CP S-update, eq. 8)")):
        options: dict[str, Any] = {"s_update": s_update}
        if s_update == "ista":
            options["lam"] = ista_lam["true A"]
        model, _ = _train_lpalm(ds, tr, sd["train"], log.enabled, None, **options)
        A_l, S_l, _ = _lpalm_forward(model, te.X)
        lp[name] = float(np.median(_aligned_nmse(A_l, S_l, te.A, te.S)))
        log(f"{name}: {lp[name]:.4g}")
    rows = [[f"{k}, A given ({lab})", v, None] for lab, r in results.items() for k, v in r.items()]
    rows += [[k, v, None] for k, v in lp.items()]
    notes = _settings_notes(s, _D_FIELDS) + [
        f"Networks trained on {tr.n_samples} mixtures for {ds.epochs} epochs (lr {s.lr:g}, batch "
        f"{s.batch_size}); median NMSE(S) on {te.n_samples} test mixtures. The noisy A is the true A plus "
        "white Gaussian noise at 10 dB, drawn independently for training and test samples and given to the "
        "network in both.",
        "LISTA does not use A in its layers (S ← ST(W1 S + W2 X)), so it cannot adapt to a varying A.",
        f"LPALM with the ISTA S-update is PALM's S-step (W = Ã/L_S, θ = λ/L_S, L_S = ‖ÃᵀÃ‖₂ of the current "
        f"estimate) with λ = {ista_lam['true A']:.4g}, the λ chosen for the classical ISTA with the true A "
        "above (same training samples and grid); only its A-step sizes 1/L_A(k) are trained.",
        "From LPALM's generic start Ã(0) = 1/√m (all columns equal, paper App. A), the ISTA and ISTA-LLT "
        "S-updates (W = Ã/L) give every source the same row ST(ÃᵀX/L), and the A-step then moves every column "
        "alike, so the columns stay equal in every layer: these two variants return one spectrum repeated n "
        "times and cannot separate, whatever is learned. LISTA and LISTA-CP learn W (or W1, W2) freely, which "
        "breaks the symmetry.",
        "Paper App. D reports these comparisons as figures; its values are not transcribed here (the paper "
        "column is left empty rather than guessed).",
    ]
    md = write_results(out, "lpalm-appendix-d", title="LPALM paper, Appendix D — choice of the S-update",
                       header=["network", "median NMSE(S), ours", "paper"], rows=rows,
                       payload={"s_only": results, "lpalm_variants": lp, "ista_lambda": ista_lam,
                                "settings": dataclasses.asdict(s), "seed": seed}, notes=notes)
    fig, ax = new_figure(1, 1, panel_size=(6.0, 3.5))
    a = ax[0, 0]
    names = list(results["true A"])
    x = np.arange(len(names))
    for j, lab in enumerate(results):
        a.bar(x + 0.4 * j - 0.2, [results[lab][nm] for nm in names], width=0.4, label=lab)
    a.set_xticks(x, names)
    a.set_yscale("log")
    a.set_ylabel("median NMSE(S), test")
    a.legend(fontsize=7)
    save_figure(fig, out / "lpalm-appendix-d.png")
    return {"markdown": md, "ours": {"s_only": results, "lpalm_variants": lp}, "paper": None, "out_dir": out,
            "settings": s}


# ------------------------------------------------------------------------------------ per-source thresholds


def run_lpalm_thresholds(*, quick: bool | str = False, out_dir: Any = None, seed: int = 0,
                         data_path: Any = None, progress: bool = True) -> dict[str, Any]:
    """Measure LPALM's per-source thresholds against the paper's one threshold per layer.

    The paper (eq. 8) learns one scalar θ(k) per layer; :class:`semiblind.unrolled.LPALM` offers
    ``threshold="per-source"`` (θ(k) ∈ R^n, one per layer and source). Both are trained on the paper's data
    (65-channel Cas A spectra, 750/150 split, GGD β = 0.3, t = 500, 30 dB), from the same initialisation
    (paper App. A), with the same optimiser settings and the same ``thr_seeds`` training seeds (batch
    order); for each seed the two networks see the same batches. Reported: median test NMSE(S) and NMSE(A)
    after alignment, per seed and pooled over seeds, and the fraction of test mixtures (paired by seed) on
    which the per-source network has the lower NMSE(S).

    Writes ``lpalm-thresholds.md`` / ``.json`` and ``lpalm-thresholds.png`` (per-mixture NMSE of both
    modes).
    """
    s = settings_for(quick)
    seed = _check_common(seed)
    out = resolve_out_dir("lpalm-thresholds", out_dir)
    log = Progress("lpalm-thresholds", progress)
    sd = child_seeds(seed, ["data", "train"])
    tr, te = paper_data(s, sd["data"], data_path)
    log(f"data: {tr.n_samples} train / {te.n_samples} test mixtures, t = {s.pixels}")
    train_seeds = list(child_seeds(sd["train"], [f"run{r}" for r in range(s.thr_seeds)]).values())
    modes = ("scalar", "per-source")
    per: dict[str, dict[str, Any]] = {
        mode: {"nmse_S": [], "nmse_A": [], "train_seconds": [], "final_theta": []} for mode in modes}
    for r, ts in enumerate(train_seeds):
        for mode in modes:
            model, tres = _train_lpalm(s, tr, ts, log.enabled, None, threshold=mode)
            A_l, S_l, _ = _lpalm_forward(model, te.X)
            e_S, e_A = metrics.aligned_nmse(A_l, S_l, te.A, te.S, batched=True)
            per[mode]["nmse_S"].append(e_S)
            per[mode]["nmse_A"].append(e_A)
            per[mode]["train_seconds"].append(float(tres.seconds))
            per[mode]["final_theta"].append(model.theta.detach().double().cpu().numpy()[-1])
            log(f"seed {r + 1}/{len(train_seeds)}, threshold={mode}: median NMSE(S) {np.median(e_S):.4g}, "
                f"NMSE(A) {np.median(e_A):.4g} ({tres.seconds:.1f} s)")
    ours: dict[str, Any] = {}
    rows = []
    for mode in modes:
        eS, eA = np.stack(per[mode]["nmse_S"]), np.stack(per[mode]["nmse_A"])  # (seeds, test)
        ours[mode] = {
            "median_nmse_S": float(np.median(eS)), "median_nmse_A": float(np.median(eA)),
            "median_nmse_S_per_seed": np.median(eS, axis=1), "median_nmse_A_per_seed": np.median(eA, axis=1),
            "train_seconds": per[mode]["train_seconds"], "last_layer_theta": per[mode]["final_theta"],
        }
        rows.append([mode, ours[mode]["median_nmse_S"], ours[mode]["median_nmse_A"],
                     ", ".join(f"{v:.4g}" for v in ours[mode]["median_nmse_S_per_seed"])])
    wins = float(np.mean(np.stack(per["per-source"]["nmse_S"]) < np.stack(per["scalar"]["nmse_S"])))
    ours["per_source_better_fraction"] = wins
    notes = _settings_notes(s, _THR_FIELDS) + [
        f"LPALM, {s.layers} layers, paper App. A initialisation, Adam lr {s.lr:g}, batch {s.batch_size}, "
        f"{s.epochs} epochs on {tr.n_samples} mixtures (best weights by training loss); {len(train_seeds)} "
        f"training seed(s), the same for both modes. NMSE after alignment on A, {te.n_samples} test "
        "mixtures; the first two columns pool all seeds.",
        f"Per-source thresholds give the lower NMSE(S) on {100 * wins:.1f} % of the (seed, test mixture) "
        "pairs.",
        "The paper uses the scalar mode and reports no per-source variant; there is no paper column.",
    ]
    md = write_results(out, "lpalm-thresholds", title="LPALM: one threshold per layer vs one per layer and "
                       "source", header=["threshold", "median NMSE(S), test", "median NMSE(A), test",
                                         "median NMSE(S) per seed"],
                       rows=rows, payload={"ours": ours, "settings": dataclasses.asdict(s), "seed": seed,
                                           "train_seeds": train_seeds,
                                           "per_mixture": {m: {"nmse_S": per[m]["nmse_S"],
                                                               "nmse_A": per[m]["nmse_A"]} for m in modes}},
                       notes=notes)
    fig, ax = new_figure(1, 2, panel_size=(4.0, 3.3))
    for j, key in enumerate(("nmse_S", "nmse_A")):
        a = ax[0, j]
        a.boxplot([np.concatenate(per[m][key]) for m in modes], tick_labels=list(modes))
        a.set_yscale("log")
        a.set_ylabel(f"{'NMSE(S)' if key == 'nmse_S' else 'NMSE(A)'} per test mixture")
    save_figure(fig, out / "lpalm-thresholds.png")
    return {"markdown": md, "ours": ours, "paper": None, "out_dir": out, "settings": s}


# ------------------------------------------------------------------------------------------------ registry

TARGETS: dict[str, tuple[Callable[..., dict[str, Any]], str]] = {
    "lpalm-table1": (run_lpalm_table1, "LPALM paper Table 1: PALM (best λ) vs LPALM, median test NMSE(S), "
                                       "iterations, time"),
    "lpalm-fig2": (run_lpalm_fig2, "LPALM paper Figure 2: PALM NMSE/iterations vs λ; LPALM NMSE per layer"),
    "lpalm-init": (run_lpalm_init, "LPALM paper §3.1.1: PALM from 15 random initialisations vs LPALM"),
    "lpalm-appendix-d": (run_lpalm_appendix_d, "LPALM paper App. D: S-update variants, true and noisy A"),
    "lpalm-thresholds": (run_lpalm_thresholds, "LPALM: one threshold per layer (paper) vs per layer and "
                                               "source, median test NMSE(S) and NMSE(A)"),
}


def run(name: str, **kwargs: Any) -> dict[str, Any]:
    """Run the target ``name`` (one of :data:`TARGETS`) with the keyword arguments of its ``run_*``."""
    if name not in TARGETS:
        raise ValueError(f"name must be one of {', '.join(TARGETS)}; got {name!r}.")
    return TARGETS[name][0](**kwargs)


__all__ = ["FULL", "PAPER_TABLE1", "QUICK", "SMOKE", "Settings", "TARGETS", "paper_data", "run",
           "run_lpalm_appendix_d", "run_lpalm_fig2", "run_lpalm_init", "run_lpalm_table1",
           "run_lpalm_thresholds", "settings_for"]

