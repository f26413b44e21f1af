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

from semiblind._validation import InvalidParameterError
from semiblind.io import MissingDataFileError

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
    net = LPALM(n_channels=m, n_sources=n, layers=2, init_pair=(rng.random((m, n)) + 0.1, rng.random((n, T))))
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

    ``api(folder)`` builds its files in ``folder`` and performs the library call that must raise exactly
    ``error`` with a message matching ``api_match``; afterwards none of ``outputs`` exists in the folder and
    the files of ``keeps`` still hold their bytes. ``cli(folder)`` builds its files and returns the
    ``semiblind`` arguments that must exit with code 2 and print one line matching ``cli_match`` on stderr,
    leaving the folder exactly as it was. ``xfail_api`` / ``xfail_cli`` mark a case that needs a fix in a
    file owned elsewhere (the reason says which).
    """

    name: str
    api: Callable[[Path], Any] | None = None
    error: type[BaseException] | None = None
    api_match: str | None = None
    cli: Callable[[Path], list[str]] | None = None
    cli_match: str | None = None
    usage: bool = False  # an argparse error: the usage lines come before the error line
    outputs: tuple[str, ...] = ("out.npz", "out.txt", "missing")
    keeps: tuple[tuple[str, bytes], ...] = ()
    xfail_api: str | None = None
    xfail_cli: str | None = None

    @property
    def id(self) -> str:
        return self.name.replace(" ", "-")


# Fixes needed in files owned elsewhere (strict xfails: they turn into failures once the fix lands, so the
# marker is removed then).


def separate_quickly(X: Any, n: Any = N, method: str = "palm", **params: Any) -> Any:
    """``semiblind.separate`` with few iterations (errors must come before any work)."""
    import semiblind

    if method in ("palm", "mu", "hals", "snmf", "nmf-cd", "gmca", "ista"):
        params.setdefault("max_iter", 5)
    return semiblind.separate(X, n, method=method, **params)


def _separate_argv(inp: Path | str, *extra: str, folder: Path, method: str = "palm", n: str = str(N),
                   out: str = "out.npz") -> list[str]:
    fast = FAST if method in ("palm", "mu", "hals", "snmf", "nmf-cd", "gmca") else []
    return ["separate", str(inp), "--method", method, "--n-sources", n, *fast, *extra, "--out",
            str(folder / out)]


def _cli_data(X: np.ndarray, *extra: str, method: str = "palm", n: str = str(N)) -> Callable[[Path], list[str]]:
    """``semiblind separate`` on a file whose ``X`` is the given array."""

    def build(folder: Path) -> list[str]:
        return _separate_argv(data_only(folder, X), *extra, folder=folder, method=method, n=n)

    return build


def _cli_file(make: Callable[[Path], Path], *extra: str, method: str = "palm") -> Callable[[Path], list[str]]:
    """``semiblind separate`` on a file built by ``make(folder)``."""

    def build(folder: Path) -> list[str]:
        return _separate_argv(make(folder), *extra, folder=folder, method=method)

    return build


def _cli_model(make: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    """``semiblind separate --method lpalm --set model=...`` on good data with the model built by ``make``."""

    def build(folder: Path) -> list[str]:
        return _separate_argv(dataset(folder), "--set", f"model={make(folder)}", folder=folder,
                              method="lpalm")

    return build


def _existing_output(folder: Path) -> list[str]:
    (folder / "out.npz").write_bytes(b"an earlier result that must survive")
    return _separate_argv(dataset(folder), folder=folder)


def _evaluate(result: Callable[[Path], Path], truth: Callable[[Path], Path], *extra: str
              ) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        return ["evaluate", str(result(folder)), "--truth", str(truth(folder)), *extra]

    return build


def _train(make: Callable[[Path], Path], *extra: str) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        return ["train", "lpalm", "--train", str(make(folder)), "--out", str(folder / "model_out"),
                "--epochs", "1", "--layers", "2", "--quiet", *extra]

    return build


def _io():
    import semiblind.io

    return semiblind.io


def _load_model(path: Path) -> Any:
    import semiblind

    return semiblind.load_model(path)


def _metrics():
    import semiblind.metrics

    return semiblind.metrics


def _fit_batch(X: np.ndarray) -> Any:
    from semiblind.api import get_method

    return get_method("palm")(n_sources=N, max_iter=5).fit_batch(X)


def _load_dataset(path: Path) -> Any:
    from semiblind.training import load_npz_dataset

    return load_npz_dataset(path)


def _save(folder: Path, name: str, **kw: Any) -> Any:
    rng = np.random.default_rng(3)
    return _io().save_result(folder / name, rng.random((M, N)), rng.random((N, T)), info={"method": "palm"},
                             **kw)


def _npy_named_npz(folder: Path) -> Path:
    p = folder / "array.npz"
    with open(p, "wb") as fh:
        np.save(fh, good_X())
    return p


def _fits_with_blank_pixels(folder: Path) -> Path:
    from astropy.io import fits

    p = fits_cube(folder)
    with fits.open(p, mode="update") as hdul:
        hdul[0].data[:, 0, :3] = np.nan  # blank pixels outside the field of view, as in real cubes
    return p


def _complex_npz(folder: Path) -> Path:
    return write_npz(folder / "complex.npz", X=good_X() + 1j)


def _constant_batch() -> np.ndarray:
    return np.stack([good_X(), constant_channels()])


def _other_A0(folder: Path) -> Path:
    return write_npz(folder / "guess.npz", X=np.ones((M - 3, T)), A=np.ones((M - 3, N)))


def _train_dir_exists(folder: Path) -> list[str]:
    model_dir(folder, name="model_out")
    return _train(multi_dataset)(folder)


# ---- hostile input (issue #16) helpers


def _scaled(factor: float, dtype: Any = np.float64) -> np.ndarray:
    """A noisy mixture scaled by ``factor`` (e.g. 1e20 in float32: finite, but its products overflow)."""
    X, _, _ = good_arrays()
    X = X + 0.01 * np.random.default_rng(4).standard_normal(X.shape)
    return (X * factor).astype(dtype)


def _huge_uint64() -> np.ndarray:
    return (good_X() * 1e18).astype(np.uint64)


def npz_declaring(folder: Path, shape: tuple[int, ...] = (65, 4096, 4096, 64), name: str = "liar.npz") -> Path:
    """A ~300-byte ``.npz`` whose ``X.npy`` header declares ``shape`` float64 but holds no data."""
    import io as _pyio
    import zipfile

    buf = _pyio.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    p = folder / name
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("X.npy", buf.getvalue())
    return p


def mat_fill_value(folder: Path, shape: tuple[int, int] = (1000, 1_000_000)) -> Path:
    """A ~2 KB MATLAB v7.3 (HDF5) file whose ``Y`` is a never-written, fill-value dataset of ``shape``."""
    import h5py

    p = folder / "fill.mat"
    with h5py.File(p, "w", userblock_size=512) as f:
        f.create_dataset("Y", shape=shape, dtype="f8", chunks=(1000, 1000), fillvalue=1.0)
    with open(p, "r+b") as fh:  # the MATLAB 7.3 header in the user block
        fh.write(b"MATLAB 7.3 MAT-file".ljust(116) + b"\x00" * 8 + b"\x00\x02IM")
    return p


def events_with_stray(folder: Path) -> Path:
    """An event list: 100 events in a 10 × 10 field and one stray event at x = y = 10⁶."""
    from astropy.io import fits

    rng = np.random.default_rng(5)
    x = np.append(rng.uniform(0, 10, 100), 1e6).astype(np.float32)
    y = np.append(rng.uniform(0, 10, 100), 1e6).astype(np.float32)
    e = np.append(rng.uniform(600, 6000, 100), 1000.0).astype(np.float32)
    cols = [fits.Column(name=k, format="E", array=v) for k, v in (("x", x), ("y", y), ("energy", e))]
    p = folder / "stray.evt"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="EVENTS")]).writeto(p)
    return p


def model_with_config(folder: Path, key: str, value: Any) -> Path:
    """A tiny model folder whose ``config.json`` says ``architecture[key] = value``."""
    d = model_dir(folder)
    cfg = json.loads((d / "config.json").read_text())
    cfg["architecture"][key] = value
    (d / "config.json").write_text(json.dumps(cfg))
    return d


def _truth_with_nan(folder: Path) -> Path:
    X, A, S = good_arrays()
    A = A.copy()
    A[0, 0] = np.nan
    return write_npz(folder / "nantruth.npz", X=X, A=A, S=S)


def _model_bad_grid(folder: Path) -> Path:
    d = model_dir(folder)
    cfg = json.loads((d / "config.json").read_text())
    cfg.setdefault("data_contract", {})["energy_grid"] = {"edges": ["a", "b", "c"]}
    (d / "config.json").write_text(json.dumps(cfg))
    return d


def _huge_train_set(folder: Path) -> Path:
    X, A, S = good_arrays()
    return write_npz(folder / "huge.npz", X=np.stack([X, X]).astype(np.float32) * np.float32(1e19),
                     A=np.stack([A, A]), S=np.stack([S, S]) * 1e19)


def _text_file(folder: Path) -> Path:
    p = folder / "notes.txt"
    p.write_text("not a training set\n")
    return p


def _train_without_A(folder: Path) -> Path:
    X, _, S = good_arrays()
    return write_npz(folder / "noA.npz", X=np.stack([X, X, X]), S=np.stack([S, S, S]))


def _complex_A0(folder: Path) -> Path:
    return write_npz(folder / "cguess.npz", A=np.ones((M, N)) + 1j)


# Kinds from the issue come first (in its order), then the ones added by this suite.
KINDS: list[Kind] = [
    Kind("nan", lambda d: separate_quickly(with_value(np.nan)), ValueError,
         r"^X must contain only finite values; got 1 NaN value\(s\)\.$",
         _cli_data(with_value(np.nan)), r"X must contain only finite values; got 1 NaN"),
    Kind("inf", lambda d: separate_quickly(with_value(-np.inf)), ValueError,
         r"^X must contain only finite values; got 1 infinite value\(s\)\.$",
         _cli_data(with_value(np.inf)), r"X must contain only finite values; got 1 infinite"),
    Kind("all-zero data", lambda d: separate_quickly(np.zeros((M, T))), ValueError,
         r"^X must not be all zeros; every entry of the array is 0\.$",
         _cli_data(np.zeros((M, T))), r"X must not be all zeros"),
    Kind("every channel constant", lambda d: separate_quickly(constant_channels()), ValueError,
         r"^X must vary across pixels; every channel is constant, so no source can be separated\.$",
         _cli_data(constant_channels()), r"X must vary across pixels; every channel is constant"),
    Kind("wrong number of dimensions (1-D)", lambda d: separate_quickly(good_X()[0]), ValueError,
         r"^X must be a 2-D array \(channels, pixels\) or a 3-D cube \(channels, height, width\); got an "
         r"array of shape \(64,\)\.$",
         _cli_data(good_X()[0]), r"X in '.*bad\.npz' must be a 2-D array \(channels, pixels\) or a 3-D cube"),
    Kind("wrong number of dimensions (4-D)", lambda d: separate_quickly(np.ones((2, M, H, W))), ValueError,
         r"^X must be a 2-D array .* got an array of shape \(2, 8, 8, 8\)\.$"),
    Kind("empty array", lambda d: separate_quickly(np.ones((M, 0))), ValueError,
         r"^X must not be empty; got an array of shape \(8, 0\)\.$",
         _cli_data(np.ones((M, 0))), r"X must not be empty; got an array of shape \(8, 0\)"),
    Kind("single channel", lambda d: separate_quickly(good_X()[:1], 1), ValueError,
         r"^X must have at least 2 channels along its first axis; got 1 channel\(s\)",
         _cli_data(good_X()[:1], n="1"), r"X must have at least 2 channels"),
    Kind("n_sources < 1", lambda d: separate_quickly(good_X(), 0), ValueError,
         r"^n_sources must be at least 1; got 0\.$",
         _cli_data(good_X(), n="0"), r"n_sources must be at least 1; got 0\."),
    Kind("n_sources > channels", lambda d: separate_quickly(good_X(), M + 1), ValueError,
         r"^n_sources must be at most the number of channels \(8\); got 9\.$",
         _cli_data(good_X(), n="9"), r"n_sources must be at most the number of channels \(8\); got 9\."),
    Kind("non-integer n_sources", lambda d: separate_quickly(good_X(), 2.5), TypeError,
         r"^n_sources must be an int; got float 2\.5\.$",
         _cli_data(good_X(), n="2.5"), r"argument --n-sources: invalid int value: '2\.5'", usage=True),
    Kind("integral float n_sources", lambda d: separate_quickly(good_X(), 2.0), TypeError,
         r"^n_sources must be an int; got the float 2\.0 \(write 2\)\.$",
         _cli_data(good_X(), n="two"), r"argument --n-sources: invalid int value: 'two'", usage=True),
    *[
        Kind(f"negative data for NMF ({m})", lambda d, m=m: separate_quickly(negative_X(), method=m), ValueError,
             rf"^X must be nonnegative for method '{m}'; got \d+ entries below -0\.01·max\|X\|",
             # the command line is checked for two of them (nmf-cd's scikit-learn import alone takes seconds)
             _cli_data(negative_X(), method=m) if m in ("mu", "hals") else None,
             rf"X must be nonnegative for method '{m}'")
        for m in ("mu", "hals", "snmf", "nmf-cd")
    ],
    Kind("unknown method", lambda d: separate_quickly(good_X(), method="pca"), ValueError,
         r"^method must be one of .*gmca.*palm.*; got 'pca'\.$",
         _cli_data(good_X(), method="pca"), r"method must be one of .*; got 'pca'\."),
    Kind("unknown parameter", lambda d: separate_quickly(good_X(), lamda=0.1), ValueError,
         r"^method 'palm' has no parameter 'lamda'; valid parameters are: .*\blam\b.*\.$",
         _cli_data(good_X(), "--set", "lamda=0.1"), r"method 'palm' has no parameter 'lamda'; valid parameters"),
    Kind("parameter of the wrong type", lambda d: separate_quickly(good_X(), max_iter="ten"), InvalidParameterError,
         r"^The 'max_iter' parameter of PALM must be an int in the range \[1, inf\); got 'ten' instead\.$",
         _cli_data(good_X(), "--set", "max_iter=ten"), r"The 'max_iter' parameter of PALM must be an int"),
    Kind("parameter out of range", lambda d: separate_quickly(good_X(), lam=-1.0), InvalidParameterError,
         r"^The 'lam' parameter of PALM must be a float in the range \[0, inf\); got -1\.0 instead\.$",
         _cli_data(good_X(), "--set", "lam=-1"), r"The 'lam' parameter of PALM must be a float in the range"),
    Kind("model trained for other channels",
         lambda d: separate_quickly(good_X(), method="lpalm", model=str(model_dir(d, m=M - 2))), ValueError,
         r"^X has 8 channels but this LPALM model was trained for 6 channels\.$",
         _cli_model(lambda d: model_dir(d, m=M - 2)), r"X has 8 channels but this LPALM model was trained for 6"),
    Kind("model trained for other sources",
         lambda d: separate_quickly(good_X(), method="lpalm", model=str(model_dir(d, n=N + 1))), ValueError,
         r"^n_sources must be 3, the number of sources this LPALM model was trained for; got 2\.$",
         _cli_model(lambda d: model_dir(d, n=N + 1)), r"n_sources must be 3, the number of sources"),
    Kind("model folder without weights", lambda d: _load_model(model_without_weights(d)), FileNotFoundError,
         r"^model folder '.*model' has no model\.safetensors\.$",
         _cli_model(model_without_weights), r"model folder '.*model' has no model\.safetensors\."),
    Kind("model folder with corrupted weights", lambda d: _load_model(model_corrupted(d)), ValueError,
         r"^'.*model\.safetensors' is not a readable safetensors file \(corrupted or truncated",
         _cli_model(model_corrupted), r"model\.safetensors' is not a readable safetensors file"),
    Kind("pickle offered as a model", lambda d: _load_model(pickle_model(d)), ValueError,
         r"^model '.*model\.pt' is a pickle-based file \(\.pt\); semiblind never loads pickles",
         _cli_model(pickle_model), r"model '.*model\.pt' is a pickle-based file"),
    Kind("truncated FITS file", lambda d: _io().load_input(truncated_fits(d)), ValueError,
         r"^INPUT '.*truncated\.fits' must be a complete FITS file; it is a damaged or truncated FITS file",
         _cli_file(truncated_fits), r"INPUT '.*truncated\.fits' must be a complete FITS file"),
    Kind("non-FITS file named .fits", lambda d: _io().load_input(not_fits(d)), ValueError,
         r"^INPUT '.*notes\.fits' is not a readable FITS file \(OSError: No SIMPLE card found",
         _cli_file(not_fits), r"INPUT '.*notes\.fits' is not a readable FITS file"),
    Kind("FITS file without a spectral axis", lambda d: _io().load_input(fits_cube(d, spectral=False)),
         ValueError,
         r"^INPUT '.*cube\.fits' has no spectral axis: none of its CTYPE keywords .* is ENER/FREQ/WAVE.*; pass "
         r"spectral_axis= \(--spectral-axis\)",
         _cli_file(lambda d: fits_cube(d, spectral=False)), r"has no spectral axis: .*--spectral-axis"),
    Kind("ENVI header without data", lambda d: _io().load_input(envi_header_only(d)), MissingDataFileError,
         r"^INPUT '.*scene\.hdr' is an ENVI header without its data file; expected a file such as",
         _cli_file(envi_header_only), r"INPUT '.*scene\.hdr' is an ENVI header without its data file"),
    Kind(".mat without the expected keys", lambda d: _io().load_input(mat_without_keys(d)), ValueError,
         r"^INPUT '.*scene\.mat' must hold the data as key 'Y' .*; found keys: M, data\.$",
         _cli_file(mat_without_keys), r"INPUT '.*scene\.mat' must hold the data as key 'Y'"),
    Kind("output path in a missing directory", lambda d: _save(d, "missing/out.npz"), FileNotFoundError,
         r"^out must be a path in an existing directory; got '.*missing/out\.npz' \(directory '.*missing' "
         r"does not exist\)\.$",
         lambda d: _separate_argv(dataset(d), folder=d, out="missing/out.npz"),
         r"--out must be a path in an existing directory"),
    Kind("existing output without --overwrite",
         lambda d: ((d / "out.npz").write_bytes(b"earlier result"), _save(d, "out.npz")), FileExistsError,
         r"^out '.*out\.npz' already exists; pass overwrite=True \(--overwrite\) to replace it\.$",
         _existing_output, r"--out '.*out\.npz' already exists; pass overwrite=True \(--overwrite\)",
         outputs=(), keeps=(("out.npz", b"earlier result"),)),
    Kind("--set not key=value", cli=_cli_data(good_X(), "--set", "lam"),
         cli_match=r"--set must be given as key=value; got 'lam'\."),
    Kind(".npz without X", lambda d: _io().load_input(write_npz(d / "noX.npz", Y=good_X())), ValueError,
         r"^INPUT '.*noX\.npz' has no 'X' array; found keys: Y\.$",
         _cli_file(lambda d: write_npz(d / "noX.npz", Y=good_X())), r"INPUT '.*noX\.npz' has no 'X' array"),
    Kind("truth whose shapes do not match the result",
         lambda d: _metrics().evaluate(np.ones((M, N + 1)), np.ones((N + 1, T)), *good_arrays()[1:]),
         ValueError, r"^A_est and A_true must have the same shape; got \(8, 3\) and \(8, 2\)\.$",
         _evaluate(lambda d: result_file(d, n=N + 1), dataset),
         r"RESULT and TRUTH do not match: the result has A \(8, 3\) .* the truth has A \(8, 2\)"),
    # ---- added kinds
    Kind("truth with other pixel count",
         lambda d: _metrics().evaluate(np.ones((M, N)), np.ones((N, T // 2)), *good_arrays()[1:]),
         ValueError, r"^S_est and S_true must have the same shape; got \(2, 32\) and \(2, 64\)\.$",
         _evaluate(lambda d: result_file(d, t=T // 2), dataset), r"RESULT and TRUTH do not match"),
    Kind("truth file without A and S", cli=_evaluate(result_file, lambda d: data_only(d, good_X())),
         cli_match=r"--truth '.*bad\.npz' must hold the true 'A' and 'S' arrays; it has neither\."),
    Kind("data file given as RESULT", lambda d: _io().load_result(dataset(d)), ValueError,
         r"^RESULT '.*data\.npz' must be a result written by semiblind separate",
         _evaluate(dataset, lambda d: dataset(d, "truth.npz")),
         r"RESULT '.*data\.npz' must be a result written by semiblind separate"),
    Kind("missing RESULT", lambda d: _io().load_result(d / "none.npz"), FileNotFoundError,
         r"^RESULT '.*none\.npz' does not exist\.$",
         _evaluate(lambda d: d / "none.npz", dataset), r"RESULT '.*none\.npz' does not exist\."),
    Kind("missing TRUTH", lambda d: _io().load_input(d / "none.npz", argument="--truth"), FileNotFoundError,
         r"^--truth '.*none\.npz' does not exist\.$",
         _evaluate(result_file, lambda d: d / "none.npz"), r"^semiblind evaluate: error: --truth '.*none\.npz' "
         r"does not exist\.$"),
    Kind("existing --json without --overwrite",
         cli=lambda d: ((d / "m.json").write_text("{}"), _evaluate(result_file, dataset, "--json",
                                                                   str(d / "m.json"))(d))[1],
         cli_match=r"--json '.*m\.json' already exists; pass overwrite=True \(--overwrite\)"),
    Kind("unknown verb", cli=lambda d: ["seperate", str(dataset(d))],
         cli_match=r"argument VERB: invalid choice: 'seperate' \(choose from .*'separate'", usage=True),
    Kind("unknown --format", lambda d: _io().load_input(dataset(d), format="hdf5"), ValueError,
         r"^format must be one of npz, fits, events, envi, mat or None; got 'hdf5'\.$",
         lambda d: ["info", str(dataset(d)), "--format", "hdf5"],
         r"argument --format: invalid choice: 'hdf5'", usage=True),
    Kind("unknown file extension",
         lambda d: _io().load_input(write_npz(d / "x.npz", X=good_X()).rename(d / "x.dat5") or d / "x.dat5"),
         ValueError, r"^INPUT '.*x\.dat5' has an unknown file type; expected a name ending in \.npz",
         _cli_file(lambda d: write_npz(d / "x.npz", X=good_X()).rename(d / "x.dat5") or d / "x.dat5"),
         r"INPUT '.*x\.dat5' has an unknown file type"),
    Kind("directory given as INPUT", lambda d: _io().load_input(d), IsADirectoryError,
         r"^INPUT must be a data file; '.*' is a directory\.$",
         _cli_file(lambda d: d), r"INPUT must be a data file; '.*' is a directory\."),
    Kind("missing INPUT", lambda d: _io().load_input(d / "none.npz"), FileNotFoundError,
         r"^INPUT '.*none\.npz' does not exist\.$",
         _cli_file(lambda d: d / "none.npz"), r"INPUT '.*none\.npz' does not exist\."),
    Kind(".npz holding a pickle", lambda d: _io().load_input(pickle_npz(d)), ValueError,
         r"^INPUT '.*pickled\.npz' holds an object \(pickled\) array, which semiblind never loads",
         _cli_file(pickle_npz), r"holds an object \(pickled\) array, which semiblind never loads"),
    Kind(".npy named .npz", lambda d: _io().load_input(_npy_named_npz(d)), ValueError,
         r"^INPUT '.*array\.npz' is a single \.npy array, not an \.npz archive of named arrays\.$",
         _cli_file(_npy_named_npz), r"is a single \.npy array, not an \.npz archive"),
    Kind("index out of range", lambda d: _io().load_input(multi_dataset(d), index=5), ValueError,
         r"^index must be in \[0, 2\] for '.*multi\.npz', which holds 3 mixtures; got 5\.$",
         _cli_file(multi_dataset, "--index", "7"), r"index must be in \[0, 2\] for '.*multi\.npz'"),
    Kind("index for a non-npz file", lambda d: _io().load_input(fits_cube(d), index=1), ValueError,
         r"^index applies to multi-mixture \.npz files only; got index=1 for a fits file\.$",
         _cli_file(fits_cube, "--index", "1"), r"index applies to multi-mixture \.npz files only"),
    Kind("FITS cube with blank (NaN) pixels",
         lambda d: separate_quickly(_io().load_input(_fits_with_blank_pixels(d)).X), ValueError,
         r"^X must contain only finite values; got 24 NaN value\(s\)\.$",
         _cli_file(_fits_with_blank_pixels), r"X must contain only finite values; got 24 NaN"),
    Kind("complex data", lambda d: separate_quickly(good_X() + 1j), TypeError,
         r"^X must be an array of real numbers; got complex values\.$",
         _cli_file(_complex_npz), r"X in '.*complex\.npz' must hold real numbers; got complex values\."),
    Kind("text data", lambda d: separate_quickly(np.array([["a", "b"], ["c", "d"]])), TypeError,
         r"^X must be an array of real numbers; got an array of dtype <U1\.$"),
    Kind("ragged nested lists", lambda d: separate_quickly([[1.0, 2.0], [3.0]]), TypeError,
         r"^X must be an array of real numbers; got list \("),
    Kind("a single pixel", lambda d: separate_quickly(good_X()[:, :1], 1), ValueError,
         r"^X must have at least 2 pixels to be separated; got an array of shape \(8, 1\)\.$",
         _cli_data(good_X()[:, :1], n="1"), r"X must have at least 2 pixels to be separated"),
    Kind("a constant sample in a batch", lambda d: _fit_batch(_constant_batch()), ValueError,
         r"^X must vary across pixels; every channel of sample\(s\) 1 is constant, so no source can be "
         r"separated\.$"),
    Kind("parameter NaN", lambda d: separate_quickly(good_X(), tol=float("nan")), InvalidParameterError,
         r"^The 'tol' parameter of PALM must be a float in the range \[0, inf\); got nan instead\.$",
         _cli_data(good_X(), "--set", "tol=NaN"), r"The 'tol' parameter of PALM must be a float"),
    Kind("unknown dtype option", lambda d: separate_quickly(good_X(), dtype="float16"), InvalidParameterError,
         r"^The 'dtype' parameter of PALM must be one of 'float32', 'float64'; got 'float16' instead\.$",
         _cli_data(good_X(), "--set", "dtype=float16"), r"The 'dtype' parameter of PALM must be one of"),
    Kind("negative seed", lambda d: separate_quickly(good_X(), random_state=-1), InvalidParameterError,
         r"^The 'random_state' parameter of PALM must be None, a nonnegative int or a numpy\.random\.Generator; "
         r"got -1 instead\.$",
         _cli_data(good_X(), "--seed", "-1"), r"The 'random_state' parameter of PALM must be None, a nonneg"),
    Kind("learned method without a fitting model", lambda d: separate_quickly(good_X(), method="lista"), ValueError,
         r"^model must be given for method 'lista' \(a folder written by `semiblind train lista`",
         _cli_data(good_X(), method="lista"), r"model must be given for method 'lista'"),
    Kind("missing model folder", lambda d: _load_model(d / "nothere"), FileNotFoundError,
         r"^model must be an existing model folder or a shipped model name \(.*\); got '.*nothere', which is "
         r"neither\.$",
         _cli_model(lambda d: d / "nothere"), r"model must be an existing model folder or a shipped model"),
    Kind("model folder with a broken config.json", lambda d: _load_model(model_bad_config(d)), ValueError,
         r"^'.*config\.json' must be valid JSON; it is not \(",
         _cli_model(model_bad_config), r"config\.json' must be valid JSON"),
    Kind("pickle given to info", cli=lambda d: ["info", str(pickle_model(d))],
         cli_match=r"model '.*model\.pt' is a pickle-based file \(\.pt\); semiblind never loads pickles"),
    Kind("output with an unknown extension", lambda d: _save(d, "out.txt"), ValueError,
         r"^out must end in \.npz or \.fits \(the result format is chosen by extension\); got '.*out\.txt'\.$",
         lambda d: _separate_argv(dataset(d), folder=d, out="out.txt"),
         r"error: --out must end in \.npz or \.fits \(the result format is chosen by extension\); got "
         r"'.*out\.txt'\.$"),
    Kind("--set with an empty key", cli=_cli_data(good_X(), "--set", "=3"),
         cli_match=r"--set must be given as key=value; got '=3'\."),
    Kind("--set array from a missing file", cli=lambda d: _separate_argv(
             dataset(d), "--set", f"A0={d / 'nofile.npz'}", folder=d),
         cli_match=r"--set A0=.*nofile\.npz: file '.*nofile\.npz' does not exist\.$"),
    Kind("--set array from a pickled .npz", cli=lambda d: _separate_argv(
             dataset(d), "--set", f"A0={pickle_npz(d)}:X", folder=d),
         cli_match=r"--set A0=.*pickled\.npz:X: file '.*pickled\.npz' holds an object \(pickled\) array, which "
         r"semiblind never loads"),
    Kind("--set array file without the named array", cli=lambda d: _separate_argv(
             dataset(d), "--set", f"A0={write_npz(d / 'guess.npz', A=np.ones((M, N)))}:B", folder=d),
         cli_match=r"--set A0=.*guess\.npz:B: file '.*guess\.npz' has no array 'B'; found keys: A\.$"),
    Kind("--set array of the wrong shape", cli=lambda d: _separate_argv(
             dataset(d), "--set", f"A0={_other_A0(d)}", folder=d),
         cli_match=r"A0 must have shape \(8, 2\) \(channels, sources\); got \(5, 2\)\."),
    Kind("training set without A and S", lambda d: _load_dataset(train_set_without_truth(d)), ValueError,
         r"^dataset '.*train\.npz' must hold arrays X, A and S; A, S missing\.$",
         _train(train_set_without_truth), r"dataset '.*train\.npz' must hold arrays X, A and S"),
    Kind("training into an existing run", cli=_train_dir_exists,
         cli_match=r"out_dir '.*model_out' already holds a training run; pass resume=True \(--resume\)"),
    Kind("zero layers", cli=_train(multi_dataset, "--layers", "0"),
         cli_match=r"layers must be a positive int; got 0\."),
    Kind("simulate zero samples", cli=lambda d: ["simulate", "xray", "--n-samples", "0", "--pixels", "64",
                                                 "--out", str(d / "sim.npz")],
         cli_match=r"n_samples must be at least 1; got 0\."),
    Kind("simulate NaN SNR", cli=lambda d: ["simulate", "xray", "--n-samples", "2", "--pixels", "64",
                                            "--snr", "nan", "--out", str(d / "sim.npz")],
         cli_match=r"snr_db must be a finite number of decibels or \+inf \(no noise\); got nan\."),
    Kind("simulate to a non-.npz name", cli=lambda d: ["simulate", "xray", "--n-samples", "2", "--pixels",
                                                       "64", "--out", str(d / "sim.txt")],
         cli_match=r"error: --out must end in \.npz, \.h5 or \.hdf5; got '.*sim\.txt'\.$"),
    # ---- hostile input (issue #16)
    Kind("float32 data near overflow (1e20)", lambda d: separate_quickly(_scaled(1e20, np.float32)), ValueError,
         r"^X has values of magnitude up to 1\.\d+e\+20, too large to compute with in float32 .*divide X by its RMS",
         _cli_data(_scaled(1e20, np.float32)), r"X has values of magnitude up to 1\.\d+e\+20, too large"),
    Kind("float64 data near overflow (1e200)", lambda d: separate_quickly(_scaled(1e200), dtype="float64"),
         ValueError, r"^X has values of magnitude up to 1\.\d+e\+200, too large to compute with in float64",
         _cli_data(_scaled(1e200), "--set", "dtype=float64"), r"too large to compute with in float64"),
    Kind("float64 data near underflow (1e-300), HALS", lambda d: separate_quickly(_scaled(1e-300), method="hals"),
         ValueError, r"^X has values of magnitude up to 1\.\d+e-300, too small to compute with in float32",
         _cli_data(_scaled(1e-300), method="hals"), r"too small to compute with in float32"),
    Kind("huge uint64 data", lambda d: separate_quickly(_huge_uint64()), ValueError,
         r"^X has values of magnitude up to \d\.\d+e\+18, too large to compute with in float32.*dtype='float64'",
         _cli_data(_huge_uint64()), r"too large to compute with in float32"),
    Kind("float32 1e19 with HALS (eigen-solver)", cli=_cli_data(_scaled(1e19, np.float32), method="hals"),
         cli_match=r"X has values of magnitude up to .*e\+19, too large to compute with in float32"),
    Kind("float32 1e19 with MU", cli=_cli_data(_scaled(1e19, np.float32), method="mu"),
         cli_match=r"too large to compute with in float32"),
    Kind("float32 1e19 with GMCA", cli=_cli_data(_scaled(1e19, np.float32), method="gmca"),
         cli_match=r"too large to compute with in float32"),
    Kind("max_iter beyond int64", lambda d: separate_quickly(good_X(), max_iter=10**23), InvalidParameterError,
         r"^The 'max_iter' parameter of PALM must be an int of magnitude at most 2\*\*63 - 1",
         _cli_data(good_X(), "--set", "max_iter=100000000000000000000000"),
         r"The 'max_iter' parameter of PALM must be an int of magnitude at most 2\*\*63 - 1"),
    Kind("load_model on an unknown device", lambda d: __import__("semiblind").load_model(model_dir(d), device="bogus"),
         ValueError, r"^device must be 'cpu', 'cuda', 'cuda:<index>' or 'mps'; got 'bogus'\.$"),
    Kind("npz with a malformed wcs", lambda d: _io().load_input(write_npz(d / "w.npz", X=good_X(), wcs=np.array(5))),
         ValueError, r"^wcs in '.*w\.npz' must be",
         _cli_file(lambda d: write_npz(d / "w.npz", X=good_X(), wcs=np.array(5))), r"wcs in '.*w\.npz' must be"),
    Kind("0-d X", lambda d: _io().load_input(write_npz(d / "zero.npz", X=np.array(3.0))), ValueError,
         r"^X in '.*zero\.npz' must be a 2-D array .*; got an array of shape \(\)\.$",
         _cli_file(lambda d: write_npz(d / "zero.npz", X=np.array(3.0))), r"got an array of shape \(\)\.$"),
    Kind("--set n_sources", cli=_cli_data(good_X(), "--set", "n_sources=3"),
         cli_match=r"--set n_sources=3: the number of sources is given with --n-sources \(here 2\), not with --set\.$"),
    Kind("complex A0", lambda d: separate_quickly(good_X(), A0=np.ones((M, N)) + 1j), TypeError,
         r"^A0 must hold real numbers; got complex values",
         lambda d: _separate_argv(dataset(d), "--set", f"A0={_complex_A0(d)}", folder=d),
         r"--set A0=.*cguess\.npz.* must hold real numbers"),
    Kind("text file as --train", cli=_train(_text_file),
         cli_match=r"^(?!.*allow_pickle).*'.*notes\.txt' is not a readable \.npz archive"),
    Kind("training file without A", lambda d: _load_dataset(_train_without_A(d)), ValueError,
         r"^dataset '.*noA\.npz' must hold arrays X, A and S; A missing\.$",
         _train(_train_without_A), r"dataset '.*noA\.npz' must hold arrays X, A and S; A missing\."),
    Kind("train --resume without a checkpoint", cli=_train(multi_dataset, "--resume"),
         cli_match=r"holds no checkpoint to resume from"),
    Kind("simulate beyond the memory budget", cli=lambda d: ["simulate", "xray", "--n-samples", "100000", "--pixels",
                                                           "100000", "--out", str(d / "sim.npz")],
         # streamed to disk: refused for one chunk's memory or for the file's disk space, whichever binds here
         cli_match=r"would need [\d.]+ [GT]iB(; this machine has .* available and the memory budget is| of disk "
                   r"for 100000 mixtures)"),
    Kind("npz header declaring 520 GiB", lambda d: _io().load_input(npz_declaring(d)), ValueError,
         r"^X in '.*liar\.npz' \(65 × 4096 × 4096 × 64 float64\) would need 520 GiB; this machine has ",
         lambda d: ["info", str(npz_declaring(d))], r"would need 520 GiB"),
    Kind(".mat fill-value dataset", lambda d: _io().load_input(mat_fill_value(d)), ValueError,
         r"^Y in '.*fill\.mat' declares 1000000 × 1000 float64 values but stores none",
         lambda d: ["info", str(mat_fill_value(d))], r"declares 1000000 × 1000 float64 values but stores none"),
    Kind("event list with one stray event", lambda d: _io().load_input(events_with_stray(d)), ValueError,
         r"^the event cube of '.*stray\.evt' \(64 channels × 1000001 × 1000001 pixels.* would need 931 TiB",
         lambda d: ["info", str(events_with_stray(d))], r"would need 931 TiB"),
    Kind("model config with 1e9 layers", lambda d: _load_model(model_with_config(d, "layers", 10**9)), ValueError,
         r"does not match its config\.json",
         _cli_model(lambda d: model_with_config(d, "layers", 10**9)), r"does not match its config\.json"),
    Kind("evaluate: RESULT with another extension", lambda d: _io().load_result(result_file(d).rename(d / "r.txt")
                                                                       or d / "r.txt"), ValueError,
         r"^RESULT must be a \.npz or \.fits file written by semiblind separate .*; got '.*r\.txt'\.$",
         _evaluate(lambda d: result_file(d).rename(d / "r.txt") or d / "r.txt", dataset),
         r"error: RESULT must be a \.npz or \.fits file written by semiblind separate"),
    Kind("evaluate: --truth with a NaN", cli=_evaluate(result_file, _truth_with_nan),
         cli_match=r"error: --truth '.*nantruth\.npz' must hold finite values; its A has 1 NaN or infinite value"),
    Kind("evaluate: a result given as --truth", cli=_evaluate(result_file, lambda d: result_file(d, name="r2.npz")),
         cli_match=r"error: --truth '.*r2\.npz' (has no 'X' array|is a separation result)"),
    Kind("model config with a malformed energy grid", lambda d: _load_model(_model_bad_grid(d)), ValueError,
         r"^data_contract\.energy_grid in '.*config\.json' must be a known grid name or .*could not convert string",
         _cli_model(_model_bad_grid), r"data_contract\.energy_grid in '.*config\.json' must be"),
    Kind("training data at 1e19 in float32", cli=_train(_huge_train_set),
         cli_match=r"X of train_set has values of magnitude up to .*e\+19, too large to compute with in float32"),
    Kind("model config with m = 1e9", lambda d: _load_model(model_with_config(d, "n_channels", 10**9)),
         ValueError, r"does not match its config\.json",
         _cli_model(lambda d: model_with_config(d, "n_channels", 10**9)), r"does not match its config\.json"),
]


# ------------------------------------------------------------------------------------------------ helpers


def params(which: str) -> list[Any]:
    """``pytest.param`` for every kind that has an ``api`` (``which="api"``) or ``cli`` entry."""
    import pytest

    out = []
    for kind in KINDS:
        if getattr(kind, which) is None:
            continue
        reason = kind.xfail_api if which == "api" else kind.xfail_cli
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(kind, id=kind.id, marks=marks))
    return out


def listing(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` (relative) with its bytes (``None`` for folders)."""
    return {
        str(q.relative_to(folder)): (q.read_bytes() if q.is_file() else None)
        for q in sorted(folder.rglob("*"))
    }


def partial_files(folder: Path) -> list[str]:
    """Temporary files left by an interrupted atomic write (``semiblind._files.atomic_path`` names them
    ``.NAME.XXXX.part.SUFFIX``)."""
    return [str(q) for q in folder.rglob("*") if ".part" in q.name]
