"""``semiblind train KIND --train TRAIN.npz [--valid VALID.npz] --out MODEL_DIR``.

KIND is a trainable kind of the registry (:func:`semiblind.training.kinds`: ``lpalm``, ``lista``, ``lista-cp``,
``ista-llt`` and any kind a network module registers). Builds a freshly initialised network for the training set
(:func:`semiblind.training.build_model`) and trains it with :func:`semiblind.training.train`; the model folder
receives ``config.json``, ``model.safetensors``, the per-epoch log ``train_log.jsonl`` and a ``checkpoint/`` used
by ``--resume``. LISTA, LISTA-CP and ISTA-LLT use the mean of the training mixing matrices as their fixed A.

``--train`` / ``--valid`` take an ``.npz`` (keys X, A, S) or an HDF5 file (``.h5`` / ``.hdf5``, datasets X, A, S),
read lazily by default (memory-mapped or HDF5 reads, batch by batch: :mod:`semiblind.training.stored`), so a set
larger than the memory trains; ``--in-memory`` reads them whole instead (the same weights either way).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from ._common import add_overwrite, parse_set
from ._train_sim import add_simulate, simulated_source
from ._workers import add_workers, in_distributed_run, relaunch


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from ..training.engine import kinds

    table = kinds()
    p = subparsers.add_parser(
        "train",
        help=f"train a network ({', '.join(table)}) on a simulated dataset",
        description=f"Train a network on a dataset .npz (keys X, A, S) and write a model folder. Kinds: "
        f"{', '.join(table)} (`semiblind info` describes them).",
    )
    p.add_argument("kind", choices=list(table), metavar="KIND", help=f"network to train: {', '.join(table)}")
    p.add_argument("--train", metavar="TRAIN.npz", help="training set (X, A, S): .npz or .h5, read lazily (see "
                   "--in-memory); required except for iae")
    p.add_argument("--spectra", metavar="F.npz[:KEY]", help="iae only: spectra of one family, one per row (the "
                   "array KEY, or the file's only array)")
    p.add_argument("--family", default="", help="iae only: the family's name, written into the data contract")
    p.add_argument("--anchors", metavar="I,J,K", help="iae only: rows of --spectra used as anchor points")
    p.add_argument("--valid-spectra", metavar="F.npz[:KEY]", help="iae only: validation spectra (best weights by "
                   "median projection SAD)")
    p.add_argument("--valid", metavar="VALID.npz", help="validation set (X, A, S): .npz or .h5; default: none")
    p.add_argument("--in-memory", action="store_true",
                   help="read --train and --valid whole into memory (default: lazily, batch by batch from the "
                   "file; the weights are the same)")
    p.add_argument("--out", required=True, metavar="MODEL_DIR", help="model folder to write")
    p.add_argument("--layers", type=int, default=None,
                   help="number of layers K (default 25; nalmu 50, almu 25 + 25)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: the schedule's, 90 for fast, 100 for "
                   "paper; nalmu/almu 20)")
    p.add_argument("--batch-size", type=int, default=None, help="batch size (default: the schedule's, 16 for fast, "
                   "1 for paper; nalmu/almu 25)")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: the schedule's, peak 3e-3 "
                   "for fast, 1e-4 for paper; nalmu 1e-2, almu 1e-3)")
    p.add_argument("--schedule", default=None, choices=("paper", "fast"),
                   help="named training schedule (default fast): fast = 90 epochs, batch 16, one-cycle lr (peak "
                   "3e-3, 10%% warm-up), gradient clipping at 1 (Table 1 quality, 0.00083, in minutes); paper = the "
                   "LPALM paper's 100 epochs, batch 1, constant lr 1e-4 (0.00064, ~40 min); --epochs/--lr/"
                   "--batch-size override its values (not for nalmu/almu/iae)")
    p.add_argument("--init-from", metavar="NALMU_DIR", default=None,
                   help="almu only: a trained NALMU model for the first stage (default: train it first)")
    p.add_argument("--seed", type=int, default=0, help="shuffling seed (default 0)")
    p.add_argument("--loss", default=None, choices=("nmse", "angle", "sad", "cosine", "nmse_s"),
                   help="training loss (default nmse: NMSE(S) + NMSE(A), LPALM paper eq. 9; angle or sad: NMSE(S) + "
                   "mean spectral angle of A; nalmu/almu always use their paper's eq. 3)")
    p.add_argument("--threshold", default=None, choices=("scalar", "per-source"),
                   help="one threshold per layer (scalar, the default) or per layer and source")
    p.add_argument("--tied", action="store_true", help="share the parameters across layers")
    p.add_argument("--wavelet", action="store_true", help="LPALM on starlet detail coefficients (lpalm only)")
    p.add_argument("--n-scales", type=int, default=None, help="starlet scales in --wavelet mode (default 3)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="another option of the kind's constructor (repeatable), e.g. --set s_update=ista")
    p.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE",
                   help="stop after PATIENCE epochs without validation improvement")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_workers(p)
    add_simulate(p)
    add_overwrite(p)
    p.set_defaults(func=run)
    return p


def _spectra_arg(value: str, flag: str) -> Any:
    from pathlib import Path

    from .._npz import read_npz

    path, _, key = value.partition(":") if not Path(value).is_file() else (value, "", "")
    arrays = read_npz(path, argument=flag)
    if not key:
        if len(arrays) != 1:
            raise ValueError(f"{flag} {value}: the file holds {len(arrays)} arrays ({', '.join(arrays)}); name one "
                             "as FILE:KEY.")
        key = next(iter(arrays))
    if key not in arrays:
        raise ValueError(f"{flag} {value}: the file has no array {key!r} (found {', '.join(arrays)}).")
    return arrays[key]


def _run_iae(args: argparse.Namespace) -> int:
    import numpy as np

    from ..training.iae import projection_sad_db, save_iae, train_iae

    if args.spectra is None or args.anchors is None:
        raise ValueError("--spectra and --anchors are required for kind 'iae' (spectra of one family, one per row, "
                         "and the rows used as anchors, e.g. --anchors 0,5,9).")
    for flag, value in (("--train", args.train), ("--simulate", args.simulate), ("--valid", args.valid),
                        ("--init-from", args.init_from),
                        ("--loss", args.loss), ("--early-stopping", args.early_stopping)):
        if value is not None:
            raise ValueError(f"{flag} is not an option of kind 'iae' (it trains on --spectra with eq. B.2).")
    X = np.asarray(_spectra_arg(args.spectra, "--spectra"), dtype=float)
    if X.ndim != 2:
        raise ValueError(f"--spectra must hold a 2-D array (rows, channels); got shape {X.shape}.")
    try:
        idx = [int(i) for i in args.anchors.split(",")]
    except ValueError:
        raise ValueError(f"--anchors must be comma-separated row indices; got {args.anchors!r}.") from None
    if len(idx) < 2 or len(set(idx)) != len(idx) or not all(0 <= i < len(X) for i in idx):
        raise ValueError(f"--anchors must name at least 2 distinct rows in [0, {len(X)}); got {args.anchors!r}.")
    valid = None if args.valid_spectra is None else _spectra_arg(args.valid_spectra, "--valid-spectra")
    options = parse_set(args.set)
    bad = [k for k in options if k not in ("latent", "skip", "activation", "lr_final")]
    if bad:
        raise ValueError(f"--set {bad[0]} is not an option of kind 'iae' (its options: latent, skip, activation, "
                         "lr_final).")
    from pathlib import Path

    out = Path(args.out)
    if (out / "config.json").exists() and not (args.overwrite or args.resume):
        raise ValueError(f"--out {out} already holds a model; pass --overwrite to replace it or --resume.")
    r = train_iae(X, X[idx], valid=valid, family=args.family, layers=args.layers or 4, epochs=args.epochs or 1000,
                  lr=args.lr or 1e-4, batch_size=args.batch_size or 25, seed=args.seed, dtype=args.dtype,
                  checkpoint_dir=out / "checkpoint", resume=args.resume, progress=not args.quiet, **options)
    save_iae(r.model, out)
    test = valid if valid is not None else X
    sad = float(np.median(projection_sad_db(r.model, test)))
    print(f"trained IAE ({r.model.layers} layers, {len(idx)} anchors) for {r.epochs} epoch(s) in {r.seconds:.1f} s; "
          f"median fast-projection SAD on the {'validation' if valid is not None else 'training'} spectra "
          f"{sad:.2f} dB; model written to {out}")
    return 0


def run(args: argparse.Namespace) -> int:
    from ..training import build_model, kinds, train
    from ..training.engine import load_dataset, trainers

    if ((args.workers or 1) > 1 or in_distributed_run()) and (args.kind == "iae" or args.kind in trainers()):
        raise ValueError(f"--workers (data-parallel training) is not available for kind {args.kind!r} (it has its "
                         "own training procedure).")
    code = relaunch(args)  # --workers N: this command in N torchrun processes
    if code is not None:
        return code
    if args.kind == "iae":
        return _run_iae(args)
    sim = simulated_source(args)  # --simulate: batches drawn on the fly
    if sim is not None and args.kind in trainers():
        raise ValueError(f"--simulate is not available for kind {args.kind!r} (it has its own training procedure).")
    if args.train is None and sim is None:
        raise ValueError(f"--train is required for kind {args.kind!r} (a dataset .npz with X, A, S).")
    kind = kinds()[args.kind]
    options: dict[str, Any] = {}
    flags = {"tied": args.tied or None, "threshold": args.threshold, "wavelet": args.wavelet or None,
             "n_scales": args.n_scales}
    for key, value in {**{k: v for k, v in flags.items() if v is not None}, **parse_set(args.set)}.items():
        if key not in kind.options:
            flag = f"--{key.replace('_', '-')}" if key in flags else f"--set {key}"
            raise ValueError(f"{flag} is not an option of kind {args.kind!r} (its options: "
                             f"{', '.join(kind.options) or 'none'}).")
        options[key] = value
    lazy = not args.in_memory
    train_set = sim if sim is not None else load_dataset(args.train, lazy=lazy, name="dataset")
    valid_set = load_dataset(args.valid, lazy=lazy, name="dataset") if args.valid else None
    description = {"train_file": str(args.train) if sim is None else None,
                   "valid_file": str(args.valid) if args.valid else None}
    trainer = trainers().get(args.kind)
    schedule = {"layers": args.layers, "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size}
    if trainer is not None:  # a kind with its own procedure (e.g. ALMU's two stages) and defaults
        if args.schedule is not None:
            raise ValueError(f"--schedule is not an option of kind {args.kind!r} (it has its own schedule).")
        for flag, value in (("--loss", args.loss), ("--early-stopping", args.early_stopping)):
            if value is not None:
                raise ValueError(f"{flag} is not an option of kind {args.kind!r} (it trains with its paper's loss).")
        result = trainer(train_set, valid_set, out_dir=args.out, resume=args.resume, overwrite=args.overwrite,
                         progress=not args.quiet, dtype=args.dtype, description=description,
                         init_from=args.init_from, options=options, seed=args.seed,
                         **{k: v for k, v in schedule.items() if v is not None})
    else:
        if args.init_from is not None:
            raise ValueError(f"--init-from is an option of kind 'almu'; got it for kind {args.kind!r}.")
        from ..training.engine import resolve_schedule

        layers = schedule.pop("layers")
        layers = 25 if layers is None else layers
        schedule = resolve_schedule(args.schedule, **schedule)
        model = build_model(args.kind, sim.probe() if sim is not None else train_set, layers=layers,
                            dtype=args.dtype, **options)
        result = train(
            model, train_set, valid_set, **schedule, seed=args.seed,
            loss=args.loss or "nmse", early_stopping=args.early_stopping, out_dir=args.out, resume=args.resume,
            overwrite=args.overwrite, progress=not args.quiet, description=description,
        )
    if in_distributed_run() and os.environ.get("RANK") != "0":
        return 0  # rank 0 reports
    val = result.model.contract.get("validation", {})
    parts = [f"trained {type(result.model).__name__} ({result.model.layers} layers) for {result.epochs_run} "
             f"epoch(s); best epoch {result.best_epoch}"]
    if val.get("valid_nmse_S") is not None:
        parts.append(f"validation NMSE(S) {val['valid_nmse_S']:.4g}")
    if val.get("valid_nmse_A") is not None:
        parts.append(f"NMSE(A) {val['valid_nmse_A']:.4g}")
    print(", ".join(parts) + f"; model written to {args.out}")
    return 0
