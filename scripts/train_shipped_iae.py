"""Train the IAE models shipped in ``src/semiblind/models/``.

- ``iae-xray65-<family>`` for the four families of semiblind's X-ray simulator (``semiblind.data.xray``:
  synchrotron, thermal, iron_1, iron_2) on its default 65-channel grid (``chandra-acis-65``): spectra drawn from
  the simulator's priors (train / valid / test from separate seeds), anchors = the spectra at the extremes (and
  the median) of the family's main parameter (photon index Γ, temperature kT, line-of-sight velocity);
The sGMCA paper's own families (``../shared/data/xray/chandra_casa_spectra_75ch.npz``) are not shipped: an IAE
stores its anchor spectra, and the papers' spectra must stay in ``../shared``; ``semiblind reproduce sgmca-*``
trains them.

Each model trains for a fixed number of Adam steps (cosine learning-rate decay), at most ``--seconds``
(default 300), on one CPU thread; the script prints the median test SAD (dB, fast and exact projection) of
each. Usage::

    python scripts/train_shipped_iae.py [--only iae-xray65-thermal,...] [--seconds 170] [--out src/semiblind/models]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from semiblind.data.casa import sgmca_splits
from semiblind.data.xray import FAMILIES, EnergyGrid, sample_mixing_matrices
from semiblind.training.iae import projection_sad_db, save_iae, train_iae

MAIN_PARAMETER = {"synchrotron": ("gamma", 3), "thermal": ("kT", 3), "iron_1": ("velocity_receding", 2),
                  "iron_2": ("velocity_approaching", 2)}
RECIPE = {"lr": 3e-3, "lr_final": 3e-5, "batch_size": 50}
STEPS = 15000  # Adam steps per model (about 60 s on one free CPU thread); epochs = STEPS / batches per epoch


def simulator_split(family: str, n: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    j = FAMILIES.index(family)
    A, p = sample_mixing_matrices(n, EnergyGrid.default(), seed, return_params=True)
    return A[:, :, j], p


def simulator_anchors(family: str, seed: int) -> np.ndarray:
    spectra, p = simulator_split(family, 4000, seed)
    key, k = MAIN_PARAMETER[family]
    v = p[key]
    qs = (0.0, 0.5, 1.0) if k == 3 else (0.0, 1.0)
    idx = [int(np.argmin(np.abs(v - np.quantile(v, q)))) for q in qs]
    return spectra[idx]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="comma-separated model names to train (default: all)")
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "src" / "semiblind" / "models"))
    ap.add_argument("--data", default=None, help="folder of chandra_casa_spectra_75ch.npz")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    only = {s for s in args.only.split(",") if s}
    jobs = []
    for i, fam in enumerate(FAMILIES):
        jobs.append((f"iae-xray65-{fam}", fam, "sim", 100 + i))
    for name, fam, src, seed in jobs:
        if only and name not in only:
            continue
        if src == "sim":
            train, _ = simulator_split(fam, 1500, seed)
            valid, _ = simulator_split(fam, 300, seed + 1000)
            test, _ = simulator_split(fam, 300, seed + 2000)
            anchors = simulator_anchors(fam, seed + 3000)
            grid = EnergyGrid.default()
        else:
            try:
                d = sgmca_splits(fam, args.data)
            except FileNotFoundError as exc:
                print(f"{name}: skipped ({exc})", file=sys.stderr)
                continue
            train, anchors, test = d["train"], d["anchors"], d["test"]
            valid = None if fam == "line" else d["valid"]  # the line family's valid rows equal its test rows
            grid = None
        t0 = time.perf_counter()
        epochs = max(1, STEPS // -(-len(train) // RECIPE["batch_size"]))
        r = train_iae(train, anchors, valid=valid, family=fam, seed=seed, epochs=epochs,
                      eval_every=max(1, epochs // 25), time_limit=args.seconds, energy_grid=grid, **RECIPE)
        fast = float(np.median(projection_sad_db(r.model, test)))
        exact = float(np.median(projection_sad_db(r.model, test, exact=True)))
        r.model.contract["validation"] = {**r.model.contract.get("validation", {}),
                                          "median_test_sad_db_fast": round(fast, 3),
                                          "median_test_sad_db_exact": round(exact, 3), "test_spectra": len(test)}
        r.model.contract["training"]["data"] = ("semiblind.data.xray simulator, default grid" if src == "sim"
                                                else "sGMCA paper's 75-channel Chandra Cas A spectra")
        save_iae(r.model, Path(args.out) / name)
        print(f"{name}: {r.epochs} epochs in {time.perf_counter() - t0:.0f} s; median test SAD fast {fast:.2f} dB, "
              f"exact {exact:.2f} dB", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
