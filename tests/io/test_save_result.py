"""save_result: format by extension, clear errors for existing/missing paths and bad arrays, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest

import semiblind.io.fits as sio_fits
import semiblind.io.npz as sio_npz
from semiblind.io import load_result, save_result


@pytest.fixture
def result(rng):
    return rng.random((5, 2)), rng.random((2, 3, 4))


@pytest.mark.parametrize("name", ["r.npz", "r.fits"])
def test_existing_file_needs_overwrite(tmp_path, result, name):
    A, S = result
    out = save_result(tmp_path / name, A, S, info={"method": "palm"})
    with pytest.raises(FileExistsError, match=r"already exists; pass overwrite=True"):
        save_result(out, A, S, info={"method": "palm"})
    save_result(out, 2 * A, S, info={"method": "palm"}, overwrite=True)
    np.testing.assert_array_equal(load_result(out).A, 2 * A)


def test_missing_directory(tmp_path, result):
    A, S = result
    with pytest.raises(FileNotFoundError, match="must be a path in an existing directory"):
        save_result(tmp_path / "nope" / "r.npz", A, S, info={})


def test_bad_arguments(tmp_path, result):
    A, S = result
    with pytest.raises(ValueError, match=r"out must end in .npz or .fits"):
        save_result(tmp_path / "r.txt", A, S, info={})
    with pytest.raises(ValueError, match=r"S must be a 2-D array \(2, pixels\)"):
        save_result(tmp_path / "r.npz", A, S[:1], info={})
    with pytest.raises(ValueError, match=r"energies must have one value per channel \(5\); got 4"):
        save_result(tmp_path / "r.npz", A, S, info={}, energies=np.arange(4.0))
    with pytest.raises(TypeError, match="info must be a dict"):
        save_result(tmp_path / "r.npz", A, S, info="gmca")
    assert list(tmp_path.iterdir()) == []
    # format= overrides the extension
    out = save_result(tmp_path / "result.dat", A, S, info={}, format="npz")
    np.testing.assert_array_equal(load_result(out, format="npz").S, S)


@pytest.mark.parametrize(("name", "module"), [("r.npz", sio_npz), ("r.fits", sio_fits)])
def test_interrupted_write_leaves_nothing(tmp_path, result, monkeypatch, name, module):
    A, S = result

    def boom(tmp, *args, **kwargs):
        with open(tmp, "wb") as fh:
            fh.write(b"half a file")
        raise RuntimeError("disk full")

    target = "save_npz_result" if name.endswith(".npz") else "save_fits_result"
    monkeypatch.setattr(module, target, boom)
    with pytest.raises(RuntimeError, match="disk full"):
        save_result(tmp_path / name, A, S, info={})
    assert list(tmp_path.iterdir()) == []  # neither the target nor the temporary file
    # an existing file survives a failed overwrite untouched
    monkeypatch.undo()
    out = save_result(tmp_path / name, A, S, info={"run": 1})
    before = out.read_bytes()
    monkeypatch.setattr(module, target, boom)
    with pytest.raises(RuntimeError):
        save_result(out, 3 * A, S, info={"run": 2}, overwrite=True)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [name]
