"""``semiblind methods [--json]``: list every separation method of the registry (printing only).

One row per method: its ``--method`` name, family, whether it is learned (a trained or per-image network),
whether it needs X ≥ 0, and the shipped models it can use (models whose ``architecture.class`` is one of the
method's ``model_classes``). ``semiblind info METHOD`` describes one method's parameters.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "methods",
        help="list the separation methods (name, family, learned, needs X >= 0, shipped models)",
        description="List every separation method (the names `semiblind separate --method` takes) with its "
                    "family, whether it is learned, whether it needs nonnegative data, and the shipped models "
                    "it can use. `semiblind info METHOD` gives one method's parameters and defaults.",
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)


def method_rows() -> list[dict[str, Any]]:
    """The registry's method table with, for each method, the names of the shipped models it accepts."""
    from ..api import get_method, method_table
    from ..training.model_files import shipped_models

    models = shipped_models()
    rows = []
    for row in method_table():
        cls = get_method(row["name"])
        classes = tuple(getattr(cls, "model_classes", ()) or ())
        if not classes and "models" in cls.param_names():  # sGMCA: one IAE model per modelled source
            classes = ("IAE",)
        shipped = [k for k, c in models.items() if c.get("architecture", {}).get("class") in classes]
        rows.append({**row, "shipped_models": shipped})
    return rows


def run(args: argparse.Namespace) -> int:
    from ..report import format_table

    rows = method_rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(format_table(["name", "family", "learned", "needs X >= 0", "shipped models"],
                       [[r["name"], r["family"], "yes" if r["learned"] else "no",
                         "yes" if r["nonnegative"] else "no", ", ".join(r["shipped_models"]) or "-"]
                        for r in rows], style="plain"))
    print("Use one with `semiblind separate INPUT --method NAME --n-sources N --out OUT`; "
          "`semiblind info NAME` lists its parameters.")
    return 0
