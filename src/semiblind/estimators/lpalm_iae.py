"""``semiblind.separate(X, n, method="lpalm-iae", model=DIR)``: LPALM inside learned spectral manifolds.

The network (:class:`semiblind.unrolled.lpalm_iae.LPALMIAE`) is LPALM whose A-step is followed by the IAE fast
projection of the modelled columns; this estimator runs a trained one exactly as the ``"lpalm"`` estimator runs
LPALM (same input scaling, same data-contract checks). No model is shipped: train one (see
``benchmarks/lpalm_iae_compare.py``) and pass its folder.
"""

from __future__ import annotations

from typing import ClassVar

from ..solvers.base import register
from .lpalm import LPALMSeparator


@register
class LPALMIAESeparator(LPALMSeparator):
    """LPALM with IAE-projected modelled columns (beyond the LPALM and sGMCA papers); parameters as
    :class:`~semiblind.estimators.lpalm.LPALMSeparator`, ``model`` (a folder of a trained LPALMIAE) required."""

    name = "lpalm-iae"
    family = "unrolled PALM with IAE-projected spectra (ours)"
    reference = "Fahes et al. 2022; Carloni Gertosio et al. 2023 (combined here)"
    model_classes: ClassVar[tuple[str, ...]] = ("LPALMIAE",)
    needs_model_file: ClassVar[bool] = True

    def _resolve_model(self, m: int):  # type: ignore[override]
        if self.model is None:
            raise ValueError("model must be given for method 'lpalm-iae' (a folder holding a trained LPALMIAE "
                             "network); got None.")
        return super()._resolve_model(m)
