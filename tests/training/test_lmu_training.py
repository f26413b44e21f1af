"""NALMU/ALMU training: eq. 3 loss decreases, exact resume, two stages, and `semiblind train nalmu|almu`."""

from __future__ import annotations

import torch

from semiblind.cli import main
from semiblind.data.mixtures import simulate_xray
from semiblind.training import load_model
from semiblind.training.lmu import train_almu, train_nalmu
from semiblind.unrolled.lmu import ALMU, NALMU


def _sets():
    tr = simulate_xray(8, image=(8, 8), sources="natural", snr_db=60, rng=1, progress=False)
    va = simulate_xray(3, image=(8, 8), sources="natural", snr_db=60, rng=2, progress=False)
    return tr, va


def test_nalmu_learns_and_resumes_exactly(tmp_path):
    tr, va = _sets()
    full = train_nalmu(tr, va, layers=4, epochs=3, batch_size=4, progress=False, out_dir=tmp_path / "a")
    assert full.history[-1]["valid_loss"] < full.history[0]["valid_loss"] or full.best_epoch > 1
    assert not torch.equal(full.model.w_A, torch.zeros_like(full.model.w_A))  # the masks moved away from MU
    train_nalmu(tr, va, layers=4, epochs=1, batch_size=4, progress=False, out_dir=tmp_path / "b")
    resumed = train_nalmu(tr, va, layers=4, epochs=3, batch_size=4, progress=False, out_dir=tmp_path / "b",
                          resume=True)
    assert torch.equal(resumed.model.w_A, full.model.w_A)
    m = load_model(tmp_path / "a")
    assert isinstance(m, NALMU) and m.contract["energy_grid"] is not None


def test_almu_two_stages_freeze_the_first(tmp_path):
    tr, va = _sets()
    nalmu = train_nalmu(tr, va, layers=2, epochs=2, batch_size=4, progress=False).model
    second, first = train_almu(tr, va, layers=4, init_from=nalmu, epochs=2, batch_size=4, progress=False,
                               out_dir=tmp_path / "almu")
    assert first is None and torch.equal(second.model.nalmu.w_A, nalmu.w_A)
    last = second.model.mlps[0][-1].weight
    assert float(last.detach().abs().sum()) > 0  # the MLPs trained (they start at zero)
    assert isinstance(load_model(tmp_path / "almu"), ALMU)


def test_cli_train_nalmu_and_almu(tmp_path, capsys):
    tr, va = _sets()
    tr.save(tmp_path / "tr.npz")
    va.save(tmp_path / "va.npz")
    common = ["--train", str(tmp_path / "tr.npz"), "--valid", str(tmp_path / "va.npz"), "--epochs", "1", "--quiet"]
    assert main(["train", "nalmu", *common, "--layers", "2", "--out", str(tmp_path / "n")]) == 0
    assert main(["train", "almu", *common, "--layers", "4", "--init-from", str(tmp_path / "n"),
                 "--out", str(tmp_path / "al")]) == 0
    assert load_model(tmp_path / "al").nalmu_layers == 2
    assert main(["train", "almu", *common, "--layers", "4", "--out", str(tmp_path / "al2")]) == 0
    assert (tmp_path / "al2" / "nalmu-stage" / "config.json").is_file()
    assert main(["train", "nalmu", *common, "--loss", "nmse", "--out", str(tmp_path / "x")]) == 2
    assert "--loss" in capsys.readouterr().err
