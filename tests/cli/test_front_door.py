"""Issue #15, the front door as a new user meets it: every item through the real command (a subprocess).

Threads, assumption warnings, --spectral-axis and result files, `semiblind methods`, the default seed, one-line
warnings, labels, progress in a pipe, size/time estimates, --model, and the FITS dtype.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from semiblind.data.mixtures import simulate_xray

EXE = [sys.executable, "-m", "semiblind"]


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SEMIBLIND_DEBUG"}
    proc = subprocess.run([*EXE, *map(str, args)], capture_output=True, text=True, timeout=240, env=env)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def clean(stderr: str) -> None:
    """No raw Python warning: no 'XxxWarning:' header, no file path with a line number, no carriage returns."""
    assert "Warning:" not in stderr and ".py:" not in stderr and "warnings.warn" not in stderr, stderr
    assert "\r" not in stderr, stderr


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    """A 65-channel Cas A-like cube of 16 x 16 pixels (four families) with its truth, as a .npz file."""
    tmp = tmp_path_factory.mktemp("front")
    ms = simulate_xray(1, image=(16, 16), sources="casa-like", snr_db=30, rng=1, progress=False)
    path = tmp / "cube.npz"
    ms.save(path)
    return tmp, path


def _info(path) -> dict:
    with np.load(path, allow_pickle=False) as d:
        return json.loads(str(d["info"]))


def test_threads_seed_and_progress_lines(cube):
    """Items 1, 5, 8: default thread count (1 for a small problem) and seed 0 printed and stored, the same
    command twice gives the same numbers, --threads N is used, a progress bar in a pipe is one line."""
    tmp, path = cube
    a, b = tmp / "palm_a.npz", tmp / "palm_b.npz"
    p1 = run("separate", path, "--method", "palm", "--n-sources", 4, "--set", "max_iter=40", "--out", a)
    assert "(seed 0, 1 thread)" in p1.stdout
    p2 = run("separate", path, "--method", "palm", "--n-sources", 4, "--set", "max_iter=40", "--set",
             "verbose=true", "--threads", 2, "--out", b)
    assert "(seed 0, 2 threads)" in p2.stdout
    assert _info(a)["seed"] == 0 and _info(a)["threads"] == 1 and _info(b)["threads"] == 2
    with np.load(a) as da, np.load(b) as db:
        np.testing.assert_allclose(da["A"], db["A"], rtol=1e-4, atol=1e-6)  # fixed seed: same start, same result
    clean(p2.stderr)
    progress = [ln for ln in p2.stderr.splitlines() if " in " in ln and ln.rstrip().endswith(" s")]
    assert progress, p2.stderr  # the verbose bar, as one line with its time


def test_assumption_and_clipping_warnings_are_one_clean_line(cube):
    """Items 2, 6: VCA/FCLS on X-ray counts warns (stderr and info); HALS's clipping warning is one clean line."""
    tmp, path = cube
    out = tmp / "vca.npz"
    p = run("separate", path, "--method", "vca-fcls", "--n-sources", 4, "--out", out)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert lines and all(ln.startswith("semiblind separate: warning: ") for ln in lines), p.stderr
    assert any("simplex" in ln for ln in lines)
    assert any("simplex" in w for w in _info(out)["warnings"])
    clean(p.stderr)
    h = run("separate", path, "--method", "hals", "--n-sources", 4, "--set", "max_iter=30", "--out",
            tmp / "hals.npz")
    assert any(ln.startswith("semiblind separate: warning: ") and "clipped" in ln for ln in h.stderr.splitlines())
    assert any("heavy clipping" in ln for ln in h.stderr.splitlines())  # a third of this cube's entries are < 0
    clean(h.stderr)


def test_spectral_axis_result_files_and_fits_dtype(cube, tmp_path):
    """Items 3, 11: --spectral-axis on separate; a result given as INPUT is named; info shows float32 for
    BITPIX -32."""
    from astropy.io import fits

    tmp, path = cube
    rng = np.random.default_rng(0)
    X = (np.abs(rng.standard_normal((6, 2))) @ np.abs(rng.standard_normal((2, 64)))).reshape(6, 8, 8)
    from semiblind.io import save_result

    f = tmp_path / "plain.fits"
    fits.writeto(f, X.astype(">f4"))
    run("separate", f, "--method", "hals", "--n-sources", 2, "--spectral-axis", 0, "--set", "max_iter=20",
        "--out", tmp_path / "r.npz")
    res = save_result(tmp_path / "given.npz", np.ones((6, 2)), np.ones((2, 8, 8)), info={"method": "hals"})
    again = run("separate", res, "--method", "hals", "--n-sources", 2, "--out", tmp_path / "r2.npz", ok=False)
    assert again.returncode == 2 and "is a separation result" in again.stderr and "not a data cube" in again.stderr
    info = run("info", f, "--spectral-axis", 0)
    dtype_row = next(ln for ln in info.stdout.splitlines() if ln.startswith("dtype"))
    assert "float32" in dtype_row and "float64" not in dtype_row


def test_methods_verb_and_help():
    """Item 4: `semiblind methods` lists every method with family, learned, X >= 0 and shipped models."""
    from semiblind.api import methods

    p = run("methods", "--json")
    rows = {r["name"]: r for r in json.loads(p.stdout)}
    assert set(rows) == set(methods())
    assert rows["lpalm"]["learned"] and "lpalm-xray65" in rows["lpalm"]["shipped_models"]
    assert rows["hals"]["nonnegative"] and not rows["palm"]["nonnegative"]
    assert "semiblind methods" in " ".join(run("separate", "--help").stdout.split())


def test_model_option_and_labels(cube):
    """Items 10, 7: --model on separate, evaluate and info; evaluate's columns say what they hold and which way
    is better, rows carry the family names."""
    tmp, path = cube
    out = tmp / "lpalm.npz"
    p = run("separate", path, "--method", "lpalm", "--n-sources", 4, "--model", "lpalm-xray65", "--out", out)
    assert "model lpalm-xray65" in p.stdout
    ev = run("evaluate", "--model", "lpalm-xray65", "--truth", path, "--report", tmp / "rep")
    head = ev.stdout.splitlines()[1]
    for label in ("NMSE A ↓", "cos A ↑", "SAD A (dB) ↑", "SDR ↑"):
        assert label in head
    assert "SAD A " not in head.replace("SAD A (dB)", "")  # the cosine is no longer called SAD
    assert all(fam in ev.stdout for fam in ("synchrotron", "thermal", "iron_1", "iron_2"))
    assert "synchrotron" in (tmp / "rep" / "index.html").read_text() and "lpalm-xray65" in ev.stdout
    assert run("info", "--model", "lpalm-xray65").stdout.startswith("model lpalm-xray65")


def test_estimates_before_long_work(tmp_path):
    """Item 9: `reproduce` says how long before it starts; `simulate` says how much it will write."""
    from semiblind.cli._reproduce import estimate_line

    assert "about 58 s" in estimate_line("unrolled-nnls-toy", True)
    # lpalm-table2 trains LPALM and LISTA in parallel processes with --threads 2: the estimate says so
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = estimate_line("lpalm-table2", True)
        torch.set_num_threads(2)
        two = estimate_line("lpalm-table2", True)
    finally:
        torch.set_num_threads(before)
    assert "one thread; --threads 2 takes about" in one and "with two or more threads" in two
    s = run("simulate", "xray", "--n-samples", 2, "--pixels", 50, "--out", tmp_path / "s.npz")
    first, last = s.stderr.splitlines()[0], s.stdout.splitlines()[-1]
    assert first.startswith("writing 2 xray mixtures") and "about" in first and "kB" in first
    assert last.startswith("wrote") and "kB)" in last


def test_demo_table_marks_capped_runs():
    """Item 6: a run that stopped at its cap is marked in the demo's table."""
    from semiblind.demo import demo_table_rows

    rows = demo_table_rows({"palm": {"nmse_A": 0.1, "nmse_S": 0.1, "sad_db_A": 10.0, "sdr": 20.0, "seconds": 1.0,
                                     "n_iter": 1000, "converged": False},
                            "gmca": {"nmse_A": 0.1, "nmse_S": 0.1, "sad_db_A": 10.0, "sdr": 20.0, "seconds": 1.0,
                                     "n_iter": 90, "converged": True}})
    assert rows[0][-1] == "1000 (cap)" and rows[1][-1] == 90


def test_spectral_unit_axis_labels():
    """Item 7: axis labels follow the data's spectral unit."""
    from semiblind.plot import spectral_label

    assert spectral_label(None) == "energy (keV)" and spectral_label("keV") == "energy (keV)"
    assert spectral_label("nm") == "wavelength (nm)" and spectral_label("um") == "wavelength (µm)"
