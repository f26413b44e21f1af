"""``semiblind info``: data files, result files and model folders, and its exit code on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from astropy.io import fits

from semiblind.cli import main
from semiblind.io import save_result


def _fields(text):
    """``field  value`` lines of the plain table printed by ``info`` as a dict."""
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("-----"))
    width = len(lines[rule].split("  ")[0])
    return {line[:width].strip(): line[width:].strip() for line in lines[rule + 1:]}


def test_info_on_npz_dataset(tmp_path, rng, capsys):
    A, S = rng.random((6, 3)), rng.random((3, 4, 5))
    p = tmp_path / "d.npz"
    np.savez(p, X=np.einsum("mn,nhw->mhw", A, S), A=A, S=S, energies=np.linspace(0.5, 3.0, 6))
    assert main(["info", str(p)]) == 0
    f = _fields(capsys.readouterr().out)
    assert f["shape"] == "(6, 4, 5)"
    assert f["axes"] == "(channels, height, width)"
    assert f["spectral axis"] == "6 channels from 0.5 to 3 keV"
    assert f["ground truth"].startswith("yes") and "3 sources" in f["ground truth"]
    assert f["celestial WCS"] == "none"


def test_info_on_fits_cube_shows_wcs_and_json(tmp_path, rng, capsys):
    hdu = fits.PrimaryHDU(rng.random((4, 3, 3)))
    for k, v in {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": 350.85, "CRVAL2": 58.8,
                 "CTYPE3": "ENER", "CUNIT3": "keV", "CRVAL3": 1.0, "CDELT3": 1.0, "CRPIX3": 1.0}.items():
        hdu.header[k] = v
    p = tmp_path / "c.fits"
    hdu.writeto(p)
    assert main(["info", str(p), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "data" and out["format"] == "fits"
    assert out["spectral axis"] == "4 channels from 1 to 4 keV"
    assert out["celestial WCS"].startswith("RA---TAN/DEC--TAN; CRVAL (350.85, 58.8)")
    assert out["ground truth"] == "no"


def test_info_on_result_file(tmp_path, rng, capsys):
    out = save_result(tmp_path / "r.fits", rng.random((5, 2)), rng.random((2, 3, 3)), info={"method": "gmca"})
    assert main(["info", str(out)]) == 0
    f = _fields(capsys.readouterr().out)
    assert f["A (mixing matrix)"] == "(5, 2) (channels, sources)"
    assert f["info.method"] == "gmca"


def test_info_on_model_folder(tmp_path, capsys):
    folder = tmp_path / "model"
    folder.mkdir()
    cfg = {"format": "semiblind-model", "format_version": 1,
           "architecture": {"class": "LPALM", "layers": 3, "m": 8, "n": 2},
           "data_contract": {"channels": 8, "n_sources": 2, "energy_grid": list(np.linspace(0.5, 7, 8)),
                             "preprocessing": {"normalisation": "none"}}}
    (folder / "config.json").write_text(json.dumps(cfg))
    assert main(["info", str(folder)]) == 0
    f = _fields(capsys.readouterr().out)
    assert f["architecture.class"] == "LPALM"
    assert f["data_contract.channels"] == "8"
    assert f["data_contract.energy_grid"] == "[8 values from 0.5 to 7]"
    assert f["data_contract.preprocessing.normalisation"] == "none"
    assert main(["info", str(folder / "config.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["architecture"]["m"] == 8


def test_info_bad_input_exit_code_2(tmp_path, rng, capsys):
    p = tmp_path / "nox.npz"
    np.savez(p, A=rng.random((3, 2)))
    assert main(["info", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("semiblind info: error: INPUT") and "has no 'X' array; found keys: A." in err
    assert main(["info", str(tmp_path / "missing.fits")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_info_real_command_missing_model(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "semiblind", "info", "no-such-model-name"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "no-such-model-name" in proc.stderr
