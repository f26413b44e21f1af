"""`semiblind separate --chunk-pixels N`: FITS memory-mapped, X read in chunks; the in-memory result; refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.io import fits

from semiblind import io
from semiblind.cli import main

M, N, H, W = 65, 4, 12, 15
WIDTH = 7.0 / M  # the chandra-acis-65 grid of the shipped LPALM models


@pytest.fixture
def cube(tmp_path, rng):
    A = np.abs(rng.standard_normal((M, N)))
    A /= np.linalg.norm(A, axis=0)
    S = np.abs(rng.standard_normal((N, H * W))) * (rng.random((N, H * W)) < 0.3)
    X = (A @ S + 1e-3 * rng.standard_normal((M, H * W))).reshape(M, H, W).astype(np.float32)
    hdu = fits.PrimaryHDU(X)
    hdu.header.update(CTYPE3="ENER", CUNIT3="keV", CRPIX3=1.0, CRVAL3=0.5 + WIDTH / 2, CDELT3=WIDTH)
    path = tmp_path / "cube.fits"
    hdu.writeto(path)
    npz = tmp_path / "cube.npz"
    np.savez(npz, X=X)
    return tmp_path, path, npz, X


def _run(capsys, *argv):
    rc = main(["separate", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


def _error_line(err):
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("semiblind separate: error: "), err
    return lines[0]


@pytest.mark.parametrize("method, extra, memory_extra", [
    ("palm", ["--set", "max_iter=40", "--set", "tol=0"], []),
    ("gmca", ["--set", "max_iter=30"], ["--set", "sparse_transform=none"]),
    ("lpalm", [], ["--model", "lpalm-xray65"]),
])
def test_chunked_fits_equals_in_memory(cube, capsys, method, extra, memory_extra):
    tmp, path, _, _ = cube
    common = ["--method", method, "--n-sources", N, "--set", "dtype=float64", *extra]
    rc, out, _ = _run(capsys, path, *common, "--chunk-pixels", 37, "--out", tmp / "c.fits")
    assert rc == 0 and out.startswith(f"{method}: 4 sources")
    rc, _, _ = _run(capsys, path, *common, *memory_extra, "--out", tmp / "m.fits")
    assert rc == 0
    got, ref = io.load_result(tmp / "c.fits"), io.load_result(tmp / "m.fits")
    assert got.S.shape == (N, H, W)
    assert np.abs(got.A - ref.A).max() < 1e-10 and np.abs(got.S - ref.S).max() < 1e-10 * np.abs(ref.S).max()
    info = got.info
    assert info["params"]["chunk_pixels"] == 37 and info["method_info"]["chunks"] == -(-H * W // 37)
    if method == "lpalm":
        assert info["method_info"]["model"] == "lpalm-xray65"  # the pixel model, also for a cube
    assert not list(tmp.glob("*.tmp*"))  # written under a temporary name, then renamed


def test_chunked_npz_input(cube, capsys):
    tmp, _, npz, _ = cube
    rc, _, _ = _run(capsys, npz, "--method", "palm", "--n-sources", N, "--set", "max_iter=20", "--chunk-pixels",
                    50, "--out", tmp / "r.npz")
    assert rc == 0
    with np.load(tmp / "r.npz") as d:
        assert d["S"].shape == (N, H, W) and json.loads(str(d["info"]))["params"]["chunk_pixels"] == 50


def test_chunk_pixels_refusals(cube, capsys):
    tmp, path, _, _ = cube
    out = tmp / "x.fits"
    rc, _, err = _run(capsys, path, "--method", "hals", "--n-sources", N, "--chunk-pixels", 10, "--out", out)
    line = _error_line(err)
    assert rc == 2 and "--chunk-pixels applies to methods gmca, lpalm, palm" in line and "'hals'" in line
    rc, _, err = _run(capsys, path, "--method", "lpalm", "--n-sources", N, "--model", "lpalm-xray65-image",
                      "--chunk-pixels", 10, "--out", out)
    assert rc == 2 and "pixel-model LPALM" in _error_line(err)
    rc, _, err = _run(capsys, path, "--method", "gmca", "--n-sources", N, "--set", "sparse_transform=starlet",
                      "--chunk-pixels", 10, "--out", out)
    assert rc == 2 and "sparse_transform must be 'none'" in _error_line(err)
    rc, _, err = _run(capsys, path, "--method", "palm", "--n-sources", N, "--set", "chunk_pixels=5",
                      "--chunk-pixels", 10, "--out", out)
    assert rc == 2 and "must not both be given" in _error_line(err)
    assert not out.exists()


@pytest.mark.parametrize("bad", ["0", "-3", "2.5", "many"])
def test_bad_chunk_pixels_values(cube, capsys, bad):
    tmp, path, _, _ = cube
    rc, _, err = _run(capsys, path, "--method", "palm", "--n-sources", N, f"--chunk-pixels={bad}", "--out",
                      tmp / "x.fits")
    line = _error_line(err)
    assert rc == 2 and "--chunk-pixels must be a positive integer" in line and bad.lstrip("-") in line


def test_fits_memmap_reader(cube, tmp_path):
    _, path, _, X = cube
    c = io.load_input(path, memmap=True)
    assert c.X.shape == X.shape and not c.X.flags.writeable and not c.X.dtype.isnative  # the file's '>f4' bytes
    assert np.array_equal(c.X, X) and c.energies is not None and "n_nonfinite" not in c.meta
    assert io.load_input(path).X.dtype.isnative  # the default reads a native copy, as before
    bad = X.copy()
    bad[3, 2, 1] = np.nan
    p = tmp_path / "nan.fits"
    fits.PrimaryHDU(bad).writeto(p)
    assert io.load_input(p, memmap=True, spectral_axis=0).meta["n_nonfinite"] == 1
    raw = path.read_bytes()
    (tmp_path / "trunc.fits").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="truncated"):
        io.load_input(tmp_path / "trunc.fits", memmap=True)


def test_chunked_cli_refuses_nonfinite_fits(cube, capsys, tmp_path):
    _, path, _, X = cube
    bad = X.copy()
    bad[0, 0, 0] = np.inf
    p = tmp_path / "inf.fits"
    hdu = fits.PrimaryHDU(bad)
    hdu.header.update(CTYPE3="ENER", CUNIT3="keV", CRPIX3=1.0, CRVAL3=0.5 + WIDTH / 2, CDELT3=WIDTH)
    hdu.writeto(p)
    rc, _, err = _run(capsys, p, "--method", "palm", "--n-sources", N, "--chunk-pixels", 40, "--out",
                      tmp_path / "o.fits")
    assert rc == 2 and "must contain only finite values; got 1 infinite value" in _error_line(err)
