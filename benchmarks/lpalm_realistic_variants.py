"""LPALM training variants on the realistic protocol (LPALM paper §3.2, App. B; ``reproduce lpalm-table2``):
variant → training seconds → median NMSE(A) on validation and test images, beside GMCA on the same images.

Training set: the App. B mixtures of :func:`semiblind.experiments.lpalm_realistic._data` (``--n-train`` of the
paper's 750 training matrices, evenly spaced; t = 3000; 30 dB). Validation: ``--n-valid`` training-split matrices
that the training set does not use, with Cas A-like first-scale detail maps of seed 1001 (randomised, and not
randomised as in App. D.3) — every choice is made on these — and, in distribution, App. B mixtures of the
training fits on the same matrices (``valid_ggd``). Test: the quick Table 2 test set (30 test matrices,
64² maps, seed 0; "one" = the middle matrix, "gen" = the other 29) and its D.3 twin (not randomised).

Usage: ``python benchmarks/lpalm_realistic_variants.py [--epochs 40] [--n-train 300] [--lr 3e-3] [--a-weight 1]
[--layer-weights last|linear|uniform] [--threshold scalar|per-source|mad] [--s-update lista-cp|ista-llt|lista]
[--n-ref R] [--ref-size 64] [--threads 1] [--gmca] [--json-lines FILE]``. ``--a-weight w`` trains on
``NMSE(S) + w·NMSE(A)`` (paper eq. 9 is ``w = 1``); ``--threshold mad`` is :class:`MadLPALM` (GMCA's MAD rule
with a learned factor, not the paper's); ``--n-ref R`` fits the GGDs on R reference images (a bank,
:func:`semiblind.data.realistic.training_set`). Needs ``../shared/data/xray`` (the paper's matrices). Results of
the variants: ``docs/results.md``, "#13, third session".
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from semiblind.data import casa, realistic
from semiblind.experiments import lpalm_realistic as lr
from semiblind.prox import soft_threshold
from semiblind.stats import mad_std
from semiblind.training import build_model, train
from semiblind.training.losses import nmse
from semiblind.unrolled.lpalm import LPALM


def weighted_loss(a_weight: float, layer_weights: list[float] | None):
    """``Σ_k w_k mean(NMSE(S(k)) + a_weight · NMSE(A(k)))`` (last layer only when ``layer_weights`` is None)."""

    def loss(A_layers, S_layers, A_true, S_true):
        K = len(S_layers)
        w = [0.0] * (K - 1) + [1.0] if layer_weights is None else layer_weights
        tot = S_layers[-1].new_zeros(())
        for k, wk in enumerate(w):
            if wk:
                tot = tot + wk * (nmse(S_layers[k], S_true) + a_weight * nmse(A_layers[k], A_true)).mean()
        return tot

    return loss


class MadLPALM(LPALM):
    """Variant (not the paper's): layer k thresholds each source row at ``κ(k) · MAD(Z_i)`` of its own
    pre-threshold values ``Z = (I − W(k)ᵀÃ)S̃ + W(k)ᵀX`` (GMCA's rule), with κ(k) learned (stored as θ)."""

    def s_step(self, S, A, X, k):
        W = self.W[self._layer(k)]
        Z = S + W.mT @ (X - A @ S)
        theta = self.layer_theta(k) * mad_std(Z, dim=-1).unsqueeze(-1)
        return soft_threshold(Z, theta)


def validation_matrices(n_train: int, n_valid: int) -> np.ndarray:
    bank = casa.paper_mixing_matrices(None)
    tr, _ = casa.lpalm_split(bank)
    used = set(np.linspace(0, tr.size - 1, n_train).round().astype(np.int64).tolist())
    free = np.array([i for i in range(tr.size) if i not in used])
    pick = free[np.linspace(0, free.size - 1, n_valid).round().astype(np.int64)]
    return bank[tr[pick]]


def run_net(net, X, mode):
    """The trained network on ``X (B, m, t)`` fed as the ``"lpalm"`` separator feeds it (``mode``)."""
    from semiblind.estimators._lpalm_scaling import input_scale_factor, pixel_factor, threshold_scaled

    Xt = torch.as_tensor(np.asarray(X), dtype=net.dtype)
    c = input_scale_factor(net, Xt, None, net.n)
    run = threshold_scaled(net, pixel_factor(net, Xt)) if mode == "pixel" else net
    with torch.no_grad():
        A, S = run(Xt * c)
    return A.numpy(), (S / c).numpy()


def evaluate(run, sets: dict) -> dict:
    out = {}
    for name, (ms, split) in sets.items():
        A, S = run(ms.X)
        v = lr._scores(A, S, ms.A, ms.S)["nmse_A"]
        if split:
            out[name + "_one"] = float(v[0])
            out[name + "_gen"] = float(np.median(v[1:]))
        else:
            out[name] = float(np.median(v))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--n-train", type=int, default=300)
    p.add_argument("--n-valid", type=int, default=30)
    p.add_argument("--a-weight", type=float, default=1.0)
    p.add_argument("--layer-weights", default="last", choices=("last", "linear", "uniform"))
    p.add_argument("--threshold", default="scalar", choices=("scalar", "per-source", "mad"))
    p.add_argument("--s-update", default="lista-cp", choices=("lista-cp", "ista-llt", "lista"))
    p.add_argument("--kappa0", type=float, default=1.0, help="initial κ(k) of --threshold mad")
    p.add_argument("--layers", type=int, default=25)
    p.add_argument("--n-ref", type=int, default=None,
                   help="fit the GGDs on R reference images (a bank, one image's fits per mixture) instead of one")
    p.add_argument("--ref-size", type=int, default=None, help="side of the reference images (default: QUICK's)")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=None, help="default: the quick protocol's")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gmca", action="store_true", help="also GMCA (defaults) on the same images")
    p.add_argument("--json-lines", default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    a.batch_size = a.batch_size or lr.QUICK.batch_size
    s = lr.dataclasses.replace(lr.QUICK, n_train=a.n_train, epochs=a.epochs, lr=a.lr, layers=a.layers,
                             batch_size=a.batch_size)
    if a.ref_size:
        s = lr.dataclasses.replace(s, ref_image=(a.ref_size, a.ref_size))
    data = lr._data(s, a.seed, None)
    if a.n_ref:
        bank = realistic.ggd_fits(realistic.reference_maps(a.seed, s.ref_image, n_images=a.n_ref))
        data.train = realistic.training_set(data.A_train, bank, pixels=s.pixels,
                                            rng=lr.child_seeds(a.seed, ["matrices", "train"])["train"])
    A_val = validation_matrices(a.n_train, a.n_valid)
    mid = data.A_test.shape[0] // 2
    order = [mid] + [i for i in range(data.A_test.shape[0]) if i != mid]
    sets = {
        "valid": (realistic.detail_test_set(A_val, image=s.image, randomize=True, seed=1001), False),
        "valid_d3": (realistic.detail_test_set(A_val, image=s.image, randomize=False, seed=1001), False),
        "test": (realistic.detail_test_set(data.A_test[order], image=s.image, randomize=True, seed=a.seed), True),
        "test_d3": (realistic.detail_test_set(data.A_test, image=s.image, randomize=False, seed=a.seed), False),
        # in distribution: App. B mixtures (the training fits) on the validation matrices, t = 64²
        "valid_ggd": (realistic.training_set(A_val, data.fits, pixels=s.image[0] * s.image[1], rng=1001), False),
    }
    K = a.layers
    lw = {"last": None, "linear": [(k + 1) / K for k in range(K)], "uniform": [1.0] * K}[a.layer_weights]
    rec = {"n_train": a.n_train, "epochs": a.epochs, "lr": a.lr, "batch_size": a.batch_size, "a_weight": a.a_weight,
           "layer_weights": a.layer_weights, "threshold": a.threshold, "s_update": a.s_update, "layers": K,
           "seed": a.seed, "n_ref": a.n_ref, "ref_image": list(s.ref_image)}
    if a.threshold == "mad":
        model = MadLPALM.for_training(torch.as_tensor(data.train.A), torch.as_tensor(data.train.S), layers=K)
        with torch.no_grad():
            model.theta.fill_(a.kappa0)
    else:
        model = build_model("lpalm", data.train, layers=K, threshold=a.threshold, s_update=a.s_update)
    t0 = time.perf_counter()
    res = train(model, data.train, None, epochs=s.epochs, lr=s.lr, batch_size=s.batch_size, seed=a.seed,
                loss=weighted_loss(a.a_weight, lw), lr_schedule=s.lr_schedule, warmup=s.warmup,
                clip_grad=s.clip_grad, progress=False)
    rec["train_seconds"] = round(time.perf_counter() - t0, 1)
    net = res.model
    mode = "energy" if a.threshold == "mad" else lr.LPALM_INPUT_SCALE  # MAD thresholds follow the data's scale
    rec.update(evaluate(lambda X: run_net(net, X, mode), sets))
    rec["layers_valid"] = [float(f"{v:.4g}") for v in lr.per_layer_nmse_A(net, sets["valid"][0].X,
                                                                          sets["valid"][0].A, input_scale=mode)]
    if a.gmca:
        def gmca(X):
            est, _ = lr._fit_batch("gmca", X, a.seed)
            return est.mixing_, est.sources_

        rec["gmca"] = evaluate(gmca, sets)
    line = json.dumps(rec)
    print(line, flush=True)
    if a.json_lines:
        with open(a.json_lines, "a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
