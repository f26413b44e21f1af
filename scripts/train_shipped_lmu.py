"""Train the shipped unrolled-MU models ``nalmu-xray65`` and ``almu-xray65`` (Kervazo, Chetoui & Cohen 2024).

Data: the protocol of :mod:`semiblind.experiments.almu_paper` — A from the X-ray simulator on the default
65-channel grid (0.5–7.5 keV), S = four natural grey images (scikit-image crops) as the four rows, 60 dB — at
32 × 32 pixels, 150 training and 25 validation mixtures (the paper: 128 × 128, 750 mixtures).
Schedule (what two CPU cores afford in a few minutes; the paper: Adam lr 1e-5, batch 25, 2,000 epochs):

- NALMU, 50 layers: 15 epochs, Adam lr 1e-2 on the masks' log-weights, batch 25, eq. 3 loss;
- ALMU, 25 + 25 layers: first stage a NALMU of 25 layers (15 epochs, lr 1e-2), frozen; then the 25 MLPs
  (hidden widths 130, 75): 15 epochs, lr 1e-3, batch 25.

The engine's log and checkpoints go to ``--work`` (default ``build/lmu-train``; a rerun with ``--resume``
continues exactly). The models are written to ``src/semiblind/models/<name>/`` with their data contract
(energy grid, preprocessing, training data, validation SAD next to MU's at the same iteration count).

Usage: ``python scripts/train_shipped_lmu.py [--work DIR] [--resume] [--epochs 15] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from semiblind.experiments.almu_paper import QUICK, almu_data, mu_baseline, scores
from semiblind.training.lmu import train_almu, train_nalmu
from semiblind.training.model_files import save_model

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "src" / "semiblind" / "models"


def _mean(d):
    return {k: float(v.mean()) for k, v in d.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default=str(ROOT / "build" / "lmu-train"))
    p.add_argument("--resume", action="store_true")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--n-train", type=int, default=150)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    s = dataclasses.replace(QUICK, n_train=args.n_train, n_valid=25)
    d = almu_data(s, args.seed, which=("train", "valid"))
    Xv = torch.as_tensor(d["valid"].X, dtype=torch.float32).reshape(s.n_valid, 65, -1)
    Av = torch.as_tensor(d["valid"].A, dtype=torch.float32)
    Sv = torch.as_tensor(d["valid"].S, dtype=torch.float32).reshape(s.n_valid, 4, -1)
    data_desc = {"data": f"simulate_xray(sources='natural', image={list(s.image)}, snr_db=60) — "
                         "semiblind.experiments.almu_paper.almu_data(QUICK with n_train="
                         f"{s.n_train}), seed {args.seed}", "image": list(s.image), "n_train": s.n_train,
                 "paper_schedule": "Adam lr 1e-5, batch 25, 2,000 epochs, 750 mixtures of 128×128 pixels",
                 "script": "scripts/train_shipped_lmu.py"}

    t0 = time.perf_counter()
    nalmu = train_nalmu(d["train"], d["valid"], layers=50, epochs=args.epochs, lr=1e-2, batch_size=25,
                        seed=args.seed, out_dir=work / "nalmu-xray65", resume=args.resume, overwrite=not args.resume,
                        description=data_desc)
    t1 = time.perf_counter()
    almu, first = train_almu(d["train"], d["valid"], layers=50, nalmu_layers=25, epochs=args.epochs, lr=1e-3,
                             nalmu_lr=1e-2, batch_size=25, seed=args.seed, out_dir=work / "almu-xray65",
                             resume=args.resume, overwrite=not args.resume, description=data_desc)
    t2 = time.perf_counter()
    mu = mu_baseline(Xv, 4, 50, record_at=(25, 50), truth=(Av, Sv))
    summary = {}
    for name, res, secs in (("nalmu-xray65", nalmu, t1 - t0), ("almu-xray65", almu, t2 - t1)):
        model = res.model
        with torch.no_grad():
            a, sv = model(Xv)
        sc = _mean(scores(a, sv, Av, Sv))
        L = model.layers
        val = model.contract.setdefault("validation", {})
        for k in ("valid_nmse_A", "valid_nmse_S"):  # the column scale of MU's A is arbitrary: NMSE means nothing
            val.pop(k, None)
        val.update({
            "n_valid": s.n_valid, "sad_A": sc["sad_A"], "sad_S": sc["sad_S"],
            f"mu_{L}_iterations_sad_A": mu["curve"][L][0], f"mu_{L}_iterations_sad_S": mu["curve"][L][1]})
        model.contract.setdefault("training", {}).update({
            "training_seconds": secs, "valid_loss_curve": [h.get("valid_loss") for h in res.history]})
        if "first_stage" in model.contract["training"]:  # a path inside --work: keep it relative to the repo
            model.contract["training"]["first_stage"] = "<--work>/almu-xray65/nalmu-stage"
        if first is not None and name == "almu-xray65":
            model.contract["training"]["first_stage_valid_loss_curve"] = [h.get("valid_loss") for h in first.history]
        save_model(model, MODELS / name, overwrite=True)
        summary[name] = {"validation": model.contract["validation"], "seconds": secs}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
