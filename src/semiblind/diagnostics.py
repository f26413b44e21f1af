"""Checks of a separation result against the assumptions of the method that produced it.

:func:`assumption_warnings` returns one sentence per visible failure (empty list: nothing to say):

- any method: the fraction of X left unexplained, ``‖X − A·S‖² / ‖X‖²``, above :data:`UNEXPLAINED_LIMIT`
  (half of the data's energy: at any SNR above 0 dB a model that fits leaves less);
- VCA + FCLS (``vca*``): the pixels are far from the simplex of the endmembers — the column sums of the
  unconstrained least-squares abundances ``A⁺X`` have a median distance to 1 above :data:`SIMPLEX_LIMIT`
  (FCLS forces them to sum to one, so data whose abundances do not, e.g. X-ray counts, come out wrong).

- NMF methods (``nonnegative=True``): more than :data:`CLIPPED_LIMIT` of X's entries negative (heavy clipping).

Iteration caps (``ConvergenceWarning``) and each clipping of slightly negative data are warned about by the
solvers themselves (:mod:`semiblind.solvers.base`, :func:`semiblind._validation`).
Shapes: X ``(m, t)`` or ``(m, H, W)``, A ``(m, n)``, S ``(n, t)`` or ``(n, H, W)``; NumPy arrays.
"""

from __future__ import annotations

import numpy as np

UNEXPLAINED_LIMIT = 0.5
SIMPLEX_LIMIT = 0.25
CLIPPED_LIMIT = 0.1  # share of negative entries above which an NMF method's clipping is called heavy
_CHUNK = 200_000  # pixels per product (bounded memory on large cubes)


def unexplained_fraction(X: np.ndarray, A: np.ndarray, S: np.ndarray) -> float:
    """``‖X − A·S‖²_F / ‖X‖²_F`` for X ``(m, t)`` (or ``(m, H, W)``), A ``(m, n)``, S ``(n, t)``; nan if X is 0."""
    X2 = np.asarray(X).reshape(np.shape(X)[0], -1)
    S2 = np.asarray(S).reshape(np.shape(S)[0], -1)
    A2 = np.asarray(A, dtype=np.float64)
    if X2.shape[1] != S2.shape[1] or A2.shape != (X2.shape[0], S2.shape[0]):
        raise ValueError(f"X, A and S must be (m, t), (m, n), (n, t); got {X2.shape}, {A2.shape}, {S2.shape}.")
    res = tot = 0.0
    for start in range(0, X2.shape[1], _CHUNK):
        x = X2[:, start:start + _CHUNK].astype(np.float64)
        r = x - A2 @ S2[:, start:start + _CHUNK].astype(np.float64)
        res += float(np.einsum("ij,ij->", r, r))
        tot += float(np.einsum("ij,ij->", x, x))
    return res / tot if tot > 0 else float("nan")


def simplex_distance(X: np.ndarray, A: np.ndarray) -> float:
    """Median over pixels of ``|Σ_j (A⁺X)_j − 1|``: how far the unconstrained abundances are from summing to 1."""
    X2 = np.asarray(X, dtype=np.float64).reshape(np.shape(X)[0], -1)
    pinv = np.linalg.pinv(np.asarray(A, dtype=np.float64))
    sums = pinv.sum(axis=0) @ X2  # (t,) column sums of A⁺X without forming it
    return float(np.median(np.abs(sums - 1.0)))


def assumption_warnings(X: np.ndarray, A: np.ndarray, S: np.ndarray, *, method: str,
                        nonnegative: bool = False) -> list[str]:
    """Sentences naming the assumptions of ``method`` that the result (A, S) of X visibly breaks
    (``nonnegative``: the method needs X ≥ 0 and clips what is below)."""
    out: list[str] = []
    if nonnegative:
        frac_neg = float(np.mean(np.asarray(X) < 0))
        if frac_neg > CLIPPED_LIMIT:
            out.append(f"{method} needs X >= 0: {100 * frac_neg:.0f}% of X's entries are negative and were clipped "
                       "to zero (heavy clipping), so A and S describe the clipped data, not X.")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(S))):
        return [f"{method} returned non-finite values in A or S."]
    frac = unexplained_fraction(X, A, S)
    if np.isfinite(frac) and frac > UNEXPLAINED_LIMIT:
        out.append(f"{method} leaves {100 * frac:.0f}% of X unexplained (‖X − A·S‖²/‖X‖² = {frac:.3g}); its "
                   "model does not fit these data, so A and S are unreliable.")
    if method.startswith("vca"):
        dist = simplex_distance(X, A)
        if dist > SIMPLEX_LIMIT:
            out.append(f"{method} assumes abundances that sum to one, but these pixels are far from the simplex of "
                       f"its endmembers (median |Σ abundances − 1| = {dist:.3g} without the constraint); use a "
                       "method without the sum-to-one constraint (e.g. hals, gmca, palm).")
    return out
