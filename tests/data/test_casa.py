"""Loaders of the papers' Cas A spectra (semiblind.data.casa); skipped when ../shared/data/xray is absent."""

from __future__ import annotations

import numpy as np
import pytest

from semiblind.data import casa


def test_load_65_channel_set(shared_xray):
    d = casa.load_spectra(65, shared_xray)
    assert {k: v.shape for k, v in d.items() if k in casa.FAMILIES_65} == {
        "synchrotron": (900, 65), "thermal": (1000, 65), "iron_1": (900, 65), "iron_2": (900, 65)}
    for k in casa.FAMILIES_65:
        assert d[k].dtype == np.float64 and np.all(d[k] >= 0)
        np.testing.assert_allclose(np.linalg.norm(d[k], axis=1), 1.0, atol=1e-6)


def test_path_may_be_the_file_or_come_from_the_environment(shared_xray, monkeypatch):
    a = casa.load_spectra(65, shared_xray / casa.FILES[65])
    monkeypatch.setenv("SEMIBLIND_SHARED_XRAY", str(shared_xray))
    b = casa.load_spectra(65)
    np.testing.assert_array_equal(a["iron_1"], b["iron_1"])


def test_paper_mixing_matrices_take_row_i_of_each_family(shared_xray):
    As = casa.paper_mixing_matrices(shared_xray)
    d = casa.load_spectra(65, shared_xray)
    assert As.shape == (900, 65, 4)
    for j, fam in enumerate(casa.FAMILIES_65):
        np.testing.assert_array_equal(As[:, :, j], d[fam][:900])


def test_lpalm_split_reproduces_the_750_150_protocol(shared_xray):
    As = casa.paper_mixing_matrices(shared_xray)
    train, test = casa.lpalm_split(As)
    assert len(train) == 750 and len(test) == 150
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(900))
    # an independent, loop-based computation of the criterion: sum over columns of the cosine to matrix 0
    A0 = As[0]
    score = np.array([sum(float(A[:, j] @ A0[:, j]) / (np.linalg.norm(A[:, j]) * np.linalg.norm(A0[:, j]))
                          for j in range(4)) for A in As])
    assert score[test].max() <= score[train].min()
    assert 0 in train  # matrix 0 is the most similar to itself
    assert np.all(np.diff(score[test]) >= 0) and np.all(np.diff(score[train]) >= 0)


def test_lpalm_split_on_a_toy_stack():
    # matrix k rotates the columns of matrix 0 by an angle growing with k: the last ones are the least similar
    angles = np.linspace(0, 1.2, 10)
    As = np.stack([np.stack([np.cos(a) * np.eye(3)[:, j] + np.sin(a) * np.eye(3)[:, (j + 1) % 3]
                             for j in range(3)], axis=1) for a in angles])
    train, test = casa.lpalm_split(As, n_test=3)
    assert test.tolist() == [9, 8, 7] and train.tolist() == [6, 5, 4, 3, 2, 1, 0]
    with pytest.raises(ValueError, match="n_test"):
        casa.lpalm_split(As, n_test=10)
    with pytest.raises(ValueError, match="As"):
        casa.lpalm_split(As[0])


def test_sgmca_splits(shared_xray):
    sizes = {"synchrotron": (3, 541, 178, 178), "thermal": (3, 601, 198, 198), "line": (2, 600, 200, 200)}
    for fam, expected in sizes.items():
        s = casa.sgmca_splits(fam, shared_xray)
        assert tuple(s[k].shape[0] for k in casa.SGMCA_SPLITS) == expected
        for arr in s.values():
            assert arr.shape[1] == 75
            np.testing.assert_allclose(arr.sum(axis=1), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="family"):
        casa.sgmca_splits("iron", shared_xray)


def test_65_channel_continua_are_the_75_channel_ones_without_the_first_10(shared_xray):
    d65 = casa.load_spectra(65, shared_xray)
    d75 = casa.load_spectra(75, shared_xray)
    all75 = np.concatenate([d75[f"synchrotron_{s}"] for s in casa.SGMCA_SPLITS])
    cut = all75[:, 10:] / np.linalg.norm(all75[:, 10:], axis=1, keepdims=True)
    # every 65-channel synchrotron row appears among the cut, renormalised 75-channel rows
    dist = np.abs(d65["synchrotron"][:50, None, :] - cut[None, :, :]).max(-1).min(-1)
    assert dist.max() < 1e-6


def test_missing_files_give_a_clear_file_not_found_error(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="SEMIBLIND_SHARED_XRAY|pass the folder"):
        casa.load_spectra(65, tmp_path)
    monkeypatch.setenv("SEMIBLIND_SHARED_XRAY", str(tmp_path))
    monkeypatch.setenv("SEMIBLIND_SHARED_DATA", str(tmp_path))
    monkeypatch.setattr(casa, "_REPO", tmp_path / "repo")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="SEMIBLIND_SHARED_XRAY"):
        casa.load_spectra(75)
    with pytest.raises(ValueError, match="which"):
        casa.load_spectra(64, tmp_path)


def test_files_without_the_expected_arrays_are_rejected(tmp_path):
    np.savez(tmp_path / casa.FILES[65], synchrotron=np.ones((3, 65)))
    with pytest.raises(ValueError, match="lacks"):
        casa.load_spectra(65, tmp_path)
