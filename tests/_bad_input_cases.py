"""The bad-input table shared by ``tests/api/test_bad_input_api.py`` and ``tests/cli/test_bad_input.py``.

Every kind of bad input (issue #6, "one clear sentence, exit code 2, no traceback, nothing half-written") is
one :class:`Kind`: how to build the offending files in a fresh folder, the library call that must fail with
its exact exception class and a message that names the argument and what was expected, and the command
line that must fail with exit code 2 and one line on stderr. Kinds reach the library through the public API
only (``semiblind.separate``, ``semiblind.io``, ``semiblind.load_model``, ``semiblind.metrics``, the training
entry points).

Data are tiny (8 channels × 64 pixels, 2 sources) so the whole table runs in seconds.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

M, N, T = 8, 2, 64  # channels, sources, pixels
H, W = 8, 8  # T = H·W for cubes
FAST = ["--set", "max_iter=5"]  # keeps every successful-looking run short


# ------------------------------------------------------------------------------------------------ data


def good_arrays(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A nonnegative noiseless mixture ``X (M, T) = A (M, N) · S (N, T)``."""
    rng = np.random.default_rng(seed)
    A = rng.random((M, N)) + 0.1
    S = rng.random((N, T))
    return A @ S, A, S


def good_X() -> np.ndarray:
    return good_arrays()[0]


def with_value(value: float) -> np.ndarray:
    X = good_X()
    X[3, 10] = value
    return X


def constant_channels() -> np.ndarray:
    """Every channel constant across pixels (a different constant per channel): no spatial variation."""
    return np.repeat(np.linspace(1.0, 2.0, M)[:, None], T, axis=1)


def one_constant_channel() -> np.ndarray:
    """Legitimate data with one dead (constant) channel."""
    X = good_X()
    X[2] = 0.5
    return X


def negative_X() -> np.ndarray:
    """Mean-subtracted data: clearly negative entries, which NMF cannot factorise."""
    X = good_X()
    return X - X.mean(axis=1, keepdims=True)


def write_npz(path: Path, **arrays: Any) -> Path:
    np.savez(path, **arrays)
    return path


def dataset(folder: Path, name: str = "data.npz", X: np.ndarray | None = None) -> Path:
    """A dataset file with ``X`` (``good_X`` unless given) and the truth ``A``, ``S``."""
    X0, A, S = good_arrays()
    return write_npz(folder / name, X=X0 if X is None else X, A=A, S=S)


def data_only(folder: Path, X: np.ndarray, name: str = "bad.npz") -> Path:
    return write_npz(folder / name, X=X)


def pickle_npz(folder: Path) -> Path:
    """An ``.npz`` whose ``X`` is an object array (stored as a pickle inside the archive)."""
    p = folder / "pickled.npz"
    np.savez(p, X=np.array([{"evil": 1}, 2], dtype=object))
    return p


def multi_dataset(folder: Path, n_samples: int = 3) -> Path:
    """A multi-mixture file: ``X (B, M, T)``, ``A (B, M, N)``, ``S (B, N, T)``."""
    X, A, S = good_arrays()
    return write_npz(folder / "multi.npz", X=np.stack([X] * n_samples), A=np.stack([A] * n_samples),
                     S=np.stack([S] * n_samples))


def result_file(folder: Path, n: int = N, t: int = T, name: str = "result.npz") -> Path:
    """A result file as written by ``semiblind separate`` (with ``n`` sources and ``t`` pixels)."""
    from semiblind.io import save_result

    rng = np.random.default_rng(1)
    return save_result(folder / name, rng.random((M, n)), rng.random((n, t)), info={"method": "palm"})


# ------------------------------------------------------------------------------------------------ files


def fits_cube(folder: Path, *, spectral: bool = True, name: str = "cube.fits") -> Path:
    from astropy.io import fits

    hdu = fits.PrimaryHDU(np.stack([good_X()[c].reshape(H, W) for c in range(M)]).astype(np.float32))
    hdu.header["CTYPE1"], hdu.header["CTYPE2"] = "RA---TAN", "DEC--TAN"
    if spectral:
        hdu.header["CTYPE3"], hdu.header["CUNIT3"] = "ENER", "keV"
        hdu.header["CRVAL3"], hdu.header["CDELT3"], hdu.header["CRPIX3"] = 0.5, 0.1, 1.0
    else:
        hdu.header["CTYPE3"] = "LINEAR"
    p = folder / name
    hdu.writeto(p)
    return p


def truncated_fits(folder: Path) -> Path:
    good = fits_cube(folder, name="whole.fits")
    p = folder / "truncated.fits"
    raw = good.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    good.unlink()
    return p


def not_fits(folder: Path) -> Path:
    p = folder / "notes.fits"
    p.write_text("These are my observing notes, not a FITS file.\n" * 20)
    return p


def envi_header_only(folder: Path) -> Path:
    p = folder / "scene.hdr"
    p.write_text("ENVI\nsamples = 8\nlines = 8\nbands = 8\nheader offset = 0\nfile type = ENVI Standard\n"
                 "data type = 4\ninterleave = bsq\nbyte order = 0\n")
    return p


def mat_without_keys(folder: Path) -> Path:
    import scipy.io

    p = folder / "scene.mat"
    scipy.io.savemat(p, {"data": good_X(), "M": np.ones((M, N))})
    return p


# ------------------------------------------------------------------------------------------------ models


def model_dir(folder: Path, *, m: int = M, n: int = N, name: str = "model") -> Path:
    """A tiny LPALM model folder (2 layers) for ``m`` channels and ``n`` sources, initialised from a pair."""
    from semiblind.training.model_files import save_model
    from semiblind.unrolled.lpalm import LPALM

    rng = np.random.default_rng(2)
    net = LPALM(m=m, n=n, layers=2, init=(rng.random((m, n)) + 0.1, rng.random((n, T))))
    return save_model(net, folder / name)


def model_without_weights(folder: Path) -> Path:
    d = model_dir(folder)
    (d / "model.safetensors").unlink()
    return d


def model_corrupted(folder: Path) -> Path:
    d = model_dir(folder)
    w = d / "model.safetensors"
    w.write_bytes(w.read_bytes()[:40] + b"\x00garbage" * 8)
    return d


def pickle_model(folder: Path) -> Path:
    p = folder / "model.pt"
    p.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    return p


def model_bad_config(folder: Path) -> Path:
    d = model_dir(folder)
    (d / "config.json").write_text("{not json")
    return d


def train_set_without_truth(folder: Path) -> Path:
    X, _, _ = good_arrays()
    return write_npz(folder / "train.npz", X=np.stack([X, X]), meta=np.array(json.dumps({"kind": "x"})))


# ------------------------------------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Kind:
    """One kind of bad input.

    ``api(folder)`` performs the library call that must raise exactly ``error`` with a message matching
    ``api_match``; ``cli(folder)`` returns the ``semiblind`` arguments that must exit with code 2 and print
    one line matching ``cli_match`` on stderr. ``outputs`` are the names (in the folder) that must not exist
    afterwards. ``xfail`` marks a case that needs a fix in a file owned elsewhere.
    """

    name: str
    api: Callable[[Path], Any] | None = None
    error: type[BaseException] | None = None
    api_match: str | None = None
    cli: Callable[[Path], list[str]] | None = None
    cli_match: str | None = None
    outputs: tuple[str, ...] = ("out.npz",)
    xfail_api: str | None = None
    xfail_cli: str | None = None


def _sep(X: Any, n: Any = N, method: str = "palm", **params: Any) -> Any:
    import semiblind

    params.setdefault("max_iter", 5) if method in ("palm", "mu", "hals", "gmca", "ista") else None
    return semiblind.separate(X, n, method=method, **params)


def _separate_argv(inp: Path | str, *extra: str, method: str = "palm", n: str = str(N),
                   out: str = "out.npz", folder: Path | None = None) -> list[str]:
    out_path = str(folder / out) if folder is not None else out
    return ["separate", str(inp), "--method", method, "--n-sources", n, *extra, "--out", out_path]


def _cli_data(X: np.ndarray, *extra: str, method: str = "palm", n: str = str(N)) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        fast = FAST if method in ("palm", "mu", "hals", "gmca") else []
        return _separate_argv(data_only(folder, X), *fast, *extra, method=method, n=n, folder=folder)

    return build
