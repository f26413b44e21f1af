"""`semiblind simulate`: the issue's done-when check, through the real console script and in-process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from semiblind.cli import main

DONE_WHEN = ["simulate", "xray", "--n-samples", "20", "--pixels", "500", "--sources", "ggd", "--snr", "30"]


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _console_script() -> list[str]:
    exe = shutil.which("semiblind")
    if exe is None:  # not on PATH (e.g. a bare venv): the same entry point through the interpreter
        return [sys.executable, "-m", "semiblind"]
    return [exe]


def test_done_when_console_script_and_in_process(tmp_path, capsys):
    f_sub = tmp_path / "f.npz"
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    proc = subprocess.run(_console_script() + DONE_WHEN + ["--seed", "1", "--out", str(f_sub)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and len(proc.stdout.strip().splitlines()) == 1

    d = _arrays(f_sub)
    assert d["X"].shape == (20, 65, 500) and d["A"].shape == (20, 65, 4) and d["S"].shape == (20, 4, 500)
    X, N = d["X"].astype(np.float64), d["noise"].astype(np.float64)
    snr = 10 * np.log10(np.sum((X - N) ** 2, axis=(1, 2)) / np.sum(N**2, axis=(1, 2)))
    np.testing.assert_allclose(snr, 30.0, atol=0.01)

    # same seed in-process: identical arrays (and identical bytes); another seed: different arrays
    f_same, f_other = tmp_path / "same.npz", tmp_path / "other.npz"
    assert main(DONE_WHEN + ["--seed", "1", "--out", str(f_same)]) == 0
    assert main(DONE_WHEN + ["--seed", "2", "--out", str(f_other)]) == 0
    same, other = _arrays(f_same), _arrays(f_other)
    for k in ("X", "A", "S", "noise"):
        assert same[k].tobytes() == d[k].tobytes()
        assert not np.array_equal(other[k], d[k])
    assert f_same.read_bytes() == f_sub.read_bytes()
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2 and out[0].startswith("wrote")


def test_existing_output_needs_overwrite(tmp_path, capsys):
    f = tmp_path / "f.npz"
    f.write_bytes(b"keep me")
    args = ["simulate", "xray", "--n-samples", "2", "--pixels", "20", "--out", str(f)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and len(err.strip().splitlines()) == 1
    assert f.read_bytes() == b"keep me"
    assert main(args + ["--overwrite"]) == 0
    assert _arrays(f)["X"].shape == (2, 65, 20)


def test_bad_arguments_exit_2(tmp_path, capsys):
    out = str(tmp_path / "g.npz")
    assert main(["simulate", "xray", "--n-samples", "2", "--pixels", "20", "--sources", "casa-like",
                 "--out", out]) == 2
    assert "needs image" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "xray", "--n-samples", "2", "--out", out])  # neither --pixels nor --image
    assert exc.value.code == 2
    assert not Path(out).exists()


def test_simulate_remote_and_image_sources(tmp_path):
    pytest.importorskip("earthlib")
    f = tmp_path / "r.npz"
    assert main(["simulate", "remote", "--n-samples", "2", "--image", "6", "5", "--n-sources", "3",
                 "--snr", "20", "--seed", "0", "--out", str(f)]) == 0
    d = _arrays(f)
    assert d["X"].shape == (2, 180, 6, 5) and d["S"].shape == (2, 3, 6, 5)
    g = tmp_path / "c.npz"
    assert main(["simulate", "xray", "--n-samples", "2", "--image", "16", "16", "--sources", "casa-like",
                 "--randomize-pixels", "--out", str(g)]) == 0
    assert _arrays(g)["S"].shape == (2, 4, 16, 16)


def test_simulate_paper_xray(tmp_path, shared_xray):
    f = tmp_path / "p.npz"
    assert main(["simulate", "paper-xray", "--spectra", "75", "--n-samples", "3", "--pixels", "40",
                 "--spectra-path", str(shared_xray), "--out", str(f)]) == 0
    d = _arrays(f)
    assert d["A"].shape == (3, 75, 3) and "energies" not in d
