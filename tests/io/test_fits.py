"""FITS cubes: spectral axis from the WCS or an option, celestial WCS kept, result round trip, errors."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from semiblind.io import load_input, load_result, save_result

CEL = {
    "CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": 350.85, "CRVAL2": 58.815, "CRPIX1": 4.5,
    "CRPIX2": 3.0, "CDELT1": -1.366e-4, "CDELT2": 1.366e-4, "CUNIT1": "deg", "CUNIT2": "deg",
}


def _write(path, data, **keys):
    hdu = fits.PrimaryHDU(data)
    for k, v in keys.items():
        hdu.header[k] = v
    hdu.writeto(path)
    return path


def test_energy_axis_last_in_fits_is_first_in_numpy(tmp_path, rng):
    data = rng.random((5, 6, 8)).astype(np.float32)  # NumPy (ENER, DEC, RA)
    p = _write(tmp_path / "cube.fits", data, **CEL, CTYPE3="ENER", CUNIT3="eV", CRVAL3=500.0, CDELT3=250.0,
               CRPIX3=1.0)
    cube = load_input(p)
    assert cube.format == "fits"
    np.testing.assert_array_equal(cube.X, data)
    # 500 eV + k * 250 eV = 0.5, 0.75, ... keV
    np.testing.assert_allclose(cube.energies, [0.5, 0.75, 1.0, 1.25, 1.5])
    assert cube.spectral_unit == "keV"
    assert list(cube.wcs.wcs.ctype) == ["RA---TAN", "DEC--TAN"]
    np.testing.assert_allclose(cube.wcs.wcs.crval, [350.85, 58.815])


def test_energy_axis_first_in_fits_is_moved(tmp_path, rng):
    data = rng.random((6, 8, 5))  # NumPy (DEC, RA, ENER): FITS axis 1 is the energy
    p = _write(tmp_path / "cube.fits", data, CTYPE1="ENER", CUNIT1="keV", CRVAL1=1.0, CDELT1=0.5, CRPIX1=2.0,
               CTYPE2="RA---TAN", CTYPE3="DEC--TAN", CRVAL2=350.85, CRVAL3=58.815, CRPIX2=4.5, CRPIX3=3.0,
               CDELT2=-1e-4, CDELT3=1e-4)
    cube = load_input(p)
    assert cube.X.shape == (5, 6, 8)
    np.testing.assert_array_equal(cube.X[:, 2, 3], data[2, 3, :])
    np.testing.assert_allclose(cube.energies, [0.5, 1.0, 1.5, 2.0, 2.5])  # CRPIX 2 holds 1 keV
    assert list(cube.wcs.wcs.ctype) == ["RA---TAN", "DEC--TAN"]


def test_frequency_axis_keeps_header_unit_and_stokes_is_dropped(tmp_path, rng):
    data = rng.random((1, 4, 5, 6))  # (STOKES, FREQ, DEC, RA)
    p = _write(tmp_path / "radio.fits", data, **CEL, CTYPE3="FREQ", CUNIT3="GHz", CRVAL3=1.4, CDELT3=0.1,
               CRPIX3=1.0, CTYPE4="STOKES", CRVAL4=1.0, CDELT4=1.0, CRPIX4=1.0)
    cube = load_input(p)
    assert cube.X.shape == (4, 5, 6)
    np.testing.assert_allclose(cube.energies, [1.4, 1.5, 1.6, 1.7])
    assert cube.spectral_unit == "GHz"
    assert cube.wcs is not None and cube.wcs.naxis == 2


def test_unitless_energy_axis_in_ev(tmp_path, rng):
    p = _write(tmp_path / "ev.fits", rng.random((3, 4, 4)), CTYPE3="ENERGY", CRVAL3=300.0, CDELT3=100.0,
               CRPIX3=1.0)
    np.testing.assert_allclose(load_input(p).energies, [0.3, 0.4, 0.5])


def test_no_spectral_axis_needs_the_option(tmp_path, rng):
    data = rng.random((3, 4, 5))
    p = _write(tmp_path / "nospec.fits", data, CTYPE1="RA---TAN", CTYPE2="DEC--TAN")
    with pytest.raises(ValueError, match=r"has no spectral axis.*pass spectral_axis="):
        load_input(p)
    cube = load_input(p, spectral_axis=0)
    np.testing.assert_array_equal(cube.X, data)
    assert cube.energies is None
    moved = load_input(p, spectral_axis=2)
    assert moved.X.shape == (5, 3, 4)
    with pytest.raises(ValueError, match=r"spectral_axis must be a NumPy axis in \[0, 2\]"):
        load_input(p, spectral_axis=3)


def test_truncated_and_non_fits_files(tmp_path, rng):
    good = _write(tmp_path / "good.fits", rng.random((5, 20, 20)).astype(np.float32), CTYPE3="ENER")
    raw = good.read_bytes()
    for name, content in (("trunc.fits", raw[:4000]), ("short.fits", raw[:2000]),
                          ("text.fits", b"this is not a FITS file" * 20)):
        p = tmp_path / name
        p.write_bytes(content)
        with pytest.raises(ValueError, match=r"(not a readable|truncated) FITS file"):
            load_input(p)


def test_fits_result_round_trip_keeps_wcs(tmp_path, rng):
    m, n, h, w = 5, 3, 6, 8
    p = _write(tmp_path / "cube.fits", rng.random((m, h, w)), **CEL, CTYPE3="ENER", CUNIT3="keV",
               CRVAL3=0.5, CDELT3=0.5, CRPIX3=1.0)
    cube = load_input(p)
    A = rng.random((m, n))
    S = rng.random((n, h, w))
    out = save_result(tmp_path / "result.fits", A, S, info={"method": "gmca", "n_iter": 12},
                      energies=cube.energies, wcs=cube.wcs)
    with fits.open(out) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SOURCE", "SOURCE", "SOURCE", "MIXING"]
        for hdu in hdul[1:4]:
            for key in ("CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CDELT1", "CDELT2", "CTYPE1", "CTYPE2"):
                assert hdu.header[key] == CEL[key], key
        table = hdul["MIXING"].data
        np.testing.assert_allclose(table["ENERGY"], [0.5, 1.0, 1.5, 2.0, 2.5])
        np.testing.assert_array_equal(table["A_2"], A[:, 1])
    res = load_result(out)
    np.testing.assert_array_equal(res.A, A)
    np.testing.assert_array_equal(res.S, S)
    assert res.info == {"method": "gmca", "n_iter": 12}
    hdr_in, hdr_out = cube.wcs.to_header(), res.wcs.to_header()
    for key in ("CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CDELT1", "CDELT2", "CTYPE1", "CTYPE2"):
        assert hdr_out[key] == hdr_in[key], key


def test_long_info_survives_fits_header(tmp_path, rng):
    info = {"method": "lpalm", "notes": "x" * 500, "metrics": {"nmse_a": -31.2, "sad_db": 28.0}}
    out = save_result(tmp_path / "r.fits", rng.random((4, 2)), rng.random((2, 10)), info=info)
    assert load_result(out).info == info
