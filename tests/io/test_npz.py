"""NPZ datasets (MixtureSet layout) and NPZ results: reading, multi-mixture selection, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from semiblind.io import Cube, load_input, load_result, save_result


def _mixture(rng, m=6, n=3, h=5, w=4):
    A = rng.random((m, n))
    S = rng.random((n, h, w))
    X = np.einsum("mn,nhw->mhw", A, S)
    return X, A, S


def test_single_mixture_cube(tmp_path, rng):
    X, A, S = _mixture(rng)
    noise = 0.01 * rng.standard_normal(X.shape)
    e = np.linspace(0.5, 7.0, X.shape[0])
    p = tmp_path / "d.npz"
    np.savez(p, X=X + noise, A=A, S=S, noise=noise, energies=e, meta=json.dumps({"snr_db": 20}))
    cube = load_input(p)
    assert isinstance(cube, Cube)
    assert cube.format == "npz" and cube.source == p
    np.testing.assert_array_equal(cube.X, X + noise)
    np.testing.assert_array_equal(cube.A, A)
    np.testing.assert_array_equal(cube.S, S)
    np.testing.assert_array_equal(cube.noise, noise)
    np.testing.assert_array_equal(cube.energies, e)
    assert cube.spectral_unit == "keV"
    assert cube.meta == {"snr_db": 20}
    assert cube.image_shape == (5, 4) and cube.has_truth


def test_flat_data_without_truth(tmp_path, rng):
    X = rng.random((4, 30))
    p = tmp_path / "flat.npz"
    np.savez(p, X=X)
    cube = load_input(p)
    assert cube.X.shape == (4, 30) and cube.A is None and cube.energies is None and not cube.has_truth
    assert cube.image_shape is None


def test_multi_mixture_selects_index(tmp_path, rng):
    B, m, n, t = 3, 5, 2, 12
    A = rng.random((B, m, n))
    S = rng.random((B, n, t))
    X = A @ S
    p = tmp_path / "set.npz"
    np.savez(p, X=X, A=A, S=S, energies=np.arange(1.0, m + 1))
    first = load_input(p)
    np.testing.assert_array_equal(first.X, X[0])
    assert first.meta["index"] == 0 and first.meta["n_samples"] == B
    second = load_input(p, index=2)
    np.testing.assert_array_equal(second.X, X[2])
    np.testing.assert_array_equal(second.A, A[2])
    np.testing.assert_array_equal(second.S, S[2])
    with pytest.raises(ValueError, match=r"index must be in \[0, 2\]"):
        load_input(p, index=3)


def test_four_d_cube_set(tmp_path, rng):
    X = rng.random((2, 4, 3, 3))
    p = tmp_path / "cubes.npz"
    np.savez(p, X=X)
    np.testing.assert_array_equal(load_input(p, index=1).X, X[1])


def test_missing_x_lists_keys(tmp_path, rng):
    p = tmp_path / "nox.npz"
    np.savez(p, A=rng.random((3, 2)), S=rng.random((2, 5)))
    with pytest.raises(ValueError, match=r"has no 'X' array; found keys: A, S\."):
        load_input(p)


def test_pickled_object_array_is_refused(tmp_path):
    p = tmp_path / "obj.npz"
    np.savez(p, X=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled"):
        load_input(p)


def test_not_an_archive(tmp_path):
    p = tmp_path / "junk.npz"
    p.write_bytes(b"this is not a zip file at all")
    with pytest.raises(ValueError, match="not a readable .npz archive"):
        load_input(p)


def test_shape_mismatch_and_index_on_single(tmp_path, rng):
    p = tmp_path / "bad.npz"
    np.savez(p, X=rng.random((4, 10)), A=rng.random((3, 2)))
    with pytest.raises(ValueError, match=r"A in .* must have shape \(4, n\)"):
        load_input(p)
    q = tmp_path / "one.npz"
    np.savez(q, X=rng.random((4, 10)))
    with pytest.raises(ValueError, match="index must be None or 0"):
        load_input(q, index=1)


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_input(tmp_path / "absent.npz")
    p = tmp_path / "data.xyz"
    p.write_text("x")
    with pytest.raises(ValueError, match="unknown file type"):
        load_input(p)
    with pytest.raises(ValueError, match="format must be one of"):
        load_input(p, format="hdf9")


def test_npz_result_round_trip(tmp_path, rng):
    A = rng.random((6, 2))
    S = rng.random((2, 4, 5))
    e = np.linspace(1, 6, 6)
    out = save_result(tmp_path / "r.npz", A, S, info={"method": "gmca", "lam": np.float32(0.5)}, energies=e)
    res = load_result(out)
    np.testing.assert_array_equal(res.A, A)
    np.testing.assert_array_equal(res.S, S)
    np.testing.assert_array_equal(res.energies, e)
    assert res.info == {"method": "gmca", "lam": 0.5}
    with np.load(out, allow_pickle=False) as d:
        assert sorted(d.files) == ["A", "S", "energies", "info"]
        assert json.loads(str(d["info"]))["method"] == "gmca"
