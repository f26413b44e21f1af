"""Classical solvers. Each iteration is a named function (the "iterate") that the unrolled twin reuses."""

from .base import BaseSeparator, ConvergenceWarning, FitResult, Separation

__all__ = ["BaseSeparator", "ConvergenceWarning", "FitResult", "Separation"]
