"""``semiblind separate``: run one separation method on a data file and write A and S.

Example::

    semiblind separate data.npz --method palm --n-sources 4 --set lam=0.01 --set max_iter=3000 \\
        --out result.npz

Array parameters (``A``, ``A0``, ``S``: a known or starting mixing matrix, true sources) are read from
files: ``--set A0=guess.npz`` takes the ``A`` array of ``guess.npz`` (``S`` for the parameter ``S``),
``FILE.npz:KEY`` picks another of its arrays, and the word ``input`` takes the ground truth stored in INPUT
itself (for the oracles on simulated data).

``--chunk-pixels N`` (methods palm, gmca, lpalm: those with a ``chunk_pixels`` hyper-parameter) separates without
ever copying X whole: a FITS INPUT is memory-mapped, X is validated and read in chunks of N pixels on every pass,
and only S ``(n, t)`` is held in memory (``benchmarks/chunked_memory.py`` measures the peak memory). GMCA then
works in the direct domain and LPALM with its pixel model, also on cubes.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._files import check_output_path
from .._version import __version__
from ._common import UsageError, add_overwrite, parse_set
from ._runtime import add_spectral_axis, choose_threads, load_data, warning_line

# Parameters that take an array, and the ground-truth field of a data file they default to.
ARRAY_PARAMS = {"A": "A", "A0": "A", "S": "S"}


def add_parser(subparsers: Any) -> None:
    from ..api import methods

    p = subparsers.add_parser(
        "separate",
        help="separate a data file into spectra A and maps S with one method",
        description="Separate INPUT (X: channels × pixels, or a cube channels × height × width) into n "
        "sources with the chosen method and write A, S and a JSON 'info' record to OUT.",
    )
    p.add_argument("input", metavar="INPUT",
                   help="data file (.npz with X; FITS, ENVI and MAT where supported)")
    names = list(methods())
    p.add_argument("--method", required=True, metavar="METHOD",  # checked by get_method: one-line error
                   help=f"separation method, one of: {', '.join(names)} (`semiblind methods` lists them with "
                   "their family and models, `semiblind info METHOD` describes one)")
    p.add_argument("--n-sources", type=int, required=True, dest="n_sources", help="number of sources n")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a hyper-parameter of the method (repeatable), e.g. --set lam=0.01; arrays "
                   "(A, A0, S) from FILE.npz[:KEY] or 'input' (INPUT's ground truth)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the random initialisation (default 0: the same command gives the same result)")
    p.add_argument("--model", default=None, metavar="DIR|NAME",
                   help="learned methods: a model folder or a shipped model name (`semiblind methods` lists "
                   "them); the same as --set model=DIR|NAME")
    p.add_argument("--index", type=int, default=None,
                   help="which mixture of a multi-mixture .npz (MixtureSet) to separate (default 0)")
    p.add_argument("--out", required=True, metavar="OUT", help="result file (.npz, or .fits)")
    p.add_argument("--chunk-pixels", default=None, metavar="N", dest="chunk_pixels",
                   help="read X in chunks of N pixels, never copying it whole (FITS INPUT memory-mapped); for "
                   f"{', '.join(chunk_methods())} (GMCA in the direct domain, LPALM with its pixel model)")
    add_spectral_axis(p)
    add_overwrite(p)
    p.set_defaults(func=run)


def chunk_methods() -> list[str]:
    """The methods that separate in pixel chunks: those whose estimator has a ``chunk_pixels`` hyper-parameter."""
    from ..api import methods

    return [name for name, cls in methods().items()
            if "chunk_pixels" in cls.param_names() and getattr(cls, "supports_chunks", lambda: False)()]


def _chunk_pixels(text: str | None) -> int | None:
    """``--chunk-pixels`` as an int ≥ 1 (None when not given); a one-line ``UsageError`` otherwise."""
    if text is None:
        return None
    try:
        value = int(str(text).strip())
    except ValueError:
        raise UsageError(f"--chunk-pixels must be a positive integer (pixels per chunk); got {text!r}.") from None
    if value < 1:
        raise UsageError(f"--chunk-pixels must be a positive integer (pixels per chunk); got {value}.")
    return value


def _npz_read(key: str, value: str, path: Path, chosen: str) -> tuple[list[str], np.ndarray]:
    """The keys of the ``.npz`` archive ``path`` and its array ``chosen`` (read by the one ``.npz`` reader,
    :func:`semiblind._npz.read_npz`: plain real arrays only, pickles are never loaded)."""
    from .._npz import read_npz

    arrays = read_npz(path, argument=f"--set {key}={value}: file")
    found = sorted(arrays)
    if chosen not in found:
        raise ValueError(f"--set {key}={value}: file {str(path)!r} has no array {chosen!r}; found keys: "
                         f"{', '.join(found) or 'none'}.")
    arr = arrays[chosen]
    if arr.dtype == object or np.iscomplexobj(arr) or not (np.issubdtype(arr.dtype, np.number)
                                                           or arr.dtype == bool):
        raise TypeError(f"--set {key}={value}: array {chosen!r} of {str(path)!r} must hold real numbers; got "
                        f"an array of dtype {arr.dtype}.")
    return found, arr


def _array_param(key: str, value: str, cube: Any, index: int | None) -> tuple[np.ndarray, str]:
    """Resolve ``--set KEY=FILE[.npz][:FIELD]`` or ``KEY=input`` to an array and a description of its
    origin.

    A ``.npz`` file holding a data set (an ``X`` array) is read through :func:`semiblind.io.load_input`, so
    that ``--index`` picks the mixture of a multi-mixture file; any other ``.npz`` archive (e.g. one holding
    only a guess ``A``) gives the named array as stored. Other formats are read with
    :func:`semiblind.io.load_input`, whose ground-truth fields (A, S, X, noise) can be named.
    """
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
    p = Path(path)
    if not p.is_file():
        what = "is a directory, not a file" if p.is_dir() else "does not exist"
        error = IsADirectoryError if p.is_dir() else FileNotFoundError
        raise error(f"--set {key}={value}: file {path!r} {what}.")
    is_npz = p.suffix.lower() == ".npz"
    fields = ("A", "S", "X", "noise")
    if is_npz:
        found, arr = _npz_read(key, value, p, chosen)
        if "X" not in found or chosen not in fields:
            return arr, f"{chosen} of {path}"
        # a data set: its layout (multi-mixture batch, --index, cube shape) is io.load_input's business
    elif chosen not in fields:
        raise ValueError(
            f"--set {key}={value} must name the array A, S, X or noise after ':'; got {chosen!r}."
        )
    argument = f"--set {key}"
    src = io.load_input(p, index=index, argument=argument) if is_npz else io.load_input(p, argument=argument)
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

    try:
        io.output_format(Path(args.out))
    except ValueError:
        raise ValueError(f"--out must end in .npz or .fits (the result format is chosen by extension); got "
                         f"{args.out!r}.") from None
    check_output_path(args.out, overwrite=args.overwrite, argument="--out", inputs=[args.input])
    cls = get_method(args.method)
    params = parse_set(args.set)
    for key, flag, given in (("n_sources", "--n-sources", args.n_sources), ("random_state", "--seed", args.seed),
                             ("method", "--method", args.method)):
        if key in params:  # separate() takes these from their own options: say so instead of "multiple values"
            raise ValueError(f"--set {key}={params[key]}: the {'number of sources' if key == 'n_sources' else key} "
                             f"is given with {flag} (here {given!r}), not with --set.")
    if args.model is not None:
        if "model" not in cls.param_names():
            raise UsageError(f"--model applies to learned methods (see `semiblind methods`); method "
                             f"{args.method!r} takes no model.")
        if "model" in params and params["model"] != args.model:
            raise UsageError(f"--model and --set model= must not both be given; got {args.model!r} and "
                             f"{params['model']!r}.")
        params["model"] = args.model
    chunk = _chunk_pixels(args.chunk_pixels)
    if chunk is not None:
        if cls.name not in chunk_methods():
            raise UsageError(f"--chunk-pixels applies to methods {', '.join(chunk_methods())}; got method "
                             f"{args.method!r}.")
        if "chunk_pixels" in params and params["chunk_pixels"] != chunk:
            raise UsageError(f"--chunk-pixels and --set chunk_pixels= must not both be given; got {chunk} and "
                             f"{params['chunk_pixels']!r}.")
        params["chunk_pixels"] = chunk
    # in pixel chunks a FITS X stays a read-only map of the file (its stored dtype and byte order), never copied
    cube = load_data(args.input, spectral_axis=args.spectral_axis, index=args.index,
                     memmap=params.get("chunk_pixels") is not None)
    threads = choose_threads(args, int(np.prod(cube.X.shape)))
    origins: dict[str, str] = {}
    for key, value in list(params.items()):
        if key in ARRAY_PARAMS and key in cls.param_names() and isinstance(value, str):
            params[key], origins[key] = _array_param(key, value, cube, args.index)

    if ("energies" in cls.param_names() and "energies" not in params and cube.energies is not None
            and (cube.spectral_unit or "keV") == "keV"):
        params["energies"] = np.asarray(cube.energies, dtype=float)  # learned models check their energy grid
    note = ""
    if "n_samples" in cube.meta:
        note = (f" (mixture {cube.meta.get('index', 0)} of the {cube.meta['n_samples']} in INPUT; "
                "choose another with --index)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sep = separate(cube.X, args.n_sources, method=args.method, random_state=args.seed, **params)
    from ..diagnostics import assumption_warnings

    said: list[str] = []
    developer = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)  # not about the user's data
    for text in [str(w.message) for w in caught if not issubclass(w.category, developer)] + \
            assumption_warnings(cube.X, sep.A, sep.S, method=sep.method,
                                nonnegative=bool(getattr(cls, "nonnegative", False))):
        line = " ".join(text.split())
        if line not in said:
            said.append(line)
            print(warning_line("separate", line), file=sys.stderr)

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
        "threads": threads,
        "warnings": said,
    }
    if "n_samples" in cube.meta:
        info["index"] = int(cube.meta.get("index", 0))
        info["n_samples"] = int(cube.meta["n_samples"])
    if sep.info:
        info["method_info"] = json.loads(json.dumps(sep.info, default=_jsonable))
    if cube.spectral_unit:
        info["spectral_unit"] = cube.spectral_unit
    io.save_result(args.out, sep.A, sep.S, info=info, energies=cube.energies, wcs=cube.wcs,
                   overwrite=args.overwrite, argument="--out")
    shape = "×".join(str(s) for s in cube.X.shape[1:])
    if "model" in sep.info:  # a learned network always runs all its layers
        steps = f"{n_iter} layers of model {sep.info['model']}"
    else:
        steps = f"{n_iter} iteration(s) ({'converged' if converged else 'stopped at max_iter'})"
    print(f"{sep.method}: {args.n_sources} sources from {args.input}{note}, {cube.X.shape[0]} channels × "
          f"{shape} pixels, {steps} in {sep.seconds:.2f} s (seed {args.seed}, {threads} thread"
          f"{'s' if threads > 1 else ''}) -> {args.out}")
    return 0
