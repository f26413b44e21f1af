"""The realistic protocol's data (LPALM paper §3.2, App. B): GGD training set, detail-domain and direct test sets."""

import numpy as np
import pytest

from semiblind.data import realistic
from semiblind.mixing import realised_snr_db


@pytest.fixture(scope="module")
def fits():
    return realistic.ggd_fits(realistic.reference_maps(0, (64, 64)))


def _A(n=3, seed=0):
    return realistic.mixing_matrices("simulator", n_train=n, n_test=n, seed=seed)


def test_training_set_follows_the_fitted_statistics(fits):
    A_tr, _, origin = _A(4)
    assert origin == "simulator"
    ms = realistic.training_set(A_tr, fits, pixels=3000, rng=1)
    assert ms.X.shape == (4, A_tr.shape[1], 3000) and ms.S.shape == (4, 4, 3000)
    # the fraction of non-zeros of every source row is the fitted p; rows have unit l2 norm; 30 dB
    frac = (ms.S != 0).mean(axis=(0, 2))
    np.testing.assert_allclose(frac, [f.p for f in fits], atol=1.5 / 3000)
    np.testing.assert_allclose(np.linalg.norm(ms.S, axis=-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(realised_snr_db(ms.X - ms.noise, ms.noise), 30.0, atol=1e-3)
    again = realistic.training_set(A_tr, fits, pixels=3000, rng=1)
    np.testing.assert_array_equal(ms.X, again.X)


def test_training_set_from_a_bank_of_reference_images():
    maps = realistic.reference_maps(0, (64, 64), n_images=3)
    assert maps.shape == (3, 4, 64, 64)
    bank = realistic.ggd_fits(maps)
    assert len(bank) == 3 and all(len(b) == 4 for b in bank)
    A_tr, _, _ = _A(12)
    ms = realistic.training_set(A_tr, bank, pixels=3000, rng=1)
    # every mixture takes all four sources from one reference image's fits, and the set uses several images
    frac = (ms.S != 0).mean(axis=2)  # (12, 4)
    ps = np.array([[f.p for f in b] for b in bank])  # (3, 4)
    dist = np.abs(frac[:, None, :] - ps[None]).max(axis=-1)  # (12, 3)
    assert (dist.min(axis=1) <= 1.5 / 3000).all()
    assert len(set(dist.argmin(axis=1).tolist())) > 1
    np.testing.assert_array_equal(ms.X, realistic.training_set(A_tr, bank, pixels=3000, rng=1).X)
    assert len(ms.meta["fits"]) == 3
    with pytest.raises(TypeError, match="fits must be"):
        realistic.training_set(A_tr, [bank[0], bank[1][:3]])
    with pytest.raises(ValueError, match="n_images"):
        realistic.reference_maps(0, (32, 32), n_images=0)


def test_detail_test_set_randomised_and_not(fits):
    _, A_te, _ = _A(2)
    rnd = realistic.detail_test_set(A_te, image=(32, 32), randomize=True, seed=3)
    keep = realistic.detail_test_set(A_te, image=(32, 32), randomize=False, seed=3)
    assert rnd.S.shape == keep.S.shape == (2, 4, 1024)
    # same coefficients, permuted per source: equal sorted values, different order
    np.testing.assert_allclose(np.sort(rnd.S, axis=-1), np.sort(keep.S, axis=-1), atol=1e-6)
    assert not np.allclose(rnd.S, keep.S)
    # detail coefficients have both signs and zero mean-ish; rows of unit norm
    assert (keep.S < 0).any() and (keep.S > 0).any()
    np.testing.assert_allclose(np.linalg.norm(keep.S, axis=-1), 1.0, rtol=1e-5)
    direct = realistic.direct_test_set(A_te, image=(32, 32), seed=3)
    assert direct.X.shape == (2, A_te.shape[1], 32, 32) and (direct.S >= 0).all()


def test_reference_maps_are_not_test_maps():
    ref = realistic.reference_maps(0, (32, 32))
    _, A_te, _ = _A(1)
    direct = realistic.direct_test_set(A_te, image=(32, 32), seed=0)
    ref_n = ref / np.linalg.norm(ref.reshape(4, -1), axis=-1)[:, None, None]
    assert not np.allclose(ref_n, direct.S[0], atol=1e-3)


def test_paper_matrices_split(shared_xray):
    A_tr, A_te, origin = realistic.mixing_matrices("paper", n_train=750, n_test=150, data_path=shared_xray)
    assert origin == "paper" and A_tr.shape == (750, 65, 4) and A_te.shape == (150, 65, 4)


def test_bad_arguments_name_themselves(fits):
    with pytest.raises(ValueError, match="source"):
        realistic.mixing_matrices("nowhere")
    with pytest.raises(ValueError, match="image"):
        realistic.detail_test_set(np.ones((1, 65, 4)), image=(4, 4))
    with pytest.raises(ValueError, match="A must be"):
        realistic.training_set(np.ones((1, 65, 3)), fits)


def test_cube_training_set_columns_are_columns_of_the_transformed_cube():
    # noiseless: every column is a true column of the cube's detail scales, X = A S exactly (the same positions for
    # every channel and source), scaled to the training energy ||X||_F^2 = n
    ms = realistic.cube_training_set(3, image=(32, 32), n_scales=2, pixels=400, snr_db=np.inf, rng=3)
    assert ms.X.shape == (3, 65, 400) and ms.A.shape == (3, 65, 4) and ms.S.shape == (3, 4, 400)
    assert ms.meta["pixels"] == 400 and ms.meta["n_scales"] == 2
    np.testing.assert_allclose(np.einsum("bmn,bnt->bmt", ms.A, ms.S), ms.X, atol=1e-6 * np.abs(ms.X).max())
    np.testing.assert_allclose((ms.X.astype(np.float64) ** 2).sum(axis=(1, 2)), 4.0, rtol=1e-5)
    # the sources keep their spatial overlaps: detail coefficients of overlapping maps are correlated
    corr = np.corrcoef(ms.S[0])
    assert np.abs(corr[np.triu_indices(4, 1)]).max() > 0.05
    # 30 dB on the direct-domain cube: the noise's coefficients are a small but real part of X
    noisy = realistic.cube_training_set(3, image=(32, 32), n_scales=2, pixels=400, rng=3)
    r = noisy.X - np.einsum("bmn,bnt->bmt", noisy.A, noisy.S)
    assert 1e-4 < float((r**2).sum() / (noisy.X**2).sum()) < 0.1
    again = realistic.cube_training_set(3, image=(32, 32), n_scales=2, pixels=400, rng=3)
    np.testing.assert_array_equal(noisy.X, again.X)
    other = realistic.cube_training_set(3, image=(32, 32), n_scales=2, pixels=400, rng=4)
    assert not np.array_equal(noisy.X, other.X)


@pytest.mark.parametrize("kw, word", [({"pixels": 10**6}, "pixels"), ({"n_scales": 0}, "n_scales"),
                                      ({"image": (4, 4)}, "image"), ({"chunk_size": 0}, "chunk_size")])
def test_cube_training_set_bad_arguments(kw, word):
    with pytest.raises(ValueError, match=word):
        realistic.cube_training_set(2, **{"image": (32, 32), "pixels": 100, **kw})
    with pytest.raises(ValueError, match="n_samples"):
        realistic.cube_training_set(0)
