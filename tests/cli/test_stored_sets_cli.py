"""`semiblind simulate ... --out FILE.h5|.npz` streams the set to disk; `semiblind train --train FILE` reads it lazily
(the default) with the weights of `--in-memory`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from semiblind.cli import main
from semiblind.data.mixtures import simulate_xray

SIM = ["--n-samples", "6", "--pixels", "32", "--snr", "25", "--seed", "3"]


def _simulate(path, *extra):
    return main(["simulate", "xray", *SIM, "--out", str(path), "--no-progress", *extra])


def test_simulate_streams_npz_and_h5_identical_to_the_in_memory_set(tmp_path, capsys):
    import h5py

    assert _simulate(tmp_path / "s.npz") == 0
    out, err = capsys.readouterr()
    assert "writing 6 xray mixtures to" in err
    assert out.startswith(f"wrote {tmp_path / 's.npz'}") and "X (6, 65, 32), A (6, 65, 4), S (6, 4, 32)" in out
    ms = simulate_xray(6, pixels=32, snr_db=25.0, rng=3)
    ms.save(tmp_path / "mem.npz")
    assert (tmp_path / "s.npz").read_bytes() == (tmp_path / "mem.npz").read_bytes()
    assert _simulate(tmp_path / "s.h5") == 0
    with h5py.File(tmp_path / "s.h5") as f:
        for k in ("X", "A", "S", "noise"):
            np.testing.assert_array_equal(f[k][()], getattr(ms, k))
    assert _simulate(tmp_path / "s.h5") == 2  # exists: --overwrite needed
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["h5", "npz"])
def test_train_reads_a_stored_set_lazily_with_the_weights_of_in_memory(tmp_path, capsys, fmt):
    assert _simulate(tmp_path / f"train.{fmt}") == 0
    assert main(["simulate", "xray", "--n-samples", "3", "--pixels", "32", "--seed", "4", "--no-progress",
                 "--out", str(tmp_path / "valid.npz")]) == 0
    base = ["train", "lpalm", "--train", str(tmp_path / f"train.{fmt}"), "--valid", str(tmp_path / "valid.npz"),
            "--layers", "2", "--batch-size", "2", "--lr", "1e-3", "--quiet",
            "--schedule", "paper"]  # constant lr: a run of 1 epoch can be resumed to 2 (a one-cycle one cannot)
    assert main([*base, "--epochs", "2", "--out", str(tmp_path / "lazy")]) == 0
    assert main([*base, "--epochs", "2", "--out", str(tmp_path / "mem"), "--in-memory"]) == 0
    capsys.readouterr()
    def same(a, b):  # the tensors (the files' headers carry the run's own facts)
        wa, wb = load_file(str(tmp_path / a / "model.safetensors")), load_file(str(tmp_path / b / "model.safetensors"))
        return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)

    assert same("lazy", "mem")
    # one epoch in memory, resumed lazily: the same run
    assert main([*base, "--epochs", "1", "--out", str(tmp_path / "split"), "--in-memory"]) == 0
    assert main([*base, "--epochs", "2", "--out", str(tmp_path / "split"), "--resume"]) == 0
    assert same("split", "lazy")
    # resuming on another stored set is refused
    assert main([*base[:3], str(tmp_path / "valid.npz"), *base[4:], "--epochs", "3", "--out", str(tmp_path / "split"),
                 "--resume"]) == 2
    assert "resume needs the training data of the interrupted run" in capsys.readouterr().err
