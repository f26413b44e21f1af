"""Every registered method takes ``device`` (issue #14 §5) and computes where it is told.

For every method of :func:`semiblind.api.methods`, on a tiny problem suited to it (the bad-input table's
8 channels × 64 pixels, 2 sources, X ≥ 0; the shipped 65-channel models on a simulated 65 × 8 × 8 X-ray cube;
per-image networks for 2 epochs; iterative solvers for 5 iterations):

1. ``device="cpu"`` gives exactly the A and S of the default (the same arithmetic: same device, same seed,
   one thread — ``tests/conftest.py`` pins torch and BLAS to one thread);
2. ``device="cuda"`` gives the CPU's A and S within a float32 tolerance, as NumPy arrays on the host (skipped
   without CUDA);
3. no method silently ignores ``device``: a device torch knows but this package does not compute on
   (``"meta"``) is refused with an error naming ``device``; ``"cuda"`` on a machine without a GPU is refused;
   and with the device resolved to ``meta`` (patched in), the fit fails on a meta tensor after computing on
   it — a method that moved X back to the CPU, or never sent it to the device, would fail before any
   computation or return a result.

Shapes: X ``(m, t)`` or a cube ``(m, H, W)``, A ``(m, n)``, S ``(n, t)`` or ``(n, H, W)``.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

import semiblind._backend as backend
from _bad_input_cases import H, M, N, W, good_arrays
from semiblind.api import get_method, methods
from semiblind.solvers.base import BaseSeparator

pytestmark = pytest.mark.filterwarnings("ignore::semiblind.solvers.base.ConvergenceWarning")

NAMES = sorted(methods())
CUDA = torch.cuda.is_available()

# CUDA against the CPU: float32 arithmetic in another summation order (cuBLAS/cuSOLVER against MKL/LAPACK),
# compounded over up to 50 layers or iterations (the shipped MU networks) or 2 epochs of Adam: the largest
# difference, relative to the array's largest magnitude. 1e-3 is ~10⁴ float32 epsilons.
CUDA_RTOL = 1e-3


@pytest.fixture(scope="module")
def xray() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 65-channel X-ray cube ``X (65, 8, 8)`` with its ``A (65, 4)`` and ``S (4, 8, 8)`` (X ≥ 0), the data
    the shipped models (``semiblind methods``) were trained for."""
    from semiblind.data.mixtures import simulate_xray

    d = simulate_xray(1, image=(8, 8), sources="natural", snr_db=60, rng=0, progress=False)
    return np.clip(d.X[0], 0, None), d.A[0], d.S[0]  # the noise's few slightly negative pixels clipped


def case(name: str, xray: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, int, dict[str, Any]]:
    """``(X, n_sources, params)`` of a tiny problem for method ``name``; networks given as modules are built
    afresh on every call (a separator moves the module it is given to its device and dtype)."""
    X, A, S = good_arrays()
    Xx, Ax, Sx = xray
    shipped = {"almu": (Xx, 4, {}), "nalmu": (Xx, 4, {}), "lpalm": (Xx.reshape(65, -1), 4, {}),
               "sgmca": (Xx, 4, {"projection": "fast", "max_iter": 3})}  # shipped models, picked by channel count
    if name in shipped:
        out = shipped[name]
    elif name in ("lista", "lista-cp", "ista-llt"):
        from semiblind.unrolled import ISTALLT, LISTA, LISTACP

        cls = {"lista": LISTA, "lista-cp": LISTACP, "ista-llt": ISTALLT}[name]
        out = X, N, {"model": cls(n_channels=M, n_sources=N, layers=3, A_ref=A)}
    elif name == "lpalm-iae":
        from semiblind.training.iae import load_iae
        from semiblind.unrolled.lpalm_iae import LPALMIAE

        net = LPALMIAE(n_channels=65, n_sources=4, layers=3, iae=[load_iae("iae-xray65-synchrotron")], mapping=[0],
                       init_pair=(Ax, Sx.reshape(4, -1)))
        out = Xx.reshape(65, -1), 4, {"model": net}
    else:
        out = {
            "cnnaeu": (X.reshape(M, H, W), N, {"epochs": 2, "patch_size": 8, "batch_size": 1, "kernel_size": 3}),
            "dnmf": (X, N, {"epochs": 2, "layers": 2, "progress": False}),
            "mnnbu": (X, N, {"epochs": 2, "layers": 2}),
            "snmf-net": (X, N, {"epochs": 2, "layers": 2}),
            "ista": (X, N, {"A": A}),
            "fista": (X, N, {"A": A}),
            "oracle-s": (X, N, {"A": A}),
            "oracle-a": (X, N, {"S": S}),
            "oracle-gmca": (X, N, {"A": A, "S": S}),
            "sgmca-nn": (X, N, {"references": [A[:, :1].T + 0.01 * np.arange(3)[:, None]]}),
        }.get(name, (X, N, {}))  # every other method: the plain nonnegative mixture
    X, n, params = out
    params = dict(params)
    if "max_iter" in get_method(name).param_names():
        params.setdefault("max_iter", 5)
    return X, n, params


def fit(name: str, xray: Any, **extra: Any) -> BaseSeparator:
    X, n, params = case(name, xray)
    return get_method(name)(n_sources=n, random_state=0, **params, **extra).fit(X)


TRAINED_PER_IMAGE = ("dnmf", "mnnbu", "snmf-net", "cnnaeu")
"""Methods whose ``fit`` trains a network on the image with Adam."""


def test_every_method_takes_device_defaulting_to_the_cpu():
    for name in NAMES:
        cls = get_method(name)
        assert "device" in cls.param_names(), name
        assert cls(n_sources=2).get_params()["device"] == "cpu", name


@pytest.mark.parametrize("name", NAMES)
def test_cpu_device_gives_exactly_the_default(name, xray):
    default = fit(name, xray)
    cpu = fit(name, xray, device="cpu")
    assert isinstance(cpu.mixing_, np.ndarray) and isinstance(cpu.sources_, np.ndarray)
    assert np.isfinite(cpu.mixing_).all() and np.isfinite(cpu.sources_).all()
    if name in TRAINED_PER_IMAGE:
        # networks trained inside fit (hundreds of Adam steps in float32) amplify MKL's alignment-dependent last bits:
        # two identical fits differed once in a full-suite run by 1.2e-7 (1.6e-5 relative, DNMF), never alone
        np.testing.assert_allclose(cpu.mixing_, default.mixing_, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(cpu.sources_, default.sources_, rtol=1e-4,
                                   atol=1e-6 * np.abs(default.sources_).max())
        return
    np.testing.assert_array_equal(cpu.mixing_, default.mixing_)
    np.testing.assert_array_equal(cpu.sources_, default.sources_)


def _close(got: np.ndarray, ref: np.ndarray, what: str) -> None:
    assert isinstance(got, np.ndarray), f"{what} is a {type(got).__name__}, not a NumPy array on the host"
    assert got.shape == ref.shape and got.dtype == ref.dtype, what
    err = float(np.abs(got - ref).max())
    assert err <= CUDA_RTOL * float(np.abs(ref).max()), f"{what}: max |cuda − cpu| = {err:.3g}"


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_matches_the_cpu_within_float32_tolerance(name, xray):
    cpu = fit(name, xray, device="cpu")
    gpu = fit(name, xray, device="cuda")
    if name == "cnnaeu":
        # 2-D dropout draws its masks from the device's generator: CUDA and CPU train on other masks, so the
        # results differ; check what holds on any device (host arrays, shapes, abundances on the simplex).
        for got, ref in ((gpu.mixing_, cpu.mixing_), (gpu.sources_, cpu.sources_)):
            assert isinstance(got, np.ndarray) and got.shape == ref.shape and np.isfinite(got).all()
        np.testing.assert_allclose(gpu.sources_.sum(0), 1.0, atol=1e-5)
        return
    _close(gpu.mixing_, cpu.mixing_, f"{name}: A")
    _close(gpu.sources_, cpu.sources_, f"{name}: S")


@pytest.mark.parametrize("name", NAMES)
def test_meta_device_is_refused_by_name(name, xray):
    with pytest.raises(ValueError, match=r"'device'") as info:
        fit(name, xray, device="meta")
    assert isinstance(info.value, TypeError)  # InvalidParameterError: callers may catch either


@pytest.mark.skipif(CUDA, reason="this machine has a CUDA GPU")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_without_a_gpu_is_refused_by_name(name, xray):
    with pytest.raises(ValueError, match=r"^device 'cuda' needs a (torch built with CUDA|CUDA GPU)"):
        fit(name, xray, device="cuda")


_PLUMBING = {"to", "reshape", "view", "unsqueeze", "squeeze", "contiguous", "expand", "expand_as", "__getitem__",
             "clone", "detach", "as_tensor", "tensor", "permute", "double", "float", "flatten", "__get__"}


class _ComputeOnMeta(TorchFunctionMode):
    """Counts the torch calls (other than conversions and views) whose result holds a meta tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: collections.Counter[str] = collections.Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = getattr(func, "__name__", str(func))
        if name not in _PLUMBING and any(isinstance(o, torch.Tensor) and o.is_meta for o in tree_flatten(out)[0]):
            self.ops[name] += 1
        return out


@pytest.mark.parametrize("name", NAMES)
def test_the_fit_computes_on_the_resolved_device(name, xray, monkeypatch):
    """With the estimator's device resolved to ``meta`` (which holds no data), the method's first computation runs
    on meta and the fit then fails on a meta tensor; it neither returns a result nor fails before computing."""
    resolve = backend.resolve_device
    monkeypatch.setattr(backend, "resolve_device",
                        lambda d, *, argument="device": torch.device("meta") if str(d) == "meta"
                        else resolve(d, argument=argument))
    monkeypatch.setattr(BaseSeparator, "_device", property(lambda self: torch.device("meta")))
    mode = _ComputeOnMeta()
    with pytest.raises((RuntimeError, NotImplementedError), match="meta") as info, mode:
        fit(name, xray)  # device="cpu" passes the parameter check; _device says meta
    assert "same device" not in str(info.value), f"{name} mixes devices: {info.value}"
    assert sum(mode.ops.values()) >= 1, f"{name} failed before computing on its device: {info.value}"


def test_device_names_accepted_by_the_parameter_check():
    """``torch.device`` objects and ``"cuda:<index>"`` pass the parameter check (availability is checked at fit time:
    on a CPU-only torch the CUDA ones are refused there, with their own sentence)."""
    from semiblind.solvers.palm import PALM

    X = np.abs(np.random.default_rng(0).standard_normal((8, 40)))
    assert PALM(n_sources=2, device=torch.device("cpu"), max_iter=2).fit(X).mixing_.shape == (8, 2)
    for dev in ("cuda:0", torch.device("cuda", 1)):
        est = PALM(n_sources=2, device=dev, max_iter=2)
        if torch.cuda.device_count() > 1:
            continue
        with pytest.raises(ValueError, match=r"^device .*(needs a torch built with CUDA|GPU)"):
            est.fit(X)
    for bad in ("meta", "cuda:x", "gpu", -1, True, 1.5):
        with pytest.raises((ValueError, TypeError), match="device"):
            PALM(n_sources=2, device=bad).fit(X)


def test_a_module_given_as_model_is_not_changed_by_fitting():
    """Fitting casts and moves a copy of a ``model=`` module, never the caller's own."""
    from semiblind.api import separate
    from semiblind.training.model_files import load_model

    net = load_model("lpalm-xray65")
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.train()
    X = np.abs(np.random.default_rng(1).standard_normal((65, 60)))
    separate(X, 4, method="lpalm", model=net, dtype="float64")
    assert net.training and all(v.dtype == torch.float32 for v in net.state_dict().values())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
