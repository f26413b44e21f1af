"""The one registry of the package: separation methods, network classes and trainable kinds.

It sits in the core layer (it imports nothing of the package) so that every layer can register what it defines
with one decorator in the file that defines it:

- :func:`register` — an estimator class (subclass of :class:`semiblind.solvers.base.BaseSeparator`) under its
  ``name`` (the ``--method`` key). It must declare ``name``, ``family``, ``reference`` and ``nonnegative``.
  Re-exported as ``semiblind.solvers.base.register``.
- :func:`register_network` — a torch module class loadable from a model file whose ``architecture.class`` is
  the class name. When the class declares ``kind`` (a ``semiblind train`` key) and the classmethod
  ``for_training(A, S, *, layers, dtype, **options)``, the kind is registered too. Re-exported as
  ``semiblind.unrolled.base.register_model``.
- :func:`register_kind` — a trainable kind built by any callable (for models that are not one network class).

Reading: :func:`discover` imports every module of the given packages (``pkgutil``), so a new module needs no
list; the readers (:func:`semiblind.api.methods`, :func:`semiblind.api.kinds`,
:func:`semiblind.training.model_files.network_classes`) call it with the packages that define methods, networks
and kinds. Tables are returned sorted by key.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

METHOD_ATTRIBUTES = ("name", "family", "reference", "nonnegative")

_METHODS: dict[str, type] = {}
_NETWORKS: dict[str, type] = {}
_KINDS: dict[str, Kind] = {}
_DISCOVERED: set[str] = set()


@dataclass(frozen=True)
class Kind:
    """A trainable kind: ``semiblind train <name>``.

    build : ``build(A, S, *, layers, dtype, **options) -> model`` with the training set's mixing matrices
        ``A (N, m, n)`` and sources ``S (N, n, t)`` (torch tensors), returning a freshly initialised model.
    description : one line shown by ``semiblind train --help``.
    options : the keyword options ``build`` accepts (beyond ``layers`` and ``dtype``), for error messages.
    """

    name: str
    build: Callable[..., Any]
    description: str
    options: tuple[str, ...] = ()


def _check_key(what: str, key: Any) -> str:
    if not isinstance(key, str) or not key or key != key.strip() or " " in key:
        raise ValueError(f"{what} must be a non-empty string without spaces; got {key!r}.")
    return key


def _same_class(a: type, b: type) -> bool:
    return a is b or (a.__module__ == b.__module__ and a.__qualname__ == b.__qualname__)


def register(cls: type) -> type:
    """Class decorator: add the estimator ``cls`` to the method registry under ``cls.name``.

    ``cls`` must declare (itself or through a base) ``name`` (str, the ``--method`` key), ``family`` (str, e.g.
    ``"sparse BSS"``), ``reference`` (str, the paper(s)) and ``nonnegative`` (bool: the method needs X ≥ 0).
    A second class under a taken name raises ``ValueError`` (re-importing the same class is accepted).
    """
    if not isinstance(cls, type):
        raise TypeError(f"register decorates a class; got {type(cls).__name__}.")
    missing = [a for a in METHOD_ATTRIBUTES if not hasattr(cls, a)]
    if missing:
        raise ValueError(f"{cls.__qualname__} must declare the class attribute(s) {', '.join(missing)} to be "
                         "registered.")
    name = _check_key(f"{cls.__qualname__}.name", cls.name)
    for attr in ("family", "reference"):
        if not isinstance(getattr(cls, attr), str) or not getattr(cls, attr):
            raise ValueError(f"{cls.__qualname__}.{attr} must be a non-empty string; got {getattr(cls, attr)!r}.")
    if not isinstance(cls.nonnegative, bool):
        raise ValueError(f"{cls.__qualname__}.nonnegative must be a bool; got {cls.nonnegative!r}.")
    old = _METHODS.get(name)
    if old is not None and not _same_class(old, cls):
        raise ValueError(f"method name {name!r} is already registered by {old.__module__}.{old.__qualname__}; "
                         f"got {cls.__module__}.{cls.__qualname__}.")
    _METHODS[name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove the method ``name`` (tests use it to clean up after registering a throw-away method)."""
    _METHODS.pop(name, None)


def register_network(cls: type) -> type:
    """Class decorator: make the network ``cls`` loadable from a ``config.json`` whose ``architecture.class`` is
    ``cls.__name__``; when ``cls.kind`` is set, also register the trainable kind built by ``cls.for_training``."""
    if not isinstance(cls, type):
        raise TypeError(f"register_network decorates a class; got {type(cls).__name__}.")
    old = _NETWORKS.get(cls.__name__)
    if old is not None and not _same_class(old, cls):
        raise ValueError(f"network class name {cls.__name__!r} is already registered by {old.__module__}; got "
                         f"{cls.__module__}.")
    _NETWORKS[cls.__name__] = cls
    kind = vars(cls).get("kind")
    if kind is not None:
        build = getattr(cls, "for_training", None)
        if not callable(build):
            raise ValueError(f"{cls.__qualname__} declares kind {kind!r} and must then define the classmethod "
                             "for_training(A, S, *, layers, dtype, **options).")
        doc = " ".join((inspect.getdoc(cls) or cls.__name__).split("\n\n")[0].split())
        register_kind(kind, build, description=doc, options=_keyword_options(cls))
    return cls


def unregister_network(class_name: str) -> None:
    """Remove the network class ``class_name`` and the kind it registered, if any."""
    cls = _NETWORKS.pop(class_name, None)
    kind = vars(cls).get("kind") if cls is not None else None
    if kind is not None:
        _KINDS.pop(kind, None)


def _keyword_options(cls: type) -> tuple[str, ...]:
    skip = {"self", "layers", "dtype", "init", "init_pair", "m", "n", "n_channels", "n_sources"}
    params = inspect.signature(cls.__init__).parameters.values()
    return tuple(p.name for p in params if p.kind == p.KEYWORD_ONLY and p.name not in skip)


def register_kind(name: str, build: Callable[..., Any], *, description: str, options: tuple[str, ...] = ()) -> Kind:
    """Register the trainable kind ``name`` (``semiblind train <name>``) built by ``build`` (see :class:`Kind`)."""
    _check_key("kind", name)
    if not callable(build):
        raise TypeError(f"build must be callable; got {type(build).__name__}.")
    old = _KINDS.get(name)
    if old is not None and getattr(old.build, "__qualname__", None) != getattr(build, "__qualname__", None):
        raise ValueError(f"kind {name!r} is already registered ({old.description}).")
    kind = Kind(name=name, build=build, description=str(description), options=tuple(options))
    _KINDS[name] = kind
    return kind


def unregister_kind(name: str) -> None:
    _KINDS.pop(name, None)


def discover(*packages: str) -> None:
    """Import every module of each package (recursively, skipping names that start with ``_``), once."""
    for pkg_name in packages:
        if pkg_name in _DISCOVERED:
            continue
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.walk_packages(getattr(pkg, "__path__", []), prefix=pkg_name + "."):
            if not info.name.rsplit(".", 1)[-1].startswith("_"):
                importlib.import_module(info.name)
        _DISCOVERED.add(pkg_name)


def methods() -> dict[str, type]:
    """Name → estimator class of the methods registered so far."""
    return dict(sorted(_METHODS.items()))


def networks() -> dict[str, type]:
    """Class name → network class of the networks registered so far."""
    return dict(sorted(_NETWORKS.items()))


def kinds() -> dict[str, Kind]:
    """Name → :class:`Kind` of the trainable kinds registered so far."""
    return dict(sorted(_KINDS.items()))
