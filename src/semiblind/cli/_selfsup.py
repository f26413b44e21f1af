"""``semiblind selfsup INPUT --n-sources N --out DIR``: self-supervised LPALM on one scene (argument parsing
only; the pipeline is :func:`semiblind.selfsup.selfsup_unmix`, the reader :func:`semiblind.io.scenes.read_scene`).

Writes into DIR: ``result.npz`` (A, S, info), ``model/`` (the trained network), ``report.html`` and
``report.md`` with one figure per stage, ``summary.json``. The input's ground truth, if any, is never passed to
the pipeline; ``--truth FILE`` (or the truth inside INPUT) only scores the result afterwards.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ._common import add_overwrite


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "selfsup", help="unmix a scene with LPALM trained on a synthetic set built from the scene itself",
        description="Self-supervised LPALM: spectra library by randomised VCA, augmentation, Dirichlet-mixture "
                    "abundances, synthetic training set at the scene's noise level, LPALM trained on it and "
                    "applied to the scene. Reads ENVI, MAT (HySUPP or classic layout), FITS, NPZ.")
    p.add_argument("input", metavar="INPUT", help="the scene (.npz, .mat, .hdr/.img, .fits)")
    p.add_argument("--n-sources", type=int, required=True, metavar="N", help="number of endmembers")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--drop-bands", default=None, metavar="RANGES",
                   help="bad bands to remove, 1-based inclusive, e.g. 1-4,100-110")
    p.add_argument("--scaling", default="auto", choices=("auto", "reflectance", "max", "none"),
                   help="band scaling (default auto: file factor, integer ×10⁴, or max-normalised)")
    p.add_argument("--seed", type=int, default=0, help="master seed of every stage (default 0)")
    p.add_argument("--epochs", type=int, default=20, help="LPALM training epochs (default 20)")
    p.add_argument("--layers", type=int, default=15, help="LPALM layers (default 15)")
    p.add_argument("--n-train", type=int, default=160, help="synthetic training images (default 160)")
    p.add_argument("--n-pixels", type=int, default=1024, help="pixels per synthetic image (default 1024)")
    p.add_argument("--nonnegative", action="store_true", help="train the nonnegative LPALM variant")
    p.add_argument("--sum-to-one", action="store_true", help="FCLS reference abundances (sum to one)")
    p.add_argument("--refine", type=int, default=1, metavar="K",
                   help="least-squares refinements of A after the network (default 1; 0: the network's own A)")
    p.add_argument("--truth", default=None, metavar="FILE",
                   help="ground truth to score the result afterwards (.npz with A, S or a .mat with M, A)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_overwrite(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..io.scenes import read_scene
    from ..selfsup import selfsup_unmix
    from ..selfsup_report import write_selfsup_outputs

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {str(out)!r} exists and is not a folder.")
    if (out / "result.npz").exists() and not args.overwrite:
        raise FileExistsError(f"--out {str(out)!r} already holds a result; pass --overwrite to replace it.")
    if not out.parent.is_dir() and str(out.parent):
        raise FileNotFoundError(f"--out must be inside an existing folder; {str(out.parent)!r} does not exist.")
    cube, line = read_scene(args.input, drop_bands=args.drop_bands, scaling=args.scaling)
    print(line, file=sys.stderr)
    out.mkdir(exist_ok=True)
    res = selfsup_unmix(cube.X, args.n_sources, seed=args.seed, wavelengths=cube.energies, epochs=args.epochs,
                        layers=args.layers, n_train=args.n_train, n_pixels=args.n_pixels,
                        nonnegative=args.nonnegative, sum_to_one=args.sum_to_one, refine=args.refine,
                        model_dir=out / "model",
                        progress=not args.quiet)
    paths = write_selfsup_outputs(res, out, wavelengths=cube.energies, unit=cube.spectral_unit,
                                  source=str(args.input), read_line=line, overwrite=True)
    print(f"selfsup: {res.A.shape[1]} endmembers in {res.timings['total']:.1f} s; wrote {paths['result']}, "
          f"{paths['html']}, model {out / 'model'}")
    if args.truth is not None or _truth_inside(args.input, args.drop_bands):
        _score(args, res, cube)
    return 0


def _truth_inside(path: str, drop_bands: str | None) -> bool:
    from ..io.scenes import read_scene

    try:
        cube, _ = read_scene(path, drop_bands=drop_bands, scaling="none", keep_truth=True)
    except (ValueError, TypeError):
        return False
    return cube.A is not None


def _score(args: argparse.Namespace, res: Any, cube: Any) -> None:
    """Spectral angle per endmember against the truth (read only now, after the pipeline has run)."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    from ..io.scenes import parse_band_ranges, read_scene
    from ..selfsup import spectral_angles

    if args.truth is None:
        truth, _ = read_scene(args.input, drop_bands=args.drop_bands, scaling="none", keep_truth=True)
        A_true = truth.A
    elif str(args.truth).lower().endswith(".mat"):
        from ..io.mat import load_classic_truth

        m_full = int(cube.X.shape[0]) + len(cube.meta.get("dropped_bands", []))
        A_true, _ = load_classic_truth(args.truth, m_full, cube.image_shape or int(cube.X.shape[-1]))
        A_true = A_true[np.setdiff1d(np.arange(m_full), parse_band_ranges(args.drop_bands, m_full))]
    else:
        truth, _ = read_scene(args.truth, drop_bands=args.drop_bands, scaling="none", keep_truth=True)
        A_true = truth.A
    if A_true is None or A_true.shape != res.A.shape:
        raise ValueError(f"--truth must hold endmembers of shape {res.A.shape}; got "
                         f"{None if A_true is None else A_true.shape}.")
    C = spectral_angles(A_true, res.A)
    r, c = linear_sum_assignment(C)
    angles = ", ".join(f"{v:.4f}" for v in C[r, c])
    print(f"spectral angle per endmember (rad): {angles}; mean {C[r, c].mean():.4f}")
