"""Strict JSON for every file semiblind writes: one policy, one function.

Policy (the same for metrics files, experiment results, model configs, result ``info`` fields):

- non-finite numbers (NaN, +inf, -inf, Python or NumPy) are written as ``null``: JSON has no such numbers, and
  ``null`` is what every strict parser accepts (a reader sees "no value", never a string ``"nan"``);
- NumPy scalars become Python numbers/bools, NumPy arrays nested lists, tuples lists, paths strings, dictionary keys
  strings;
- the text is always produced with ``allow_nan=False``, so a value that slipped through raises instead of writing
  the invalid tokens ``NaN``/``Infinity``.

Any other object raises ``TypeError`` naming its type (no silent ``repr``).
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np


def to_jsonable(obj: Any) -> Any:
    """``obj`` with NumPy values, tuples and paths converted and non-finite numbers replaced by ``None``."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot write an object of type {type(obj).__name__} to JSON; expected numbers, strings, "
                    "lists, dicts, NumPy values or paths.")


def dumps(obj: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """Strict JSON text of ``obj`` under the module's policy (non-finite → ``null``, ``allow_nan=False``)."""
    return json.dumps(to_jsonable(obj), indent=indent, sort_keys=sort_keys, allow_nan=False)


def _refuse(token: str) -> Any:
    raise ValueError(f"non-standard JSON constant {token!r}")


def loads_strict(text: str) -> Any:
    """Parse JSON, refusing the non-standard constants ``NaN``, ``Infinity`` and ``-Infinity``."""
    return json.loads(text, parse_constant=_refuse)


__all__ = ["dumps", "loads_strict", "to_jsonable"]
