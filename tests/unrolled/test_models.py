"""Unrolled networks: shapes, layers against hand-written NumPy steps, LPALM with PALM parameters = PALM."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from semiblind._backend import spectral_norm_sq
from semiblind.solvers.iterates import gradient_step_a, sparse_step_s
from semiblind.solvers.palm import palm
from semiblind.unrolled import ISTALLT, LISTA, LISTACP, LPALM


def _problem(rng: np.random.Generator, B: int = 3, m: int = 8, n: int = 3, t: int = 40):
    A = rng.random((B, m, n))
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    S = rng.standard_normal((B, n, t)) * (rng.random((B, n, t)) < 0.3)
    X = A @ S + 0.01 * rng.standard_normal((B, m, t))
    return X, A, S


def _st(x: np.ndarray, th) -> np.ndarray:
    return np.sign(x) * np.maximum(np.abs(x) - th, 0)


def _proj(A: np.ndarray) -> np.ndarray:
    nrm = np.linalg.norm(A, axis=-2, keepdims=True)
    return A / np.maximum(nrm, 1.0)


@pytest.mark.parametrize("cls", [LPALM, LISTA, LISTACP, ISTALLT])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_shapes_and_layers(rng, cls, dtype):
    X, A, S = _problem(rng)
    start = {"init_pair": (A[0], S[0])} if cls is LPALM else {"A_ref": A[0]}
    net = cls(n_channels=8, n_sources=3, layers=4, dtype=dtype, **start)
    Xt = torch.as_tensor(X)
    A_est, S_est = net(Xt)
    assert A_est.shape == (3, 8, 3) and S_est.shape == (3, 3, 40)
    assert S_est.dtype == (torch.float32 if dtype == "float32" else torch.float64)
    A2, S2, As, Ss = net(Xt, return_layers=True)
    assert len(As) == len(Ss) == 4
    assert torch.equal(Ss[-1], S2) and torch.equal(As[-1], A2)
    assert torch.isfinite(S2).all()


def test_batch_equals_single_samples(rng):
    X, A, S = _problem(rng, B=4)
    net = LPALM(n_channels=8, n_sources=3, layers=5, init_pair=(A[0], S[0]), dtype="float64")
    Xt = torch.as_tensor(X)
    A_b, S_b = net(Xt)
    for i in range(4):
        A_i, S_i = net(Xt[i:i + 1])
        torch.testing.assert_close(A_b[i], A_i[0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(S_b[i], S_i[0], rtol=1e-12, atol=1e-12)


def test_paper_initialisation(rng):
    X, A, S = _problem(rng)
    net = LPALM(n_channels=8, n_sources=3, layers=3, init_pair=(A[0], S[0]), dtype="float64")
    L_S = np.linalg.eigvalsh(A[0].T @ A[0]).max()
    L_A = np.linalg.eigvalsh(S[0] @ S[0].T).max()
    np.testing.assert_allclose(net.W.detach().numpy(), np.broadcast_to(A[0] / L_S, (3, 8, 3)), rtol=1e-12)
    np.testing.assert_allclose(net.theta.detach().numpy(), np.full(3, 1e-5 / L_S), rtol=1e-12)
    np.testing.assert_allclose(net.L_A.detach().numpy(), np.full(3, L_A), rtol=1e-12)
    A0, S0 = net.initial_estimates(torch.as_tensor(X))
    assert torch.allclose(A0, torch.full_like(A0, 1 / math.sqrt(8))) and not S0.any()


def test_lpalm_two_layers_match_hand_computation(rng):
    """Two layers of eq. 8 written out in NumPy with arbitrary parameters."""
    X, A, S = _problem(rng, B=2)
    K, m, n = 2, 8, 3
    W = rng.standard_normal((K, m, n)) * 0.1
    theta = np.array([0.01, 0.02])
    L_A = np.array([3.0, 5.0])
    net = LPALM(n_channels=m, n_sources=n, layers=K, dtype="float64")
    with torch.no_grad():
        net.W.copy_(torch.as_tensor(W))
        net.theta.copy_(torch.as_tensor(theta))
        net.L_A.copy_(torch.as_tensor(L_A))
    A_h = np.full((2, m, n), 1 / np.sqrt(m))
    S_h = np.zeros((2, n, 40))
    for k in range(K):
        S_h = _st(S_h - W[k].T @ (A_h @ S_h - X), theta[k])
        A_h = _proj(A_h - (A_h @ S_h - X) @ np.swapaxes(S_h, -1, -2) / L_A[k])
    A_est, S_est = net(torch.as_tensor(X))
    np.testing.assert_allclose(S_est.detach().numpy(), S_h, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(A_est.detach().numpy(), A_h, rtol=1e-10, atol=1e-12)


def test_lpalm_with_palm_parameters_is_palm(rng):
    """W(k) = A(k)/L_S, θ(k) = λ/L_S, L_A(k) = ‖S(k+1)S(k+1)ᵀ‖₂: LPALM runs PALM's iterations exactly."""
    X, _, _ = _problem(rng, B=1)
    Xt = torch.as_tensor(X)
    K, lam, m, n = 6, 0.02, 8, 3
    # PALM started where LPALM starts (Ã = 1/√m, S = 0). Its columns stay equal (PALM cannot break that
    # symmetry), but every iterate is still PALM's; the next test covers a generic start.
    A = torch.full((1, m, n), 1 / math.sqrt(m), dtype=torch.float64)
    S = torch.zeros((1, n, 40), dtype=torch.float64)
    Ws, thetas, LAs = [], [], []
    for _ in range(K):
        L_S = spectral_norm_sq(A)[0]
        W = A[0] / L_S
        th = torch.as_tensor(lam, dtype=torch.float64) / L_S
        S = sparse_step_s(S, A, Xt, W, th)
        L_A = spectral_norm_sq(S)[0]
        A = gradient_step_a(A, S, Xt, 1.0 / L_A)
        Ws.append(W)
        thetas.append(th)
        LAs.append(L_A)
    net = LPALM(n_channels=m, n_sources=n, layers=K, dtype="float64")
    with torch.no_grad():
        net.W.copy_(torch.stack(Ws))
        net.theta.copy_(torch.stack(thetas))
        net.L_A.copy_(torch.stack(LAs))
    A_net, S_net, As, Ss = net(Xt, return_layers=True)
    # identical up to float64 rounding (the same iterate functions on the same numbers)
    torch.testing.assert_close(S_net.detach(), S, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(A_net.detach(), A, rtol=1e-12, atol=1e-14)
    for k in range(K - 1):
        assert torch.isfinite(Ss[k]).all() and As[k].shape == A.shape


def test_lpalm_equals_classical_palm_solver(rng):
    """Against semiblind.solvers.palm: PALM's per-iteration (W, θ, L_A) plugged into LPALM give its output."""
    X, A_true, _ = _problem(rng, B=1)
    K, lam = 5, 0.01
    A0 = A_true[0] + 0.1 * rng.random(A_true[0].shape)
    A0 /= np.linalg.norm(A0, axis=0)
    ref = palm(X, 3, lam, A0=A0, S0=np.zeros((3, 40)), max_iter=K, tol=0.0, dtype="float64",
                        record_history=False)
    # Re-run the same iterations by hand to record the parameters, then feed them to LPALM started at A0.
    Xt = torch.as_tensor(X)
    A = torch.as_tensor(A0)[None].clone()
    S = torch.zeros((1, 3, 40), dtype=torch.float64)
    net = LPALM(n_channels=8, n_sources=3, layers=K, dtype="float64")
    Ws, ths, LAs = [], [], []
    for _ in range(K):
        L_S = spectral_norm_sq(A)[0]
        Ws.append(A[0] / L_S)
        ths.append(torch.as_tensor(lam, dtype=torch.float64) / L_S)
        S = sparse_step_s(S, A, Xt, A[0] / L_S, lam / L_S)
        LAs.append(spectral_norm_sq(S)[0])
        A = gradient_step_a(A, S, Xt, 1.0 / LAs[-1])
    with torch.no_grad():
        net.W.copy_(torch.stack(Ws))
        net.theta.copy_(torch.stack(ths))
        net.L_A.copy_(torch.stack(LAs))
    A_net, S_net = net(Xt, A0=torch.as_tensor(A0))
    np.testing.assert_allclose(S_net.detach().numpy(), np.asarray(ref.S), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(A_net.detach().numpy(), np.asarray(ref.A), rtol=1e-9, atol=1e-12)


def test_lista_cp_with_ista_parameters_is_ista_and_lista_matches(rng):
    X, A, _ = _problem(rng, B=2)
    K, lam = 4, 0.02
    A_ref = A.mean(axis=0)
    L = np.linalg.eigvalsh(A_ref.T @ A_ref).max()
    S_h = np.zeros((2, 3, 40))
    for _ in range(K):
        S_h = _st(S_h - (A_ref / L).T @ (A_ref @ S_h - X), lam / L)
    for cls in (LISTACP, LISTA, ISTALLT):
        net = cls(n_channels=8, n_sources=3, layers=K, A_ref=A_ref, dtype="float64")
        with torch.no_grad():
            net.theta.fill_(lam / L)
        A_used, S_est = net(torch.as_tensor(X))
        np.testing.assert_allclose(S_est.detach().numpy(), S_h, rtol=1e-9, atol=1e-12, err_msg=cls.__name__)
        np.testing.assert_allclose(A_used.detach().numpy(), np.broadcast_to(A_ref, (2, 8, 3)))


def test_sparse_coder_uses_given_mixing(rng):
    X, A, _ = _problem(rng, B=2)
    net = LISTACP(n_channels=8, n_sources=3, layers=3, A_ref=A.mean(axis=0), dtype="float64")
    A_used, S1 = net(torch.as_tensor(X), A=torch.as_tensor(A))
    _, S2 = net(torch.as_tensor(X))
    assert torch.equal(A_used, torch.as_tensor(A)) and not torch.allclose(S1, S2)
    with pytest.raises(ValueError, match="A must have shape"):
        net(torch.as_tensor(X), A=torch.zeros(5, 3, dtype=torch.float64))


def test_per_source_threshold_and_tied(rng):
    X, A, S = _problem(rng)
    net = LPALM(n_channels=8, n_sources=3, layers=3, threshold="per-source", tied=True, init_pair=(A[0], S[0]),
                dtype="float64")
    assert net.theta.shape == (1, 3) and net.W.shape == (1, 8, 3)
    with torch.no_grad():
        net.theta[0, 1] = 1e6  # source 1 is thresholded away in every layer
    _, S_est = net(torch.as_tensor(X))
    assert not S_est[:, 1].any() and S_est[:, 0].abs().sum() > 0


def test_theta_is_kept_nonnegative(rng):
    X, A, S = _problem(rng)
    net = LPALM(n_channels=8, n_sources=3, layers=2, init_pair=(A[0], S[0]), dtype="float64")
    ref = LPALM(n_channels=8, n_sources=3, layers=2, init_pair=(A[0], S[0]), dtype="float64")
    with torch.no_grad():
        net.theta.fill_(-0.5)
        ref.theta.fill_(0.0)
        net.L_A.fill_(-1.0)
    Xt, At, S0 = torch.as_tensor(X), torch.as_tensor(A), torch.zeros(3, 3, 40, dtype=torch.float64)
    # the forward pass clamps: θ < 0 acts as θ = 0 (no thresholding), so S = S0 − Wᵀ(A S0 − X) = WᵀX
    assert torch.equal(net.s_step(S0, At, Xt, 0), ref.s_step(S0, At, Xt, 0))
    net.constrain_()
    assert (net.theta >= 0).all() and (net.L_A > 0).all()


@pytest.mark.parametrize("image", [False, True])
def test_wavelet_mode(rng, image):
    X, A, S = _problem(rng, B=2, t=64)
    net = LPALM(n_channels=8, n_sources=3, layers=3, wavelet=True, n_scales=2, init_pair=(A[0], S[0]), dtype="float64")
    shape = (8, 8) if image else None
    A_est, S_est, As, Ss = net(torch.as_tensor(X), return_layers=True, image_shape=shape)
    assert A_est.shape == (2, 8, 3) and S_est.shape == (2, 3, 64) and len(Ss) == 3
    assert torch.isfinite(S_est).all()
    # The coarse scale carries the mean: constant data X = A·c (c a constant row) has no details, so S is
    # the least-squares A⁺X with the (unchanged, first-layer) estimate of A.
    const = torch.as_tensor(A[:, :, :1] @ np.ones((2, 1, 64)))
    A_c, S_c = net(const, image_shape=shape)
    expect = torch.linalg.pinv(A_c) @ const
    torch.testing.assert_close(S_c, expect, rtol=1e-8, atol=1e-10)
    # a transform given by the caller is used instead of transforming X again: same result; a wrong one is refused
    from semiblind.transforms import starlet_forward

    Xt = torch.as_tensor(X)
    pix = shape or (64,)
    tr = starlet_forward(Xt.reshape(2, 8, *pix), 2, ndim=len(pix))
    for got, want in zip(net(Xt, return_layers=True, image_shape=shape, transform=tr),
                         (A_est, S_est, As, Ss)):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    with pytest.raises(ValueError, match="transform must be X's starlet transform"):
        net(Xt, image_shape=shape, transform=(tr[0][:, :, :1], tr[1]))


def test_bad_inputs(rng):
    X, A, S = _problem(rng)
    net = LPALM(n_channels=8, n_sources=3, layers=2, init_pair=(A[0], S[0]))
    with pytest.raises(ValueError, match="7 channels.*8 channels"):
        net(torch.zeros(2, 7, 10))
    with pytest.raises(ValueError, match="3-D tensor"):
        net(torch.zeros(8, 10))
    with pytest.raises(ValueError, match="threshold"):
        LPALM(n_channels=8, n_sources=3, threshold="per-pixel")
    with pytest.raises(ValueError, match="n_sources must be at most n_channels"):
        LPALM(n_channels=3, n_sources=5)
    with pytest.raises(ValueError, match="init_pair A must have shape"):
        LPALM(n_channels=8, n_sources=3, init_pair=(A[0].T, S[0]))


def test_lpalm_separator_energy_scaling_is_scale_equivariant():
    """With input_scale="energy" (default) LPALM sees the same network input for X and k·X, so A is unchanged
    and S scales by k; with "none" the absolute thresholds make the result depend on the scale."""
    import semiblind

    gen = np.random.default_rng(3)
    A = np.abs(gen.standard_normal((65, 4)))
    A /= np.linalg.norm(A, axis=0)
    S = gen.standard_normal((4, 300)) * (gen.random((4, 300)) < 0.3)
    X = A @ S
    ref = semiblind.separate(X, 4, method="lpalm", dtype="float64")
    big = semiblind.separate(1000.0 * X, 4, method="lpalm", dtype="float64")
    np.testing.assert_allclose(big.A, ref.A, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(big.S, 1000.0 * ref.S, rtol=1e-9, atol=1e-9 * np.abs(big.S).max())
    c = np.sqrt(4 / np.sum(X**2))
    assert np.isclose(ref.info["input_scale"][0], c, rtol=1e-12)
    raw = semiblind.separate(1000.0 * X, 4, method="lpalm", dtype="float64", input_scale="none")
    assert "input_scale" not in raw.info
    assert not np.allclose(raw.A, ref.A, atol=1e-3)


def test_lpalm_ista_s_update_is_palm_s_step_by_hand(rng):
    """s_update="ista": S ← ST_{λ/L_S}(S − (1/L_S) Aᵀ(A S − X)), L_S = λ_max(AᵀA) of the current A, per
    sample, written out in NumPy; then A ← Π(A − (1/L_A(k)) (A S − X) Sᵀ) with the learned L_A(k)."""
    X, _, _ = _problem(rng, B=2)
    K, m, n, lam = 3, 8, 3, 0.05
    L_A = np.array([2.0, 4.0, 3.0])
    net = LPALM(n_channels=m, n_sources=n, layers=K, s_update="ista", lam=lam, dtype="float64")
    with torch.no_grad():
        net.L_A.copy_(torch.as_tensor(L_A))
    A_h = np.full((2, m, n), 1 / np.sqrt(m))
    S_h = np.zeros((2, n, 40))
    for k in range(K):
        L_S = np.array([np.linalg.eigvalsh(a.T @ a).max() for a in A_h])[:, None, None]
        S_h = _st(S_h - np.swapaxes(A_h, -1, -2) @ (A_h @ S_h - X) / L_S, lam / L_S)
        A_h = _proj(A_h - (A_h @ S_h - X) @ np.swapaxes(S_h, -1, -2) / L_A[k])
    # At the start Ã = 1/√m, so ÃᵀÃ is the all-ones n×n matrix and L_S = n in the first layer.
    S1 = net.s_step(torch.zeros(2, n, 40, dtype=torch.float64), torch.full((2, m, n), 1 / np.sqrt(m),
                    dtype=torch.float64), torch.as_tensor(X), 0)
    B_h = np.full((2, m, n), 1 / np.sqrt(m))
    np.testing.assert_allclose(S1.numpy(), _st(np.swapaxes(B_h, -1, -2) @ X / n, lam / n), rtol=1e-12)
    A_est, S_est = net(torch.as_tensor(X))
    np.testing.assert_allclose(S_est.detach().numpy(), S_h, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(A_est.detach().numpy(), A_h, rtol=1e-10, atol=1e-12)
    # Only the A-steps are learned, and they receive gradients.
    assert [name for name, _ in net.named_parameters()] == ["L_A"]
    A_est.sum().backward()
    assert net.L_A.grad is not None and torch.isfinite(net.L_A.grad).all() and net.L_A.grad.abs().sum() > 0


def test_lpalm_ista_s_update_save_load_round_trip(rng, tmp_path):
    from semiblind.training.model_files import load_model, save_model

    X, A, S = _problem(rng, B=2)
    net = LPALM(n_channels=8, n_sources=3, layers=3, s_update="ista", lam=0.03, init_pair=(A[0], S[0]),
                dtype="float64")
    with torch.no_grad():
        net.L_A.mul_(torch.tensor([1.0, 1.5, 2.0], dtype=torch.float64))
    save_model(net, tmp_path / "m")
    back = load_model(tmp_path / "m")
    assert back.s_update == "ista" and back.lam == 0.03 and back.architecture() == net.architecture()
    Xt = torch.as_tensor(X)
    for u, v in zip(net(Xt), back(Xt)):
        torch.testing.assert_close(u.detach(), v.detach(), rtol=0, atol=0)


def test_lpalm_ista_s_update_bad_arguments():
    with pytest.raises(ValueError, match="lam must be a finite float >= 0"):
        LPALM(n_channels=8, n_sources=3, s_update="ista")
    with pytest.raises(ValueError, match="lam must be a finite float >= 0"):
        LPALM(n_channels=8, n_sources=3, s_update="ista", lam=-1.0)
    with pytest.raises(ValueError, match="threshold must be 'scalar'"):
        LPALM(n_channels=8, n_sources=3, s_update="ista", lam=0.1, threshold="per-source")
    with pytest.raises(ValueError, match="lam must be None"):
        LPALM(n_channels=8, n_sources=3, s_update="lista-cp", lam=0.1)


@pytest.mark.parametrize("s_update, extra", [("ista", {"lam": 0.01}), ("ista-llt", {})])
def test_ista_type_s_updates_keep_generic_start_symmetric(rng, s_update, extra):
    """From Ã(0) = 1/√m (equal columns), W = Ã/L gives every source the same row and the A-step moves all
    columns alike: the sources stay identical in every layer (why these LPALM variants cannot separate)."""
    X, A, S = _problem(rng, B=2)
    net = LPALM(n_channels=8, n_sources=3, layers=4, init_pair=(A[0], S[0]), s_update=s_update, dtype="float64",
                **extra)
    A_est, S_est = net(torch.as_tensor(X))
    assert S_est.abs().sum() > 0
    torch.testing.assert_close(S_est, S_est[:, :1].expand_as(S_est), rtol=0, atol=1e-12)
    torch.testing.assert_close(A_est, A_est[:, :, :1].expand_as(A_est), rtol=0, atol=1e-12)


def test_shipped_model_with_legacy_config_loads_and_gives_the_outputs_of_before_the_rename():
    """lpalm-xray65's config.json says "m", "n" (written before n_channels / n_sources); it must still load and
    give the numbers it gave before (recorded from the code of before the rename, same input)."""
    from semiblind.training.model_files import load_model, read_config, shipped_models_dir

    assert "m" in read_config(shipped_models_dir() / "lpalm-xray65")["architecture"]
    net = load_model("lpalm-xray65")
    assert (net.n_channels, net.n_sources) == (65, 4) and net.architecture()["n_channels"] == 65
    X = torch.as_tensor(np.abs(np.random.default_rng(3).standard_normal((2, 65, 300))), dtype=torch.float32)
    with torch.no_grad():
        A, S = net(X)
    A_before = [[-0.116634235, 0.117247023, -0.118762299, -0.120719835],
                [0.174443483, -0.173101246, 0.172135785, 0.167357191],
                [0.21709992, -0.217238739, 0.217405707, 0.219925433],
                [0.165210411, -0.164664611, 0.162504032, 0.165175065],
                [-0.054734863, 0.055755567, -0.056970295, -0.060502518]]
    S_before = [[14.632705688, 13.981594086, 6.149867058, 10.969321251],
                [-4.949692249, -6.030697823, -4.042677879, -5.678469181],
                [2.491727829, 11.001332283, 9.998535156, 1.871295691],
                [6.517005444, -0.532029271, 6.516841412, 8.08632946]]
    # float32 rounding: XSᵀ is evaluated as (S Xᵀ)ᵀ since the recording (2× faster), which moved entries by up to
    # 7.6e-6 relative after 25 layers on the recording machine; on an AMD EPYC (another BLAS code path, same
    # code, same commit) entries differ from the recording by up to 7.7e-5 relative. Another model or config
    # would move them by O(1).
    np.testing.assert_allclose(A[0, :5].numpy(), A_before, rtol=3e-4, atol=1e-7)
    np.testing.assert_allclose(S[1, :, :4].numpy(), S_before, rtol=3e-4, atol=3e-4)
    assert float(A.double().sum()) == pytest.approx(7.831680228700861, rel=3e-4)
    assert float(S.double().sum()) == pytest.approx(11727.988305047154, rel=3e-5)


def test_lpalm_learned_s_updates_are_the_lista_layers(rng):
    X, A, S = _problem(rng, B=2)
    Xt = torch.as_tensor(X)
    A_start = torch.as_tensor(A)
    S_start = torch.as_tensor(rng.standard_normal((2, 3, 40)))
    for s_update, cls in (("lista-cp", LISTACP), ("ista-llt", ISTALLT), ("lista", LISTA)):
        net = LPALM(n_channels=8, n_sources=3, layers=2, s_update=s_update, init_pair=(A[0], S[0]),
                    dtype="float64")
        coder = cls(n_channels=8, n_sources=3, layers=2, A_ref=A[0], dtype="float64")
        torch.testing.assert_close(net.s_step(S_start, A_start, Xt, 1), coder.s_step(S_start, A_start, Xt, 1))


def test_lpalm_accepts_a_starting_point_and_ista_update_skips_at_zero_mixing(rng):
    X, A, S = _problem(rng, B=2)
    Xt = torch.as_tensor(X)
    net = LPALM(n_channels=8, n_sources=3, layers=1, init_pair=(A[0], S[0]), dtype="float64")
    _, _, As, _ = net(Xt, A0=torch.as_tensor(A), return_layers=True)
    S1 = net.s_step(torch.zeros(2, 3, 40, dtype=torch.float64), torch.as_tensor(A), Xt, 0)
    torch.testing.assert_close(As[0], net.a_step(torch.as_tensor(A), S1, Xt, 0))
    with pytest.raises(ValueError, match="A0 must have shape"):
        net(Xt, A0=torch.zeros(5, 3, dtype=torch.float64))
    ista_net = LPALM(n_channels=8, n_sources=3, layers=1, s_update="ista", lam=0.1, dtype="float64")
    S_prev = torch.as_tensor(rng.standard_normal((2, 3, 40)))
    # Ã = 0: L_S = 0, PALM's one rule skips the step (S kept) instead of dividing by a floor.
    assert torch.equal(ista_net.s_step(S_prev, torch.zeros(2, 8, 3, dtype=torch.float64), Xt, 0), S_prev)
