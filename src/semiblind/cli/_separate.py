"""``semiblind separate``: run one separation method on a data file and write A and S.

Example::

    semiblind separate data.npz --method palm --n-sources 4 --set lam=0.01 --set max_iter=3000 \\
        --out result.npz

Array parameters (``A``, ``A0``, ``S``: a known or starting mixing matrix, true sources) are read from
files: ``--set A0=guess.npz`` takes the ``A`` array of ``guess.npz`` (``S`` for the parameter ``S``),
``FILE.npz:KEY`` picks another of its arrays, and the word ``input`` takes the ground truth stored in INPUT
itself (for the oracles on simulated data).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._files import check_output_path
from .._version import __version__
from ._common import add_overwrite, parse_set

# Parameters that take an array, and the ground-truth field of a data file they default to.
ARRAY_PARAMS = {"A": "A", "A0": "A", "S": "S"}


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "separate",
        help="separate a data file into spectra A and maps S with one method",
        description="Separate INPUT (X: channels × pixels, or a cube channels × height × width) into n "
        "sources with the chosen method and write A, S and a JSON 'info' record to OUT.",
    )
    p.add_argument("input", metavar="INPUT",
                   help="data file (.npz with X; FITS, ENVI and MAT where supported)")
    p.add_argument("--method", required=True, help="separation method (see 'semiblind info' or "
                   "semiblind.methods()), e.g. palm, gmca, mu, hals, snmf, nmf-cd, vca-fcls, ista, oracle-s")
    p.add_argument("--n-sources", type=int, required=True, dest="n_sources", help="number of sources n")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a hyper-parameter of the method (repeatable), e.g. --set lam=0.01; arrays "
                   "(A, A0, S) from FILE.npz[:KEY] or 'input' (INPUT's ground truth)")
    p.add_argument("--seed", type=int, default=None, help="seed of the random initialisation")
    p.add_argument("--index", type=int, default=None,
                   help="which mixture of a multi-mixture .npz (MixtureSet) to separate (default 0)")
    p.add_argument("--out", required=True, metavar="OUT", help="result file (.npz, or .fits)")
    add_overwrite(p)
    p.set_defaults(func=run)


def _array_param(key: str, value: str, cube: Any, index: int | None) -> tuple[np.ndarray, str]:
    """Resolve ``--set KEY=FILE[.npz][:FIELD]`` or ``KEY=input`` to an array and a description of its
    origin."""
    from .. import io

    field = ARRAY_PARAMS[key]
    if value == "input":
        arr = getattr(cube, field)
        if arr is None:
            raise ValueError(f"--set {key}=input needs a ground-truth '{field}' array in INPUT; "
                             f"INPUT {str(cube.source)!r} has none.")
        return arr, f"{field} of INPUT"
    path, sep, chosen = value.rpartition(":")
    if not sep or not path or "/" in chosen or "." in chosen:
        path, chosen = value, field
    if chosen not in ("A", "S", "X", "noise"):
        raise ValueError(
            f"--set {key}={value} must name the array A, S, X or noise after ':'; got {chosen!r}."
        )
    src = io.load_input(path, index=index) if Path(path).suffix.lower() == ".npz" else io.load_input(path)
    arr = getattr(src, chosen)
    if arr is None:
        raise ValueError(f"--set {key}={value}: file {path!r} has no array {chosen!r}.")
    return arr, f"{chosen} of {path}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return f"array of shape {tuple(value.shape)}"
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    return value


def run(args: argparse.Namespace) -> int:
    from .. import io
    from ..api import get_method, separate
    from ..solvers.base import ConvergenceWarning

    check_output_path(args.out, overwrite=args.overwrite, argument="--out")
    cls = get_method(args.method)
    params = parse_set(args.set)
    cube = io.load_input(args.input, index=args.index)
    origins: dict[str, str] = {}
    for key, value in list(params.items()):
        if key in ARRAY_PARAMS and key in cls.param_names() and isinstance(value, str):
            params[key], origins[key] = _array_param(key, value, cube, args.index)

    note = ""
    if "n_samples" in cube.meta:
        note = (f" (mixture {cube.meta.get('index', 0)} of the {cube.meta['n_samples']} in INPUT; "
                "choose another with --index)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        sep = separate(cube.X, args.n_sources, method=args.method, random_state=args.seed, **params)
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            print(f"semiblind separate: warning: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    n_iter = int(np.max(sep.n_iter))
    converged = bool(np.all(sep.converged))
    used = {k: (origins[k] if k in origins else _jsonable(v)) for k, v in sep.params.items()}
    info: dict[str, Any] = {
        "method": sep.method,
        "params": used,
        "n_sources": int(args.n_sources),
        "iterations": n_iter,
        "converged": converged,
        "seconds": float(sep.seconds),
        "library_version": __version__,
        "input": str(args.input),
        "seed": args.seed,
    }
    if "n_samples" in cube.meta:
        info["index"] = int(cube.meta.get("index", 0))
        info["n_samples"] = int(cube.meta["n_samples"])
    if sep.info:
        info["method_info"] = json.loads(json.dumps(sep.info, default=_jsonable))
    if cube.spectral_unit:
        info["spectral_unit"] = cube.spectral_unit
    io.save_result(args.out, sep.A, sep.S, info=info, energies=cube.energies, wcs=cube.wcs,
                   overwrite=args.overwrite)
    shape = "×".join(str(s) for s in cube.X.shape[1:])
    status = "converged" if converged else "stopped at max_iter"
    print(f"{sep.method}: {args.n_sources} sources from {args.input}{note}, {cube.X.shape[0]} channels × "
          f"{shape} pixels, {n_iter} iteration(s) ({status}) in {sep.seconds:.2f} s -> {args.out}")
    return 0
