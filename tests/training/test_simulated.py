"""Simulation-fed training: batches drawn on the fly, reproducible (same seed → same weights) and resumable."""

from __future__ import annotations

import pytest
import torch

from semiblind.training import build_model, train
from semiblind.training.simulated import SimulatedSource


def _run(sim, out, epochs, resume=False):
    model = build_model("lpalm", sim.probe(dtype=torch.float64), layers=2, dtype="float64")
    return train(model, sim, epochs=epochs, batch_size=4, lr=1e-3, progress=False, out_dir=out, resume=resume)


def _diff(a, b):
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return max(float((sa[k] - sb[k]).abs().max()) for k in sa)


def test_same_seed_same_weights_and_exact_resume(tmp_path):
    sim = SimulatedSource(per_epoch=8, pixels=40, seed=1)
    a, b = _run(sim, tmp_path / "a", 2), _run(sim, tmp_path / "b", 2)
    assert _diff(a, b) == 0.0
    other = _run(SimulatedSource(per_epoch=8, pixels=40, seed=2), tmp_path / "o", 2)
    assert _diff(a, other) > 1e-8  # another seed draws other mixtures
    # epochs draw different mixtures: the two epochs' batches differ
    assert not torch.equal(torch.as_tensor(sim.batch(0, 0, 4)["X"]), torch.as_tensor(sim.batch(1, 0, 4)["X"]))
    _run(sim, tmp_path / "c", 1)
    c = _run(sim, tmp_path / "c", 2, resume=True)
    assert _diff(a, c) == 0.0 and [r["train_loss"] for r in c.history] == [r["train_loss"] for r in a.history]
    with pytest.raises(ValueError, match="holds other data"):  # other simulator settings: refused
        _run(SimulatedSource(per_epoch=8, pixels=40, seed=1, snr_db=20.0), tmp_path / "c", 3, resume=True)
    assert a.model.contract["training"]["simulated"]["per_epoch"] == 8


def test_cli_simulate(tmp_path, capsys):
    from semiblind.cli import main

    base = ["train", "lpalm", "--simulate", "xray", "--pixels", "40", "--per-epoch", "8", "--batch-size", "4",
            "--layers", "2", "--epochs", "1", "--quiet"]
    assert main(base + ["--out", str(tmp_path / "m")]) == 0
    assert (tmp_path / "m" / "model.safetensors").is_file()
    assert main(base + ["--out", str(tmp_path / "n"), "--train", str(tmp_path / "x.npz")]) == 2
    assert "--simulate" in capsys.readouterr().err
    with pytest.raises(ValueError, match="per_epoch"):
        SimulatedSource(per_epoch=0)
