"""Unrolled networks (LISTA, LISTA-CP, ISTA-LLT, LPALM); each layer calls a solver iterate.

All are batched ``torch.nn.Module``s mapping ``X (B, m, t)`` to ``(A (B, m, n), S (B, n, t))``; pass
``return_layers=True`` for the per-layer estimates. Importing this package registers the separators
``"lpalm"``,
``"lista"``, ``"lista-cp"`` and ``"ista-llt"``.
"""

from .base import UnrolledNet, model_classes
from .lista import ISTALLT, LISTA, LISTACP, SparseCodingNet
from .lpalm import LPALM, LPALMSeparator

__all__ = ["ISTALLT", "LISTA", "LISTACP", "LPALM", "LPALMSeparator", "SparseCodingNet", "UnrolledNet",
           "model_classes"]
