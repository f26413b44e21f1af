"""Helpers shared by the paper-reproduction experiments: output folders, seeds, "ours vs paper" tables.

Every experiment writes into one folder: ``<name>.md`` (a Markdown table with our figures beside the paper's
and the exact settings, including what ``--quick`` reduced), ``<name>.json`` (the same numbers,
machine-readable; strict JSON by :mod:`semiblind._json`, non-finite numbers as ``null``) and PNG figures. Files
are written atomically (:mod:`semiblind._files`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_write_text
from .._json import dumps as json_dumps
from ..report import format_table

DEFAULT_ROOT = Path("semiblind-reproduce")


def pick_settings(quick: Any, *, full: Any, quick_settings: Any, smoke: Any) -> Any:
    """The settings of a mode: ``False``/``"full"`` → ``full``, ``True``/``"quick"`` → ``quick_settings``,
    ``"smoke"`` (tests only) → ``smoke``; an instance of the settings' own class is used as given."""
    if isinstance(quick, type(full)):
        return quick
    if quick is False or quick == "full":
        return full
    if quick is True or quick == "quick":
        return quick_settings
    if quick == "smoke":
        return smoke
    raise ValueError(f"quick must be True, False or 'smoke'; got {quick!r}.")


def check_seed(seed: Any) -> int:
    """``seed`` as an int ≥ 0; ValueError otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0; got {seed!r}.")
    return int(seed)


def resolve_out_dir(name: str, out_dir: Any = None) -> Path:
    """The output folder of experiment ``name``: ``out_dir`` or ``semiblind-reproduce/<name>/``; created."""
    p = DEFAULT_ROOT / name if out_dir is None else Path(out_dir)
    if p.exists() and not p.is_dir():
        raise FileExistsError(f"out must be a folder; {str(p)!r} exists and is a file.")
    p.mkdir(parents=True, exist_ok=True)
    return p


def child_seeds(seed: int, names: Sequence[str]) -> dict[str, int]:
    """One independent integer seed per named random stream, derived from ``seed`` (``SeedSequence``)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0; got {seed!r}.")
    kids = np.random.SeedSequence(int(seed)).spawn(len(names))
    return {nm: int(k.generate_state(1, dtype=np.uint32)[0]) for nm, k in zip(names, kids)}


def write_results(
    out_dir: Path,
    name: str,
    *,
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    payload: dict[str, Any],
    notes: Sequence[str] = (),
    floatfmt: str = ".4g",
) -> str:
    """Write ``<name>.md`` and ``<name>.json`` into ``out_dir`` and return the Markdown text.

    ``rows`` is the "ours vs paper" table; ``payload`` everything else worth keeping (settings, per-sample
    numbers); ``notes`` are bullet lines printed under the table (settings, reductions, caveats).
    """
    table = format_table(header, rows, style="markdown", floatfmt=floatfmt)
    md = [f"# {title}", "", table, ""]
    if notes:
        md += [f"- {line}" for line in notes] + [""]
    text = "\n".join(md)
    atomic_write_text(out_dir / f"{name}.md", text)
    doc = {"experiment": name, "title": title,
           "table": {"header": list(header), "rows": [list(r) for r in rows]},
           "notes": list(notes), **payload}
    atomic_write_text(out_dir / f"{name}.json", json_dumps(doc, indent=2) + "\n")
    return text


class Progress:
    """Timestamped progress lines on stderr (silent when ``enabled`` is False)."""

    def __init__(self, name: str, enabled: bool = True) -> None:
        self.name, self.enabled, self.t0 = name, bool(enabled), time.perf_counter()

    def __call__(self, msg: str) -> None:
        if self.enabled:
            print(f"[{self.name} {time.perf_counter() - self.t0:7.1f}s] {msg}", file=sys.stderr, flush=True)


__all__ = ["DEFAULT_ROOT", "Progress", "child_seeds", "resolve_out_dir", "write_results"]
