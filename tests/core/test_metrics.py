"""Known answers and invariances of semiblind.metrics.

Every expected number below is worked out by hand (in the comments) from small exact inputs: Hadamard rows,
which are orthogonal with squared norm 8, unit vectors and simple integer matrices.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from semiblind.metrics import align, bss_eval, evaluate, match, nmse, nmse_db, sad, sad_db, sad_db_of_mean_angle

H8 = scipy.linalg.hadamard(8).astype(np.float64)  # rows orthogonal, ‖h_i‖² = 8


def db(x: float) -> float:
    return 10.0 * math.log10(x)


# ------------------------------------------------------------------------------------------- match / align


def test_match_recovers_permutation_and_signs():
    A_true = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    # estimated column 0 is -2·(true col 2), column 1 is 0.5·(true col 0), column 2 is -(true col 1)
    A_est = np.stack([-2 * A_true[:, 2], 0.5 * A_true[:, 0], -A_true[:, 1]], axis=1)
    perm, signs = match(A_est, A_true)
    np.testing.assert_array_equal(perm, [1, 2, 0])
    np.testing.assert_array_equal(signs, [1.0, -1.0, -1.0])
    np.testing.assert_allclose(A_est[:, perm] * signs, A_true * [0.5, 1.0, 2.0])


def test_match_prefers_global_assignment_over_greedy():
    # true columns e1, e2 in R³; est column i has cosines c[:, i] with them and a third component.
    A_true = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    c = np.array([[0.9, 0.8], [0.3, 0.55]])  # cos(true j, est i)
    A_est = np.vstack([c, np.sqrt(1 - (c**2).sum(0))])
    perm, _ = match(A_est, A_true)
    # sums: identity 0.9 + 0.55 = 1.45 ; swapped 0.8 + 0.3 = 1.10 -> identity
    np.testing.assert_array_equal(perm, [0, 1])
    # identity 0.9 + 0.1 = 1.0 ; swapped 0.8 + 0.43 = 1.23 -> swapped (a greedy pick of 0.9 would be wrong)
    c2 = np.array([[0.9, 0.8], [0.43, 0.1]])
    A_est2 = np.vstack([c2, np.sqrt(1 - (c2**2).sum(0))])
    perm2, _ = match(A_est2, A_true)
    np.testing.assert_array_equal(perm2, [1, 0])


def test_align_exact_recovery_and_product_preserved():
    rng = np.random.default_rng(0)
    A = rng.random((6, 3)) + 0.1
    S = rng.standard_normal((3, 50))
    p, sg, sc = [2, 0, 1], np.array([1.0, -1.0, -1.0]), np.array([3.0, 0.25, 7.0])
    A_est, S_est = A[:, p] * sg * sc, S[p] * (sg / sc)[:, None]
    A_al, S_al = align(A_est, S_est, A, S)
    np.testing.assert_allclose(A_al, A, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(S_al, S, rtol=1e-12, atol=1e-14)
    # with an imperfect estimate, columns get the true norms and A·S is unchanged
    A_est2, S_est2 = A_est + 0.05 * rng.standard_normal(A.shape), S_est + 0.1 * rng.standard_normal(S.shape)
    A_al2, S_al2 = align(A_est2, S_est2, A)
    np.testing.assert_allclose(np.linalg.norm(A_al2, axis=0), np.linalg.norm(A, axis=0), rtol=1e-12)
    np.testing.assert_allclose(A_al2 @ S_al2, A_est2 @ S_est2, rtol=1e-10, atol=1e-12)


def test_align_images_batches_torch_and_none():
    rng = np.random.default_rng(1)
    A = rng.random((2, 5, 3)) + 0.1
    S = rng.standard_normal((2, 3, 4, 6))  # (B, n, H, W)
    A_est = A[:, :, [1, 2, 0]] * 2.0
    S_est = S[:, [1, 2, 0]] / 2.0
    A_al, S_al = align(torch.as_tensor(A_est), torch.as_tensor(S_est), A, S)
    assert isinstance(A_al, np.ndarray) and S_al.shape == S.shape
    np.testing.assert_allclose(S_al, S, rtol=1e-12, atol=1e-14)
    A_only, none = align(A_est[0], None, A[0])
    assert none is None
    np.testing.assert_allclose(A_only, A[0], rtol=1e-12)


def test_align_zero_column_is_left_alone():
    A = np.array([[1.0, 0.0], [0.0, 2.0]])
    A_est = np.array([[3.0, 0.0], [0.0, 0.0]])
    S_est = np.array([[1.0, 2.0], [5.0, 6.0]])
    A_al, S_al = align(A_est, S_est, A)
    np.testing.assert_allclose(A_al, [[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(S_al, [[3.0, 6.0], [5.0, 6.0]])
    # an all-zero true column: its match keeps its scale (no division by zero)
    A_al, S_al = align(np.array([[1.0, 0.0], [0.0, 4.0]]), S_est, np.array([[2.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_allclose(A_al, [[2.0, 0.0], [0.0, 4.0]])
    np.testing.assert_allclose(S_al, [[0.5, 1.0], [5.0, 6.0]])


# ----------------------------------------------------------------------------------------------------- NMSE


def test_nmse_known_answers():
    true = np.array([[1.0, 2.0], [3.0, 5.0]])
    est = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert nmse(est, true) == pytest.approx(1 / 39, rel=1e-15)  # 1 / (1 + 4 + 9 + 25)
    assert nmse_db(est, true) == pytest.approx(-db(39), rel=1e-14)
    assert nmse(1.1 * true, true) == pytest.approx(0.01, rel=1e-12)
    assert nmse_db(1.1 * true, true) == pytest.approx(-20.0, abs=1e-10)
    assert nmse(2 * true, true) == pytest.approx(1.0) and nmse_db(2 * true, true) == pytest.approx(0.0)
    assert nmse(true, true) == 0.0 and nmse_db(true, true) == -math.inf
    assert isinstance(nmse(est, true), float)


def test_nmse_batched_one_value_per_sample():
    true = np.array([[1.0, 2.0], [3.0, 5.0]])
    est = np.array([[1.0, 2.0], [3.0, 4.0]])
    out = nmse(np.stack([est, 1.1 * true]), np.stack([true, true]))
    np.testing.assert_allclose(out, [1 / 39, 0.01], rtol=1e-12)
    np.testing.assert_allclose(nmse_db(np.stack([est, 1.1 * true]), np.stack([true, true])),
                               [-db(39), -20.0], rtol=1e-12)
    # a single cube (n, H, W) is one sample with batched=False
    cube = np.ones((2, 3, 4))
    assert nmse(2 * cube, cube, batched=False) == pytest.approx(1.0)
    np.testing.assert_allclose(nmse(2 * cube, cube), [1.0, 1.0])
    # torch in, NumPy/float out
    assert nmse(torch.tensor(est), torch.tensor(true)) == pytest.approx(1 / 39)


def test_nmse_rejects_zero_truth_and_shape_mismatch():
    with pytest.raises(ValueError, match="true must not be all zeros"):
        nmse(np.ones((2, 2)), np.zeros((2, 2)))
    msg = r"est and true must have the same shape; got \(2, 3\) and \(3, 2\)\."
    with pytest.raises(ValueError, match=msg):
        nmse(np.ones((2, 3)), np.ones((3, 2)))


# ------------------------------------------------------------------------------------------------------ SAD


def test_sad_and_sad_db_known_answers():
    true = np.array([[1.0, 0.0], [0.0, 1.0]])
    est = np.array([[2.0, 1.0], [0.0, 1.0]])  # cosines 1 and 1/√2; angles 0 and π/4
    assert sad(est, true) == pytest.approx((1 + 1 / math.sqrt(2)) / 2, rel=1e-15)
    np.testing.assert_allclose(sad(est, true, per_component=True), [1.0, 1 / math.sqrt(2)], rtol=1e-15)
    # the paper's SAD: mean of the per-column dB values (one column exact -> +inf)
    assert sad_db(est, true) == math.inf
    # the other convention: mean angle π/8 before the log
    assert sad_db_of_mean_angle(est, true) == pytest.approx(-db(math.pi / 8), rel=1e-14)
    per = sad_db(est, true, per_component=True)
    assert per[0] == math.inf
    assert per[1] == pytest.approx(-db(math.pi / 4), rel=1e-14)


def test_sad_compares_columns_as_given():
    true = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    est = np.array([[-1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])  # cos -1 (angle π) and a zero column (cos 0, π/2)
    np.testing.assert_allclose(sad(est, true, per_component=True), [-1.0, 0.0])
    assert sad(est, true) == pytest.approx(-0.5)
    assert sad_db(est, true) == pytest.approx((-db(math.pi) - db(math.pi / 2)) / 2, rel=1e-14)
    assert sad_db_of_mean_angle(est, true) == pytest.approx(-db(0.75 * math.pi), rel=1e-14)  # mean(π, π/2)
    # 60 degrees: cos = 1/2
    e60 = np.array([[0.5], [math.sqrt(3) / 2]])
    t60 = np.array([[1.0], [0.0]])
    assert sad(e60, t60) == pytest.approx(0.5, rel=1e-15)
    assert sad_db(e60, t60) == pytest.approx(-db(math.pi / 3), rel=1e-14)


def test_sad_db_accurate_for_tiny_angles():
    eps = 1e-9
    est = np.array([[1.0], [eps]])
    true = np.array([[1.0], [0.0]])
    assert sad_db(est, true) == pytest.approx(-db(eps), rel=1e-9)  # angle = atan(1e-9) ≈ 1e-9 rad
    assert sad_db(true, true) == math.inf


def test_sad_batched():
    true = np.array([[1.0, 0.0], [0.0, 1.0]])
    est = np.array([[2.0, 1.0], [0.0, 1.0]])
    out = sad(np.stack([est, true]), np.stack([true, true]))
    np.testing.assert_allclose(out, [(1 + 1 / math.sqrt(2)) / 2, 1.0], rtol=1e-15)
    assert sad(np.stack([est, true]), np.stack([true, true]), per_component=True).shape == (2, 2)
    np.testing.assert_allclose(sad_db_of_mean_angle(np.stack([est, est]), np.stack([true, true])),
                               [-db(math.pi / 8)] * 2)
    e2 = np.array([[1.0, 1.0], [math.tan(0.1), 1.0]])  # angles 0.1 and π/4: mean of dB values, not dB of mean
    t2 = np.array([[1.0, 1.0], [0.0, 0.0]])
    want = (-db(0.1) - db(math.pi / 4)) / 2
    np.testing.assert_allclose(sad_db(np.stack([e2, e2]), np.stack([t2, t2])), [want] * 2, rtol=1e-12)
    assert sad_db(e2, t2) > sad_db_of_mean_angle(e2, t2)  # Jensen


# ------------------------------------------------------------------------------------------------- BSS-eval

S2 = H8[[1, 2]]  # two orthogonal sources with equal norms


def test_bss_eval_pure_interference_gives_sir_20db():
    # ŝ_1 = s_1 + 0.1·s_2: s_target = s_1, e_interf = 0.1·s_2, e_artif = 0
    # SIR = SDR = 10 log10(8 / (0.01·8)) = 20 dB; ŝ_2 = s_2 is perfect.
    S_est = np.stack([S2[0] + 0.1 * S2[1], S2[1]])
    r = bss_eval(S_est, S2)
    assert set(r) == {"sdr", "sir", "sar"}
    assert r["sir"][0] == pytest.approx(20.0, abs=1e-10)
    assert r["sdr"][0] == pytest.approx(20.0, abs=1e-10)
    assert r["sar"][0] > 200.0  # rounding-level artefacts: huge or +inf
    assert r["sdr"][1] > 200.0 and r["sir"][1] > 200.0 and r["sar"][1] > 200.0


def test_bss_eval_artifacts_and_gain_invariance():
    a = H8[5]  # orthogonal to both sources: pure artefact
    # ŝ_1 = s_1 + 0.5·a: SAR = SDR = 10 log10(8 / (0.25·8)) = 10 log10 4; no interference.
    r = bss_eval(np.stack([S2[0] + 0.5 * a, S2[1]]), S2)
    assert r["sar"][0] == pytest.approx(db(4.0), abs=1e-10)
    assert r["sdr"][0] == pytest.approx(db(4.0), abs=1e-10)
    assert r["sir"][0] > 200.0
    # ŝ_1 = s_1 + 0.1·s_2 + 0.5·a: SDR = 10 log10(1/0.26), SIR = 20, SAR = 10 log10(1.01/0.25)
    est = S2[0] + 0.1 * S2[1] + 0.5 * a
    r = bss_eval(np.stack([est, S2[1]]), S2)
    assert r["sdr"][0] == pytest.approx(db(1 / 0.26), abs=1e-10)
    assert r["sir"][0] == pytest.approx(20.0, abs=1e-10)
    assert r["sar"][0] == pytest.approx(db(1.01 / 0.25), abs=1e-10)
    # the gain of each estimate (here -3) does not matter
    r2 = bss_eval(np.stack([-3 * est, S2[1]]), S2)
    for k in r:
        np.testing.assert_allclose(r2[k][0], r[k][0], rtol=1e-12)


def test_bss_eval_with_noise_snr():
    N = H8[[3, 4]]  # noise matrix (m=2, t=8), rows orthogonal to the sources
    a = H8[5]
    # ŝ_1 = s_1 + 0.1 s_2 + 0.2 n_1 + 0.5 a  (all ‖·‖² = 8):
    #   SIR = 20, SNR = 10 log10(1.01/0.04), SAR = 10 log10(1.05/0.25), SDR = 10 log10(1/0.30)
    est = S2[0] + 0.1 * S2[1] + 0.2 * N[0] + 0.5 * a
    r = bss_eval(np.stack([est, S2[1]]), S2, noise=N)
    assert set(r) == {"sdr", "sir", "sar", "snr"}
    assert r["sir"][0] == pytest.approx(20.0, abs=1e-10)
    assert r["snr"][0] == pytest.approx(db(1.01 / 0.04), abs=1e-10)
    assert r["sar"][0] == pytest.approx(db(1.05 / 0.25), abs=1e-10)
    assert r["sdr"][0] == pytest.approx(db(1 / 0.30), abs=1e-10)
    assert r["snr"][1] > 200.0
    # without the noise matrix the noise term counts as an artefact: SAR = 10 log10(1.01/0.29)
    r0 = bss_eval(np.stack([est, S2[1]]), S2)
    assert r0["sar"][0] == pytest.approx(db(1.01 / 0.29), abs=1e-10)


def test_bss_eval_nearly_collinear_sources_stay_finite_and_accurate():
    # s_2 = s_1 + δ·h_2 with δ = 1e-8 (Gram matrix condition number ~ 1e16).
    # ŝ_1 = s_1 + 0.1·s_2 = 1.1 s_1 + 0.1δ·h_2,
    # so s_target = 1.1 s_1, e_interf = 0.1δ·h_2 and SIR = 10 log10(1.21 / (0.1δ)²).
    rng = np.random.default_rng(3)
    delta = 1e-8
    s1 = H8[1]
    s2 = s1 + delta * H8[2]
    r = bss_eval(np.stack([s1 + 0.1 * s2, s2]), np.stack([s1, s2]))
    for k in ("sdr", "sir", "sar"):
        assert not np.isnan(r[k]).any()
    assert r["sir"][0] == pytest.approx(db(1.21 / (0.1 * delta) ** 2), abs=0.1)
    assert r["sar"][0] > 100.0  # the estimate lies in the span of the sources
    # random nearly collinear sources with a real artefact: finite values, SAR close to the hand-computed one
    S = rng.standard_normal((3, 200))
    S[2] = S[1] + 1e-9 * rng.standard_normal(200)
    art = rng.standard_normal(200)
    basis, _ = np.linalg.qr(S.T)
    art -= basis @ (basis.T @ art)  # artefact orthogonal to the source span
    est = S.copy()
    est[0] = S[0] + art * (np.linalg.norm(S[0]) / np.linalg.norm(art)) * 0.1  # SAR = 10 log10(1/0.01) = 20
    r = bss_eval(est, S)
    assert all(np.isfinite(r[k][0]) for k in r)
    assert r["sar"][0] == pytest.approx(20.0, abs=1e-6)


def test_bss_eval_images_batches_and_zero_estimate():
    est = np.stack([S2[0] + 0.1 * S2[1], S2[1]])
    r_img = bss_eval(est.reshape(2, 2, 4), S2.reshape(2, 2, 4))
    assert r_img["sir"][0] == pytest.approx(20.0, abs=1e-10)
    rb = bss_eval(np.stack([est, est]), np.stack([S2, S2]), batched=True)
    assert rb["sir"].shape == (2, 2)
    np.testing.assert_allclose(rb["sir"][:, 0], [20.0, 20.0], atol=1e-10)
    rz = bss_eval(np.stack([np.zeros(8), S2[1]]), S2)
    assert rz["sdr"][0] == -math.inf and rz["sir"][0] == -math.inf and rz["sar"][0] == -math.inf


def test_bss_eval_errors_name_arguments():
    msg = r"S_est and S_true must have the same shape; got \(2, 8\) and \(3, 8\)\."
    with pytest.raises(ValueError, match=msg):
        bss_eval(np.ones((2, 8)), np.ones((3, 8)))
    with pytest.raises(ValueError, match="noise must have the pixels"):
        bss_eval(S2, S2, noise=np.ones((2, 7)))
    with pytest.raises(ValueError, match="S_est must contain only finite values"):
        bss_eval(np.full((2, 8), np.nan), S2)


# ------------------------------------------------------------------------------------------------- evaluate


def test_evaluate_known_answers():
    # A_true = I (2x2) padded; estimate = columns swapped, scaled by 5 and flipped; sources inversely.
    A = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    S_est_ordered = np.stack([S2[0] + 0.1 * S2[1], S2[1]])  # SIR_1 = 20 dB
    A_est = A[:, [1, 0]] * np.array([-5.0, 5.0])
    S_est = S_est_ordered[[1, 0]] / np.array([-5.0, 5.0])[:, None]
    r = evaluate(A_est, S_est, A, S2)
    assert r["nmse_A"] == pytest.approx(0.0, abs=1e-30)
    # nmse_S = ‖0.1 s_2‖² / (‖s_1‖² + ‖s_2‖²) = 0.08 / 16 = 0.005
    assert r["nmse_S"] == pytest.approx(0.005, rel=1e-12)
    assert r["nmse_db_S"] == pytest.approx(db(0.005), rel=1e-12)
    assert r["sad_A"] == pytest.approx(1.0, rel=1e-15)
    # sad_S: cos(s_1 + 0.1 s_2, s_1) = 1/√1.01 and 1 -> mean
    assert r["sad_S"] == pytest.approx((1 / math.sqrt(1.01) + 1) / 2, rel=1e-14)
    # sad_db_S: angles atan(0.1) and 0 -> mean of -10 log10(angle): the exact row makes it +inf
    assert r["sad_db_S"] == math.inf
    assert r["sad_db_A"] > 100.0
    assert r["sir_per_source"][0] == pytest.approx(20.0, abs=1e-10)
    assert r["sir"] == pytest.approx(np.mean(r["sir_per_source"]))
    assert r["sdr_per_source"].shape == (2,)
    np.testing.assert_array_equal(r["perm"], [1, 0])
    scalars = ("nmse_A", "nmse_S", "nmse_db_A", "nmse_db_S", "sad_A", "sad_S", "sad_db_A", "sdr", "sir",
               "sar")
    for k in scalars:
        assert isinstance(r[k], float), k
    assert "snr" not in r


def test_evaluate_noise_batched_images_and_torch():
    A = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    N = H8[[3, 4, 6]]
    est = np.stack([S2[0] + 0.1 * S2[1] + 0.2 * N[0], S2[1]])
    r = evaluate(A, est, A, S2, noise=N)
    assert r["snr_per_source"][0] == pytest.approx(db(1.01 / 0.04), abs=1e-10)
    assert "snr" in r
    rb = evaluate(
        torch.as_tensor(np.stack([A, A])),
        torch.as_tensor(np.stack([est, est]).reshape(2, 2, 2, 4)),
        np.stack([A, A]),
        np.stack([S2, S2]).reshape(2, 2, 2, 4),
        noise=np.stack([N, N]).reshape(2, 3, 2, 4),
    )
    assert rb["sdr"].shape == (2,) and rb["sir_per_source"].shape == (2, 2)
    np.testing.assert_allclose(rb["snr_per_source"][:, 0], db(1.01 / 0.04), atol=1e-10)
    np.testing.assert_allclose(rb["nmse_S"], r["nmse_S"], rtol=1e-12)


def test_evaluate_shape_errors():
    A = np.ones((3, 2))
    msg = r"A_est and A_true must have the same shape; got \(3, 2\) and \(3, 3\)\."
    with pytest.raises(ValueError, match=msg):
        evaluate(A, np.ones((2, 5)), np.ones((3, 3)), np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"S_est must have one row per column of A_est"):
        evaluate(A, np.ones((3, 5)), A, np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"A_est must be a matrix"):
        evaluate(np.ones(3), np.ones((2, 5)), np.ones(3), np.ones((2, 5)))
    with pytest.raises(TypeError, match="A_est must be an array of real numbers"):
        evaluate(None, np.ones((2, 5)), A, np.ones((2, 5)))


# ---------------------------------------------------------------------------------- invariance (hypothesis)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(2, 4),
    data=st.data(),
)
def test_aligned_metrics_invariant_to_permutation_sign_and_scale(seed, n, data):
    perm = np.array(data.draw(st.permutations(range(n))))
    signs = np.array(data.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n)))
    scales = np.array(data.draw(st.lists(st.floats(0.01, 100.0), min_size=n, max_size=n)))
    rng = np.random.default_rng(seed)
    m, t = n + 3, 40
    A = rng.random((m, n)) + np.eye(m, n) * 2.0  # well-separated columns: the matching is unambiguous
    S = rng.standard_normal((n, t))
    N = 0.1 * rng.standard_normal((m, t))
    A_est = A + 0.02 * rng.standard_normal((m, n))
    S_est = S + 0.1 * rng.standard_normal((n, t))
    ref = evaluate(A_est, S_est, A, S, noise=N)
    A2 = A_est[:, perm] * signs * scales
    S2_ = S_est[perm] * (signs / scales)[:, None]
    got = evaluate(A2, S2_, A, S, noise=N)
    for key, val in ref.items():
        if key == "perm":
            np.testing.assert_array_equal(perm[got["perm"]], val)
            continue
        np.testing.assert_allclose(got[key], val, rtol=1e-8, atol=1e-10, err_msg=key)


def test_aligned_nmse_is_align_then_nmse():
    from semiblind.metrics import align, aligned_nmse, nmse

    g = np.random.default_rng(4)
    A, S = g.random((3, 6, 2)), g.random((3, 2, 10))
    P = np.array([[0.0, 2.0], [-0.5, 0.0]])  # swap, rescale and flip the sources
    A_est, S_est = A @ np.linalg.inv(P) + 0.01 * g.standard_normal((3, 6, 2)), P @ S
    e_S, e_A = aligned_nmse(A_est, S_est, A, S, batched=True)
    A_al, S_al = align(A_est, S_est, A, S)
    np.testing.assert_allclose(e_S, nmse(S_al, S, batched=True))
    np.testing.assert_allclose(e_A, nmse(A_al, A, batched=True))
    assert e_S.shape == (3,) and np.all(e_A < 1e-2) and np.all(e_S < 1e-2)
    one = aligned_nmse(A_est[0], S_est[0], A[0], S[0])
    assert isinstance(one[0], float) and one[0] == pytest.approx(e_S[0])
    with pytest.raises(ValueError, match="batched"):
        aligned_nmse(A_est[0], S_est[0], A[0], S[0], batched=True)
