"""Helpers shared by the command-line verbs (parsing only; no mathematics)."""

from __future__ import annotations

import json
from typing import Any


class UsageError(ValueError):
    """A command-line usage problem detected after parsing (reported like any other bad input)."""


def parse_set(items: list[str] | None) -> dict[str, Any]:
    """Parse ``--set key=value`` items; values are read as JSON when possible (numbers, true/false, lists),
    otherwise kept as strings."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item or item.startswith("="):
            raise ValueError(f"--set must be given as key=value; got {item!r}.")
        key, raw = item.split("=", 1)
        key = key.strip().replace("-", "_")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key] = value
    return out


def add_overwrite(parser: Any) -> None:
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
