"""Reading real scenes: bad bands, band scaling, the classic MAT layout with its truth file, ENVI scale factor."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from semiblind.io import load_input
from semiblind.io.mat import load_classic_truth
from semiblind.io.scenes import parse_band_ranges, read_scene, scale_bands


def test_parse_band_ranges():
    np.testing.assert_array_equal(parse_band_ranges("1-4,100-102, 7", 120), [0, 1, 2, 3, 6, 99, 100, 101])
    assert parse_band_ranges(None, 5).size == 0 and parse_band_ranges("", 5).size == 0
    with pytest.raises(ValueError, match="--drop-bands"):
        parse_band_ranges("3-1", 10)
    with pytest.raises(ValueError, match="bands 1..10"):
        parse_band_ranges("9-11", 10)
    with pytest.raises(ValueError, match="'1-4,100-110'"):
        parse_band_ranges("a-b", 10)


def test_scale_bands_auto_rules():
    refl = np.array([[0.1, 0.5], [0.2, 0.9]])
    x, how = scale_bands(refl)
    np.testing.assert_array_equal(x, refl)
    assert "kept" in how
    x, how = scale_bands(np.array([[1000, 5000], [2500, 9999]], dtype=np.int16))
    np.testing.assert_allclose(x, [[0.1, 0.5], [0.25, 0.9999]])
    assert "10⁴" in how
    x, how = scale_bands(np.array([[0, 30000], [65535, 100]], dtype=np.uint16))
    assert x.max() == 1.0 and "digital numbers" in how
    x, how = scale_bands(np.array([[2.5, 5.0]]))
    assert x.max() == 1.0 and "max-normalised" in how
    x, how = scale_bands(np.array([[100.0, 200.0]]), factor=1000.0)
    np.testing.assert_allclose(x, [[0.1, 0.2]])
    np.testing.assert_allclose(scale_bands(np.array([[5000.0]]), "reflectance")[0], [[0.5]])
    np.testing.assert_array_equal(scale_bands(np.array([[5.0]]), "none")[0], [[5.0]])
    with pytest.raises(ValueError, match="scaling"):
        scale_bands(refl, "percent")


def _classic(tmp_path, H=4, W=5, m=6, n=2):
    rng = np.random.default_rng(0)
    cube = rng.integers(0, 10000, size=(m, H, W)).astype(float)
    V = cube.reshape(m, H * W, order="F")  # MATLAB column-major pixels
    scipy.io.savemat(tmp_path / "scene.mat", {"V": V, "nRow": H, "nCol": W, "nBand": m, "maxValue": 10000.0})
    M = rng.random((m, n))
    S = rng.random((n, H, W))
    scipy.io.savemat(tmp_path / "truth.mat", {"M": M, "A": S.reshape(n, H * W, order="F")})
    return cube, M, S


def test_classic_mat_layout_and_truth_file(tmp_path):
    cube, M, S = _classic(tmp_path)
    c = load_input(tmp_path / "scene.mat")
    np.testing.assert_array_equal(c.X, cube)
    assert c.meta["layout"].startswith("classic") and c.A is None
    A_t, S_t = load_classic_truth(tmp_path / "truth.mat", 6, (4, 5))
    np.testing.assert_array_equal(A_t, M)
    np.testing.assert_array_equal(S_t, S)
    with pytest.raises(ValueError, match="'M'"):
        load_classic_truth(tmp_path / "scene.mat", 6, (4, 5))


def test_read_scene_drops_bands_scales_and_hides_truth(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.integers(0, 10000, size=(8, 3, 3)).astype(np.int16)
    np.savez(tmp_path / "s.npz", X=X, A=rng.random((8, 2)), S=rng.random((2, 3, 3)),
             energies=np.linspace(0.4, 1.1, 8))
    cube, line = read_scene(tmp_path / "s.npz", drop_bands="1-2,8")
    assert cube.X.shape == (5, 3, 3) and cube.A is None and cube.S is None
    np.testing.assert_allclose(cube.X, X[2:7] / 1e4)
    np.testing.assert_allclose(cube.energies, np.linspace(0.4, 1.1, 8)[2:7])
    assert "5 of 8 bands" in line and "10⁴" in line and "ground truth is not used" in line and "1-2,8" in line
    kept, _ = read_scene(tmp_path / "s.npz", keep_truth=True)
    assert kept.A is not None
    with pytest.raises(ValueError, match="at least 2"):
        read_scene(tmp_path / "s.npz", drop_bands="1-7")


def test_envi_reflectance_scale_factor(tmp_path):
    m, H, W = 4, 3, 5
    data = (np.arange(m * H * W, dtype=np.int16).reshape(m, H, W) * 10)
    data.tofile(tmp_path / "img.img")  # band sequential, little endian
    (tmp_path / "img.hdr").write_text(
        "ENVI\nsamples = 5\nlines = 3\nbands = 4\nheader offset = 0\nfile type = ENVI Standard\ndata type = 2\n"
        "interleave = bsq\nbyte order = 0\nreflectance scale factor = 1000\n"
        "wavelength = {400, 500, 600, 700}\nwavelength units = nm\n")
    cube, line = read_scene(tmp_path / "img.hdr", drop_bands="4")
    np.testing.assert_allclose(cube.X, data[:3] / 1000.0)
    assert "reflectance scale factor 1000" in line and "3 of 4 bands" in line
