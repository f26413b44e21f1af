"""LPALM inside the manifold (``semiblind.unrolled.lpalm_iae.LPALMIAE``) against LPALM and sGMCA.

Both networks are trained with the same engine, budget and seed on the X-ray simulator's mixtures (65 channels,
GGD sources, 500 pixels, 30 dB; as ``scripts/train_shipped_lpalm.py``, smaller), from the same initialisation; the
IAE variant projects the columns of the families given by ``--modelled`` onto the shipped ``iae-xray65-<family>``
manifolds after every A-step. Test: Cas A-like cubes (``simulate_xray(..., sources="casa-like")``) run through both
networks as pixel matrices (input scaled to the training energy, ``c = sqrt(n/‖X‖²_F)``), and sGMCA with the same
shipped IAEs on the cubes. Prints one JSON line: median SAD (dB, paper eq. 15), SDR (dB) and seconds per cube.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from semiblind.data.mixtures import simulate_xray
from semiblind.data.xray import FAMILIES
from semiblind.estimators.sgmca import SGMCA
from semiblind.metrics import evaluate
from semiblind.training import build_model, train
from semiblind.training.iae import load_iae
from semiblind.unrolled.lpalm_iae import LPALMIAE


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-train", type=int, default=300)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--layers", type=int, default=25)
    ap.add_argument("--n-test", type=int, default=8)
    ap.add_argument("--size", type=int, default=48)
    ap.add_argument("--modelled", default="synchrotron,thermal,iron_1,iron_2")
    args = ap.parse_args()
    torch.set_num_threads(1)
    fams = [f for f in args.modelled.split(",") if f]
    ms = simulate_xray(args.n_train, pixels=500, sources="ggd", beta=0.3, snr_db=30, rng=1000, progress=False)
    data = {"X": np.asarray(ms.X), "A": np.asarray(ms.A), "S": np.asarray(ms.S), "meta": ms.meta}
    base = build_model("lpalm", data, layers=args.layers)
    iaes = [load_iae(f"iae-xray65-{f}") for f in fams]
    net = LPALMIAE(n_channels=65, n_sources=4, layers=args.layers, iae=iaes, mapping=[FAMILIES.index(f) for f in fams])
    net.load_state_dict({**net.state_dict(), **base.state_dict()})  # the same initialisation
    out = {"modelled": fams, "train": {}}
    for label, model in (("LPALM", base), ("LPALM-IAE", net)):
        t = time.perf_counter()
        r = train(model, data, epochs=args.epochs, lr=1e-3, batch_size=16, seed=0, progress=False)
        out["train"][label] = {"seconds": time.perf_counter() - t, "final_loss": float(r.train_loss[-1])
                               if getattr(r, "train_loss", None) else None}
    te = simulate_xray(args.n_test, image=(args.size, args.size), sources="casa-like", snr_db=40, rng=77,
                       progress=False)
    X = np.asarray(te.X).reshape(args.n_test, 65, -1)
    A_t, S_t = np.asarray(te.A), np.asarray(te.S).reshape(args.n_test, 4, -1)
    res = {}
    for label, model in (("LPALM", base), ("LPALM-IAE", net)):
        Xt = torch.as_tensor(X, dtype=torch.float32)
        c = torch.sqrt(4.0 / (Xt ** 2).sum(dim=(1, 2))).view(-1, 1, 1)
        t = time.perf_counter()
        with torch.no_grad():
            A, S = model.eval()(c * Xt)
        sec = (time.perf_counter() - t) / args.n_test
        r = evaluate(A.numpy(), (S / c).numpy(), A_t, S_t)
        res[label] = {"sad_db": float(np.median(r["sad_db_A"])), "sdr": float(np.median(r["sdr"])), "seconds": sec}
    t = time.perf_counter()
    est = SGMCA(n_sources=4, models=[f"iae-xray65-{f}" for f in fams]).fit_batch(
        np.asarray(te.X).reshape(args.n_test, 65, args.size, args.size))
    sec = (time.perf_counter() - t) / args.n_test
    r = evaluate(est.mixing_, est.sources_.reshape(args.n_test, 4, -1), A_t, S_t)
    res["sGMCA"] = {"sad_db": float(np.median(r["sad_db_A"])), "sdr": float(np.median(r["sdr"])), "seconds": sec}
    out["test"] = res
    print(json.dumps(out))


if __name__ == "__main__":
    main()
