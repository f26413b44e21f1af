"""Speed and scale (issue 14): every row of the table as a ratio to a floor measured in the same run.

Rows (each a ratio, so the table holds on any machine; timings are the minimum over ``--repeats`` runs, the
measure and its floor interleaved so that both see the same machine load):

1. ``cube``: the shipped LPALM (``lpalm-xray65``, K = 25 layers) on one 65 × 1024² float32 cube (273 MB,
   beyond the caches) against streaming X 2K = 50 times with a plain ``X.sum()``. Aim ≤ 1.5×.
2. ``batch``: the same network on a batch of 512 mixtures of 65 × 500, same floor (2K sums of the batch);
   also mixtures per second. Aim ≤ 1.5×.
3. ``gmca``: one GMCA iteration (:func:`semiblind.solvers.gmca.gmca_iteration`, m = 65, t = 16,384, n = 4,
   J = 3 scales, MAD thresholds) against the three matrix products it needs (``A⁺X_w``, ``X_wS_wᵀ``,
   ``S_wS_wᵀ``). Aim ≤ 1.5×.
4. ``train`` (only with ``--train``; minutes): training LPALM on the Table 1 protocol of
   :mod:`semiblind.experiments.lpalm_paper` (750 training mixtures of 65 × 500, GGD β = 0.3, 30 dB; 25 layers)
   with ``--schedule`` for at most ``--train-seconds``; the median test NMSE(S) after training (best
   checkpoint on validation when the schedule selects one) against the paper's 0.00085, and the wall-clock.

Usage: ``python benchmarks/run.py [--threads 2] [--repeats 7] [--rows cube,batch,gmca] [--train]
[--schedule fast] [--train-seconds 300] [--json FILE]``. ``PYTHONPATH=<other checkout>/src`` measures another
version of the code (the "before" column of ``docs/results_speed.md`` was measured so).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np
import torch

PAPER_LPALM_NMSE = 0.00085


def _best_pair(fn, floor, repeats: int, sync=lambda: None) -> tuple[float, float]:
    """Minimum times of ``fn`` and ``floor``, interleaved (one warm-up each)."""
    fn()
    floor()
    sync()
    t_fn, t_floor = np.inf, np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        t_fn = min(t_fn, time.perf_counter() - t0)
        t0 = time.perf_counter()
        floor()
        sync()
        t_floor = min(t_floor, time.perf_counter() - t0)
    return t_fn, t_floor


def _shipped_lpalm(device: torch.device):
    from semiblind.training.model_files import load_model

    model = load_model("lpalm-xray65")
    return model.to(device).eval()


def _sync_for(device: torch.device):
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


@torch.no_grad()
def row_cube(repeats: int, device: torch.device, side: int = 1024) -> dict:
    model = _shipped_lpalm(device)
    K = model.layers
    gen = torch.Generator(device="cpu").manual_seed(0)
    X = torch.rand(1, 65, side * side, generator=gen).to(device)
    t_fwd, t_floor = _best_pair(lambda: model(X), lambda: [X.sum() for _ in range(2 * K)], repeats,
                                _sync_for(device))
    gb = X.numel() * X.element_size() * 2 * K / 1e9
    return {"row": "cube", "what": f"LPALM forward, 65 × {side}² cube ({X.numel() * 4 / 1e6:.0f} MB), "
            f"vs streaming X {2 * K}× with X.sum()", "seconds": t_fwd, "floor_seconds": t_floor,
            "ratio": t_fwd / t_floor, "bandwidth_GBps": gb / t_floor, "aim": 1.5}


@torch.no_grad()
def row_batch(repeats: int, device: torch.device, batch: int = 512) -> dict:
    model = _shipped_lpalm(device)
    K = model.layers
    gen = torch.Generator(device="cpu").manual_seed(1)
    X = torch.rand(batch, 65, 500, generator=gen).to(device)
    t_fwd, t_floor = _best_pair(lambda: model(X), lambda: [X.sum() for _ in range(2 * K)], repeats,
                                _sync_for(device))
    return {"row": "batch", "what": f"LPALM forward, batch of {batch} mixtures of 65 × 500, same floor",
            "seconds": t_fwd, "floor_seconds": t_floor, "ratio": t_fwd / t_floor,
            "mixtures_per_s": batch / t_fwd, "aim": 1.5}


def row_gmca(repeats: int, device: torch.device) -> dict:
    import scipy.stats

    from semiblind.mixing import add_noise
    from semiblind.solvers.base import ConvergenceWarning
    from semiblind.solvers.gmca import gmca, gmca_iteration, gmca_pinv, gmca_update_s
    from semiblind.transforms import starlet_forward

    m, n, t, J = 65, 4, 16384, 3
    rng = np.random.default_rng(0)
    S = scipy.stats.gennorm.rvs(0.3, size=(n, t), random_state=rng)
    e = np.linspace(0.0, 1.0, m)
    centres, widths = rng.uniform(0.1, 0.9, n), rng.uniform(0.1, 0.3, n)
    A = np.exp(-0.5 * ((e[:, None] - centres) / widths) ** 2)
    A /= np.linalg.norm(A, axis=0)
    Xn, _ = add_noise(A @ S, 30.0, rng)
    X = torch.as_tensor(Xn, dtype=torch.float32, device=device).unsqueeze(0)
    Xw, _ = starlet_forward(X, J)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        A_t = gmca(X, n, n_scales=J, max_iter=20, tol=0.0, n_ramp=5).A
    S_prev = gmca_update_s(A_t, Xw, k=3.0, support_fraction=0.5, min_coefficients=5)
    pinvA = gmca_pinv(A_t)
    Xw_flat = Xw.reshape(1, m, J * t)
    S_flat = S_prev.reshape(1, n, J * t)

    def iteration() -> None:
        gmca_iteration(A_t, Xw, S_prev, k=3.0, support_fraction=0.5, min_coefficients=5, reweight=True)

    def products() -> None:
        pinvA @ Xw_flat
        S_flat @ Xw_flat.mT  # X Sᵀ in its fastest orientation (S Xᵀ)ᵀ
        S_flat @ S_flat.mT

    t_it, t_mm = _best_pair(iteration, products, max(repeats, 20), _sync_for(device))
    return {"row": "gmca", "what": f"GMCA iteration (m={m}, t={t}, n={n}, J={J}) vs its matrix products",
            "seconds": t_it, "floor_seconds": t_mm, "ratio": t_it / t_mm, "aim": 1.5}


def row_train(schedule: str | None, seconds: float, seed: int, device: torch.device, progress: bool) -> dict:
    """Train on the Table 1 protocol within ``seconds`` and report the median test NMSE(S)."""
    import tempfile
    from pathlib import Path

    from semiblind import metrics
    from semiblind.experiments import lpalm_paper
    from semiblind.training import build_model, train
    from semiblind.training.engine import resolve_schedule

    tr, te = lpalm_paper.paper_data(lpalm_paper.FULL, seed)
    model = build_model("lpalm", tr, layers=25)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        res = train(model, tr, None, seed=seed, out_dir=Path(d) / "run", progress=progress, device=str(device),
                    max_seconds=seconds, **resolve_schedule(schedule))
        wall = time.perf_counter() - t0
    net = res.model.cpu().eval()
    with torch.no_grad():
        A_l, S_l = net(torch.as_tensor(te.X, dtype=torch.float32))
    _, S_al = metrics.align(A_l.double().numpy(), S_l.double().numpy(), te.A, te.S)
    med = float(np.median(metrics.nmse(S_al, te.S, batched=True)))
    what = f"training to Table 1 quality, schedule {schedule or 'default'} (best epoch by training loss)"
    return {"row": "train", "what": what,
            "seconds": wall, "median_test_nmse": med, "paper_nmse": PAPER_LPALM_NMSE,
            "ratio": med / PAPER_LPALM_NMSE, "aim": 1.0, "time_aim_seconds": 300.0}


ROWS = {"cube": row_cube, "batch": row_batch, "gmca": row_gmca}


def _print_row(r: dict) -> None:
    if r["row"] == "train":
        print(f"{r['row']:>6s}  {r['what']}: {r['seconds']:.0f} s, median test NMSE(S) {r['median_test_nmse']:.5f} "
              f"= {r['ratio']:.2f}× the paper's {r['paper_nmse']} (aim ≤ 1× in ≤ {r['time_aim_seconds']:.0f} s)")
        return
    extra = ""
    if "mixtures_per_s" in r:
        extra = f", {r['mixtures_per_s']:,.0f} mixtures/s"
    if "bandwidth_GBps" in r:
        extra = f", floor streams {r['bandwidth_GBps']:.1f} GB/s"
    print(f"{r['row']:>6s}  {r['what']}: {r['seconds'] * 1e3:.1f} ms / {r['floor_seconds'] * 1e3:.1f} ms = "
          f"{r['ratio']:.2f}× (aim ≤ {r['aim']}×){extra}", flush=True)


def main(argv: list[str] | None = None, device_default: str = "cpu") -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--rows", default="cube,batch,gmca", help="comma-separated subset of cube,batch,gmca")
    p.add_argument("--device", default=device_default)
    p.add_argument("--train", action="store_true", help="also the training row (minutes)")
    p.add_argument("--schedule", default=None, help="training schedule (default: the engine's default)")
    p.add_argument("--train-seconds", type=float, default=300.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--progress", action="store_true")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), device {device}, "
          f"best of {a.repeats}", flush=True)
    out = []
    for name in [s.strip() for s in a.rows.split(",") if s.strip()]:
        if name not in ROWS:
            print(f"error: unknown row {name!r}; expected one of {', '.join(ROWS)}", file=sys.stderr)
            raise SystemExit(2)
        r = ROWS[name](a.repeats, device)
        _print_row(r)
        out.append(r)
    if a.train:
        r = row_train(a.schedule, a.train_seconds, a.seed, device, a.progress)
        _print_row(r)
        out.append(r)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
