"""LPALM and the image size: ``input_scale="pixel"`` keeps the per-pixel scale of training (t_train in the data
contract), so a model trained at one t works at 10× and 40× that t."""

import numpy as np
import pytest

from semiblind import metrics
from semiblind.api import get_method
from semiblind.data import realistic
from semiblind.training import build_model, train

T_TRAIN = 400
FACTOR = 1.5  # NMSE(A) at 10× and 40× t_train may be at most this many times NMSE(A) at t_train


@pytest.fixture(scope="module")
def trained():
    fits = realistic.ggd_fits(realistic.reference_maps(0, (48, 48)))
    A_tr, A_te, _ = realistic.mixing_matrices("simulator", n_train=64, n_test=6, seed=0)
    tr = realistic.training_set(A_tr, fits, pixels=T_TRAIN, rng=0)
    net = build_model("lpalm", tr, layers=8)
    net = train(net, tr, None, epochs=4, lr=1e-3, batch_size=8, seed=0, progress=False).model
    return net, fits, A_te


def _nmse_A(net, fits, A, t, mode):
    ms = realistic.training_set(A, fits, pixels=t, rng=5)
    est = get_method("lpalm")(n_sources=4, model=net, input_scale=mode).fit_batch(ms.X)
    A_al, _ = metrics.align(est.mixing_.astype(float), None, ms.A.astype(float))
    return float(np.median(metrics.nmse(A_al, ms.A, batched=True)))


def test_engine_records_t_train(trained):
    net, _, _ = trained
    assert net.contract["preprocessing"]["t_train"] == T_TRAIN


def test_pixel_mode_is_invariant_to_the_image_size(trained):
    net, fits, A = trained
    base = _nmse_A(net, fits, A, T_TRAIN, "pixel")
    assert base < 0.5  # the model has learned something
    for factor in (10, 40):
        assert _nmse_A(net, fits, A, factor * T_TRAIN, "pixel") <= FACTOR * base
    # at t_train both modes are the same computation
    assert _nmse_A(net, fits, A, T_TRAIN, "energy") == pytest.approx(base, rel=1e-4)


def test_pixel_mode_scale_equivariant(trained):
    net, fits, A = trained
    ms = realistic.training_set(A[:2], fits, pixels=2 * T_TRAIN, rng=1)
    est = get_method("lpalm")(n_sources=4, model=net, input_scale="pixel")
    a = est.fit_batch(ms.X)
    A1, S1 = a.mixing_.copy(), a.sources_.copy()
    b = est.fit_batch(7.0 * ms.X)
    np.testing.assert_allclose(b.mixing_, A1, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(b.sources_, 7.0 * S1, rtol=1e-3, atol=1e-6)


def test_pixel_mode_needs_t_train(trained):
    net, fits, A = trained
    bare = net.copy()
    bare.contract = {}
    ms = realistic.training_set(A[:1], fits, pixels=T_TRAIN, rng=1)
    with pytest.raises(ValueError, match="t_train"):
        get_method("lpalm")(n_sources=4, model=bare, input_scale="pixel").fit_batch(ms.X)


@pytest.mark.parametrize("mode", ["pixel", "energy", "none"])
def test_image_model_transforms_the_cube_once(monkeypatch, mode):
    # the wavelet-mode separator computes the starlet transform of the cube once (for the input scale and the
    # layers), and gets what the network computes on its own
    import torch

    from semiblind.data.mixtures import simulate_xray
    from semiblind.estimators import _lpalm_scaling
    from semiblind.estimators._lpalm_scaling import input_scale_factor, pixel_factor, threshold_scaled
    from semiblind.training import load_model
    from semiblind.unrolled import lpalm as lpalm_module

    X = simulate_xray(1, image=(32, 32), sources="casa-like", snr_db=30, rng=4, progress=False).X[0]
    calls = []
    for mod in (_lpalm_scaling, lpalm_module):
        real = mod.starlet_forward
        monkeypatch.setattr(mod, "starlet_forward", lambda *a, _f=real, **k: calls.append(1) or _f(*a, **k))
    est = get_method("lpalm")(n_sources=4, input_scale=mode).fit(X)
    assert est.info_["model"] == "lpalm-xray65-image" and len(calls) == 1
    net = load_model("lpalm-xray65-image").eval()
    Xt = torch.as_tensor(X.reshape(1, 65, -1))
    c = input_scale_factor(net, Xt, (32, 32), 4) if mode != "none" else torch.ones(1, 1, 1)
    use = threshold_scaled(net, pixel_factor(net, Xt)) if mode == "pixel" else net
    with torch.no_grad():
        A, S = use(c * Xt, image_shape=(32, 32))
    np.testing.assert_allclose(est.mixing_, A[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(est.sources_, (S / c)[0].numpy().reshape(4, 32, 32), atol=1e-6 * np.abs(S).max())
