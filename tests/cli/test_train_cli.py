"""`semiblind train`: trains on a tiny simulated set, writes a model folder that loads and separates."""

from __future__ import annotations

import json

import numpy as np
import pytest

import semiblind
from semiblind.cli import main


def _write_set(path, seed, N=8, m=6, n=2, t=24):
    rng = np.random.default_rng(seed)
    A = rng.random((N, m, n)) + np.eye(m, n)
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    S = rng.standard_normal((N, n, t)) * (rng.random((N, n, t)) < 0.3)
    X = A @ S + 0.01 * rng.standard_normal((N, m, t))
    np.savez(path, X=X, A=A, S=S, meta=json.dumps({"description": "tiny test set"}))
    return X, A, S


def test_train_lpalm_then_load_and_separate(tmp_path, capsys):
    X, _, _ = _write_set(tmp_path / "train.npz", 0)
    _write_set(tmp_path / "valid.npz", 1, N=4)
    out = tmp_path / "model"
    base = ["train", "lpalm", "--train", str(tmp_path / "train.npz"), "--valid", str(tmp_path / "valid.npz"),
            "--out", str(out), "--layers", "3", "--batch-size", "4", "--lr", "1e-3", "--quiet",
            "--schedule", "paper"]  # constant lr: a finished run can be extended by --resume
    args = [*base, "--epochs", "2"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "trained LPALM (3 layers) for 2 epoch(s)" in printed and "NMSE(S)" in printed
    model = semiblind.load_model(str(out))
    assert model.layers == 3 and model.m == 6 and model.n == 2
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["training"]["epochs_run"] == 2 and cfg["training"]["batch_size"] == 4
    assert cfg["training"]["train_file"].endswith("train.npz")
    assert len((out / "train_log.jsonl").read_text().splitlines()) == 2
    sep = semiblind.separate(X[0], 2, method="lpalm", model=str(out))
    assert sep.S.shape == (2, 24) and np.isfinite(sep.S).all()

    # an existing run is not silently replaced; --resume continues it to more epochs
    assert main(args) == 2
    assert "already holds a training run" in capsys.readouterr().err
    assert main([*base, "--epochs", "3", "--resume"]) == 0
    assert len((out / "train_log.jsonl").read_text().splitlines()) == 3
    assert main([*args, "--overwrite"]) == 0
    # the default (one-cycle) schedule is planned over its run: extending a finished one is refused, with the way out
    fast = [*base[:7], str(tmp_path / "fast"), *base[8:-2]]
    assert main([*fast, "--epochs", "1"]) == 0
    capsys.readouterr()
    assert main([*fast, "--epochs", "2", "--resume"]) == 2
    assert "cannot be extended: start a new run, or train with --schedule paper" in capsys.readouterr().err


def test_train_lista_and_errors(tmp_path, capsys):
    _write_set(tmp_path / "train.npz", 0)
    out = tmp_path / "lista"
    assert main(["train", "lista-cp", "--train", str(tmp_path / "train.npz"), "--out", str(out),
                 "--layers", "2", "--epochs", "1", "--quiet"]) == 0
    assert semiblind.load_model(str(out)).architecture()["class"] == "LISTACP"
    assert main(["train", "lpalm", "--train", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "x"),
                 "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "nmf", "--train", "a.npz", "--out", "b"])
