"""``semiblind demo``: the main job on built-in data (the README's first command).

Example::

    semiblind demo                      # writes semiblind-demo/ (about a minute on 2 cores)
    semiblind demo --quick --out /tmp/d # 64 x 64 image, lower iteration caps: a few seconds

Simulates a Chandra-like Cas A cube, separates it with the shipped LPALM model, GMCA, PALM and HALS, prints
the metric table and writes results (FITS and NPZ), figures and an HTML report. All the work is done by
:func:`semiblind.demo.run_demo`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import add_overwrite
from ._runtime import warning_line


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo",
        help="simulate a Cas A-like X-ray cube, separate it with every method, write a report",
        description="Simulate a Chandra-like Cas A cube (128 x 128 pixels, 65 channels, 4 sources, 30 dB), "
        "separate it with the shipped LPALM model, GMCA, PALM and HALS, print the metric table and write "
        "results (FITS, NPZ), PNG figures and a self-contained HTML report into --out.",
    )
    p.add_argument("--out", default="semiblind-demo", metavar="DIR",
                   help="output folder (default: semiblind-demo); an existing non-empty folder needs --overwrite")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulation and the methods (default 0)")
    p.add_argument("--quick", action="store_true",
                   help="64 x 64 image and lower iteration caps (a few seconds)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")
    add_overwrite(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    threads = args.threads if getattr(args, "threads", None) is not None else 1  # the demo's measured default
    res = run_demo(args.out, seed=args.seed, quick=args.quick, overwrite=args.overwrite,
                   progress=args.progress and sys.stderr.isatty(), threads=threads)
    print(res.table_text)
    if any(row.get("converged") is False for row in res.table.values()):
        print("(cap): stopped at its iteration cap before its tolerance (the demo's quick caps; see the report).")
    for name, msgs in res.notes.items():
        for msg in msgs:
            print(warning_line("demo", f"{name}: {msg.split(': ', 1)[-1]}"), file=sys.stderr)
    for name, why in res.skipped.items():
        print(f"{name}: not run — {why}")
    print(f"Metrics after alignment on the truth (NMSE: lower is better; SAD dB, SDR: higher is better). "
          f"Demo wall-clock: {res.wall_seconds:.1f} s (seed {args.seed}, "
          f"{threads} thread{'s' if threads > 1 else ''}).")
    print(f"Report: {res.report}")
    return 0
