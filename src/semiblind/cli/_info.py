"""``semiblind info [FILE_OR_MODEL_OR_METHOD]``: describe the registry, a method, a data file, a result file or a
model (argument parsing and printing only).

    semiblind info [--json]                       # every method, trainable kind and shipped model
    semiblind info METHOD [--json]                # one method: family, reference, parameters and defaults
    semiblind info cube.fits [--format F] [--spectral-axis AXIS] [--index I] [--json]
    semiblind info result.npz
    semiblind info MODEL_FOLDER | SHIPPED_NAME | MODEL_FOLDER/config.json [--json]

The listing and the method descriptions read the registry (:func:`semiblind.api.method_table`). A data file
prints its shape, axes, spectral range, celestial WCS and whether ground truth is stored; a result file written
by ``semiblind separate`` its shapes and info; a model its ``config.json`` (architecture and data contract) as
``key.path = value`` lines.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

_LIST_SHOWN = 6
_PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")  # as semiblind.training.model_files
_DATA_SUFFIXES = (".npz", ".fits", ".fit", ".fts", ".gz", ".evt", ".evt2", ".hdr", ".img", ".dat", ".raw",
                  ".bsq", ".bil", ".bip", ".mat")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "info",
        help="list the methods, trainable kinds and shipped models; describe a method, a file or a model",
        description="Without argument: list every separation method, trainable kind and shipped model. With "
                    "one: describe a method (family, reference, parameters), a data file (shape, axes, energy "
                    "range, WCS, ground truth), a result file, or a model folder / shipped model name (its "
                    "config.json: architecture and data contract).",
    )
    parser.add_argument("target", metavar="FILE_OR_MODEL_OR_METHOD", nargs="?", default=None,
                        help="a method name, a .npz/.fits/.evt/ENVI/.mat file, a model folder or a shipped model "
                        "name; omit it to list the registry")
    parser.add_argument("--format", default=None, choices=("npz", "fits", "events", "envi", "mat"),
                        help="force the file reader (default: from the file name)")
    parser.add_argument("--spectral-axis", default=None, metavar="AXIS",
                        help="FITS: NumPy axis (0, 1, 2) or CTYPE (e.g. ENER) of the spectral axis")
    parser.add_argument("--index", type=int, default=None, metavar="I",
                        help="multi-mixture .npz: which mixture (default 0)")
    parser.add_argument("--model", default=None, metavar="DIR|NAME",
                        help="describe this model folder or shipped model name (the same as giving it as "
                        "FILE_OR_MODEL_OR_METHOD)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=run)


def _short(value: Any) -> str:
    if isinstance(value, list) and len(value) > _LIST_SHOWN:
        nums = [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(nums) == len(value):
            return f"[{len(value)} values from {min(nums):.4g} to {max(nums):.4g}]"
        return f"[{len(value)} items: {json.dumps(value[:3])[1:-1]}, ...]"
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(obj, dict) and obj:
        rows: list[tuple[str, str]] = []
        for key, value in obj.items():
            rows += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return rows
    return [(prefix or "value", _short(obj))]


def _print_rows(title: str, rows: list[tuple[str, str]]) -> None:
    from ..report import format_table

    print(title)
    print(format_table(["field", "value"], [list(r) for r in rows], style="plain"))


def _model(target: str, as_json: bool) -> int:
    from ..training.model_files import read_config

    cfg = read_config(target)
    if as_json:
        print(json.dumps(cfg, indent=2))
        return 0
    order = ["architecture", "data_contract"]
    keys = order + [k for k in cfg if k not in order]
    rows: list[tuple[str, str]] = []
    for key in keys:
        if key in cfg:
            rows += _flatten(cfg[key], key)
    _print_rows(f"model {target}", rows)
    return 0


def _spectral_axis(text: str | None) -> int | str | None:
    if text is None:
        return None
    stripped = text.strip()
    return int(stripped) if stripped.lstrip("-").isdigit() else stripped


def _data(path: Path, args: argparse.Namespace) -> int:
    from ..io import load_input, load_result

    try:
        obj = load_input(path, format=args.format, spectral_axis=_spectral_axis(args.spectral_axis),
                         index=args.index)
        kind = "data"
    except ValueError as data_error:
        # not a data file: perhaps a result written by `semiblind separate`
        data_only = args.spectral_axis is not None or args.index is not None
        if args.format not in (None, "npz", "fits") or data_only:
            raise
        try:
            obj = load_result(path, format=args.format)
        except (ValueError, TypeError, KeyError):
            raise data_error from None
        kind = "result"
    rows = obj.summary()
    if args.json:
        print(json.dumps({"kind": kind, **dict(rows)}, indent=2))
        return 0
    _print_rows(f"{kind} file {path}", rows)
    return 0


def _listing(as_json: bool) -> int:
    from ..api import kinds, method_table
    from ..report import format_table
    from ..training.model_files import shipped_models

    rows = method_table()
    table = kinds()
    models = shipped_models()
    if as_json:
        print(json.dumps({"methods": rows, "kinds": {k: {"description": v.description, "options": list(v.options)}
                                                     for k, v in table.items()},
                          "shipped_models": {k: c.get("architecture", {}) for k, c in models.items()}}, indent=2))
        return 0
    print("methods (semiblind separate --method NAME; `semiblind methods` adds the models each can use)")
    print(format_table(["name", "family", "reference", "learned", "needs X >= 0"],
                       [[r["name"], r["family"], r["reference"], "yes" if r["learned"] else "no",
                         "yes" if r["nonnegative"] else "no"] for r in rows], style="plain"))
    print()
    print("trainable kinds (semiblind train KIND)")
    print(format_table(["kind", "options"], [[k, ", ".join(v.options)] for k, v in table.items()], style="plain"))
    print()
    print("shipped models (--model NAME)")
    print(format_table(["name", "class", "channels", "sources", "layers"],
                       [[k, str(c.get("architecture", {}).get("class")),
                         str(c.get("data_contract", {}).get("channels")),
                         str(c.get("data_contract", {}).get("n_sources")),
                         str(c.get("architecture", {}).get("layers"))] for k, c in models.items()], style="plain"))
    return 0


def _method(name: str, as_json: bool) -> int:
    from ..api import get_method, method_table

    cls = get_method(name)
    row = next(r for r in method_table() if r["name"] == name)
    est = cls(n_sources=1)
    params = {k: v for k, v in est.get_params().items() if k != "n_sources"}
    if as_json:
        print(json.dumps({**row, "parameters": {k: repr(v) if not isinstance(v, (int, float, str, bool, type(None)))
                                                else v for k, v in params.items()}}, indent=2))
        return 0
    rows = [("class", row["class"]), ("family", row["family"]), ("reference", row["reference"]),
            ("learned", "yes" if row["learned"] else "no"), ("needs X >= 0", "yes" if row["nonnegative"] else "no")]
    rows += [(f"parameter {k}", _short(v) if not isinstance(v, str) else v) for k, v in params.items()]
    _print_rows(f"method {name}", rows)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.model is not None:
        if args.target is not None:
            from ._common import UsageError

            raise UsageError(f"give the model either as --model or as FILE_OR_MODEL_OR_METHOD, not both; got "
                             f"{args.model!r} and {args.target!r}.")
        return _model(str(args.model), args.json)
    if args.target is None:
        return _listing(args.json)
    target = str(args.target)
    p = Path(target)
    if p.is_dir():
        return _model(target, args.json)
    if p.is_file():
        if p.name == "config.json":
            return _model(str(p.parent), args.json)
        if p.suffix.lower() in _PICKLE_SUFFIXES:  # refused with the model loader's explanation
            return _model(target, args.json)
        return _data(p, args)
    from ..api import methods

    if target in methods():
        return _method(target, args.json)
    if p.suffix.lower() in _DATA_SUFFIXES or p.parent != Path("."):
        raise FileNotFoundError(f"FILE_OR_MODEL {target!r} does not exist (neither a file nor a model "
                                "folder).")
    return _model(target, args.json)  # a shipped model name (read_config lists the names when it is unknown)
