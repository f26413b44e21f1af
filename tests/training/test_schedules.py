"""Training schedules: lr factors, named schedules, gradient clipping, time limit, exact resume with a schedule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semiblind.training import build_model, train
from semiblind.training.engine import SCHEDULES, lr_factor, resolve_schedule


def _set(seed: int = 0, N: int = 12, m: int = 8, n: int = 2, t: int = 30):
    rng = np.random.default_rng(seed)
    A = rng.random((N, m, n)) + np.eye(m, n)
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    S = rng.standard_normal((N, n, t)) * (rng.random((N, n, t)) < 0.3)
    return A @ S + 0.01 * rng.standard_normal((N, m, t)), A, S


def test_lr_factor_shapes():
    assert lr_factor("constant", 5, 10, 0.3) == 1.0
    f = [lr_factor("cosine", k, 100, 0.1) for k in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)  # linear warm-up over 10 steps
    assert all(a >= b for a, b in zip(f[10:], f[11:]))  # then decreasing
    assert f[-1] == pytest.approx(0.0, abs=1e-12)
    g = [lr_factor("onecycle", k, 100, 0.1) for k in range(100)]
    assert g[0] > 0.04 and g[-1] == pytest.approx(1e-4)


def test_resolve_schedule_and_bad_values():
    assert resolve_schedule("paper") == SCHEDULES["paper"]
    assert resolve_schedule("fast", lr=1e-2)["lr"] == 1e-2
    assert resolve_schedule("fast", lr=None)["lr"] == SCHEDULES["fast"]["lr"]
    with pytest.raises(ValueError, match="schedule must be one of"):
        resolve_schedule("slow")
    X, A, S = _set()
    model = build_model("lpalm", (X, A, S), layers=2)
    for kw, msg in (({"lr_schedule": "step"}, "lr_schedule"), ({"warmup": 1.0}, "warmup"),
                    ({"clip_grad": 0.0}, "clip_grad"), ({"max_seconds": -1}, "max_seconds")):
        with pytest.raises(ValueError, match=msg):
            train(model, (X, A, S), epochs=1, progress=False, **kw)


def test_schedule_resume_is_exact(tmp_path):
    data = _set()
    kw = {"lr": 3e-3, "batch_size": 4, "seed": 1, "lr_schedule": "onecycle", "warmup": 0.2, "clip_grad": 0.5,
          "progress": False}
    whole = train(build_model("lpalm", data, layers=3, dtype="float64"), data, epochs=3, out_dir=tmp_path / "a",
                  **kw)
    train(build_model("lpalm", data, layers=3, dtype="float64"), data, epochs=3, out_dir=tmp_path / "b",
          max_seconds=1e-9, **kw)  # stops after its first epoch
    resumed = train(build_model("lpalm", data, layers=3, dtype="float64"), data, epochs=3, out_dir=tmp_path / "b",
                    resume=True, **kw)
    assert whole.epochs_run == resumed.epochs_run == 3
    for (name, p), q in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(p, q), name
    with pytest.raises(ValueError, match="lr_schedule"):
        train(build_model("lpalm", data, layers=3, dtype="float64"), data, epochs=4, out_dir=tmp_path / "b",
              resume=True, **{**kw, "lr_schedule": "cosine"})


def test_clipping_changes_the_step():
    data = _set()
    base = {"epochs": 1, "lr": 1e-2, "batch_size": 12, "progress": False}
    a = train(build_model("lpalm", data, layers=2, dtype="float64"), data, **base).model.state_dict()
    b = train(build_model("lpalm", data, layers=2, dtype="float64"), data, clip_grad=1e-6, **base).model.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_cli_train_schedule(tmp_path, capsys):
    from semiblind.cli import main

    X, A, S = _set(N=8)
    np.savez(tmp_path / "tr.npz", X=X, A=A, S=S)
    args = ["train", "lpalm", "--train", str(tmp_path / "tr.npz"), "--layers", "2", "--epochs", "2", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "m"), "--schedule", "fast"]) in (0, None)
    cfg = (tmp_path / "m" / "config.json").read_text()
    assert '"lr_schedule": "onecycle"' in cfg and '"batch_size": 16' in cfg
    assert main([*args, "--out", str(tmp_path / "p"), "--schedule", "paper"]) in (0, None)
    assert '"lr_schedule"' not in (tmp_path / "p" / "config.json").read_text()
    with pytest.raises(SystemExit) as e:
        main([*args, "--out", str(tmp_path / "q"), "--schedule", "slow"])
    assert e.value.code == 2
