"""The reference papers' Cas A spectra (Chandra; Picquenot et al. 2019), read from ``../shared/data/xray``.

Two files, converted to plain ``.npz`` (no pickles) from the public code of the papers:

- ``chandra_casa_spectra_65ch.npz`` (LPALM paper, Fahes et al. 2022): ``synchrotron`` (900, 65), ``thermal``
  (1000, 65), ``iron_1`` (900, 65), ``iron_2`` (900, 65); rows of unit l2 norm. :func:`paper_mixing_matrices`
  builds the paper's 900 mixing matrices and :func:`lpalm_split` its 750/150 train/test split.
- ``chandra_casa_spectra_75ch.npz`` (sGMCA paper, Carloni Gertosio et al. 2023): per family ``synchrotron``,
  ``thermal`` and ``line`` the splits ``anchors``/``train``/``valid``/``test``; rows of unit l1 norm
  (:func:`sgmca_splits`). In the source data the ``line`` ``valid`` and ``test`` sets are identical: never
  report a line-family validation score as a test score.

The files carry no energy axis; do not attach a keV axis to them. The folder is found, in this order, from the
``path`` argument, ``$SEMIBLIND_SHARED_XRAY``, ``$SEMIBLIND_SHARED_DATA/xray``, then ``../shared/data/xray``
beside the repository (and beside the current directory). The files are never copied into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "FAMILIES_65",
    "FILES",
    "SGMCA_FAMILIES",
    "SGMCA_SPLITS",
    "find_shared_xray",
    "load_spectra",
    "lpalm_split",
    "paper_mixing_matrices",
    "sgmca_splits",
]

FILES = {65: "chandra_casa_spectra_65ch.npz", 75: "chandra_casa_spectra_75ch.npz"}
FAMILIES_65 = ("synchrotron", "thermal", "iron_1", "iron_2")
SGMCA_FAMILIES = ("synchrotron", "thermal", "line")
SGMCA_SPLITS = ("anchors", "train", "valid", "test")
_REPO = Path(__file__).resolve().parents[3]


def _candidates() -> list[Path]:
    out = []
    if os.environ.get("SEMIBLIND_SHARED_XRAY"):
        out.append(Path(os.environ["SEMIBLIND_SHARED_XRAY"]))
    if os.environ.get("SEMIBLIND_SHARED_DATA"):
        out.append(Path(os.environ["SEMIBLIND_SHARED_DATA"]) / "xray")
    out.append(_REPO.parent / "shared" / "data" / "xray")
    out.append(Path.cwd().parent / "shared" / "data" / "xray")
    return out


def find_shared_xray(path: str | os.PathLike | None = None, which: int = 65) -> Path:
    """The ``.npz`` file of the ``which``-channel set: ``path`` may be that file or its folder
    (``None``: search ``$SEMIBLIND_SHARED_XRAY``, ``$SEMIBLIND_SHARED_DATA/xray`` and
    ``../shared/data/xray``)."""
    if which not in FILES:
        raise ValueError(f"which must be 65 (LPALM set) or 75 (sGMCA set); got {which!r}.")
    name = FILES[which]
    if path is not None:
        p = Path(path)
        f = p / name if p.is_dir() else p
        if not f.is_file():
            raise FileNotFoundError(f"The papers' {which}-channel spectra were not found at {str(f)!r}; pass "
                                    "the "
                                    f"folder holding {name} (../shared/data/xray) or the file itself.")
        return f
    tried = _candidates()
    for folder in tried:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"The papers' spectra file {name} was not found in {', '.join(repr(str(t)) for t in tried)}; set "
        "SEMIBLIND_SHARED_XRAY to the folder that holds it (../shared/data/xray) or pass path=."
    )


def load_spectra(which: int = 65, path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """All arrays of the ``which``-channel file (65: LPALM set, 75: sGMCA set) as ``name -> float64 array``.

    65: ``synchrotron``, ``thermal``, ``iron_1``, ``iron_2``, each ``(rows, 65)``; 75: ``{family}_{split}``
    for family in :data:`SGMCA_FAMILIES` and split in :data:`SGMCA_SPLITS`, each ``(rows, 75)``. Read with
    ``allow_pickle=False``.
    """
    f = find_shared_xray(path, which)
    with np.load(f, allow_pickle=False) as z:
        data = {k: np.asarray(z[k], dtype=np.float64) for k in z.files}
    expected = FAMILIES_65 if which == 65 else tuple(f"{a}_{b}" for a in SGMCA_FAMILIES for b in SGMCA_SPLITS)
    missing = [k for k in expected if k not in data]
    if missing:
        raise ValueError(f"{str(f)!r} must hold the arrays {list(expected)}; it lacks {missing}.")
    for k in expected:
        if data[k].ndim != 2 or data[k].shape[1] != which:
            raise ValueError(f"array {k!r} of {str(f)!r} must have shape (rows, {which}); got "
                             f"{data[k].shape}.")
    return data


def paper_mixing_matrices(path: str | os.PathLike | None = None, n_matrices: int = 900) -> np.ndarray:
    """The LPALM paper's mixing matrices ``(n_matrices, 65, 4)``: matrix ``i`` has row ``i`` of each family as
    its columns, in the order synchrotron, thermal, iron_1, iron_2 (Fahes et al. 2022, Sec. 5.2; 900
    matrices)."""
    d = load_spectra(65, path)
    n_max = min(d[k].shape[0] for k in FAMILIES_65)
    if isinstance(n_matrices, bool) or not isinstance(n_matrices, (int, np.integer)) \
            or not 1 <= n_matrices <= n_max:
        raise ValueError(f"n_matrices must be an int between 1 and {n_max}; got {n_matrices!r}.")
    return np.stack([d[k][:n_matrices] for k in FAMILIES_65], axis=-1)


def lpalm_split(As: Any, n_test: int = 150) -> tuple[np.ndarray, np.ndarray]:
    """The LPALM paper's train/test split of mixing matrices ``As`` ``(N, m, n)``.

    Each matrix is scored by the sum (equivalently the mean) over columns of the cosine between its column and
    the same column of matrix 0; the ``n_test`` lowest scores form the test set (the matrices least similar to
    matrix 0), the others the training set. Both index arrays are ordered by increasing score (a stable sort),
    as in the paper's code. With the 900 matrices of :func:`paper_mixing_matrices` this is the 750/150 split.
    """
    A = np.asarray(As, dtype=float)
    if A.ndim != 3 or A.shape[0] < 2:
        raise ValueError(f"As must be a 3-D stack of at least 2 mixing matrices (N, m, n); got shape "
                         f"{A.shape}.")
    if isinstance(n_test, bool) or not isinstance(n_test, (int, np.integer)) or not 1 <= n_test < A.shape[0]:
        raise ValueError(f"n_test must be an int between 1 and {A.shape[0] - 1}; got {n_test!r}.")
    norms = np.linalg.norm(A, axis=1)  # (N, n)
    if np.any(norms == 0):
        raise ValueError("As must not contain an all-zero column; the cosine similarity is undefined for it.")
    cos = np.einsum("imj,mj->ij", A, A[0]) / (norms * norms[0][None, :])
    score = cos.sum(axis=1)
    order = np.argsort(score, kind="stable")
    return order[n_test:], order[:n_test]


def sgmca_splits(family: str, path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The sGMCA paper's 75-channel spectra of one family (``synchrotron``, ``thermal`` or ``line``) as
    ``{"anchors", "train", "valid", "test"} -> (rows, 75)`` (rows of unit l1 norm; Carloni Gertosio et al.
    2023, Table 1: 3, 3 and 2 anchors). For ``line``, ``valid`` and ``test`` are identical in the source
    data."""
    if family not in SGMCA_FAMILIES:
        raise ValueError(f"family must be one of {SGMCA_FAMILIES}; got {family!r}.")
    d = load_spectra(75, path)
    return {s: d[f"{family}_{s}"] for s in SGMCA_SPLITS}
