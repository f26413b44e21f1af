"""ENVI images (via spectral) and HySUPP-style MATLAB files (v5 via scipy, v7.3 via h5py)."""

from __future__ import annotations

import h5py  # optional dependencies of semiblind, installed for the tests: a missing one fails, never skips
import numpy as np
import pytest
import scipy.io
from spectral.io import envi

from semiblind.io import MissingDataFileError, load_input


def test_envi_round_trip(tmp_path, rng):
    img = rng.random((4, 5, 3)).astype(np.float32)  # (lines, samples, bands), as spectral stores it
    hdr = tmp_path / "scene.hdr"
    envi.save_image(str(hdr), img, metadata={"wavelength": [450, 550, 650], "wavelength units": "nm"})
    cube = load_input(hdr)
    assert cube.format == "envi" and cube.X.shape == (3, 4, 5)
    np.testing.assert_array_equal(cube.X[:, 2, 3], img[2, 3, :])
    np.testing.assert_allclose(cube.energies, [450, 550, 650])
    assert cube.spectral_unit == "nm"
    np.testing.assert_array_equal(load_input(tmp_path / "scene.img").X, cube.X)  # data file name


def test_envi_header_without_data(tmp_path, rng):
    hdr = tmp_path / "lonely.hdr"
    envi.save_image(str(hdr), rng.random((2, 2, 3)).astype(np.float32))
    (tmp_path / "lonely.img").unlink()
    with pytest.raises(MissingDataFileError, match="ENVI header without its data file"):
        load_input(hdr)
    with pytest.raises(FileNotFoundError):
        load_input(hdr)
    with pytest.raises(ValueError):
        load_input(hdr)


def _hysupp(rng, L=6, p=3, H=4, W=5):
    E = rng.random((L, p))
    A = rng.dirichlet(np.ones(p), size=H * W).T  # (p, N)
    return E @ A, E, A, H, W


def test_mat_v5_hysupp_keys(tmp_path, rng):
    Y, E, A, H, W = _hysupp(rng)
    p = tmp_path / "scene.mat"
    scipy.io.savemat(p, {"Y": Y, "E": E, "A": A, "H": H, "W": W})
    cube = load_input(p)
    assert cube.format == "mat" and cube.X.shape == (6, H, W)
    # C-order pixels: pixel (i, j) is column i * W + j of Y
    np.testing.assert_array_equal(cube.X[:, 2, 3], Y[:, 2 * W + 3])
    np.testing.assert_array_equal(cube.A, E)
    np.testing.assert_array_equal(cube.S[:, 1, 4], A[:, 1 * W + 4])


def test_mat_pixel_order_f(tmp_path, rng):
    from semiblind.io.mat import load_mat

    Y, E, A, H, W = _hysupp(rng)
    p = tmp_path / "scene.mat"
    scipy.io.savemat(p, {"Y": Y, "H": H, "W": W})
    cube = load_mat(p, pixel_order="F")
    np.testing.assert_array_equal(cube.X[:, 2, 3], Y[:, 3 * H + 2])  # column-major: pixel (i, j) is j * H + i


def test_mat_v73_written_in_matlab_layout(tmp_path, rng):
    Y, E, A, H, W = _hysupp(rng)
    p = tmp_path / "v73.mat"
    # MATLAB v7.3: HDF5 with a 512-byte user block; MATLAB writes column-major, so HDF5 holds transposes
    with h5py.File(p, "w", userblock_size=512) as f:
        arrays = {"Y": Y, "E": E, "A": A, "H": np.array([[H]], float), "W": np.array([[W]], float)}
        for key, value in arrays.items():
            ds = f.create_dataset(key, data=np.asarray(value).T)
            ds.attrs["MATLAB_class"] = np.bytes_("double")
    with open(p, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, written by a semiblind test".ljust(116, b" "))
    cube = load_input(p)
    assert cube.meta["mat_version"].startswith("7.3")
    assert cube.X.shape == (Y.shape[0], H, W)
    np.testing.assert_array_equal(cube.X.reshape(Y.shape[0], -1), Y)
    np.testing.assert_array_equal(cube.A, E)
    np.testing.assert_array_equal(cube.S.reshape(A.shape[0], -1), A)


def test_mat_errors(tmp_path, rng):
    p = tmp_path / "other.mat"
    scipy.io.savemat(p, {"data": rng.random((3, 4)), "labels": np.arange(4)})
    with pytest.raises(ValueError, match=r"must hold the data as key 'Y'.*found keys: data, labels\."):
        load_input(p)
    q = tmp_path / "badsize.mat"
    scipy.io.savemat(q, {"Y": rng.random((3, 12)), "H": 5, "W": 5})
    with pytest.raises(ValueError, match=r"H × W .* must equal the number of pixels of Y \(12\)"):
        load_input(q)
    r = tmp_path / "junk.mat"
    r.write_bytes(b"not a mat file" * 30)
    with pytest.raises(ValueError, match="not a readable MATLAB .mat file"):
        load_input(r)
