"""The one iteration driver: per-sample stopping, frozen samples, counters, history, callback, memory."""

import tracemalloc

import numpy as np
import pytest
import torch

from semiblind._validation import check_initial_mixing
from semiblind.solvers.driver import iterate, summary_line, unroll
from semiblind.solvers.ista import ista
from semiblind.solvers.iterates import inverse_lipschitz, palm_step_params, palm_step_size_a, sparse_step_s
from semiblind.solvers.nmf import nnls_hals
from semiblind.solvers.palm import lambda_grid, lambda_max, palm


def _halving_step(stop_at):
    """x ← x/2 per iteration; sample b is done once the iteration count reaches stop_at[b]."""
    stop_at = torch.as_tensor(stop_at)

    def step(k, state, ctx):
        x = state["x"] / 2
        return {"x": x}, torch.full_like(stop_at, k + 1) >= stop_at, {"x": x[0]}

    return step


def test_per_sample_stopping_freezes_finished_samples():
    x0 = torch.ones(3, 2, 2)
    run = iterate(_halving_step([1, 3, 100]), {"x": x0}, batch=3, max_iter=5)
    assert run.n_iter.tolist() == [1, 3, 5]
    assert run.converged.tolist() == [True, True, False]
    assert run.values["x"][:, 0, 0].tolist() == [0.5, 0.125, 1 / 32]  # each kept its value when it stopped
    assert run.history["x"] == [0.5]  # the first sample's trace, only while it ran


def test_initially_inactive_samples_are_untouched_and_reported_converged():
    x0 = torch.ones(2, 1, 1)
    run = iterate(_halving_step([100, 100]), {"x": x0}, batch=2, max_iter=4, active=torch.tensor([False, True]))
    assert run.n_iter.tolist() == [0, 4] and run.converged.tolist() == [True, False]
    assert float(run.values["x"][0]) == 1.0 and float(run.values["x"][1]) == 1 / 16
    assert run.history == {}


def test_callback_stops_and_history_window_bounds_memory():
    seen = []

    def cb(k, ctx):
        seen.append(int(ctx.n_iter[0]))
        return k >= 7

    run = iterate(_halving_step([10**9]), {"x": torch.ones(1, 1, 1)}, batch=1, max_iter=10**9, callback=cb,
                  history_window=3)
    assert run.stopped_by_callback and seen == list(range(1, 8))
    assert int(run.n_iter[0]) == 7 and not bool(run.converged[0])
    assert run.history["x"] == [2.0**-5, 2.0**-6, 2.0**-7]


def test_palm_with_huge_max_iter_allocates_nothing_proportional_to_it():
    rng = np.random.default_rng(0)
    X = torch.as_tensor(rng.standard_normal((2, 6, 50)), dtype=torch.float32)
    tracemalloc.start()
    try:
        # 10**12: a buffer sized by max_iter (the old (max_iter + 1) × 3 history) fails at once to allocate.
        res = palm(X, 2, 0.01, max_iter=10**12, tol=0.0, rng=0, callback=lambda k, ctx: k >= 5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.n_iter.tolist() == [5, 5] and not bool(res.converged.any())
    assert len(res.history["objective"]) == 6 and len(res.history["delta_S"]) == 5
    # Python-side allocations of a 5-iteration run stay far below what any max_iter-sized buffer would need.
    assert peak < 2_000_000
    # torch tensors are outside tracemalloc's view; a max_iter-sized tensor would have failed to allocate above.


def test_driver_progress_bar_and_summary_line(capsys):
    iterate(_halving_step([2]), {"x": torch.ones(1, 1, 1)}, batch=1, max_iter=5, verbose=True, desc="halve")
    assert "halve" in capsys.readouterr().err
    assert summary_line("PALM", torch.tensor([3, 5]), torch.tensor([True, False])) == \
        "PALM: 5 iteration(s), 1/2 converged"


def test_unroll_runs_every_layer_and_keeps_them():
    values, per_layer = unroll(lambda k, s: {"x": s["x"] + k}, {"x": torch.zeros(2)}, layers=4, keep=("x",))
    assert values["x"].tolist() == [6.0, 6.0] and [float(v[0]) for v in per_layer["x"]] == [0, 1, 3, 6]


def test_one_rule_at_zero_lipschitz_constant_skips_the_step():
    assert inverse_lipschitz(torch.tensor([0.0, 4.0])).tolist() == [0.0, 0.25]
    A = torch.zeros(1, 4, 2)
    W, theta = palm_step_params(A, 0.3)
    S = torch.randn(1, 2, 5)
    X = torch.randn(1, 4, 5)
    assert torch.equal(sparse_step_s(S, A, X, W, theta), S)  # S kept: the S-step is skipped
    assert float(palm_step_size_a(torch.zeros(1, 2, 2))) == 0.0
    A = torch.randn(3, 4, 2, dtype=torch.float64)
    W, theta = palm_step_params(A, torch.full((3, 1, 1), 0.5, dtype=torch.float64))
    L = torch.linalg.matrix_norm(A, ord=2) ** 2
    torch.testing.assert_close(W, A / L.view(3, 1, 1))
    torch.testing.assert_close(theta.view(3), 0.5 / L)


def test_lambda_max_and_grid():
    rng = np.random.default_rng(1)
    A, X = rng.standard_normal((3, 5, 2)), rng.standard_normal((3, 5, 40))
    expected = np.median(np.abs(np.swapaxes(A, 1, 2) @ X).max(axis=(1, 2)))
    assert lambda_max(A, X) == pytest.approx(expected)
    assert lambda_max(A[0], X[0]) == pytest.approx(np.abs(A[0].T @ X[0]).max())
    g = lambda_grid(2.0)
    assert g.shape == (30,) and g[-1] == pytest.approx(2.0) and g[0] == pytest.approx(2e-5)
    assert lambda_grid(1.0, num=3, low=1e-2).tolist() == pytest.approx([1e-2, 1e-1, 1.0])
    with pytest.raises(ValueError, match="num"):
        lambda_grid(1.0, num=0)


def test_check_initial_mixing_messages():
    ok = check_initial_mixing(np.ones((4, 2)), batch=3, n_channels=4, n_sources=2, dtype=torch.float32)
    assert ok.shape == (3, 4, 2)
    with pytest.raises(ValueError, match=r"A0 must have shape \(4, 2\) or \(3, 4, 2\) \(channels, sources\); "
                                         r"got \(5, 2\)"):
        check_initial_mixing(np.ones((5, 2)), batch=3, n_channels=4, n_sources=2, dtype=torch.float32)
    with pytest.raises(ValueError, match="no all-zero column"):
        check_initial_mixing(np.zeros((4, 2)), batch=1, n_channels=4, n_sources=2, dtype=torch.float32)
    with pytest.raises(ValueError, match="nonnegative"):
        check_initial_mixing(-np.ones((4, 2)), batch=1, n_channels=4, n_sources=2, dtype=torch.float32,
                             nonnegative=True)
    with pytest.raises(ValueError, match="NaN"):
        check_initial_mixing(np.full((4, 2), np.nan), batch=1, n_channels=4, n_sources=2, dtype=torch.float32)


def test_ista_accepts_one_matrix_shared_by_the_batch():
    rng = np.random.default_rng(2)
    A = rng.standard_normal((6, 2))
    X = rng.standard_normal((3, 6, 30))
    for accelerated in (False, True):
        shared = ista(X, A, 0.1, max_iter=50, accelerated=accelerated)
        per = ista(X, np.broadcast_to(A, (3, 6, 2)).copy(), 0.1, max_iter=50, accelerated=accelerated)
        torch.testing.assert_close(shared.S, per.S)


def test_nnls_through_the_driver_stops_per_sample():
    rng = np.random.default_rng(3)
    A = torch.as_tensor(np.abs(rng.standard_normal((2, 6, 3))))
    S = torch.as_tensor(np.abs(rng.standard_normal((2, 3, 40))))
    S_hat = nnls_hals(A, A @ S, max_sweeps=500, tol=1e-12)
    torch.testing.assert_close(S_hat, S, atol=1e-6, rtol=1e-6)


def test_verbose_is_honoured_by_nmf_and_oracles(capsys):
    import warnings

    from semiblind.solvers.base import ConvergenceWarning
    from semiblind.solvers.nmf import HALS, MU, SparseNMF
    from semiblind.solvers.oracle import OracleA, OracleS

    rng = np.random.default_rng(4)
    A, S = np.abs(rng.standard_normal((6, 2))), np.abs(rng.standard_normal((2, 30)))
    X = A @ S
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (MU(max_iter=5, verbose=True), HALS(max_iter=5, verbose=True), SparseNMF(max_iter=5, verbose=True),
                    OracleS(A=A, verbose=True), OracleA(S=S, verbose=True)):
            est.fit(X)
            out = capsys.readouterr()
            assert "iteration(s)" in out.out and "converged" in out.out, type(est).__name__
        MU(max_iter=5).fit(X)
        assert capsys.readouterr().out == ""
