"""Training engine: losses, loss decrease, determinism, checkpoints and exact resume, early stopping."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from semiblind.training import build_model, evaluate, train
from semiblind.training.checkpoint import load_checkpoint
from semiblind.training.losses import SeparationLoss, cosine_columns, make_loss, mean_angle, nmse


def _set(seed: int, N: int = 12, m: int = 8, n: int = 2, t: int = 30):
    rng = np.random.default_rng(seed)
    A = rng.random((N, m, n)) + np.eye(m, n)  # family order fixed: column j peaks at channel j
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    S = rng.standard_normal((N, n, t)) * (rng.random((N, n, t)) < 0.3)
    X = A @ S + 0.01 * rng.standard_normal((N, m, t))
    return X, A, S


# ------------------------------------------------------------------------------------------------ losses


def test_nmse_and_mean_angle_by_hand():
    true = torch.tensor([[[3.0, 4.0]]])  # ‖·‖² = 25
    pred = torch.tensor([[[3.0, 3.0]]])  # error² = 1
    assert float(nmse(pred, true)[0]) == pytest.approx(1 / 25)
    A = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    B = torch.tensor([[[1.0, 1.0], [1.0, 0.0]]])  # column 0 at 45°, column 1 at 90°
    np.testing.assert_allclose(cosine_columns(B, A).numpy(), [[1 / math.sqrt(2), 0.0]], atol=1e-7)
    assert float(mean_angle(B, A)[0]) == pytest.approx((math.pi / 4 + math.pi / 2) / 2, rel=1e-5)


def test_loss_options():
    S_true = torch.ones(2, 2, 3)
    A_true = torch.eye(3, 2).expand(2, 3, 2)
    S_layers = [torch.zeros(2, 2, 3), S_true.clone()]  # layer 0 NMSE 1, layer 1 NMSE 0
    A_layers = [A_true.clone(), 2 * A_true]  # last layer NMSE(A) = 1
    assert float(SeparationLoss()(A_layers, S_layers, A_true, S_true)) == pytest.approx(1.0)
    assert float(SeparationLoss("nmse_s")(A_layers, S_layers, A_true, S_true)) == pytest.approx(0.0)
    assert float(SeparationLoss("cosine")(A_layers, S_layers, A_true, S_true)) == pytest.approx(0.0, abs=1e-6)
    w = SeparationLoss("nmse", layer_weights=[0.5, 1.0])
    assert float(w(A_layers, S_layers, A_true, S_true)) == pytest.approx(0.5 * 1.0 + 1.0)
    assert float(SeparationLoss()(None, S_layers, A_true, S_true)) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="layer_weights must have one weight per layer"):
        SeparationLoss(layer_weights=[1.0])(A_layers, S_layers, A_true, S_true)
    with pytest.raises(ValueError, match="loss must be one of"):
        make_loss("mse")


# ------------------------------------------------------------------------------------------------ training


def test_training_reduces_the_loss():
    tr, va = _set(0), _set(1, N=6)
    model = build_model("lpalm", tr, layers=3)
    before = evaluate(model, va)["loss"]
    res = train(model, tr, va, epochs=4, lr=3e-3, batch_size=4, progress=False)
    after = evaluate(res.model, va)["loss"]
    assert after < 0.9 * before
    assert res.best_epoch >= 1 and len(res.history) == 4
    rec = res.history[-1]
    assert len(rec["valid_nmse_S_layers"]) == 3 and len(rec["valid_nmse_A_layers"]) == 3
    assert res.model.contract["training"]["n_train"] == 12
    assert res.model.contract["validation"]["valid_nmse_S"] == pytest.approx(
        res.history[res.best_epoch - 1]["valid_nmse_S"])


@pytest.mark.parametrize("kind", ["lista", "lista-cp", "ista-llt"])
def test_sparse_coders_train(kind):
    tr = _set(0)
    model = build_model(kind, tr, layers=2)
    before = evaluate(model, tr)["nmse_S"]
    res = train(model, tr, epochs=3, lr=3e-3, batch_size=4, progress=False)
    assert evaluate(res.model, tr)["nmse_S"] < before
    assert res.history[-1].get("valid_loss") is None


def test_determinism_and_seed():
    tr = _set(0)
    runs = []
    for seed in (0, 0, 1):
        model = build_model("lpalm", tr, layers=2)
        runs.append(train(model, tr, epochs=2, lr=1e-3, batch_size=3, seed=seed, progress=False).model)
    sd = [r.state_dict() for r in runs]
    assert all(torch.equal(sd[0][k], sd[1][k]) for k in sd[0])
    assert not all(torch.equal(sd[0][k], sd[2][k]) for k in sd[0])


def test_resume_gives_identical_weights(tmp_path):
    tr, va = _set(0), _set(1, N=5)
    kw = {"lr": 2e-3, "batch_size": 5, "seed": 3, "progress": False}
    full = train(build_model("lpalm", tr, layers=2), tr, va, epochs=3, out_dir=tmp_path / "full", **kw)
    # an interrupted run: one epoch, then a crash that leaves a half-written log line and temp file behind
    part = tmp_path / "part"
    train(build_model("lpalm", tr, layers=2), tr, va, epochs=1, out_dir=part, **kw)
    with open(part / "train_log.jsonl", "a") as fh:
        fh.write('{"epoch": 2, "train_lo')
    (part / "checkpoint" / ".state-000002.safetensors.junk.part").write_bytes(b"\x00garbage")
    res = train(build_model("lpalm", tr, layers=2), tr, va, epochs=3, out_dir=part, resume=True, **kw)
    a, b = full.model.state_dict(), res.model.state_dict()
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    info_a, last_a, _, opt_a = load_checkpoint(tmp_path / "full" / "checkpoint")
    info_b, last_b, _, opt_b = load_checkpoint(part / "checkpoint")
    assert all(torch.equal(last_a[k], last_b[k]) for k in last_a)
    for i, st in opt_a["state"].items():
        assert all(torch.equal(st[k], opt_b["state"][i][k]) for k in st)
    assert info_a["best_epoch"] == info_b["best_epoch"] and info_a["epoch"] == info_b["epoch"] == 3
    log = [json.loads(line) for line in (part / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3]
    assert [r["train_loss"] for r in log] == [r["train_loss"] for r in full.history]
    assert (part / "config.json").is_file() and (part / "model.safetensors").is_file()


def test_resume_refuses_changed_settings_and_existing_runs(tmp_path):
    tr = _set(0)
    train(build_model("lpalm", tr, layers=2), tr, epochs=1, out_dir=tmp_path / "r", progress=False)
    with pytest.raises(ValueError, match="same lr"):
        train(build_model("lpalm", tr, layers=2), tr, epochs=2, lr=1.0, out_dir=tmp_path / "r", resume=True,
              progress=False)
    with pytest.raises(FileExistsError, match="already holds a training run"):
        train(build_model("lpalm", tr, layers=2), tr, epochs=1, out_dir=tmp_path / "r", progress=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(build_model("lpalm", tr, layers=2), tr, epochs=1, out_dir=tmp_path / "new", resume=True,
              progress=False)


def test_early_stopping():
    tr = _set(0)

    def flat_loss(A_layers, S_layers, A_true, S_true):  # never improves after the first epoch
        return 1.0 + 0.0 * S_layers[-1].sum()

    res = train(build_model("lpalm", tr, layers=2), tr, tr, epochs=10, loss=flat_loss, early_stopping=2,
                progress=False)
    assert res.stopped_early and res.epochs_run == 3 and res.best_epoch == 1


def test_bad_arguments():
    tr = _set(0)
    model = build_model("lpalm", tr, layers=2)
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        train(model, tr, epochs=0)
    with pytest.raises(ValueError, match="lr must be a positive"):
        train(model, tr, lr=-1.0)
    with pytest.raises(ValueError, match="train_set has 5 channels but this LPALM model was trained for 8"):
        X, A, S = _set(0, m=5)
        train(model, (X, A, S), epochs=1)
    with pytest.raises(ValueError, match="kind must be one of"):
        build_model("nmf", tr)
    with pytest.raises(ValueError, match="train_set must hold X"):
        train(model, (tr[0], tr[1][:, :, :1], tr[2]), epochs=1)
