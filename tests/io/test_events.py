"""Chandra-style event lists binned into cubes: counts per (energy, y, x) bin and the sky WCS of the image."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from semiblind.io import bin_events, load_input

SKY = {"TCTYP": ("RA---TAN", "DEC--TAN"), "TCRVL": (350.85, 58.815), "TCRPX": (4096.5, 4096.5),
       "TCDLT": (-1.366e-4, 1.366e-4)}


def _events(path, x, y, energy_ev, *, sky=True):
    cols = [
        fits.Column(name="time", format="D", array=np.zeros(len(x))),
        fits.Column(name="x", format="E", array=np.asarray(x, float)),
        fits.Column(name="y", format="E", array=np.asarray(y, float)),
        fits.Column(name="energy", format="E", unit="eV", array=np.asarray(energy_ev, float)),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="EVENTS")
    if sky:
        for key, (vx, vy) in SKY.items():  # x is column 2, y column 3
            hdu.header[f"{key}2"] = vx
            hdu.header[f"{key}3"] = vy
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path


def test_counts_land_in_the_right_bins(tmp_path):
    # events: (x, y, E eV) ; grid 0.5-1.5-2.5 keV ; bounding box starts at floor(min) = (10, 20)
    x = [10.2, 10.9, 12.5, 12.5, 11.1]
    y = [20.1, 20.3, 21.7, 21.2, 20.5]
    e = [1000.0, 2000.0, 1200.0, 1400.0, 600.0]
    p = _events(tmp_path / "obs.evt", x, y, e)
    cube = bin_events(p, energy_grid=[0.5, 1.5, 2.5])
    # y in [20, 21.7] -> 2 rows, x in [10, 12.5] -> 3 columns
    assert cube.format == "events" and cube.X.shape == (2, 2, 3)
    expected = np.zeros((2, 2, 3))
    expected[0, 0, 0] = 1  # (10.2, 20.1, 1.0 keV)
    expected[1, 0, 0] = 1  # (10.9, 20.3, 2.0 keV)
    expected[0, 1, 2] = 2  # (12.5, 21.7/21.2, 1.2/1.4 keV)
    expected[0, 0, 1] = 1  # (11.1, 20.5, 0.6 keV)
    np.testing.assert_array_equal(cube.X, expected)
    np.testing.assert_allclose(cube.energies, [1.0, 2.0])
    assert cube.meta["n_events"] == 5 and cube.meta["n_events_binned"] == 5


def test_spatial_binning_and_region(tmp_path, rng):
    n = 2000
    # two corner events fix the bounding box at x in [4000, 4040], y in [4000, 4020]
    x = np.concatenate([[4000.0, 4040.0], rng.uniform(4000, 4040, n - 2)]).astype(np.float32)
    y = np.concatenate([[4000.0, 4020.0], rng.uniform(4000, 4020, n - 2)]).astype(np.float32)
    e = rng.uniform(600, 6900, n)
    p = _events(tmp_path / "obs.fits", x, y, e)
    cube = bin_events(p, e_min=0.5, e_max=7.0, n_channels=8, spatial_bin=4)
    assert cube.X.shape == (8, 6, 11)  # rows: 20/4 + 1 (the maximum 4020 is included) ; columns: 40/4 + 1
    assert cube.X.sum() == n  # every event inside 0.5-7 keV and the bounding box
    sub = bin_events(p, n_channels=8, spatial_bin=2, region=(4010, 4020, 4005, 4015))
    assert sub.X.shape == (8, 5, 5)
    inside = (x >= 4010) & (x < 4020) & (y >= 4005) & (y < 4015)
    assert sub.X.sum() == inside.sum()


def test_sky_wcs_of_the_binned_image(tmp_path, rng):
    x = rng.uniform(4080, 4110, 500)
    y = rng.uniform(4085, 4100, 500)
    p = _events(tmp_path / "obs.evt", x, y, rng.uniform(600, 6000, 500))
    b = 2
    cube = bin_events(p, n_channels=4, spatial_bin=b)
    x0, y0 = np.floor(x.min()), np.floor(y.min())
    # the physical-pixel WCS of the event columns, evaluated at the centre of image pixel (row 3, column 5)
    phys = WCS(naxis=2)
    phys.wcs.ctype = list(SKY["TCTYP"])
    phys.wcs.crval = list(SKY["TCRVL"])
    phys.wcs.crpix = list(SKY["TCRPX"])
    phys.wcs.cdelt = list(SKY["TCDLT"])
    xc, yc = x0 + (5 + 0.5) * b, y0 + (3 + 0.5) * b
    want = phys.wcs_pix2world([[xc, yc]], 1)[0]
    got = cube.wcs.wcs_pix2world([[5, 3]], 0)[0]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    assert cube.wcs.wcs.cdelt[0] == pytest.approx(SKY["TCDLT"][0] * b)


def test_load_input_bins_with_defaults_and_no_wcs_without_keywords(tmp_path, rng):
    p = _events(tmp_path / "plain.fits", rng.uniform(0, 9, 100), rng.uniform(0, 9, 100),
                rng.uniform(500, 7000, 100), sky=False)
    cube = load_input(p)
    assert cube.format == "events" and cube.X.shape[0] == 64 and cube.wcs is None
    np.testing.assert_allclose(cube.meta["energy_edges_keV"][0], 0.5)
    np.testing.assert_allclose(cube.meta["energy_edges_keV"][-1], 7.0)


def test_event_errors(tmp_path, rng):
    p = tmp_path / "noevents.evt"
    fits.HDUList([fits.PrimaryHDU(np.ones((2, 2)))]).writeto(p)
    with pytest.raises(ValueError, match="has no EVENTS table"):
        bin_events(p)
    q = tmp_path / "nocol.evt"
    hdu = fits.BinTableHDU.from_columns([fits.Column(name="x", format="E", array=np.ones(3))], name="EVENTS")
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(q)
    with pytest.raises(ValueError, match="must have columns x, y, energy"):
        bin_events(q)
    good = _events(tmp_path / "g.evt", [1.0, 2.0], [1.0, 2.0], [1000.0, 2000.0])
    with pytest.raises(ValueError, match="spatial_bin must be an int of at least 1"):
        bin_events(good, spatial_bin=0)
    with pytest.raises(ValueError, match="energy_grid must be"):
        bin_events(good, energy_grid=[1.0, 0.5, 2.0])
