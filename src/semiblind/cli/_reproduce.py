"""``semiblind reproduce NAME [--quick] [--out DIR] [--seed S] [--data PATH]`` and ``--list``.

Runs one of the papers' experiments (the ``TARGETS`` of every module of :mod:`semiblind.experiments`,
gathered by :func:`semiblind.experiments.targets`) and prints its "ours vs paper" table; the Markdown and JSON
tables and the PNG figures go to ``--out`` (default ``semiblind-reproduce/NAME/``). ``--quick`` reduces the sizes
so that a target runs in about ten minutes on two cores (the output lists what was reduced). A hidden
``--smoke`` flag selects tiny sizes that run in seconds; it exists for the test suite only.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._common import UsageError
from ._runtime import threads_in_use

# Wall-clock seconds of `semiblind reproduce NAME --quick` measured on the 2-core development machine, one thread,
# mostly while other jobs kept its load average at 5-8 (docs/results.md; a quiet machine is faster), for the estimate
# printed before a run starts. Targets without an entry have no measured time yet.
QUICK_SECONDS: dict[str, float] = {
    "unrolled-nnls-toy": 58.0,
    "lpalm-table1": 176.0,  # a quieter run (over 300 s at load 6-8)
    "lpalm-table2": 958.0,  # batch 2, quiet machine of the fourth #13 session (447 s at batch 16 on an earlier one)
    "lpalm-appendix-d3": 432.0,  # same
    "almu-table1": 576.0,
    "almu-table2": 284.0,
    "sgmca-iae": 255.0,
    "sgmca-table3": 162.0,
    "sgmca-fig9": 501.0,
    "selfsup-remote": 581.0,
}

# The same with `--threads 2` or more, for targets that then run independent trainings in parallel processes
# (lpalm-table2: LPALM and LISTA at once).
QUICK_SECONDS_PARALLEL: dict[str, float] = {
    "lpalm-table2": 503.0,  # quiet machine of the fourth #13 session, `--threads 2`
}


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def estimate_line(name: str, quick: bool | str) -> str:
    """What `reproduce` says before it starts: the measured time of NAME --quick, or that none was measured."""
    if quick == "smoke":
        return f"{name} (smoke sizes): a few seconds."
    measured = QUICK_SECONDS.get(name)
    if quick:
        if measured is None:
            return f"{name} --quick: no measured time for this target yet (the quick targets measured took 1-16 min)."
        parallel = QUICK_SECONDS_PARALLEL.get(name)
        import torch

        if parallel is not None and torch.get_num_threads() >= 2:  # the experiments' own rule (torch's count)
            return (f"{name} --quick: about {_duration(parallel)} with two or more threads (its trainings run in "
                    "parallel processes; measured on 2 cores); starting.")
        hint = f"; --threads 2 takes about {_duration(parallel)}" if parallel is not None else ""
        return (f"{name} --quick: about {_duration(measured)} (measured on 2 cores, one thread{hint}); "
                "starting.")
    quick_part = f"{_duration(measured)} with --quick; " if measured is not None else ""
    return (f"{name}, full protocol: much longer than --quick ({quick_part}the full protocols take up to hours "
            "on 2 cores, see README); starting.")


def _targets() -> dict[str, Any]:
    from ..experiments import targets

    return targets()


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "reproduce",
        help="rerun a paper's experiment and compare with the paper's numbers",
        description="Rerun one of the papers' experiments; print and write a table of our numbers beside "
                    "the paper's (Markdown + JSON) and PNG figures. `semiblind reproduce --list` lists the "
                    "targets.",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="experiment to run (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--quick", action="store_true",
                   help="reduced sizes (about 10 minutes on 2 cores); the output says what was reduced")
    p.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)  # tiny sizes, for the tests only
    p.add_argument("--out", metavar="DIR", help="output folder (default semiblind-reproduce/NAME/)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--data", metavar="PATH",
                   help="folder (or file) holding chandra_casa_spectra_65ch.npz "
                        "(default ../shared/data/xray)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    targets = _targets()
    if args.list:
        width = max(len(k) for k in targets)
        for name, (_, desc) in targets.items():
            print(f"{name.ljust(width)}  {desc}")
        return 0
    if not args.name:
        raise UsageError("NAME must be given (one of " + ", ".join(targets) + "); got nothing. Use --list.")
    if args.name not in targets:
        raise UsageError(f"NAME must be one of {', '.join(targets)}; got {args.name!r}.")
    if args.quick and args.smoke:
        raise UsageError("--quick and --smoke must not be given together; got both.")
    quick: bool | str = "smoke" if args.smoke else bool(args.quick)
    func = targets[args.name][0]
    print(estimate_line(args.name, quick), flush=True)
    result = func(quick=quick, out_dir=args.out, seed=args.seed, data_path=args.data, progress=not args.quiet)
    print(result["markdown"])
    print(f"Written to {result['out_dir']}/ (seed {args.seed}, {threads_in_use()} thread"
          f"{'s' if threads_in_use() > 1 else ''}).")
    return 0
