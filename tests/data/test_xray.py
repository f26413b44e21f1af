"""Physics and contract tests of the Cas A X-ray spectra simulator (semiblind.data.xray)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import special

from semiblind.data import xray
from semiblind.data.xray import EnergyGrid

C = 299_792.458


def _centroid(spec: np.ndarray, energies: np.ndarray) -> np.ndarray:
    return (spec * energies).sum(-1) / spec.sum(-1)


# ---------------------------------------------------------------------------------------------------- grid


def test_default_grid_is_65_linear_channels_over_0p5_to_7p5_kev():
    g = EnergyGrid.default()
    assert g.m == 65 and len(g) == 65 and g.name == "chandra-acis-65"
    assert g.edges[0] == pytest.approx(0.5) and g.edges[-1] == pytest.approx(7.5)
    np.testing.assert_allclose(g.widths, 7.0 / 65)
    np.testing.assert_allclose(g.centers, 0.5 + 7.0 / 65 * (np.arange(65) + 0.5))


def test_log_grid_has_constant_ratio_and_json_round_trip():
    g = EnergyGrid.log(0.6, 7.6, 75, name="log-75")
    ratios = g.edges[1:] / g.edges[:-1]
    np.testing.assert_allclose(ratios, (7.6 / 0.6) ** (1 / 75))
    back = EnergyGrid.from_dict(json.loads(json.dumps(g.to_dict())))
    assert back == g and hash(back) == hash(g)
    assert EnergyGrid.from_dict({"name": "chandra-acis-65"}) == EnergyGrid.default()
    assert EnergyGrid.linear(1, 2, 4) != EnergyGrid.log(1, 2, 4)
    assert EnergyGrid.linear(0.5, 7.5, 65) == EnergyGrid.default()  # equality compares edges, not labels


@pytest.mark.parametrize(
    "edges",
    [[1.0, 2.0], [[1.0, 2.0, 3.0]], [1.0, 3.0, 2.0], [0.0, 1.0, 2.0], [1.0, np.nan, 3.0]],
)
def test_bad_edges_raise_value_error(edges):
    with pytest.raises(ValueError, match="edges"):
        EnergyGrid(np.asarray(edges))


def test_grid_is_immutable():
    g = EnergyGrid.default()
    with pytest.raises(ValueError):
        g.edges[0] = 1.0


# ---------------------------------------------------------------------------------------------- instrument


def test_cross_section_matches_hand_computed_mm83_values():
    # 1 keV: segment 0.867-1.303: (120.6 + 169.3 - 47.7) / 1 = 242.2e-24 cm^2
    # 0.5 keV: segment 0.400-0.532: (71.4 + 66.8*0.5 - 51.4*0.25) / 0.125 = 735.6e-24 cm^2
    # 5 keV: segment 4.038-7.111: (433.9 - 2.4*5 + 0.75*25) / 125 = 3.5252e-24 cm^2
    sigma = xray.cross_section([1.0, 0.5, 5.0])
    np.testing.assert_allclose(sigma, [2.422e-22, 7.356e-22, 3.5252e-24], rtol=1e-12)
    with pytest.raises(ValueError, match="energies"):
        xray.cross_section([20.0])


def test_absorption_transmission_is_exp_minus_nh_sigma():
    E = np.array([0.6, 1.0, 3.0, 6.0])
    np.testing.assert_allclose(xray.absorption(E, 0.0), 1.0)
    t = xray.absorption(E, np.array([1.0, 2.0]))
    assert t.shape == (2, 4)
    np.testing.assert_allclose(t[0, 1], np.exp(-1e22 * 2.422e-22), rtol=1e-12)
    np.testing.assert_allclose(t[1], t[0] ** 2, rtol=1e-12)  # twice the column = transmission squared
    assert np.all(np.diff(t[0]) > 0)  # harder X-rays get through more easily


def test_effective_area_has_acis_like_shape():
    E = np.linspace(0.3, 9.0, 2000)
    a = xray.effective_area(E)
    peak = E[np.argmax(a)]
    assert 1.2 <= peak <= 1.8
    assert xray.effective_area(0.5) < 0.3 * a.max()
    a18, a21, a30 = xray.effective_area([1.8, 2.1, 3.0])
    assert a21 < a18 and a21 < a30  # Ir M-edge dip
    assert xray.effective_area(8.0) < 0.5 * xray.effective_area(3.0)


def test_resolution_fwhm_is_acis_like():
    f15, f65 = xray.fwhm([1.5, 6.5])
    assert 0.100 <= f15 <= 0.120 and 0.150 <= f65 <= 0.180


def test_redistribution_preserves_flux_and_has_the_stated_width():
    grid = EnergyGrid.linear(0.5, 7.5, 700)  # 10 eV channels to measure the line spread
    fe = xray.fine_edges(grid, 4)
    R = xray.response_matrix(grid, fe)
    centres = 0.5 * (fe[1:] + fe[:-1])
    inner = (centres > 1.0) & (centres < 7.0)
    np.testing.assert_allclose(R.sum(axis=0)[inner], 1.0, atol=1e-9)
    assert np.all(R.sum(axis=0) <= 1.0 + 1e-12)
    for e0 in (1.5, 6.5):
        flux = np.zeros(centres.size)
        j = np.argmin(np.abs(centres - e0))
        flux[j] = 3.7
        out = xray.redistribute(flux, grid, fe)
        assert out.sum() == pytest.approx(3.7, rel=1e-9)
        mean = _centroid(out, grid.centers)
        assert mean == pytest.approx(centres[j], abs=1e-3)
        sd = np.sqrt((out * (grid.centers - mean) ** 2).sum() / out.sum())
        assert 2.3548 * sd == pytest.approx(float(xray.fwhm(centres[j])), rel=0.03)


def test_redistribute_rejects_wrong_length():
    with pytest.raises(ValueError, match="flux"):
        xray.redistribute(np.ones(10), EnergyGrid.default())


# ------------------------------------------------------------------------------------------------ families


def test_more_absorbing_column_removes_more_low_energy_flux():
    g = EnergyGrid.default()
    nh = np.array([0.0, 0.5, 1.0, 2.0, 4.0])
    spec = xray.synchrotron_spectrum(g, 2.5, nh, normalize=None)
    low = spec[:, g.centers < 1.5].sum(1)
    high = spec[:, g.centers > 5.0].sum(1)
    assert np.all(np.diff(low) < 0)
    assert np.all(np.diff(low / high) < 0)  # the spectrum hardens
    # 5-7.5 keV is absorbed between the cross-sections at 5 keV (3.53e-24) and just below the Fe K edge
    # (7.1 keV: 1.27e-24)
    ratio = high / high[0]
    assert np.all(ratio >= 0.99 * np.exp(-nh * 1e22 * 3.53e-24))
    assert np.all(ratio <= np.exp(-nh * 1e22 * 1.2e-24) + 1e-12)


@pytest.mark.parametrize("gamma", [1.8, 2.6, 3.5])
def test_continuum_slope_follows_the_photon_index(gamma):
    g = EnergyGrid.log(0.5, 7.5, 40)
    counts = xray.synchrotron_spectrum(g, gamma, 0.0, instrument=False, normalize=None)
    density = counts / g.widths
    slope = np.polyfit(np.log(g.centers), np.log(density), 1)[0]
    assert slope == pytest.approx(-gamma, abs=0.01)


def test_thermal_continuum_follows_bremsstrahlung_and_lines_appear():
    g = EnergyGrid.linear(0.5, 7.5, 140)
    E = g.centers
    cont = xray.thermal_spectrum(g, 1.0, None, 0.0, instrument=False, normalize=None) / g.widths
    # Born Gaunt factor (sqrt(3)/pi) exp(x) K0(x), x = E/2kT, computed here with scipy's K0
    reference = np.sqrt(3) / np.pi * np.exp(E / 2) * special.k0(E / 2) * np.exp(-E) / E
    ratio = cont / reference
    np.testing.assert_allclose(ratio / ratio.mean(), 1.0, rtol=2e-3)
    # at E >> kT the Gaunt factor tends to sqrt(pi kT / E)·sqrt(3)/pi, so E^1.5·density falls as exp(-E/kT)
    sel = (E > 4.0) & (E < 7.0)
    slope = np.polyfit(E[sel], np.log(cont[sel] * E[sel] ** 1.5), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.03)
    hot = xray.thermal_spectrum(g, np.array([0.6, 2.5]), None, 0.0, normalize="l1")
    assert hot[1, E > 3].sum() > 3 * hot[0, E > 3].sum()  # hotter plasma, harder spectrum
    with_si = xray.thermal_spectrum(g, 1.0, {"si13": 0.5}, 0.0, instrument=False, normalize=None)
    j = np.argmin(np.abs(E - 1.865))
    # the added flux in the line's channel is the equivalent width times the continuum density there
    assert (with_si - cont * g.widths)[j - 1 : j + 2].sum() == pytest.approx(0.5 * cont[j], rel=0.05)


def test_line_centre_moves_by_e_v_over_c():
    g = EnergyGrid.linear(5.0, 8.0, 600)
    v = np.array([0.0, 3000.0, -3000.0])
    lines = xray.iron_lines_spectrum(g, v, 0.05, 0.0, instrument=False, normalize=None)
    cen = _centroid(lines, g.centers)
    np.testing.assert_allclose(cen, 6.70 * (1 - v / C), atol=1e-5)
    big = xray.iron_lines_spectrum(g, 3000.0, 0.05, 0.0, exaggeration=5.0, instrument=False, normalize=None)
    assert _centroid(big, g.centers) - cen[0] == pytest.approx(-5 * 6.70 * 3000 / C, abs=1e-5)
    # through the full instrument, the shift survives (to within the slope of the effective area)
    obs = xray.iron_lines_spectrum(g, v, 0.05, 1.5, normalize=None)
    shift = _centroid(obs, g.centers) - _centroid(obs[:1], g.centers)
    np.testing.assert_allclose(shift[1:], -6.70 * v[1:] / C, rtol=0.05)


def test_iron_families_sit_in_disjoint_energy_ranges(rng):
    g = EnergyGrid.default()
    A = xray.sample_mixing_matrices(200, g, rng)
    c1 = _centroid(A[:, :, 2] ** 2, g.centers)
    c2 = _centroid(A[:, :, 3] ** 2, g.centers)
    assert c1.max() < 6.70 < c2.min()
    assert c1.max() + 0.1 < c2.min()  # at least a channel apart
    assert np.ptp(c1) > 0.2 and np.ptp(c2) > 0.2  # real variability of the line positions


# ------------------------------------------------------------------------------------------------- sampler


def test_sample_mixing_matrices_shape_normalisation_and_variability():
    A = xray.sample_mixing_matrices(64, rng=1)
    assert A.shape == (64, 65, 4) and A.dtype == np.float64
    assert np.all(A >= 0) and np.all(np.isfinite(A))
    np.testing.assert_allclose(np.linalg.norm(A, axis=1), 1.0, atol=1e-12)
    # each family varies between samples: the mean cosine to the first sample is clearly below 1
    cos = np.einsum("imj,mj->ij", A, A[0])
    assert np.all(cos[1:].mean(0) < 0.98)
    # but families differ from each other much more than samples within a family
    assert np.einsum("im,im->i", A[:, :, 0], A[:, :, 2]).max() < 0.2
    A1 = xray.sample_mixing_matrices(5, rng=1, normalize="l1")
    np.testing.assert_allclose(A1.sum(axis=1), 1.0, atol=1e-12)
    raw = xray.sample_mixing_matrices(5, rng=1, normalize=None)
    np.testing.assert_allclose(raw / raw.sum(axis=1, keepdims=True), A1, atol=1e-12)


def test_same_seed_same_spectra_other_seed_different():
    a = xray.sample_mixing_matrices(6, rng=7)
    b = xray.sample_mixing_matrices(6, rng=np.random.default_rng(7))
    c = xray.sample_mixing_matrices(6, rng=8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    s = xray.sample_spectra("thermal", 6, rng=7)
    np.testing.assert_array_equal(s, a[:, :, 1])  # a family subset reproduces the full draw's column


def test_prior_overrides_fix_or_change_parameters():
    A, p = xray.sample_mixing_matrices(4, rng=0, gamma=2.0, nh=1.5, families=("synchrotron",),
                                       return_params=True)
    assert A.shape == (4, 65, 1)
    np.testing.assert_allclose(A[:, :, 0], A[[0], :, 0].repeat(4, 0), atol=1e-14)
    np.testing.assert_allclose(p["gamma"], 2.0)
    _, p = xray.sample_mixing_matrices(50, rng=0, kT=(1.0, 1.2), return_params=True)
    assert p["kT"].min() >= 1.0 and p["kT"].max() <= 1.2
    with pytest.raises(ValueError, match="prior overrides"):
        xray.sample_mixing_matrices(2, rng=0, temperature=1.0)


def test_physical_exaggeration_leaves_iron_lines_nearly_together():
    g = EnergyGrid.default()
    A = xray.sample_mixing_matrices(20, g, 0, exaggeration=1.0, families=("iron_1", "iron_2"))
    gap = _centroid(A[:, :, 1], g.centers) - _centroid(A[:, :, 0], g.centers)
    assert np.all(gap > 0) and np.all(gap < 2 * 6.7 * 4000 / C + 1e-3)


def test_float32_and_custom_grid():
    g = EnergyGrid.log(0.6, 8.0, 30)
    A = xray.sample_mixing_matrices(3, g, 0, dtype="float32")
    assert A.shape == (3, 30, 4) and A.dtype == np.float32


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": 2, "normalize": "max"}, "normalize"),
        ({"n_samples": 2, "families": ("dust",)}, "families"),
        ({"n_samples": 2, "grid": EnergyGrid.linear(0.05, 7.0, 10)}, "grid"),
        ({"n_samples": 2, "kT": (-1.0, 2.0)}, "log-uniform|kT"),
    ],
)
def test_bad_arguments_raise_one_sentence(kwargs, match):
    with pytest.raises(ValueError, match=match):
        xray.sample_mixing_matrices(**kwargs)


def test_model_functions_reject_bad_parameters():
    g = EnergyGrid.default()
    with pytest.raises(ValueError, match="nh"):
        xray.synchrotron_spectrum(g, 2.0, -1.0)
    with pytest.raises(ValueError, match="kT"):
        xray.thermal_spectrum(g, 0.0, None, 1.0)
    with pytest.raises(ValueError, match="line_strengths"):
        xray.thermal_spectrum(g, 1.0, np.ones(3), 1.0)
    with pytest.raises(ValueError, match="matching lengths"):
        xray.synchrotron_spectrum(g, [2.0, 2.5], [1.0, 1.2, 1.4])
    with pytest.raises(ValueError, match="sample"):
        xray.sample_spectra("sample", 3)


def test_scalar_parameters_give_one_spectrum():
    s = xray.iron_lines_spectrum(None, 2000.0, 0.05, 1.0)
    assert s.shape == (65,)
    assert np.linalg.norm(s) == pytest.approx(1.0)


def test_priors_are_documented():
    for key, prior in xray.PRIORS.items():
        assert prior.description, key
        assert prior.low <= prior.high
    assert xray.PRIORS["nh"].low == 1.0 and xray.PRIORS["nh"].high == 2.0
    assert (xray.PRIORS["gamma"].low, xray.PRIORS["gamma"].high) == (1.8, 3.5)
    assert (xray.PRIORS["kT"].low, xray.PRIORS["kT"].high) == (0.5, 3.0)
    assert xray.PRIORS["velocity_receding"].low > 0 > xray.PRIORS["velocity_approaching"].high
    assert {f"ew_{ln.key}" for ln in xray.THERMAL_LINES} <= set(xray.PRIORS)
