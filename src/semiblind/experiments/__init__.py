"""One paper a module: data protocol, runs, tables beside the paper's figures.

A module ``experiments/<paper>.py`` defines ``TARGETS: dict[str, tuple[callable, str]]`` (target name →
(function, one-line description)); :func:`targets` gathers them from every module of this package (``pkgutil``;
modules whose name starts with ``_`` are skipped), so ``semiblind reproduce`` needs no list.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable


def targets() -> dict[str, tuple[Callable[..., dict], str]]:
    """Name → ``(function, description)`` of every reproduction target, in module then definition order.

    Two modules defining the same target name raise ``ValueError`` naming both.
    """
    out: dict[str, tuple[Callable[..., dict], str]] = {}
    where: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        for name, entry in getattr(mod, "TARGETS", {}).items():
            if name in out:
                raise ValueError(f"reproduction target {name!r} is defined twice: in {where[name]} and "
                                 f"{mod.__name__}.")
            out[name] = entry
            where[name] = mod.__name__
    return out


__all__ = ["targets"]
