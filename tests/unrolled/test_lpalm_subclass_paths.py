"""LPALM's fast inference paths must never bypass a subclass's own layer steps."""

from __future__ import annotations

import torch

from semiblind.unrolled.lpalm import LPALM


class _ZeroA(LPALM):
    """A subclass whose A-step is visibly different from LPALM's (all columns forced to e_0)."""

    def a_step(self, A, S, X, k):
        out = torch.zeros_like(A)
        out[..., 0, :] = 1.0
        return out


class _NonnegS(LPALM):
    def s_step(self, S, A, X, k):
        return super().s_step(S, A, X, k).clamp_min(0) + 1.0


def _net(cls):
    g = torch.Generator().manual_seed(0)
    A = torch.rand(12, 3, generator=g, dtype=torch.float64)
    S = torch.randn(3, 40, generator=g, dtype=torch.float64)
    return cls(n_channels=12, n_sources=3, layers=4, init_pair=(A, S), dtype="float64")


def test_subclass_steps_are_used_at_inference_on_every_size():
    for cls, check in ((_ZeroA, lambda A, S: torch.all(A[..., 1:, :] == 0)),
                       (_NonnegS, lambda A, S: torch.all(S >= 1.0))):
        net = _net(cls)
        for t in (40, 300_000):  # small (stacked path for LPALM) and large (blocked path for LPALM)
            X = torch.rand(1, 12, t, dtype=torch.float64)
            assert net.inference_path(X) == "training"
            with torch.no_grad():
                A, S = net(X)[:2]
            assert check(A, S), (cls.__name__, t)


def test_plain_lpalm_still_takes_the_fast_paths():
    net = _net(LPALM)
    with torch.no_grad():
        assert net.inference_path(torch.rand(1, 12, 40, dtype=torch.float64)) == "stacked"
