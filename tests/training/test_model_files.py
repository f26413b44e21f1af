"""Model folders (safetensors + config.json), shipped models, clear errors, and the learned separators."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import semiblind
from semiblind.training import build_model, load_model, save_model, shipped_models
from semiblind.training.model_files import find_shipped_model
from semiblind.unrolled import LISTACP, LPALM

SOURCES_MISMATCH = r"n_sources must be 2, the number of sources this LPALM model was trained for; got 3\."


def _set(seed: int = 0, N: int = 6, m: int = 8, n: int = 2, t: int = 30):
    rng = np.random.default_rng(seed)
    A = rng.random((N, m, n)) + np.eye(m, n)
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    S = rng.standard_normal((N, n, t)) * (rng.random((N, n, t)) < 0.3)
    return A @ S, A, S


@pytest.fixture
def saved(tmp_path):
    data = _set()
    model = build_model("lpalm", data, layers=3, threshold="per-source")
    model.contract["energy_grid"] = "test-grid-8"
    with torch.no_grad():
        model.theta.add_(torch.arange(6.0).reshape(3, 2) * 1e-3)  # non-trivial weights
    d = tmp_path / "model"
    save_model(model, d)
    return model, d, data


def test_roundtrip_and_config(saved):
    model, d, (X, _, _) = saved
    loaded = load_model(d)
    assert isinstance(loaded, LPALM) and loaded.threshold == "per-source" and loaded.layers == 3
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    Xt = torch.as_tensor(X, dtype=torch.float32)
    assert torch.equal(model(Xt)[1], loaded(Xt)[1])
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["architecture"] == {"class": "LPALM", "layers": 3, "n_channels": 8, "n_sources": 2, "tied": False,
                                   "threshold": "per-source", "s_update": "lista-cp", "wavelet": False,
                                   "n_scales": 3}
    dc = cfg["data_contract"]
    assert dc["channels"] == 8 and dc["n_sources"] == 2 and dc["energy_grid"] == "test-grid-8"
    assert dc["preprocessing"]["normalisation"] == "none" and dc["preprocessing"]["wavelet"] == "none"
    assert cfg["library_version"] == semiblind.__version__
    assert semiblind.load_model(str(d)).layers == 3  # the public entry point delegates here
    assert load_model(d, dtype="float64").theta.dtype == torch.float64


def test_wrong_sizes_state_both_numbers(saved):
    _, d, _ = saved
    with pytest.raises(ValueError, match="has 5 channels but this LPALM model was trained for 8 channels"):
        load_model(d, m=5)
    with pytest.raises(ValueError, match=SOURCES_MISMATCH):
        load_model(d, m=8, n=3)


def test_errors(saved, tmp_path):
    _, d, _ = saved
    with pytest.raises(FileNotFoundError, match="neither"):
        load_model(tmp_path / "missing")
    (tmp_path / "w.pt").write_bytes(b"not really a pickle")
    with pytest.raises(ValueError, match="never loads pickles"):
        load_model(tmp_path / "w.pt")
    pk = tmp_path / "pickled"
    pk.mkdir()
    (pk / "model.pth").write_bytes(b"x")
    with pytest.raises(ValueError, match="pickle-based weights"):
        load_model(pk)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        load_model(empty)
    (d / "model.safetensors").write_bytes(b"\x05\x00\x00\x00garbage")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_model(d)
    (d / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="has no model.safetensors"):
        load_model(d)
    (d / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="must be valid JSON"):
        load_model(d)
    (d / "config.json").write_text(json.dumps({"architecture": {"class": "Transformer", "layers": 2}}))
    with pytest.raises(ValueError, match="architecture.class .* must be one of"):
        load_model(d)


def test_weights_not_matching_config(tmp_path, saved):
    model, d, _ = saved
    other = LISTACP(n_channels=8, n_sources=2, layers=3)
    save_model(other, tmp_path / "other")
    (d / "model.safetensors").write_bytes((tmp_path / "other" / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match="does not match its config.json"):
        load_model(d)


def test_lpalm_separator_with_a_model_folder(saved):
    model, d, (X, A, S) = saved
    sep = semiblind.separate(X[0], 2, method="lpalm", model=str(d), input_scale="none")
    assert sep.A.shape == (8, 2) and sep.S.shape == (2, 30) and sep.n_iter == 3
    assert sep.info["model"] == str(d)
    with torch.no_grad():
        A_ref, S_ref = model(torch.as_tensor(X[:1], dtype=torch.float32))
    np.testing.assert_allclose(sep.S, S_ref[0].numpy(), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="X has 7 channels but this LPALM model was trained for 8"):
        semiblind.separate(X[0][:7], 2, method="lpalm", model=str(d))
    with pytest.raises(ValueError, match=SOURCES_MISMATCH):
        semiblind.separate(X[0], 3, method="lpalm", model=str(d))


def test_lpalm_separator_starts_from_a_given_A0(saved):
    model, d, (X, A, _) = saved
    A0 = A[1] / np.linalg.norm(A[1], axis=0)
    sep = semiblind.separate(X[0], 2, method="lpalm", model=str(d), input_scale="none", A0=A0)
    with torch.no_grad():
        A_ref, S_ref = model(torch.as_tensor(X[:1], dtype=torch.float32), A0=torch.as_tensor(A0, dtype=torch.float32))
        A_def, _ = model(torch.as_tensor(X[:1], dtype=torch.float32))
    np.testing.assert_allclose(sep.A, A_ref[0].numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(sep.S, S_ref[0].numpy(), rtol=1e-6, atol=1e-7)
    assert not np.allclose(sep.A, A_def[0].numpy())  # the start matters
    assert sep.params["A0"] is A0
    with pytest.raises(ValueError, match="A0"):
        semiblind.separate(X[0], 2, method="lpalm", model=str(d), A0=np.ones((7, 2)))


def test_sparse_coder_separators(tmp_path):
    X, A, S = _set()
    with pytest.raises(ValueError, match="model must be given for method 'lista'"):
        semiblind.separate(X[0], 2, method="lista")
    save_model(build_model("lista-cp", (X, A, S), layers=2), tmp_path / "cp")
    sep = semiblind.separate(X[0], 2, method="lista-cp", model=str(tmp_path / "cp"))
    np.testing.assert_allclose(sep.A, A.mean(axis=0), rtol=1e-6)  # the fixed A is the training mean
    with pytest.raises(ValueError, match="must be a LISTA model for method 'lista'"):
        semiblind.separate(X[0], 2, method="lista", model=str(tmp_path / "cp"))


def test_no_shipped_model_for_unusual_sizes():
    with pytest.raises(ValueError, match="no shipped LPALM model fits data with 7 channels and 2 sources"):
        find_shipped_model(7, 2)


def test_shipped_lpalm_model():
    if "lpalm-xray65" not in shipped_models():
        pytest.skip("the shipped model lpalm-xray65 is not built in this checkout")
    model = load_model("lpalm-xray65")
    assert isinstance(model, LPALM) and model.m == 65 and model.n == 4 and model.layers == 25
    assert find_shipped_model(65, 4) == "lpalm-xray65"
    cfg = json.loads((semiblind.training.model_files.shipped_models_dir() / "lpalm-xray65" / "config.json")
                     .read_text())
    assert cfg["data_contract"]["energy_grid"]["name"] == "chandra-acis-65"
    assert cfg["training"]["train_data"]["snr_db"] == 30
    # a mixture made of the shipped model's own family order: default model chosen by channel count
    rng = np.random.default_rng(0)
    A = np.abs(rng.standard_normal((65, 4)))
    A /= np.linalg.norm(A, axis=0)
    X = A @ rng.standard_normal((4, 50))
    sep = semiblind.separate(X, 4, method="lpalm")
    assert sep.info["model"] == "lpalm-xray65" and sep.S.shape == (4, 50) and np.isfinite(sep.S).all()


def test_shipped_model_is_matched_on_the_energy_grid_when_the_data_has_one():
    from semiblind.data.xray import EnergyGrid
    from semiblind.training.model_files import find_shipped_model

    grid = EnergyGrid.default()
    assert find_shipped_model(65, 4, energies=grid.centers) == "lpalm-xray65"
    assert find_shipped_model(65, 4) == "lpalm-xray65"  # no energy axis: channel count only
    other = EnergyGrid.linear(0.3, 10.0, 65)  # same channel count, another grid
    with pytest.raises(ValueError, match=r"energies must match the energy grid of model lpalm-xray65"):
        find_shipped_model(65, 4, energies=other.centers)
