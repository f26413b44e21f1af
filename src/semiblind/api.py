"""The public entry points: :func:`separate`, :func:`methods` (the method registry), :func:`kinds`, :func:`load_model`.

NumPy in, NumPy out. Shapes: X ``(m, t)`` or a cube ``(m, H, W)``; the result's A is ``(m, n)`` and S ``(n, t)``
or ``(n, H, W)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _registry
from ._validation import check_n_sources
from .estimators._learned import LearnedSeparator
from .solvers.base import BaseSeparator, Separation
from .training.engine import kinds
from .training.model_files import load_model as _load_model

# Packages whose modules define separation methods; every module is imported (pkgutil), so a new file needs no list.
METHOD_PACKAGES = ("semiblind.solvers", "semiblind.estimators")


def methods() -> dict[str, type[BaseSeparator]]:
    """Name → estimator class of every available separation method (registered with ``@register``)."""
    _registry.discover(*METHOD_PACKAGES)
    return _registry.methods()


def is_learned(cls: type[BaseSeparator]) -> bool:
    """Whether the method runs a trained network (its class derives from
    :class:`~semiblind.estimators._learned.LearnedSeparator`)."""
    return issubclass(cls, LearnedSeparator)


def method_table() -> list[dict[str, Any]]:
    """One row per method: ``name``, ``family``, ``reference``, ``learned``, ``nonnegative``, ``class``
    (what ``semiblind info --methods`` prints and the README's method table lists)."""
    return [
        {"name": name, "family": cls.family, "reference": cls.reference, "learned": is_learned(cls),
         "nonnegative": bool(cls.nonnegative), "class": f"{cls.__module__}.{cls.__qualname__}"}
        for name, cls in methods().items()
    ]


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
    return _load_model(name_or_dir, **kwargs)


__all__ = ["METHOD_PACKAGES", "get_method", "is_learned", "kinds", "load_model", "method_table", "methods",
           "separate"]
