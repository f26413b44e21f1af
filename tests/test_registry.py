"""The one registry: a throw-away method, learned method and trainable network registered here are found by
``separate()``, the CLI's ``separate --method`` / ``train`` parsers, ``semiblind info`` and model loading; every
registered method has its README row; ``get_params`` follows the constructor of every method."""

from __future__ import annotations

import importlib.util
import inspect
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from torch import nn

import semiblind
from semiblind import _registry
from semiblind.api import kinds, method_table, methods
from semiblind.cli import main
from semiblind.estimators import LearnedSeparator
from semiblind.solvers.base import COMMON_CONSTRAINTS, BaseSeparator, FitResult, register
from semiblind.training import load_model, save_model
from semiblind.unrolled.base import UnrolledNet, register_model

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "readme_methods.py"


class ToyMethod(BaseSeparator):
    """A = the first n pixels' columns, normalised; S by least squares; S multiplied by ``scale``."""

    name = "toy-h2"
    family = "throw-away test method"
    reference = "tests/test_registry.py"
    nonnegative = False
    _parameter_constraints: ClassVar[dict[str, list]] = {**COMMON_CONSTRAINTS, "scale": [lambda v: True]}

    def __init__(self, *, n_sources: int, scale: float = 1.0, random_state: Any = None, dtype: str = "float32",
                 device: Any = "cpu", verbose: bool = False) -> None:
        self.n_sources = n_sources
        self.scale = scale
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _validate_params(self) -> None:  # "scale" takes anything here
        pass

    def _fit_batch(self, X: torch.Tensor, *, image_shape: Any) -> FitResult:
        A = X[:, :, : self.n_sources]
        A = A / torch.linalg.vector_norm(A, dim=1, keepdim=True)
        S = torch.linalg.lstsq(A, X).solution * self.scale
        return FitResult(A=A, S=S, n_iter=1, converged=True)


class ToyNet(UnrolledNet):
    """Throw-away network: A is a learned matrix, S = W X (one layer)."""

    kind = "toy-net-h2"

    def __init__(self, *, n_channels: int, n_sources: int, layers: int = 1, A_init: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(n_channels=n_channels, n_sources=n_sources, layers=layers, dtype=dtype)
        A = torch.zeros(n_channels, n_sources, dtype=self._param_dtype) if A_init is None else \
            torch.as_tensor(A_init, dtype=self._param_dtype).clone()
        self.A_param = nn.Parameter(A)
        self.W = nn.Parameter(torch.linalg.pinv(A) if A_init is not None else A.mT.clone())

    @classmethod
    def for_training(cls, A: torch.Tensor, S: torch.Tensor, *, layers: int = 1, dtype: Any = None,
                     **options: Any) -> ToyNet:
        return cls(n_channels=int(A.shape[1]), n_sources=int(A.shape[2]), layers=layers, A_init=A.mean(dim=0),
                   dtype=dtype, **options)

    def forward(self, X: torch.Tensor, return_layers: bool = False, image_shape: Any = None) -> tuple:
        self._check_input(X)
        A = self.A_param.expand(X.shape[0], -1, -1)
        S = self.W @ X.to(self.dtype)
        return (A, S, [A], [S]) if return_layers else (A, S)


class ToyLearned(LearnedSeparator):
    """Throw-away learned method running a ToyNet model folder."""

    name = "toy-h2-learned"
    family = "throw-away learned test method"
    reference = "tests/test_registry.py"
    model_classes = ("ToyNet",)


@pytest.fixture
def toy():
    register(ToyMethod)
    register(ToyLearned)
    register_model(ToyNet)
    yield
    _registry.unregister(ToyMethod.name)
    _registry.unregister(ToyLearned.name)
    _registry.unregister_network("ToyNet")


def _data(tmp_path: Path, rng: np.random.Generator, N: int = 6, m: int = 6, n: int = 2, t: int = 20):
    A = rng.random((N, m, n)) + np.eye(m, n)
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    S = rng.standard_normal((N, n, t))
    X = A @ S
    np.savez(tmp_path / "train.npz", X=X, A=A, S=S, meta=json.dumps({"description": "toy"}))
    np.savez(tmp_path / "one.npz", X=X[0], A=A[0], S=S[0])
    return X, A, S


def test_throwaway_method_is_found_everywhere(toy, tmp_path, rng, capsys):
    X, _, _ = _data(tmp_path, rng)
    assert methods()["toy-h2"] is ToyMethod
    sep = semiblind.separate(X[0], 2, method="toy-h2", scale=2.0)
    ref = ToyMethod(n_sources=2, scale=2.0).fit(X[0])
    # float32 least squares: the summation order may differ between two calls (thread pool), not the method.
    np.testing.assert_allclose(sep.S, ref.sources_, rtol=1e-5, atol=1e-5 * float(np.abs(ref.sources_).max()))
    assert sep.method == "toy-h2" and sep.params["scale"] == 2.0

    with pytest.raises(SystemExit) as exc:
        main(["separate", "--help"])
    assert exc.value.code == 0 and "toy-h2" in capsys.readouterr().out
    out = tmp_path / "res.npz"
    assert main(["separate", str(tmp_path / "one.npz"), "--method", "toy-h2", "--n-sources", "2", "--set",
                 "scale=3", "--out", str(out)]) == 0
    assert "toy-h2: 2 sources" in capsys.readouterr().out
    with np.load(out) as f:
        np.testing.assert_allclose(f["S"], 1.5 * ref.sources_, rtol=1e-5,
                                       atol=1e-5 * float(np.abs(1.5 * ref.sources_).max()))

    assert main(["info"]) == 0
    listing = capsys.readouterr().out
    assert "toy-h2" in listing and "throw-away test method" in listing
    assert main(["info", "toy-h2"]) == 0
    described = capsys.readouterr().out
    assert "parameter scale" in described and "tests/test_registry.py" in described
    assert any(r["name"] == "toy-h2" and not r["learned"] for r in method_table())
    assert any(r["name"] == "toy-h2-learned" and r["learned"] for r in method_table())

    _registry.unregister("toy-h2")
    assert "toy-h2" not in methods()
    assert main(["separate", str(tmp_path / "one.npz"), "--method", "toy-h2", "--n-sources", "2", "--out",
                 str(tmp_path / "again.npz")]) == 2
    assert "method must be one of" in capsys.readouterr().err


def test_throwaway_kind_trains_saves_loads_and_separates(toy, tmp_path, rng, capsys):
    X, _, _ = _data(tmp_path, rng)
    assert "toy-net-h2" in kinds() and kinds()["toy-net-h2"].options == ("A_init",)
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0 and "toy-net-h2" in capsys.readouterr().out
    d = tmp_path / "toy-model"
    assert main(["train", "toy-net-h2", "--train", str(tmp_path / "train.npz"), "--out", str(d), "--layers", "1",
                 "--epochs", "1", "--batch-size", "6", "--quiet"]) == 0
    assert "trained ToyNet (1 layers)" in capsys.readouterr().out
    assert main(["train", "toy-net-h2", "--train", str(tmp_path / "train.npz"), "--out", str(tmp_path / "x"),
                 "--wavelet", "--quiet"]) == 2
    assert "--wavelet is not an option of kind 'toy-net-h2'" in capsys.readouterr().err

    net = load_model(d)
    assert type(net) is ToyNet and json.loads((d / "config.json").read_text())["architecture"]["class"] == "ToyNet"
    sep = semiblind.separate(X[0], 2, method="toy-h2-learned", model=str(d))
    with torch.no_grad():
        _, S_ref = net(torch.as_tensor(X[:1], dtype=torch.float32))
    np.testing.assert_allclose(sep.S, S_ref[0].numpy(), rtol=1e-5, atol=1e-6)
    assert sep.info["model"] == str(d)
    assert main(["info"]) == 0
    assert "toy-net-h2" in capsys.readouterr().out

    save_model(ToyNet(n_channels=6, n_sources=2), tmp_path / "untrained")
    _registry.unregister_network("ToyNet")
    assert "toy-net-h2" not in kinds()
    with pytest.raises(ValueError, match="architecture.class .* must be one of .*; got 'ToyNet'"):
        load_model(tmp_path / "untrained")


def test_register_requires_the_attributes_and_a_free_name():
    class NoFamily(ToyMethod):
        name = "toy-h2-incomplete"

    del_family = type("NoFamily2", (BaseSeparator,), {"name": "toy-x", "reference": "r", "_fit_batch": None})
    with pytest.raises(ValueError, match="must declare the class attribute"):
        register(del_family)
    with pytest.raises(ValueError, match="already registered"):
        register(type("Impostor", (ToyMethod,), {"name": "palm"}))
    assert methods()["palm"].__name__ == "PALM"
    assert register(NoFamily) is NoFamily  # inherits family, reference, nonnegative
    _registry.unregister(NoFamily.name)


def test_readme_method_table_lists_every_registered_method():
    spec = importlib.util.spec_from_file_location("readme_methods", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = mod.README.read_text(encoding="utf-8")
    block = text.split(mod.BEGIN, 1)[1].split(mod.END, 1)[0]
    missing = [name for name in methods() if f"`--method {name}`" not in block]
    assert not missing, f"README.md has no row for {missing}: run python scripts/readme_methods.py"
    assert mod.render(text) == text, "README.md's method table is out of date: run python scripts/readme_methods.py"


def _fake_fit(self, X, batched=False):
    """Stand-in for the fit: validates the hyper-parameters (as the real fit does) and returns shaped zeros."""
    self._validate_params()
    m, t = np.shape(X)[0], int(np.prod(np.shape(X)[1:]))
    self.mixing_, self.sources_ = np.zeros((m, self.n_sources)), np.zeros((self.n_sources, t))
    self.n_iter_, self.converged_, self.history_, self.seconds_, self.info_ = 0, True, {}, 0.0, {}
    return self


@pytest.mark.parametrize("name", sorted(methods()))
def test_get_params_follow_the_constructor(name, monkeypatch, rng):
    cls = methods()[name]
    sig = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]
    assert all(p.kind == p.KEYWORD_ONLY for p in sig), f"{name}: hyper-parameters must be keyword-only"
    est = cls(n_sources=2)
    params = est.get_params()
    assert list(params) == [p.name for p in sig]
    text = repr(est)
    for p in sig:
        assert f"{p.name}=" in text
        if p.default is not p.empty and p.name != "n_sources":
            assert params[p.name] is p.default or params[p.name] == p.default
    monkeypatch.setattr(cls, "_fit", _fake_fit)
    X = rng.random((6, 12)) + 0.1
    names = [p.name for p in sig]
    known = {k: v for k, v in (("A", rng.random((6, 2))), ("S", rng.random((2, 12)))) if k in names}  # oracles
    for p in sig:
        if p.name in ("n_sources", "random_state") or p.default is p.empty:
            continue
        try:
            sep = semiblind.separate(X, 2, method=name, **{**known, p.name: p.default})
        except ValueError as exc:  # a default that needs a companion (e.g. the known A left None) is refused by
            msg = str(exc)       # name, never as an unknown parameter
            assert "no parameter" not in msg and "unknown parameter" not in msg and repr(p.name) in msg, msg
            continue
        assert sep.params[p.name] is p.default or sep.params[p.name] == p.default
