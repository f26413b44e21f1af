"""``semiblind train KIND --simulate xray [--sources ggd] [--pixels 500] [--per-epoch N] [--snr-db 30]``.

Training mixtures drawn on the fly by :func:`semiblind.data.mixtures.simulate_xray`, batch by batch, never
stored (:class:`semiblind.training.simulated.SimulatedSource`; seeded by ``--seed``, the epoch and the batch).
"""

from __future__ import annotations

import argparse
from typing import Any


def add_simulate(p: argparse.ArgumentParser) -> None:
    """The options of simulation-fed training."""
    p.add_argument("--simulate", default=None, choices=("xray",),
                   help="draw the training mixtures on the fly from this simulator instead of --train")
    p.add_argument("--sources", default="ggd", choices=("ggd", "ggd-fit"),
                   help="--simulate: source model of simulate_xray (default ggd)")
    p.add_argument("--pixels", type=int, default=500, help="--simulate: pixels per mixture (default 500)")
    p.add_argument("--per-epoch", type=int, default=20000, metavar="N",
                   help="--simulate: mixtures per epoch (default 20000)")
    p.add_argument("--snr-db", type=float, default=30.0, help="--simulate: noise level in dB (default 30)")


def simulated_source(args: Any) -> Any:
    """The :class:`~semiblind.training.simulated.SimulatedSource` of ``--simulate`` (None without it)."""
    if getattr(args, "simulate", None) is None:
        return None
    if args.train is not None:
        raise ValueError("--train and --simulate exclude each other (train on a file or on simulations).")
    from ..training.simulated import SimulatedSource

    return SimulatedSource(per_epoch=args.per_epoch, pixels=args.pixels, sources=args.sources,
                           snr_db=args.snr_db, seed=args.seed, simulator=args.simulate)


__all__ = ["add_simulate", "simulated_source"]
