"""Train the shipped wavelet-mode LPALM ``semiblind/models/lpalm-xray65-image`` (LPALM paper, Fahes et al. ICLR
2022, §3.2 and App. A), the model ``separate --method lpalm`` uses on image cubes ``(m, H, W)``.

Data (the project's own simulator, never ``../shared``), ``--train-data``:

- ``cubes`` (default, since the fourth session of #13): :func:`semiblind.data.realistic.cube_training_set` —
  ``--n-train`` whole Cas A-like cubes of ``simulate xray --sources casa-like`` (``--train-image``², a fresh
  simulator matrix each, 30 dB on the direct-domain cube; seeds from ``--data-seed``, never a demo or
  validation seed), their first ``--scales`` starlet detail scales of X and S side by side, ``--pixels``
  coefficient positions drawn at random per cube (the same for every channel and source), scaled to
  ``‖X‖²_F = n``. The sources keep their spatial overlaps and the noise its level in each scale — what the
  network meets on a cube.
- ``ggd`` (the paper's App. B, the model shipped before): per source, a GGD fitted to the non-zero
  coefficients of the first ``--fit-scales`` starlet detail scales of ``--n-ref`` Cas A-like reference maps of
  ``--ref-size``² pixels drawn from ``--ref-seed``, t = ``--pixels`` (tp draws, (1−p)t zeros), unit-l2 rows,
  30 dB, on ``--n-train`` simulator matrices (:mod:`semiblind.data.realistic`): independent sources.

Architecture: the paper's 25 untied layers, LISTA-CP S-update, one threshold per layer, trained on those
coefficient columns with the training engine; then switched to wavelet mode (the same weights: the layers run on
the cube's starlet detail scales, the coarse scale of S is Ã⁺c_X, S the inverse transform). The number of detail
scales J used at deployment and the input scaling (``"pixel"`` or ``"energy"``) are chosen on validation cubes of
``simulate xray --sources casa-like`` with seeds ``--valid-seeds`` (not the demo's seeds 0–3), by median
NMSE(A); the choice is written into the data contract (``preprocessing.n_scales``, ``preprocessing.input_scale``;
``preprocessing.input = "image"``).

Training: Adam, 40 epochs of the one-cycle schedule at batch 2 (lr 3e-3, 10 % warm-up, clipping at 1), 400
mixtures of t = 3000 (the shipped model: 88 s to make the cubes, 528 s of training on one thread at load 2).
Validation median NMSE(A) (seeds 1001–1003, 128²; ``docs/results.md``, "#13, fourth session"): ``cubes`` 5.0e-5
(pixel scaling, J = 4; 800 cubes: 7.6e-5, not shipped) against 1.37e-3 for ``ggd`` (the model it replaced: a bank
of 16 reference images, 4 scales pooled; ``--train-data ggd`` reproduces it).

Usage::

    python scripts/train_shipped_lpalm_image.py [--train-data cubes|ggd] [--n-train 400] [--epochs 40]
        [--pixels 3000] [--scales 4] [--train-image 128] [--data-seed 5000] [--fit-scales 4] [--n-ref 16]
        [--batch-size 2] [--lr 3e-3] [--lr-schedule onecycle] [--warmup 0.1] [--clip-grad 1]
        [--out src/semiblind/models/lpalm-xray65-image]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from semiblind import metrics
from semiblind.data import realistic
from semiblind.data.mixtures import simulate_xray
from semiblind.data.xray import EnergyGrid
from semiblind.estimators._lpalm_scaling import input_scale_factor, pixel_factor, threshold_scaled
from semiblind.training import build_model, save_model, train

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "src" / "semiblind" / "models" / "lpalm-xray65-image"


@torch.no_grad()
def run_image(net, X: np.ndarray, image: tuple[int, int], mode: str) -> tuple[np.ndarray, np.ndarray]:
    """The network in wavelet mode on a cube ``X (m, H, W)`` with ``input_scale=mode``: ``(A, S (n, H, W))``."""
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float32).reshape(1, X.shape[0], -1))
    c = input_scale_factor(net, Xt, image, net.n_sources)
    use = threshold_scaled(net, pixel_factor(net, Xt)) if mode == "pixel" else net
    A, S = use(c * Xt, image_shape=image)
    return A[0].numpy(), (S / c)[0].numpy().reshape(-1, *image)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train-data", choices=("cubes", "ggd"), default="cubes")
    ap.add_argument("--n-train", type=int, default=400)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--lr-schedule", default="onecycle", choices=("constant", "cosine", "onecycle"))
    ap.add_argument("--warmup", type=float, default=0.1)
    ap.add_argument("--clip-grad", type=float, default=1.0, help="gradient-norm clipping (0: none)")
    ap.add_argument("--layers", type=int, default=25)
    ap.add_argument("--pixels", type=int, default=realistic.TRAIN_PIXELS)
    ap.add_argument("--scales", type=int, default=4, help="cubes: detail scales the training columns come from")
    ap.add_argument("--train-image", type=int, default=128, help="cubes: side of the simulated training cubes")
    ap.add_argument("--data-seed", type=int, default=5000, help="cubes: seed of the simulated training cubes")
    ap.add_argument("--fit-scales", type=int, default=4)
    ap.add_argument("--ref-size", type=int, default=128)
    ap.add_argument("--ref-seed", type=int, default=1000)
    ap.add_argument("--n-ref", type=int, default=16,
                    help="fit the GGDs on R reference images (a bank: each mixture takes one image's fits)")
    ap.add_argument("--valid-seeds", type=int, nargs="+", default=[1001, 1002, 1003])
    ap.add_argument("--valid-image", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    if (args.valid_seeds and min(args.valid_seeds) < 4) or args.data_seed in args.valid_seeds:
        raise SystemExit("--valid-seeds must not use the demo's seeds 0-3 nor --data-seed")
    t0 = time.perf_counter()
    if args.train_data == "cubes":
        tr = realistic.cube_training_set(args.n_train, image=(args.train_image, args.train_image),
                                         n_scales=args.scales, pixels=args.pixels, rng=args.data_seed)
        train_data = {"protocol": tr.meta["protocol"], "function": "semiblind.data.realistic.cube_training_set",
                      "image": [args.train_image] * 2, "n_scales": args.scales, "data_seed": args.data_seed}
    else:
        fits = realistic.ggd_fits(realistic.reference_maps(args.ref_seed, (args.ref_size, args.ref_size),
                                                           n_images=args.n_ref), n_scales=args.fit_scales)
        A_tr, _, _ = realistic.mixing_matrices("simulator", n_train=args.n_train, n_test=1, seed=args.seed)
        tr = realistic.training_set(A_tr, fits, pixels=args.pixels, rng=args.seed + 1)
        print("GGD fits:", tr.meta["fits"], flush=True)
        train_data = {"protocol": "LPALM App. B on simulator spectra (semiblind.data.realistic.training_set)",
                      "fit_scales": args.fit_scales, "reference": f"Cas A-like maps {args.ref_size}² from seed "
                                                                  f"{args.ref_seed}",
                      "n_reference_images": args.n_ref or 1, "fits": tr.meta["fits"]}
    print(f"training data ({args.train_data}): {len(tr.X)} mixtures in {time.perf_counter() - t0:.0f} s", flush=True)
    model = build_model("lpalm", tr, layers=args.layers)
    t0 = time.perf_counter()
    res = train(model, tr, None, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
                lr_schedule=args.lr_schedule, warmup=args.warmup, clip_grad=args.clip_grad or None, progress=True,
                description={"script": "scripts/train_shipped_lpalm_image.py"})
    seconds = time.perf_counter() - t0
    net = res.model.eval()
    print(f"trained in {seconds:.0f} s", flush=True)

    image = (args.valid_image, args.valid_image)
    valid = [simulate_xray(1, image=image, sources="casa-like", snr_db=30, rng=s, progress=False)
             for s in args.valid_seeds]
    net.contract.setdefault("preprocessing", {})["t_train"] = args.pixels
    scores: dict[str, float] = {}
    for J in (2, 3, 4, 5):
        net.wavelet, net.n_scales = True, J
        for mode in ("energy", "pixel"):
            vals = []
            for ms in valid:
                A, S = run_image(net, ms.X[0], image, mode)
                vals.append(metrics.evaluate(A, S, ms.A[0], ms.S[0])["nmse_A"])
            scores[f"J={J}, {mode}"] = float(np.median(vals))
            print(f"validation J={J} {mode}: median NMSE(A) {scores[f'J={J}, {mode}']:.4g}", flush=True)
    best = min(scores, key=scores.get)
    J = int(best.split(",")[0].split("=")[1])
    mode = best.split(", ")[1]
    net.wavelet, net.n_scales = True, J
    grid = EnergyGrid.default()
    net.contract["energy_grid"] = grid.to_dict()
    net.contract["preprocessing"] = {"input": "image", "wavelet": "starlet", "n_scales": J, "t_train": args.pixels,
                                     "input_scale": mode}
    net.contract["training"] = {
        **net.contract.get("training", {}),
        "script": "scripts/train_shipped_lpalm_image.py",
        "train_data": {**train_data, "kind": args.train_data, "grid": grid.name, "pixels": args.pixels,
                       "n": args.n_train, "snr_db": 30},
        "threads": args.threads, "seconds": round(seconds, 1),
    }
    net.contract["validation"] = {"cubes": f"simulate_xray(1, image={image}, sources='casa-like', snr_db=30, "
                                           f"rng=s) for s in {args.valid_seeds}",
                                  "median_nmse_A": scores, "chosen": best}
    save_model(net, args.out, overwrite=True)
    print(json.dumps({"out": str(args.out), "chosen": best, "scores": scores}, indent=1))


if __name__ == "__main__":
    main()
