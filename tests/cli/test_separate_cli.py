"""`semiblind separate` and `semiblind evaluate` on small files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from semiblind.cli import main


@pytest.fixture
def data(tmp_path, rng):
    m, n, H, W = 10, 2, 8, 9
    A = np.abs(rng.standard_normal((m, n)))
    A /= np.linalg.norm(A, axis=0)
    S = rng.standard_normal((n, H, W)) * (rng.random((n, H, W)) < 0.3)
    N = 1e-3 * rng.standard_normal((m, H, W))
    X = np.einsum("mn,nhw->mhw", A, S) + N
    f = tmp_path / "f.npz"
    np.savez(f, X=X, A=A, S=S, noise=N)
    multi = tmp_path / "multi.npz"
    np.savez(multi, X=np.stack([X, 2 * X]), A=np.stack([A, A]), S=np.stack([S, 2 * S]))
    return tmp_path, f, multi, A, S


def test_separate_then_evaluate(data, capsys):
    tmp, f, _, A, S = data
    out = tmp / "o.npz"
    rc = main(["separate", str(f), "--method", "palm", "--n-sources", "2", "--set", "lam=0.001",
               "--set", "A0=input", "--set", "max_iter=300", "--set", "tol=1e-5", "--set", "dtype=float64",
               "--seed", "1", "--out", str(out)])
    assert rc == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("palm: 2 sources from") and str(out) in line
    with np.load(out, allow_pickle=False) as d:
        assert d["A"].shape == (10, 2) and d["S"].shape == (2, 8, 9)
        info = json.loads(str(d["info"]))
    assert info["method"] == "palm" and info["params"]["lam"] == 0.001 and info["params"]["A0"] == "A of INPUT"
    assert {"iterations", "converged", "seconds", "library_version"} <= set(info)

    js = tmp / "m.json"
    assert main(["evaluate", str(out), "--truth", str(f), "--json", str(js)]) == 0
    table = capsys.readouterr().out
    assert "source 1" in table and "overall" in table and "SNR" in table  # the truth holds the noise
    scores = json.loads(js.read_text())
    assert scores["overall"]["nmse_A"] < 1e-2 and len(scores["per_source"]) == 2


def test_multi_mixture_index_and_oracle(data, capsys):
    tmp, _, multi, A, S = data
    out = tmp / "o.npz"
    assert main(["separate", str(multi), "--method", "oracle-s", "--n-sources", "2", "--set", "A=input",
                 "--set", "dtype=float64", "--index", "1", "--out", str(out)]) == 0
    assert "mixture 1 of the 2" in capsys.readouterr().out
    with np.load(out) as d:
        # mixture 1 holds 2·S (plus noise of standard deviation 2e-3, seen through A⁺)
        np.testing.assert_allclose(d["S"], 2 * S, atol=0.05)
        assert np.abs(d["S"] - 2 * S).max() < np.abs(d["S"] - S).max()
    # evaluate picks the mixture the result came from
    assert main(["evaluate", str(out), "--truth", str(multi)]) == 0
    assert "(mixture 1)" in capsys.readouterr().out


def test_set_array_from_an_npz_holding_only_that_array(data, capsys):
    """``--set A=FILE.npz`` takes the file's ``A`` even when it holds no data set (no X), and ``FILE.npz:KEY``
    another of its arrays: the oracle with the true A recovers S, with 2·A it gives S/2 (S = A⁺X is linear)."""
    tmp, f, _, A, S = data
    guess = tmp / "guess.npz"
    np.savez(guess, A=2 * A, A_true=A)
    out_true, out_twice = tmp / "true.npz", tmp / "twice.npz"
    for spec, out in ((f"{guess}:A_true", out_true), (str(guess), out_twice)):
        assert main(["separate", str(f), "--method", "oracle-s", "--n-sources", "2", "--set", f"A={spec}",
                     "--set", "dtype=float64", "--out", str(out)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    with np.load(out_true, allow_pickle=False) as d:
        np.testing.assert_allclose(d["S"], S, atol=0.05)
        assert json.loads(str(d["info"]))["params"]["A"] == f"A_true of {guess}"
    with np.load(out_twice, allow_pickle=False) as d:
        np.testing.assert_allclose(d["S"], S / 2, atol=0.05)
        assert json.loads(str(d["info"]))["params"]["A"] == f"A of {guess}"

    # a name the file does not hold: one sentence listing what it holds, nothing written
    missing = tmp / "missing.npz"
    assert main(["separate", str(f), "--method", "oracle-s", "--n-sources", "2", "--set", f"A={guess}:B",
                 "--out", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"semiblind separate: error: --set A={guess}:B: file '{guess}' has no array 'B'; found "
                   "keys: A, A_true."), err
    assert not missing.exists()


def test_out_extension_checked_before_input(tmp_path, capsys):
    """A bad --out is reported (naming --out) before INPUT is even read: here INPUT does not exist."""
    assert main(["separate", str(tmp_path / "absent.npz"), "--method", "palm", "--n-sources", "2", "--out",
                 str(tmp_path / "out.txt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("semiblind separate: error: --out must end in .npz or .fits") and "absent" not in err


def test_errors_exit_2_with_one_line(data, capsys):
    tmp, f, _, _, _ = data
    out = tmp / "o.npz"
    out.write_bytes(b"keep")
    assert main(["separate", str(f), "--method", "palm", "--n-sources", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "already exists" in err and len(err.splitlines()) == 1
    assert out.read_bytes() == b"keep"
    assert main(["separate", str(f), "--method", "nope", "--n-sources", "2", "--out", str(tmp / "x.npz")]) == 2
    assert "method must be one of" in capsys.readouterr().err

    good = tmp / "g.npz"
    np.savez(good, A=np.ones((10, 2)), S=np.ones((2, 5, 9)), info=np.array("{}"))
    assert main(["evaluate", str(good), "--truth", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert "do not match" in err and len(err.splitlines()) == 1


def test_real_command(data):
    tmp, f, _, _, _ = data
    out = tmp / "r.npz"
    proc = subprocess.run([sys.executable, "-m", "semiblind", "separate", str(f), "--method", "oracle-s",
                           "--n-sources", "2", "--set", "A=input", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.is_file() and "oracle-s: 2 sources" in proc.stdout


def test_lpalm_checks_the_energy_grid_of_the_input(tmp_path, capsys):
    """A cube whose energy axis is the model's grid separates; the same channel count on another grid is refused."""
    from semiblind.cli import main
    from semiblind.data import simulate_xray
    from semiblind.data.xray import EnergyGrid

    ms = simulate_xray(1, pixels=200, sources="ggd", snr_db=30, rng=4)
    good = tmp_path / "good.npz"
    np.savez(good, X=ms.X[0], energies=EnergyGrid.default().centers)
    assert main(["separate", str(good), "--method", "lpalm", "--n-sources", "4", "--out",
                 str(tmp_path / "ok.npz")]) == 0
    assert "lpalm-xray65" in capsys.readouterr().out
    bad = tmp_path / "bad.npz"
    np.savez(bad, X=ms.X[0], energies=EnergyGrid.linear(0.3, 10.0, 65).centers)
    assert main(["separate", str(bad), "--method", "lpalm", "--n-sources", "4", "--out",
                 str(tmp_path / "no.npz")]) == 2
    err = capsys.readouterr().err
    assert "energies must match the energy grid of model lpalm-xray65" in err
    assert not (tmp_path / "no.npz").exists()
