"""The remote-sensing benchmark of self-supervised LPALM (``semiblind reproduce selfsup-remote``).

Scenes (:mod:`semiblind.data.remote`, earthlib library): scenes with 3, 4 and 5 endmembers (vegetation, soil,
urban, non-photosynthetic vegetation, burned) with per-scene piecewise-linear spectral variability (amplitude
0.1) and white noise at 30 dB (noisy values below 0 clipped at 0, as in reflectance products, so that the NMF
baselines accept every scene), plus one **Samson-like** scene: 95 × 95 pixels, 156 bands over 401–889 nm, rock
(an earthlib gravel spectrum), tree (an earthlib canopy) and water. earthlib has no water spectrum, so the water
endmember is a stylised smooth curve (:func:`water_reflectance`: a reflectance peak of about 0.05 near 560 nm
and near zero beyond 750 nm), not a measurement. None of these scenes is the real Samson image.

Methods: self-supervised LPALM (:func:`semiblind.selfsup.selfsup_unmix`, plain and nonnegative), VCA + FCLS,
MU, HALS, SNMF, CD-NMF (scikit-learn) and CNNAEU, all through :func:`semiblind.separate` except the pipeline.
Metrics per endmember after matching the estimated spectra to the true ones (Hungarian on |cos|, with the
scale of each estimated column set to the true column's norm and its abundance row divided accordingly:
:func:`semiblind.metrics.align`): spectral angle in radians and abundance RMSE; median over scenes; wall-clock
seconds. The talk's Samson figures are printed beside ours, labelled as another scene.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..api import separate
from ..data import remote
from ..metrics import align
from ..mixing import add_noise
from ..selfsup import reference_abundances, refine_endmembers, selfsup_unmix, spectral_angles
from ._common import Progress, child_seeds, resolve_out_dir, write_results

NAME = "selfsup-remote"

#: The talk's Samson numbers (mean spectral angle over 3 endmembers, radians), real Samson scene.
TALK_SAMSON = {"selfsup-lpalm": 0.0290, "cnnaeu": 0.0567, "snmf": 0.1330}
#: The talk's per-endmember LPALM angles on Samson (rad), in its endmember order.
TALK_SAMSON_LPALM_PER_ENDMEMBER = (0.0152, 0.0356, 0.0361)

SAMSON_BANDS = np.linspace(0.401, 0.889, 156)  # µm
SAMSON_NAMES = ("rock", "tree", "water")

METHODS = ("selfsup-lpalm", "selfsup-lpalm-nn", "vca-fcls", "mu", "hals", "snmf", "nmf-cd", "cnnaeu")
#: Extra rows scored from the same self-supervised runs: the network's own A and S (no refinement).
NETWORK_ROWS = {"selfsup-lpalm": "selfsup-lpalm (network only)", "selfsup-lpalm-nn": "selfsup-lpalm-nn (network only)"}
ROWS = ("selfsup-lpalm", "selfsup-lpalm (network only)", "selfsup-lpalm-nn", "selfsup-lpalm-nn (network only)",
        "vca-fcls", "vca-fcls (+1 refinement)", "mu", "hals", "snmf", "nmf-cd", "cnnaeu")


def water_reflectance(wavelengths_um: np.ndarray) -> np.ndarray:
    """A stylised water reflectance (not a measurement): ``0.004 + 0.045·exp(−½((λ − 0.56)/0.07)²)`` plus a
    blue shoulder ``0.012·exp(−(λ − 0.40)/0.08)``, so about 0.05 at 560 nm and below 0.005 beyond 750 nm."""
    lam = np.asarray(wavelengths_um, dtype=np.float64)
    return 0.004 + 0.045 * np.exp(-0.5 * ((lam - 0.56) / 0.07) ** 2) + 0.012 * np.exp(-(lam - 0.40) / 0.08)


def samson_like_scene(rng: Any, *, H: int = 95, W: int = 95, snr_db: float = 30.0, variability: float = 0.1
                      ) -> dict[str, Any]:
    """The Samson-like scene: ``X (156, H, W)`` over 401–889 nm, rock / tree / water, 30 dB."""
    gen = np.random.default_rng(rng)
    lib = remote.endmember_library()
    A_lib, _, names = remote.select_endmembers(2, gen, classes=["gravel", "vegetation"], library=lib)
    rock_tree = np.stack([np.interp(SAMSON_BANDS, lib.wavelengths, A_lib[:, j]) for j in range(2)], 1)
    A0 = np.concatenate([rock_tree, water_reflectance(SAMSON_BANDS)[:, None]], 1)
    A = remote.spectral_variability(A0, SAMSON_BANDS, gen, amplitude=variability)
    S = remote.smooth_abundances(3, H, W, gen)
    clean = (A @ S.reshape(3, -1)).reshape(156, H, W)
    X, _ = add_noise(clean, snr_db, gen, batched=False)
    return {"name": "samson-like", "X": np.clip(X, 0, None), "A": A, "S": S, "wavelengths": SAMSON_BANDS,
            "endmembers": [f"rock ({names[0]})", f"tree ({names[1]})", "water (stylised)"]}


def remote_scene(n: int, rng: Any, *, H: int, W: int, snr_db: float = 30.0) -> dict[str, Any]:
    """An earthlib scene with ``n`` endmembers (default class order), variability 0.1, ``snr_db``."""
    gen = np.random.default_rng(rng)
    sc = remote.simulate_scene(n, H, W, gen, variability=0.1)
    X, _ = add_noise(sc.X, snr_db, gen, batched=False)
    return {"name": f"earthlib-{n}em", "X": np.clip(X, 0, None), "A": sc.A, "S": sc.S, "wavelengths": sc.wavelengths,
            "endmembers": [f"{c} ({nm})" for c, nm in zip(sc.classes, sc.names)]}


def _settings(quick: bool | str) -> dict[str, Any]:
    if quick == "smoke":
        return {"scenes": [(3, 24)], "samson": (24, 24),
                "selfsup": {"n_runs": 10, "n_train": 64, "n_valid": 4, "n_pixels": 128, "epochs": 15, "layers": 10,
                            "lr": 3e-3},
                "cnnaeu": {"epochs": 2, "patch_size": 16, "batch_size": 4}, "max_iter": 200}
    if quick:
        return {"scenes": [(3, 48), (4, 48)], "samson": (95, 95),
                "selfsup": {"n_train": 96, "n_valid": 8, "n_pixels": 512, "epochs": 15, "lr": 3e-3},
                "cnnaeu": {"epochs": 100}, "max_iter": 1000}
    return {"scenes": [(3, 64), (4, 64), (5, 64), (3, 64), (4, 64)], "samson": (95, 95), "selfsup": {},
            "cnnaeu": {}, "max_iter": 2000}


def _score(A_est: np.ndarray, S_est: np.ndarray, A: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-endmember spectral angle (rad) and abundance RMSE after :func:`align` (true order)."""
    S_flat = S.reshape(S.shape[0], -1)
    A_al, S_al = align(A_est, np.asarray(S_est).reshape(S_flat.shape), A)
    angles = np.diagonal(spectral_angles(A, A_al))
    rmse = np.sqrt(np.mean((S_al - S_flat) ** 2, axis=1))
    return angles, rmse


def _runner(method: str, settings: dict[str, Any], seed: int) -> Callable[[dict[str, Any]], tuple]:
    def run(scene: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        X, n = scene["X"], scene["A"].shape[1]
        if method.startswith("selfsup-lpalm"):
            r = selfsup_unmix(X, n, seed=seed, wavelengths=scene["wavelengths"], nonnegative=method.endswith("nn"),
                              progress=False, **settings["selfsup"])
            return r.A, r.S, {"stages_s": r.timings, "rows": {NETWORK_ROWS[method]: (r.A_network, r.S_network)}}
        params: dict[str, Any] = {}
        if method in ("mu", "hals", "snmf"):
            params["max_iter"] = settings["max_iter"]
        if method == "cnnaeu":
            params.update(settings["cnnaeu"])
        sep = separate(X, n, method, random_state=seed, **params)
        if method == "vca-fcls":  # control: the refinement of the pipeline applied to VCA's endmembers
            x = X.reshape(X.shape[0], -1)
            A_r = refine_endmembers(x, np.asarray(sep.S).reshape(n, -1))
            S_r = reference_abundances(x, A_r, sum_to_one=True)
            return sep.A, sep.S, {"rows": {"vca-fcls (+1 refinement)": (A_r, S_r)}}
        return sep.A, sep.S, {}
    return run


def run_selfsup_remote(*, quick: bool | str = False, out_dir: Any = None, seed: int = 0, data_path: Any = None,
                       progress: bool = True) -> dict[str, Any]:
    """Self-supervised LPALM against VCA + FCLS, MU, HALS, SNMF, CD-NMF and CNNAEU on earthlib scenes and a
    Samson-like scene (see the module docstring). ``data_path`` is unused (the scenes are simulated)."""
    import warnings

    settings = _settings(quick)
    out = resolve_out_dir(NAME, out_dir)
    say = Progress(NAME, progress)
    seeds = child_seeds(seed, [f"scene{i}" for i in range(len(settings["scenes"]))] + ["samson", "methods"])
    scenes = [remote_scene(n, seeds[f"scene{i}"], H=h, W=h) for i, (n, h) in enumerate(settings["scenes"])]
    scenes.append(samson_like_scene(seeds["samson"], H=settings["samson"][0], W=settings["samson"][1]))
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in ROWS}
    for sc in scenes:
        for method in METHODS:
            say(f"{sc['name']} ({sc['X'].shape[0]} bands, {sc['X'].shape[1]}×{sc['X'].shape[2]}): {method}")
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ConvergenceWarning of the NMF baselines at max_iter
                A_est, S_est, extra = _runner(method, settings, seeds["methods"])(sc)
            sec = time.perf_counter() - t0
            for row, (Ae, Se) in {method: (A_est, S_est), **extra.pop("rows", {})}.items():
                ang, rmse = _score(Ae, Se, sc["A"], sc["S"])
                results[row].append({"scene": sc["name"], "angles": ang.tolist(), "rmse": rmse.tolist(),
                                     "mean_angle": float(ang.mean()), "mean_rmse": float(rmse.mean()),
                                     "seconds": sec, **extra})
    header = ["method", "median mean angle (rad)", "median mean RMSE", "median seconds",
              "Samson-like angles rock / tree / water (rad)", "Samson-like mean angle", "talk, real Samson (rad)"]
    rows = []
    for method in ROWS:
        rs = results[method]
        sam = rs[-1]
        rows.append([method, float(np.median([r["mean_angle"] for r in rs])),
                     float(np.median([r["mean_rmse"] for r in rs])), float(np.median([r["seconds"] for r in rs])),
                     " / ".join(f"{a:.4f}" for a in sam["angles"]), sam["mean_angle"],
                     TALK_SAMSON.get(method, "")])
    med = {m: float(np.median([r["mean_angle"] for r in results[m]])) for m in ROWS}
    beats = med["selfsup-lpalm"] < med["vca-fcls"]
    beats_net = med["selfsup-lpalm (network only)"] < med["vca-fcls"]
    per_scene_beats = [a["mean_angle"] < b["mean_angle"] for a, b in zip(results["selfsup-lpalm"],
                                                                           results["vca-fcls"])]
    stage_rows = [[r["scene"], *[r["stages_s"][k] for k in ("library", "augmentation", "abundances", "synthesis",
                                                            "training", "application", "total")]]
                  for r in results["selfsup-lpalm"]]
    from ..report import format_table

    notes = [
        f"Mode: {'smoke' if quick == 'smoke' else ('quick' if quick else 'full')}; settings: {settings}.",
        "Scenes: " + "; ".join(f"{sc['name']} {sc['X'].shape[1]}×{sc['X'].shape[2]}×{sc['X'].shape[0]} "
                               f"({', '.join(sc['endmembers'])})" for sc in scenes) + "; all at 30 dB, "
        "spectral variability 0.1 (per scene).",
        "The talk's numbers are for the real Samson image (another scene: not comparable number for number); "
        f"its per-endmember LPALM angles: {' / '.join(map(str, TALK_SAMSON_LPALM_PER_ENDMEMBER))} rad.",
        f"Check: self-supervised LPALM median angle {med['selfsup-lpalm']:.4g} rad "
        f"{'<' if beats else '>='} VCA + FCLS {med['vca-fcls']:.4g} rad: {'PASS' if beats else 'FAIL'} "
        f"(per scene: {per_scene_beats}). The network alone (no refinement): {med['selfsup-lpalm (network only)']:.4g}"
        f" rad: {'PASS' if beats_net else 'FAIL'}.",
        f"Nonnegative variant: median angle {med['selfsup-lpalm-nn']:.4g} rad against {med['selfsup-lpalm']:.4g} "
        f"for plain LPALM (network only: {med['selfsup-lpalm-nn (network only)']:.4g} against "
        f"{med['selfsup-lpalm (network only)']:.4g}).",
        "Rows 'selfsup-lpalm' are the default pipeline (network, then one least-squares refinement of A given the "
        "abundances and FCLS abundances); '(network only)' rows are the trained network's own A and S from the same "
        "runs (same seconds); 'vca-fcls (+1 refinement)' is the control: the same refinement started from VCA's "
        "endmembers.",
        "Self-supervised LPALM seconds per stage (library, augmentation, abundances, synthesis, training, "
        "application, total):\n\n" + format_table(["scene", "library", "augm.", "abund.", "synth.", "train",
                                                    "apply", "total"], stage_rows, style="markdown"),
    ]
    md = write_results(out, NAME, title="Self-supervised LPALM on remote-sensing scenes", header=header, rows=rows,
                       payload={"results": results, "checks": {"selfsup_beats_vca_fcls": beats,
                                                               "network_only_beats_vca_fcls": beats_net,
                                                               "per_scene": per_scene_beats},
                                "median_angle": med, "talk_samson": TALK_SAMSON, "seed": seed},
                       notes=notes)
    _figure(results, scenes, out)
    return {"markdown": md, "out_dir": str(out), "results": results, "median_angle": med,
            "selfsup_beats_vca_fcls": beats, "network_only_beats_vca_fcls": beats_net,
            "per_scene_beats": per_scene_beats}


def _figure(results: dict[str, list[dict[str, Any]]], scenes: list[dict[str, Any]], out: Any) -> None:
    from ..plot import new_figure, save_figure

    fig, axes = new_figure(1, 2, panel_size=(5.5, 3.4))
    x = np.arange(len(scenes))
    w = 0.8 / len(ROWS)
    for i, m in enumerate(ROWS):
        axes[0, 0].bar(x + i * w, [r["mean_angle"] for r in results[m]], w, label=m)
        axes[0, 1].bar(x + i * w, [r["mean_rmse"] for r in results[m]], w, label=m)
    for ax, lab in zip(axes[0], ("mean spectral angle (rad)", "mean abundance RMSE")):
        ax.set_xticks(x + 0.4 - w / 2, [sc["name"] for sc in scenes], rotation=20, fontsize="small")
        ax.set_yscale("log")
        ax.set_ylabel(lab)
    axes[0, 0].legend(fontsize="x-small", ncol=2, frameon=False)
    save_figure(fig, out / "selfsup_remote.png")


TARGETS: dict[str, tuple[Callable[..., dict[str, Any]], str]] = {
    NAME: (run_selfsup_remote, "self-supervised LPALM vs VCA+FCLS, MU, HALS, SNMF, CD-NMF, CNNAEU on earthlib "
                               "scenes and a Samson-like scene: spectral angle, abundance RMSE, seconds"),
}


__all__ = ["METHODS", "NAME", "ROWS", "TALK_SAMSON", "TARGETS", "remote_scene", "run_selfsup_remote",
           "samson_like_scene", "water_reflectance"]
