"""Estimators that wrap trained networks (api level): ``separate(X, n, method="lpalm")`` and the LISTA family.

Each module here defines :class:`~semiblind.estimators._learned.LearnedSeparator` subclasses decorated with
``@register``; :func:`semiblind.api.methods` imports every module of this package, so a new file
``estimators/<name>.py`` needs no wiring. The torch modules they run live in :mod:`semiblind.unrolled` (which never
imports the training layer); model files are read through :mod:`semiblind.training.model_files`.
"""

from ._learned import LearnedSeparator

__all__ = ["LearnedSeparator"]
