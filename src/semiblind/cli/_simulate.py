"""``semiblind simulate``: write a simulated mixture set to a ``.npz`` or HDF5 file (argument parsing only).

    semiblind simulate xray --n-samples N (--pixels T | --image H W) --sources ggd|ggd-fit|natural|casa-like
                            [--randomize-pixels] --snr DB --seed S --out FILE.npz [--overwrite]
    semiblind simulate paper-xray --spectra 65|75 [--n-samples N] [--subset NAME] (same source options)
    semiblind simulate remote --n-samples N --image H W --n-sources K --snr DB --seed S --out FILE.npz

``--out`` ends in ``.npz`` (the MixtureSet layout) or ``.h5`` / ``.hdf5`` (HDF5, needs h5py). The set is written
chunk by chunk (:func:`semiblind.data.mixtures.simulate_to_file`): memory holds a few chunks, never the whole set,
and the file is the one the in-memory simulator would save for the same seed (written under a temporary name,
then renamed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ._common import add_overwrite


def _common(p: argparse.ArgumentParser, *, n_samples_required: bool = True) -> None:
    p.add_argument("--n-samples", type=int, required=n_samples_required, metavar="N",
                   help="number of mixtures to simulate")
    p.add_argument("--snr", type=float, default=30.0, metavar="DB",
                   help="signal-to-noise ratio of every mixture in dB, exact per sample (inf: no noise)")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same file)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="stored float type")
    p.add_argument("--out", required=True, metavar="FILE.npz",
                   help="output file: .npz, or .h5 / .hdf5 (HDF5, needs h5py); written chunk by chunk")
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    add_overwrite(p)


def _sources(p: argparse.ArgumentParser) -> None:
    layout = p.add_mutually_exclusive_group(required=True)
    layout.add_argument("--pixels", type=int, metavar="T", help="flat sources of T pixels")
    layout.add_argument("--image", type=int, nargs=2, metavar=("H", "W"), help="source maps of H × W pixels")
    p.add_argument("--sources", choices=("ggd", "ggd-fit", "natural", "casa-like"), default="ggd",
                   help="source model (natural and casa-like need --image)")
    p.add_argument("--randomize-pixels", action="store_true",
                   help="permute every source's pixels independently (weakens partial correlations)")
    p.add_argument("--beta", type=float, default=0.3, help="GGD shape for --sources ggd (default 0.3)")
    p.add_argument("--sparsity", type=float, default=None, help="fraction of zeros for --sources ggd")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate", help="simulate mixtures and write them to a .npz or .h5 file",
        description="Simulate mixtures X = A·S + N and write X, A, S, the noise and the settings to a .npz "
                    "or HDF5 (.h5) file, chunk by chunk.")
    sub = parser.add_subparsers(dest="kind", metavar="KIND", required=True)

    px = sub.add_parser("xray", help="Cas A-like X-ray spectra (synchrotron, thermal, two iron lines)")
    _sources(px)
    _common(px)
    px.set_defaults(func=run)

    pp = sub.add_parser("paper-xray",
                        help="the papers' Cas A spectra (65: LPALM, 75: sGMCA) with simulated sources")
    pp.add_argument("--spectra", type=int, choices=(65, 75), default=65, help="which spectra set")
    pp.add_argument("--subset", default=None,
                    help="65: train or test (the LPALM split); 75: anchors, train, valid or test "
                         "(default: all)")
    pp.add_argument("--spectra-path", default=None, metavar="PATH",
                    help="folder holding the papers' spectra (default: ../shared/data/xray)")
    _sources(pp)
    _common(pp, n_samples_required=False)
    pp.set_defaults(func=run)

    pr = sub.add_parser("remote", help="hyperspectral scenes from the earthlib spectral library")
    pr.add_argument("--image", type=int, nargs=2, required=True, metavar=("H", "W"), help="scene size")
    pr.add_argument("--n-sources", type=int, default=4, metavar="K", help="number of endmembers")
    pr.add_argument("--classes", nargs="+", default=None,
                    help="endmember classes (soil, vegetation, urban, npv, burned, sand, road, roof, gravel)")
    pr.add_argument("--variability", type=float, default=0.1, help="amplitude of the spectral variability")
    pr.add_argument("--pure-fraction", type=float, default=0.05, help="share of pure pixels")
    _common(pr)
    pr.set_defaults(func=run)


def _size(n_bytes: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes} bytes"


def run(args: argparse.Namespace) -> int:
    from .._files import check_output_path
    from ..data import mixtures

    if Path(args.out).suffix.lower() not in mixtures.STREAM_SUFFIXES:
        raise ValueError(f"--out must end in .npz, .h5 or .hdf5; got {args.out!r}.")
    out = check_output_path(args.out, overwrite=args.overwrite, argument="--out")
    progress = False if args.no_progress else None
    if args.kind == "remote":
        options = dict(image=tuple(args.image), n_sources=args.n_sources, snr_db=args.snr, rng=args.seed,
                       classes=args.classes, variability=args.variability, pure_fraction=args.pure_fraction,
                       dtype=args.dtype)
    else:
        image = tuple(args.image) if args.image else None
        options = dict(pixels=args.pixels, image=image, sources=args.sources,
                       randomize_pixels=args.randomize_pixels, snr_db=args.snr, rng=args.seed, beta=args.beta,
                       sparsity=args.sparsity, dtype=args.dtype)
        if args.kind == "paper-xray":
            options.update(spectra=args.spectra, subset=args.subset, path=args.spectra_path)
    planned: dict = {}

    def announce(info: dict) -> None:  # a notice before the write; stdout keeps its one summary line
        planned.update(info)
        print(f"writing {info['n_samples']} {args.kind} mixtures to {out}: about {_size(info['nbytes'])} ...",
              file=sys.stderr, flush=True)

    mixtures.simulate_to_file(out, args.kind, n_samples=args.n_samples, overwrite=args.overwrite,
                              progress=progress, notify=announce, **options)
    shapes = ", ".join(f"{k} {tuple(planned['shapes'][k])}" for k in ("X", "A", "S"))
    print(f"wrote {out} ({_size(Path(out).stat().st_size)}): {planned['n_samples']} {args.kind} mixtures, {shapes}, "
          f"SNR {args.snr:g} dB, seed {args.seed}")
    return 0
