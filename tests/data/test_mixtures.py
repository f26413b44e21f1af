"""MixtureSet (validation, files, indexing, splits, torch view) and the simulators."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

from semiblind.data import MixtureSet, simulate_paper_xray, simulate_remote, simulate_xray
from semiblind.data.xray import EnergyGrid


def _toy(N=6, m=5, n=2, t=7, seed=0, image=None):
    g = np.random.default_rng(seed)
    A = g.random((N, m, n))
    S = g.random((N, n, t))
    noise = 0.01 * g.standard_normal((N, m, t))
    X = A @ S + noise
    if image is not None:
        X, S, noise = X.reshape(N, m, *image), S.reshape(N, n, *image), noise.reshape(N, m, *image)
    return MixtureSet(X, A, S, noise, np.linspace(1, 2, m), {"who": "test"})


# ------------------------------------------------------------------------------------------ validation


def test_shape_errors_are_one_clear_sentence():
    ms = _toy()
    with pytest.raises(ValueError, match=r"X must be .*got an array of shape \(5, 7\)"):
        MixtureSet(ms.X[0])
    with pytest.raises(ValueError, match=r"A must have shape \(N, m, n\) = \(6, 5, n\)"):
        MixtureSet(ms.X, ms.A[:, :4])
    with pytest.raises(ValueError, match="S must have shape"):
        MixtureSet(ms.X, ms.A, ms.S[:, :, :3])
    with pytest.raises(ValueError, match="noise must have the shape of X"):
        MixtureSet(ms.X, noise=ms.noise[:2])
    with pytest.raises(ValueError, match="energies must be"):
        MixtureSet(ms.X, energies=np.ones(3))
    with pytest.raises(TypeError, match="meta must be JSON"):
        MixtureSet(ms.X, meta={"a": object()})
    with pytest.raises(ValueError, match="finite"):
        MixtureSet(np.full((2, 3, 4), np.nan))


def test_flat_sources_are_accepted_for_image_data():
    ms = _toy(t=12, image=(3, 4))
    flat = MixtureSet(ms.X, ms.A, ms.S.reshape(6, 2, 12))
    assert flat.S.shape == (6, 2, 3, 4) and flat.image_shape == (3, 4) and flat.n_pixels == 12


# ---------------------------------------------------------------------------------------------- files


def test_save_load_round_trip_and_deterministic_bytes(tmp_path):
    ms = _toy()
    p1, p2 = tmp_path / "a.npz", tmp_path / "b.npz"
    ms.save(p1)
    ms.save(p2)
    assert p1.read_bytes() == p2.read_bytes()
    with np.load(p1, allow_pickle=False) as z:
        assert sorted(z.files) == ["A", "S", "X", "energies", "meta", "noise"]
        assert json.loads(str(z["meta"]))["who"] == "test"
    back = MixtureSet.load(p1)
    for k in ("X", "A", "S", "noise", "energies"):
        np.testing.assert_array_equal(getattr(back, k), getattr(ms, k))
    assert back.meta == {"who": "test"} and not back.single
    with pytest.raises(FileExistsError):
        ms.save(p1, overwrite=False)
    with pytest.raises(ValueError, match=r"\.npz"):
        ms.save(tmp_path / "a.txt")
    assert not list(tmp_path.glob(".*part*"))  # no temporary files left behind


def test_single_mixture_files(tmp_path):
    g = np.random.default_rng(1)
    A, S = g.random((6, 2)), g.random((2, 20))
    np.savez(tmp_path / "one.npz", X=A @ S, A=A, S=S)
    ms = MixtureSet.load(tmp_path / "one.npz")
    assert len(ms) == 1 and ms.single and ms.X.shape == (1, 6, 20)
    ms.save(tmp_path / "again.npz")
    with np.load(tmp_path / "again.npz", allow_pickle=False) as z:
        assert z["X"].shape == (6, 20) and z["A"].shape == (6, 2)
    assert MixtureSet.load(tmp_path / "again.npz").single
    # a cube alone is one mixture (m, H, W); with 3-D A it is a batch
    np.savez(tmp_path / "cube.npz", X=g.random((6, 4, 5)))
    cube = MixtureSet.load(tmp_path / "cube.npz")
    assert cube.X.shape == (1, 6, 4, 5) and cube.image_shape == (4, 5)
    np.savez(tmp_path / "batch.npz", X=g.random((3, 6, 5)), A=g.random((3, 6, 2)))
    assert MixtureSet.load(tmp_path / "batch.npz").X.shape == (3, 6, 5)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        MixtureSet.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "nox.npz", Y=np.ones((2, 3)))
    with pytest.raises(ValueError, match="'X'"):
        MixtureSet.load(tmp_path / "nox.npz")
    np.savez(tmp_path / "obj.npz", X=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="never loads"):
        MixtureSet.load(tmp_path / "obj.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError):
        MixtureSet.load(tmp_path / "junk.npz")
    with zipfile.ZipFile(tmp_path / "badmeta.npz", "w") as zf:
        with zf.open("X.npy", "w") as fh:
            np.lib.format.write_array(fh, np.ones((2, 3, 4)))
        with zf.open("meta.npy", "w") as fh:
            np.lib.format.write_array(fh, np.asarray("{not json"))
    with pytest.raises(ValueError, match="JSON"):
        MixtureSet.load(tmp_path / "badmeta.npz")


# ----------------------------------------------------------------------------------- indexing and split


def test_indexing_and_split():
    ms = _toy(N=10)
    assert len(ms) == 10 and ms.n_channels == 5 and ms.n_sources == 2
    one = ms[3]
    assert len(one) == 1
    np.testing.assert_array_equal(one.X[0], ms.X[3])
    np.testing.assert_array_equal(ms[-1].A[0], ms.A[9])
    assert len(ms[2:5]) == 3 and len(ms[[0, 2]]) == 2 and len(ms[ms.X[:, 0, 0] > -1]) == 10
    with pytest.raises(IndexError):
        ms[10]
    a, b = ms.split((0.7, 0.3))
    assert (len(a), len(b)) == (7, 3)
    np.testing.assert_array_equal(np.concatenate([a.X, b.X]), ms.X)  # no rng: order kept
    c, d = ms.split((6, 2), rng=0)
    assert (len(c), len(d)) == (6, 2)
    rows = {x.tobytes() for x in np.concatenate([c.X, d.X])}
    assert len(rows) == 8 and rows <= {x.tobytes() for x in ms.X}
    e, _ = ms.split((6, 2), rng=0)
    np.testing.assert_array_equal(c.X, e.X)
    with pytest.raises(ValueError, match="summing to 1"):
        ms.split((0.5, 0.4))
    with pytest.raises(ValueError, match="at most 10"):
        ms.split((8, 5))
    with pytest.raises(ValueError, match="summing to 1"):
        ms.split((0.5, 5))
    with pytest.raises(TypeError, match="sizes must be"):
        ms.split("half")


def test_torch_dataset_flattens_images():
    ms = _toy(t=12, image=(3, 4))
    ds = ms.torch_dataset()
    assert isinstance(ds, torch.utils.data.Dataset) and len(ds) == 6
    X, A, S = ds[2]
    assert X.shape == (5, 12) and A.shape == (5, 2) and S.shape == (2, 12) and X.dtype == torch.float32
    noise = torch.as_tensor(ms.noise[2].reshape(5, 12), dtype=torch.float32)
    torch.testing.assert_close(A @ S + noise, X, rtol=1e-5, atol=1e-6)
    assert ms.torch_dataset("float64")[0][0].dtype == torch.float64
    assert ms.torch_dataset(targets=False)[0].shape == (5, 12)
    with pytest.raises(ValueError, match="needs A and S"):
        MixtureSet(ms.X).torch_dataset()


# -------------------------------------------------------------------------------------------- simulators


def test_simulate_xray_model_snr_and_seed():
    ms = simulate_xray(6, pixels=80, snr_db=25.0, rng=3)
    assert ms.X.shape == (6, 65, 80) and ms.A.shape == (6, 65, 4) and ms.S.shape == (6, 4, 80)
    assert ms.X.dtype == np.float32
    np.testing.assert_allclose(ms.snr_db(), 25.0, atol=1e-3)
    clean = np.einsum("bmn,bnt->bmt", ms.A.astype(float), ms.S.astype(float))
    np.testing.assert_allclose(ms.X - ms.noise, clean, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ms.S, axis=-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(ms.energies, EnergyGrid.default().centers)
    assert ms.meta["seed"] == 3 and ms.meta["sources"] == "ggd"
    same = simulate_xray(6, pixels=80, snr_db=25.0, rng=3)
    np.testing.assert_array_equal(same.X, ms.X)
    assert not np.array_equal(simulate_xray(6, pixels=80, snr_db=25.0, rng=4).X, ms.X)
    # chunks have their own generators but the set is still fully determined by the seed
    np.testing.assert_array_equal(simulate_xray(6, pixels=80, snr_db=25.0, rng=3, chunk_size=2).X,
                                  simulate_xray(6, pixels=80, snr_db=25.0, rng=3, chunk_size=2).X)


def test_simulate_xray_image_sources_and_randomization():
    plain = simulate_xray(3, image=(24, 24), sources="casa-like", rng=0, snr_db=40)
    shuffled = simulate_xray(3, image=(24, 24), sources="casa-like", rng=0, snr_db=40, randomize_pixels=True)
    assert plain.X.shape == (3, 65, 24, 24) and plain.S.min() >= 0
    a, b = plain.S.reshape(3, 4, -1), shuffled.S.reshape(3, 4, -1)
    np.testing.assert_array_equal(np.sort(a, axis=-1), np.sort(b, axis=-1))  # same maps, pixels permuted
    assert not np.array_equal(a, b)
    nat = simulate_xray(2, image=(16, 16), sources="natural", rng=0, dtype="float64")
    assert nat.X.dtype == np.float64 and nat.S.min() >= 0
    fit = simulate_xray(2, pixels=300, sources="ggd-fit", rng=0)
    assert len(fit.meta["ggd_fits"]) == 4 and (fit.S == 0).any()
    with pytest.raises(ValueError, match="needs image"):
        simulate_xray(2, pixels=100, sources="casa-like")
    with pytest.raises(ValueError, match="exactly one of pixels"):
        simulate_xray(2, pixels=100, image=(10, 10))
    with pytest.raises(ValueError, match="sources must be one of"):
        simulate_xray(2, pixels=100, sources="gauss")
    with pytest.raises(ValueError, match="snr_db"):
        simulate_xray(2, pixels=100, snr_db=float("nan"))


def test_simulate_xray_without_noise():
    ms = simulate_xray(2, pixels=30, snr_db=float("inf"), rng=0)
    assert ms.noise is None
    np.testing.assert_allclose(ms.X, ms.A @ ms.S, atol=1e-6)


def test_simulate_paper_xray_65(shared_xray):
    from semiblind.data import casa

    bank = casa.paper_mixing_matrices(shared_xray)
    _, test_idx = casa.lpalm_split(bank)
    ms = simulate_paper_xray(None, 65, pixels=20, subset="test", path=shared_xray, rng=0)
    assert ms.A.shape == (150, 65, 4) and ms.X.shape == (150, 65, 20)
    np.testing.assert_allclose(ms.A, bank[test_idx], rtol=1e-6, atol=1e-30)
    assert ms.energies is None and ms.meta["matrix_indices"] == [int(i) for i in test_idx]
    np.testing.assert_allclose(ms.snr_db(), 30.0, atol=1e-3)


def test_simulate_paper_xray_75(shared_xray):
    ms = simulate_paper_xray(5, 75, image=(12, 12), sources="casa-like", subset="train", path=shared_xray,
                             rng=0)
    assert ms.A.shape == (5, 75, 3) and ms.S.shape == (5, 3, 12, 12)
    np.testing.assert_allclose(ms.A.sum(axis=1), 1.0, rtol=1e-5)  # the sGMCA spectra have unit l1 norm
    with pytest.raises(ValueError, match="n_samples must be given"):
        simulate_paper_xray(None, 75, pixels=10, path=shared_xray)
    with pytest.raises(ValueError, match="spectra must be 65"):
        simulate_paper_xray(2, 70, pixels=10)


def test_simulate_remote():
    pytest.importorskip("earthlib")
    ms = simulate_remote(2, image=(10, 8), n_sources=3, snr_db=35.0, rng=0)
    assert ms.X.shape == (2, 180, 10, 8) and ms.A.shape == (2, 180, 3) and ms.S.shape == (2, 3, 10, 8)
    np.testing.assert_allclose(ms.S.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(ms.snr_db(), 35.0, atol=1e-3)
    assert ms.meta["channel_unit"] == "um" and ms.energies[0] == pytest.approx(0.4)
    assert len(ms.meta["endmember_names"]) == 2


def test_one_rule_for_one_mixture_or_a_batch(tmp_path):
    """MixtureSet.load and semiblind.io.load_input agree on a batch saved without A (meta['single'] decides)."""
    from semiblind import io

    g = np.random.default_rng(0)
    ms = MixtureSet(g.random((3, 6, 5)), None, g.random((3, 2, 5)))  # a batch of 3, no A: X is 3-D
    ms.save(tmp_path / "batch_noA.npz")
    back = MixtureSet.load(tmp_path / "batch_noA.npz")
    assert back.X.shape == (3, 6, 5) and not back.single
    cube = io.load_input(tmp_path / "batch_noA.npz", index=2)
    np.testing.assert_array_equal(cube.X, ms.X[2])
    assert cube.meta["n_samples"] == 3
    one = MixtureSet(g.random((1, 6, 4, 5)), single=True)
    one.save(tmp_path / "cube.npz")
    assert io.load_input(tmp_path / "cube.npz").X.shape == (6, 4, 5)
    assert MixtureSet.load(tmp_path / "cube.npz").single
    np.savez(tmp_path / "badflag.npz", X=np.ones((2, 3)), meta=np.asarray('{"single": "yes"}'))
    for load in (MixtureSet.load, io.load_input):
        with pytest.raises(ValueError, match="single"):
            load(tmp_path / "badflag.npz")
