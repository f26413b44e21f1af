"""Stored training sets read lazily (training/stored.py): memory-mapped .npz members and HDF5 datasets give the
same batches, the same validation and the same weights as the set held in memory; the streamed simulator
writes the file the in-memory simulator would save."""

from __future__ import annotations

import sys
import zipfile

import numpy as np
import pytest
import torch

from semiblind.data.mixtures import simulate_to_file, simulate_xray
from semiblind.training import build_model, train
from semiblind.training import stored as stored_mod
from semiblind.training.checkpoint import data_fingerprint
from semiblind.training.engine import as_dataset, load_dataset
from semiblind.training.stored import StoredSet, open_stored

KW = dict(n_samples=7, pixels=40, snr_db=30.0, rng=4, chunk_size=3)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("stored")
    simulate_to_file(d / "set.npz", **KW)
    simulate_to_file(d / "set.h5", **KW)
    simulate_to_file(d / "valid.npz", **{**KW, "n_samples": 3, "rng": 5})
    return d, simulate_xray(**KW), simulate_xray(**{**KW, "n_samples": 3, "rng": 5})


def _weights(train_set, valid_set, dtype, **kw):
    model = build_model("lpalm", train_set, layers=2, dtype=dtype)
    r = train(model, train_set, valid_set, epochs=2, batch_size=3, lr=1e-3, progress=False, **kw)
    return {k: v.clone() for k, v in r.model.state_dict().items()}, r.history


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_training_on_a_stored_set_gives_the_weights_of_the_set_in_memory(files, dtype):
    d, ms, valid = files
    ref, hist = _weights(ms, valid, dtype)
    for lazy in (open_stored(d / "set.npz"), open_stored(d / "set.h5"), str(d / "set.npz")):
        w, h = _weights(lazy, open_stored(d / "valid.npz"), dtype)
        assert all(torch.equal(ref[k], w[k]) for k in ref), lazy
        assert [r["valid_loss"] for r in h] == [r["valid_loss"] for r in hist]
        assert [r["train_loss"] for r in h] == [r["train_loss"] for r in hist]


def test_the_npz_members_are_memory_maps_and_batches_match(files):
    d, ms, _ = files
    st = open_stored(d / "set.npz")
    assert all(isinstance(st._sources[k], np.memmap) for k in ("X", "A", "S"))
    idx = torch.tensor([5, 0, 5, 2])  # any order, a repeat: gathered sorted, returned in this order
    for s in (st, open_stored(d / "set.h5")):
        X, A, S = s.take(idx)
        np.testing.assert_array_equal(X.numpy(), ms.X[idx.numpy()])
        np.testing.assert_array_equal(A.numpy(), ms.A[idx.numpy()])
        np.testing.assert_array_equal(S.numpy(), ms.S[idx.numpy()])
        assert X.dtype == torch.float32 and s.with_dtype(torch.float64).take(slice(1, 3))[0].dtype == torch.float64
    assert st.meta["seed"] == 4 and st.meta["n_samples"] == 7 and "single" not in st.meta


def test_stored_and_in_memory_sets_have_one_fingerprint_read_in_chunks(files, monkeypatch):
    d, ms, _ = files
    mem = as_dataset(ms)
    lazy = as_dataset(d / "set.h5")
    assert isinstance(lazy, StoredSet)
    fp = data_fingerprint(mem.X, mem.A, mem.S)
    assert data_fingerprint(lazy.X, lazy.A, lazy.S) == fp
    assert data_fingerprint(lazy.X, lazy.A, lazy.S, chunk_bytes=1) == fp  # one row per block
    other = as_dataset(d / "valid.npz")
    assert data_fingerprint(other.X, other.A, other.S)["sha256"] != fp["sha256"]


def test_resume_across_in_memory_and_lazy_reading(files, tmp_path):
    d, ms, _ = files
    full, _ = _weights(ms, None, "float32", out_dir=tmp_path / "full")
    model = build_model("lpalm", ms, layers=2)
    train(model, ms, epochs=1, batch_size=3, lr=1e-3, progress=False, out_dir=tmp_path / "run")
    model = build_model("lpalm", ms, layers=2)
    r = train(model, open_stored(d / "set.npz"), epochs=2, batch_size=3, lr=1e-3, progress=False,
              out_dir=tmp_path / "run", resume=True)
    assert all(torch.equal(full[k], v) for k, v in r.model.state_dict().items())
    with pytest.raises(ValueError, match="resume needs the training data of the interrupted run"):
        train(build_model("lpalm", ms, layers=2), open_stored(d / "valid.npz"), epochs=3, batch_size=3, lr=1e-3,
              progress=False, out_dir=tmp_path / "run", resume=True)


def test_a_non_finite_value_is_found_chunk_by_chunk(tmp_path, monkeypatch):
    ms = simulate_xray(**KW)
    X = ms.X.copy()
    X[-1, 0, -1] = np.nan  # in the last chunk
    np.savez(tmp_path / "nan.npz", X=X, A=ms.A, S=ms.S)
    monkeypatch.setattr(stored_mod, "CHUNK_BYTES", 1)  # one mixture per chunk
    st = open_stored(tmp_path / "nan.npz")
    assert st.X.row_block() == 1
    with pytest.raises(ValueError, match=r"^train_set\.X must contain only finite values; got NaN or infinite"):
        as_dataset(st)
    np.savez(tmp_path / "big.npz", X=ms.X.astype(np.float64) * 1e39, A=ms.A, S=ms.S)  # finite, inf in float32
    with pytest.raises(ValueError, match=r"train_set\.X must contain only finite values"):
        as_dataset(tmp_path / "big.npz", dtype=torch.float32)
    assert isinstance(as_dataset(tmp_path / "big.npz", dtype=torch.float64), StoredSet)


def test_the_dynamic_range_check_of_a_stored_set_says_what_the_in_memory_check_says(tmp_path):
    ms = simulate_xray(**KW)
    np.savez(tmp_path / "huge.npz", X=ms.X * np.float32(1e19), A=ms.A, S=ms.S)
    messages = []
    for data in (open_stored(tmp_path / "huge.npz"), load_dataset(tmp_path / "huge.npz", lazy=False)):
        with pytest.raises(ValueError, match=r"too large to compute with in float32") as err:
            train(build_model("lpalm", ms, layers=2), data, epochs=1, progress=False)
        messages.append(str(err.value))
    assert messages[0] == messages[1]


def test_a_compressed_npz_is_read_into_memory_with_a_notice(tmp_path, capsys):
    ms = simulate_xray(**KW)
    np.savez_compressed(tmp_path / "c.npz", X=ms.X, A=ms.A, S=ms.S)
    st = open_stored(tmp_path / "c.npz")
    err = capsys.readouterr().err
    assert "X in" in err and "is compressed and cannot be memory-mapped; reading it into memory" in err
    assert not isinstance(st._sources["X"], np.memmap)
    np.testing.assert_array_equal(st.X[:].numpy(), ms.X)


def test_a_single_mixture_file_is_a_set_of_one(tmp_path):
    ms = simulate_xray(**KW)
    np.savez(tmp_path / "one.npz", X=ms.X[0], A=ms.A[0], S=ms.S[0])
    st = open_stored(tmp_path / "one.npz")
    assert len(st) == 1 and tuple(st.X.shape) == (1, 65, 40)
    np.testing.assert_array_equal(st.S[0].numpy(), ms.S[0])


def test_broken_stored_files_are_refused_with_a_sentence(tmp_path, monkeypatch):
    ms = simulate_xray(**KW)
    np.savez(tmp_path / "noS.npz", X=ms.X, A=ms.A)
    with pytest.raises(ValueError, match=r"^dataset '.*noS\.npz' must hold arrays X, A and S; S missing\.$"):
        open_stored(tmp_path / "noS.npz", argument="dataset")
    np.savez(tmp_path / "shape.npz", X=ms.X, A=ms.A[:, :, :3], S=ms.S)
    with pytest.raises(ValueError, match=r"with matching N, m, n, t; got shapes \(7, 65, 40\), \(7, 65, 3\)"):
        open_stored(tmp_path / "shape.npz")
    np.savez(tmp_path / "ok.npz", X=ms.X, A=ms.A, S=ms.S)
    raw = (tmp_path / "ok.npz").read_bytes()
    with zipfile.ZipFile(tmp_path / "ok.npz") as zf:
        end_of_x = zf.getinfo("X.npy").header_offset + 200
    (tmp_path / "cut.npz").write_bytes(raw[:end_of_x])  # X's data cut short (the central directory is gone too)
    with pytest.raises(ValueError, match=r"not a readable \.npz archive"):
        open_stored(tmp_path / "cut.npz")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"is not a readable \.npz archive"):
        open_stored(tmp_path / "notes.txt")
    (tmp_path / "fake.h5").write_text("hello")
    with pytest.raises(ValueError, match=r"is not an HDF5 file"):
        open_stored(tmp_path / "fake.h5")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_stored(tmp_path / "absent.npz")
    monkeypatch.setitem(sys.modules, "h5py", None)  # h5py not installed
    with pytest.raises(ValueError, match=r"needs the optional 'h5py' package"):
        open_stored(tmp_path / "fake.h5")
    with pytest.raises(ValueError, match=r"writing '.*x\.h5' needs the optional 'h5py' package"):
        simulate_to_file(tmp_path / "x.h5", **KW)
    assert not (tmp_path / "x.h5").exists()


def test_a_member_shorter_than_its_header_declares_is_refused(tmp_path):
    ms = simulate_xray(**KW)
    path = tmp_path / "short.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        import io

        for k, v in (("X", ms.X), ("A", ms.A), ("S", ms.S)):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, v)
            data = buf.getvalue()
            zf.writestr(f"{k}.npy", data[:-40] if k == "S" else data)
    with pytest.raises(ValueError, match=r"^S in '.*short\.npz' declares .* the file is truncated or damaged\.$"):
        open_stored(path)


@pytest.mark.parametrize("options", [dict(KW), dict(n_samples=5, image=(16, 16), sources="natural",
                                                    snr_db=float("inf"), rng=1, chunk_size=2, dtype="float64")])
def test_the_streamed_simulation_is_the_in_memory_one(tmp_path, options):
    import h5py

    ms = simulate_xray(**options)
    ms.save(tmp_path / "mem.npz")
    simulate_to_file(tmp_path / "stream.npz", **options)
    assert (tmp_path / "stream.npz").read_bytes() == (tmp_path / "mem.npz").read_bytes()
    simulate_to_file(tmp_path / "stream.h5", **options)
    with h5py.File(tmp_path / "stream.h5") as f:
        for k in ("X", "A", "S", "noise", "energies"):
            ref = getattr(ms, k)
            assert (k in f) == (ref is not None)
            if ref is not None:
                np.testing.assert_array_equal(f[k][()], ref)
                assert f[k].dtype == ref.dtype
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_a_failed_streamed_write_leaves_no_file(tmp_path, monkeypatch):
    from semiblind.data import mixtures

    calls = []
    real = mixtures._checked

    def fail_late(key, v, shape, start):
        calls.append(start)
        if start >= 3:
            raise ValueError("simulated failure")
        return real(key, v, shape, start)

    monkeypatch.setattr(mixtures, "_checked", fail_late)
    for name in ("f.npz", "f.h5"):
        with pytest.raises(ValueError, match="simulated failure"):
            simulate_to_file(tmp_path / name, **KW)
    assert calls and list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match=r"path must end in \.npz, \.h5, \.hdf5"):
        simulate_to_file(tmp_path / "f.txt", **KW)
    with pytest.raises(TypeError, match="options must be keyword arguments of simulate_xray"):
        simulate_to_file(tmp_path / "f.npz", n_samples=2, pixels=10, colour="red")
