"""Unrolled networks (LISTA, LISTA-CP, ISTA-LLT, LPALM); each layer calls a solver iterate.

All are batched ``torch.nn.Module``s mapping ``X (B, m, t)`` to ``(A (B, m, n), S (B, n, t))``; pass
``return_layers=True`` for the per-layer estimates. The estimators that run them on data
(``method="lpalm"``, ``"lista"``, ``"lista-cp"``, ``"ista-llt"``) are in :mod:`semiblind.estimators.lpalm`.
"""

from .base import UnrolledNet, model_classes
from .lista import ISTALLT, LISTA, LISTACP, SparseCodingNet
from .lpalm import LPALM

__all__ = ["ISTALLT", "LISTA", "LISTACP", "LPALM", "SparseCodingNet", "UnrolledNet", "model_classes"]
