"""A memory budget for readers and builders: sizes declared by the input are checked before allocating.

A file header, an event list or a model config can declare an array far larger than the file itself (a
200-byte ``.npz`` whose header promises 520 GiB, one stray event at ``x = 10⁶``). Every reader and builder
that allocates from such a declaration first calls :func:`check_allocation` with the number of bytes it is
about to allocate, and the input is refused with one sentence carrying the numbers when it is over budget.

The budget is, in order of precedence:

1. the value set with :func:`set_memory_budget` (or the :func:`memory_budget_limit` context manager);
2. the environment variable ``SEMIBLIND_MEMORY_BUDGET``: a number of bytes (``"8000000000"``), a size with a
   unit (``"512MiB"``, ``"8 GB"``, ``"2G"``) or a fraction of the available memory (``"0.25"``);
3. :data:`DEFAULT_FRACTION` (one half) of the memory available on this machine (``MemAvailable`` of
   ``/proc/meminfo``, else physical pages × page size).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

ENV_VAR = "SEMIBLIND_MEMORY_BUDGET"
DEFAULT_FRACTION = 0.5
_FALLBACK_AVAILABLE = 8 * 2**30  # when the machine's memory cannot be read at all

_UNITS = {
    "": 1, "b": 1,
    "k": 2**10, "kb": 10**3, "kib": 2**10,
    "m": 2**20, "mb": 10**6, "mib": 2**20,
    "g": 2**30, "gb": 10**9, "gib": 2**30,
    "t": 2**40, "tb": 10**12, "tib": 2**40,
}

_override: int | None = None


def available_memory() -> int:
    """Bytes of memory available to a new allocation on this machine (best effort)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return _FALLBACK_AVAILABLE


def parse_budget(value: Any, *, argument: str = ENV_VAR) -> int:
    """A budget given as bytes (int), a size string with a unit, or a fraction in (0, 1] of the available
    memory, as a number of bytes; a ``ValueError`` naming ``argument`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{argument} must be a number of bytes, a size such as '8GiB' or a fraction such as "
                         f"'0.5'; got {value!r}.")
    if isinstance(value, (int, np.integer)):
        if value < 1:
            raise ValueError(f"{argument} must be a positive number of bytes; got {int(value)}.")
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{argument} must be a positive size or a fraction in (0, 1]; got {value!r}.")
        return int(value * available_memory()) if value <= 1 else int(value)
    text = str(value).strip()
    match = re.fullmatch(r"([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)", text)
    if match is None or match.group(2).lower() not in _UNITS:
        raise ValueError(f"{argument} must be a number of bytes, a size such as '8GiB' or a fraction such as "
                         f"'0.5'; got {text!r}.")
    number, unit = float(match.group(1)), match.group(2).lower()
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{argument} must be a positive size or a fraction in (0, 1]; got {text!r}.")
    if not unit and number <= 1 and "." in match.group(1):
        return max(1, int(number * available_memory()))
    return max(1, int(number * _UNITS[unit]))


def memory_budget() -> int:
    """The current budget in bytes (see the module docstring for where it comes from)."""
    if _override is not None:
        return _override
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return parse_budget(env)
    return max(1, int(DEFAULT_FRACTION * available_memory()))


def set_memory_budget(budget: Any) -> int | None:
    """Set the budget for this process (bytes, a size string or a fraction; ``None`` restores the default);
    returns the previous override."""
    global _override
    previous = _override
    _override = None if budget is None else parse_budget(budget, argument="budget")
    return previous


@contextlib.contextmanager
def memory_budget_limit(budget: Any) -> Iterator[int]:
    """Within the block the budget is ``budget``; yields it in bytes."""
    global _override
    previous = set_memory_budget(budget)
    try:
        yield memory_budget()
    finally:
        _override = previous


def format_bytes(nbytes: float) -> str:
    """``520 GiB``, ``7.45 GiB``, ``12 MiB``, ``480 TiB``: binary units, three significant digits."""
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            break
        value /= 1024
    if unit == "B":
        return f"{int(nbytes)} B"
    return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"


def nbytes_of(shape: Iterable[Any], dtype: Any = np.float64) -> int:
    """Bytes of an array of ``shape`` and ``dtype``, computed with Python ints (no overflow)."""
    total = int(np.dtype(dtype).itemsize)
    for s in shape:
        total *= max(int(s), 0)
    return total


def check_allocation(nbytes: Any, what: str, *, budget: Any = None) -> None:
    """Raise ``ValueError`` when allocating ``nbytes`` for ``what`` would exceed the budget.

    ``what`` names the thing and where it comes from (``"X in 'data.npz' (65 × 4096 × 4096 × 64 float64)"``);
    the sentence gives the size, the budget and how to raise it. ``budget`` overrides the current one.
    """
    need = int(nbytes) if not isinstance(nbytes, float) else (int(nbytes) if math.isfinite(nbytes) else 2**80)
    limit = memory_budget() if budget is None else parse_budget(budget, argument="budget")
    if need <= limit:
        return
    avail = available_memory()
    raise ValueError(
        f"{what} would need {format_bytes(need)}; this machine has {format_bytes(avail)} available and the "
        f"memory budget is {format_bytes(limit)} (set {ENV_VAR}, e.g. {ENV_VAR}=0.9, to change it)."
    )


def check_shape(shape: Iterable[Any], dtype: Any, what: str, *, budget: Any = None) -> None:
    """:func:`check_allocation` for an array of ``shape`` and ``dtype``."""
    check_allocation(nbytes_of(shape, dtype), what, budget=budget)


__all__ = ["DEFAULT_FRACTION", "ENV_VAR", "available_memory", "check_allocation", "check_shape",
           "format_bytes", "memory_budget", "memory_budget_limit", "nbytes_of", "parse_budget",
           "set_memory_budget"]
