"""The public entry points: :func:`separate`, :func:`methods`, :func:`load_model`.

NumPy in, NumPy out. Shapes: X ``(m, t)`` or a cube ``(m, H, W)``; the result's A is ``(m, n)`` and S ``(n, t)``
or ``(n, H, W)``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import numpy as np

from ._validation import check_n_sources
from .solvers.base import BaseSeparator, Separation, registered

# Modules whose import registers methods (classical solvers, then learned models).
_METHOD_MODULES = (
    "semiblind.solvers.palm",
    "semiblind.solvers.ista",
    "semiblind.solvers.gmca",
    "semiblind.solvers.nmf",
    "semiblind.solvers.vca",
    "semiblind.solvers.oracle",
    "semiblind.unrolled.lpalm",
    "semiblind.unrolled.lista",
)


def methods() -> dict[str, type[BaseSeparator]]:
    """Name → estimator class of every available separation method."""
    for mod in _METHOD_MODULES:
        if importlib.util.find_spec(mod) is not None:
            importlib.import_module(mod)
    return registered()


def get_method(method: str) -> type[BaseSeparator]:
    """The estimator class registered as ``method``; ``ValueError`` listing the available ones otherwise."""
    table = methods()
    if not isinstance(method, str) or method not in table:
        raise ValueError(f"method must be one of {', '.join(table)}; got {method!r}.")
    return table[method]


def separate(
    X: Any,
    n_sources: int,
    method: str = "gmca",
    *,
    random_state: Any = None,
    **params: Any,
) -> Separation:
    """Separate ``X ≈ A·S`` into ``n_sources`` components with the named method.

    Parameters
    ----------
    X : array ``(m, t)`` (channels, pixels) or cube ``(m, H, W)``.
    n_sources : number of sources ``n`` (``1 ≤ n ≤ m``).
    method : a key of :func:`methods` (e.g. ``"gmca"``, ``"palm"``, ``"mu"``, ``"hals"``, ``"lpalm"``).
    random_state : seed or ``numpy.random.Generator`` for random initialisations.
    **params : the method's keyword-only hyper-parameters (see ``help(semiblind.api.methods()[method])``).

    Returns
    -------
    Separation with ``A (m, n)``, ``S (n, t)`` or ``(n, H, W)``, ``n_iter``, ``converged``, ``history``, ``method``,
    ``params``, ``seconds``.
    """
    cls = get_method(method)
    n = check_n_sources(n_sources, None)
    forbidden = {"n_sources", "random_state"} & set(params)
    if forbidden:
        raise ValueError(f"pass {', '.join(sorted(forbidden))} as argument(s) of separate(), not in **params.")
    unknown = sorted(set(params) - set(cls.param_names()))
    if unknown:
        valid = [p for p in cls.param_names() if p not in ("n_sources", "random_state")]
        raise ValueError(
            f"method {method!r} has no parameter {', '.join(repr(u) for u in unknown)}; valid parameters are: "
            f"{', '.join(valid)}."
        )
    est = cls(n_sources=n, random_state=random_state, **params)
    est.fit(X)
    return Separation(
        A=est.mixing_,
        S=est.sources_,
        n_iter=est.n_iter_,
        converged=est.converged_,
        history=est.history_,
        method=method,
        params={k: v for k, v in est.get_params().items() if not isinstance(v, np.random.Generator)},
        seconds=est.seconds_,
        info=getattr(est, "info_", {}),
    )


def load_model(name_or_dir: str, **kwargs: Any) -> Any:
    """Load a learned model from a folder (``config.json`` + ``model.safetensors``) or by shipped name.

    See :func:`semiblind.training.model_files.load_model`.
    """
    from .training.model_files import load_model as _load_model

    return _load_model(name_or_dir, **kwargs)
