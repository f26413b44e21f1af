"""Retrain the shipped LPALM model ``semiblind/models/lpalm-xray65`` (LPALM paper, Fahes et al. ICLR 2022,
eq. 8).

Data: the project's own X-ray simulator (never ``../shared`` data) on the default 65-channel grid
(``EnergyGrid.default()``): Cas A-like mixing matrices (4 families), GGD sources with β = 0.3, t = 500 pixels,
white noise at 30 dB SNR. Architecture: the paper's (25 untied layers, one threshold per layer, LISTA-CP
S-update,
paper initialisation from the first training pair). The training budget is kept small enough for 2 CPU cores;
every
setting used is written into the model's ``config.json`` (``training`` entry).

Usage::

    python scripts/train_shipped_lpalm.py [--n-train 600] [--n-valid 200] [--epochs 12] [--batch-size 16]
        [--lr 1e-3] [--seed 0] [--out src/semiblind/models/lpalm-xray65] [--palm]

``--palm`` also runs PALM with a grid of λ on the validation set and prints the comparison.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from semiblind.training import build_model, evaluate, save_model, train

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "src" / "semiblind" / "models" / "lpalm-xray65"


def simulate(n: int, seed: int) -> tuple[dict, dict]:
    """``n`` X-ray mixtures on the default grid: ``({"X", "A", "S", "meta"}, description)``."""
    from semiblind.data.mixtures import simulate_xray

    ms = simulate_xray(n, pixels=500, sources="ggd", beta=0.3, snr_db=30, rng=seed, progress=False)
    data = {"X": np.asarray(ms.X), "A": np.asarray(ms.A), "S": np.asarray(ms.S), "meta": ms.meta}
    desc = {"simulator": "semiblind.data.mixtures.simulate_xray(n, pixels=500, sources='ggd', beta=0.3, "
                         "snr_db=30, rng=seed)",
            "grid": ms.meta["grid"]["name"], "pixels": 500, "sources": "GGD beta=0.3, unit l2 rows",
            "snr_db": 30, "seed": seed, "n": n}
    return data, desc


def palm_baseline(valid: dict, lams: list[float]) -> dict:
    """Median NMSE(S), NMSE(A) of PALM (after alignment) on ``valid`` for each λ; the paper's ISTA start."""
    from semiblind import metrics
    from semiblind.solvers.palm import palm

    out = {}
    X = torch.as_tensor(valid["X"], dtype=torch.float64)
    for lam in lams:
        t0 = time.perf_counter()
        res = palm(X, valid["A"].shape[2], lam, init="random", rng=0, max_iter=3000, tol=1e-7,
                   dtype="float64", record_history=False)
        A_al, S_al = metrics.align(res.A.numpy(), res.S.numpy(), valid["A"], valid["S"])
        ns = metrics.nmse(S_al, valid["S"])
        na = metrics.nmse(A_al, valid["A"])
        out[lam] = {"median_nmse_S": float(np.median(ns)), "median_nmse_A": float(np.median(na)),
                    "mean_nmse_S": float(np.mean(ns)), "median_iter": float(np.median(res.n_iter.numpy())),
                    "seconds": time.perf_counter() - t0}
        print(f"PALM lambda={lam:g}: {out[lam]}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-train", type=int, default=600)
    ap.add_argument("--n-valid", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--layers", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--palm", action="store_true", help="also evaluate PALM on the validation set")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    train_data, train_desc = simulate(args.n_train, seed=1000 + args.seed)
    valid_data, valid_desc = simulate(args.n_valid, seed=2000 + args.seed)
    model = build_model("lpalm", train_data, layers=args.layers)  # energy grid taken from the data's meta
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        res = train(model, train_data, valid_data, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                    seed=args.seed, out_dir=Path(tmp) / "run", progress=True,
                    description={"script": "scripts/train_shipped_lpalm.py", "train_data": train_desc,
                                 "valid_data": valid_desc, "threads": args.threads})
    seconds = time.perf_counter() - t0
    ev = evaluate(res.model, valid_data)
    res.model.contract["training"]["seconds"] = round(seconds, 1)
    res.model.contract["validation"] = {
        "n_valid": args.n_valid, "mean_nmse_S": ev["nmse_S"], "mean_nmse_A": ev["nmse_A"],
        "nmse_S_layers": ev["nmse_S_layers"], "nmse_A_layers": ev["nmse_A_layers"],
        "note": "means over the validation set, no permutation alignment (families keep their order)",
    }
    with torch.no_grad():
        A, S = res.model(torch.as_tensor(valid_data["X"], dtype=res.model.dtype))
    from semiblind.training.losses import nmse

    ns = nmse(S, torch.as_tensor(valid_data["S"], dtype=S.dtype)).numpy()
    na = nmse(A, torch.as_tensor(valid_data["A"], dtype=A.dtype)).numpy()
    res.model.contract["validation"].update({"median_nmse_S": float(np.median(ns)),
                                             "median_nmse_A": float(np.median(na))})
    if args.palm:
        res.model.contract["validation"]["palm_baseline"] = {
            str(k): v for k, v in palm_baseline(valid_data, [1e-4, 3e-4, 1e-3, 3e-3]).items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_model(res.model, args.out, overwrite=True)
    print(json.dumps({"seconds": round(seconds, 1), "best_epoch": res.best_epoch,
                      "validation": {k: v for k, v in res.model.contract["validation"].items()
                                     if not k.endswith("layers")}}, indent=1))


if __name__ == "__main__":
    main()
