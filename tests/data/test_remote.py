"""Remote-sensing scenes: the earthlib library, spectral variability, abundances, the linear mixing model."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("earthlib")

from semiblind.data import remote


@pytest.fixture(scope="module")
def lib():
    return remote.endmember_library()


def test_library_bands_and_independent_reader(lib):
    assert lib.spectra.shape == (7261, 180)
    assert lib.wavelengths.shape == (180,)
    assert lib.wavelengths[0] == pytest.approx(0.40) and lib.wavelengths[-1] == pytest.approx(2.45)
    assert np.all(np.diff(lib.wavelengths) > 0)
    envi = pytest.importorskip("spectral.io.envi")
    ref = envi.open(lib.path + ".hdr", lib.path)
    np.testing.assert_allclose(lib.spectra, ref.spectra, rtol=0, atol=1e-7)
    np.testing.assert_allclose(lib.wavelengths, ref.bands.centers)


@pytest.mark.parametrize("seed", range(5))
def test_vegetation_has_a_red_edge_and_soil_does_not(lib, seed):
    # Green canopies absorb red light (chlorophyll, ≈ 0.67 µm) and scatter near-infrared (≈ 0.8 µm) strongly.
    A, cls, _ = remote.select_endmembers(2, seed, classes=["vegetation", "soil"], library=lib)
    red = np.argmin(np.abs(lib.wavelengths - 0.67))
    nir = np.argmin(np.abs(lib.wavelengths - 0.80))
    assert cls == ["vegetation", "soil"]
    assert A[nir, 0] > 2.0 * A[red, 0]
    assert A[nir, 1] < 2.0 * A[red, 1]


def test_select_endmembers_default_classes_and_errors(lib):
    A, cls, names = remote.select_endmembers(5, 0, library=lib)
    assert A.shape == (180, 5) and len(set(names)) == 5
    assert cls[:3] == ["vegetation", "soil", "urban"]
    with pytest.raises(ValueError, match="classes"):
        remote.select_endmembers(2, 0, classes=["lava"], library=lib)
    with pytest.raises(ValueError, match="burned"):
        remote.select_endmembers(30, 0, classes=["burned"], library=lib)  # only 21 burned spectra


def test_spectral_variability_is_bounded_piecewise_linear(lib):
    A, _, _ = remote.select_endmembers(3, 1, library=lib)
    lam = lib.wavelengths
    V = remote.spectral_variability(A, lam, 2, amplitude=0.2, n_knots=4)
    ratio = V / A
    assert np.all(ratio >= 0.8 - 1e-12) and np.all(ratio <= 1.2 + 1e-12)
    # piecewise linear in λ with 2 interior knots: the slope changes in at most 2 intervals per column
    slope = np.diff(ratio, axis=0) / np.diff(lam)[:, None]
    changes = (np.abs(np.diff(slope, axis=0)) > 1e-9).sum(axis=0)
    assert np.all(changes <= 2 * 2)  # each kink touches at most two consecutive slope differences
    np.testing.assert_array_equal(remote.spectral_variability(A, lam, 2, amplitude=0.0), A)


def test_abundances_sum_to_one_smooth_with_pure_pixels():
    S = remote.smooth_abundances(4, 40, 50, 3, pure_fraction=0.1)
    assert S.shape == (4, 40, 50)
    assert S.min() >= 0
    np.testing.assert_allclose(S.sum(axis=0), 1.0, atol=1e-12)
    assert (S.max(axis=0) == 1.0).sum() == round(0.1 * 40 * 50)
    # spatial smoothness: neighbouring pixels differ far less than randomly paired pixels
    d_near = np.abs(np.diff(S, axis=2)).mean()
    flat = S.reshape(4, -1)
    d_rand = np.abs(flat - flat[:, np.random.default_rng(0).permutation(flat.shape[1])]).mean()
    assert d_near < 0.25 * d_rand
    with pytest.raises(ValueError, match="pure_fraction"):
        remote.smooth_abundances(3, 8, 8, 0, pure_fraction=1.5)


def test_simulate_scene_linear_model_and_seed():
    sc = remote.simulate_scene(3, 12, 10, 4, classes=["vegetation", "soil", "road"])
    assert sc.X.shape == (180, 12, 10) and sc.A.shape == (180, 3) and sc.S.shape == (3, 12, 10)
    np.testing.assert_allclose(sc.X, np.einsum("mn,nhw->mhw", sc.A, sc.S), rtol=1e-12)
    assert sc.classes == ["vegetation", "soil", "road"]
    again = remote.simulate_scene(3, 12, 10, 4, classes=["vegetation", "soil", "road"])
    np.testing.assert_array_equal(sc.X, again.X)


def test_missing_library_says_what_to_install(monkeypatch):
    monkeypatch.setattr(remote.importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ValueError, match=r"semiblind\[remote\]"):
        remote.endmember_library.__wrapped__(None)
