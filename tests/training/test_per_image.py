"""Per-image training loop: it minimises, projects, follows a schedule, and refuses bad input and NaN losses."""

from __future__ import annotations

import pytest
import torch

from semiblind.training.per_image import train_per_image


def test_minimises_a_quadratic_and_projects():
    w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
    target = torch.tensor([1.0, -1.0])

    def project():
        w.clamp_(min=0.0)

    curve = train_per_image([w], lambda e: ((w - target) ** 2).sum(), epochs=300, lr=0.05, post_step=project)
    assert len(curve) == 300 and all(isinstance(v, float) for v in curve)
    assert curve[0] == pytest.approx(5.0) and curve[-1] < 1.01  # 1 = the constrained minimum (w₁ = 0)
    assert float(w[1]) == 0.0  # the projection keeps it at the bound
    assert float(w[0]) == pytest.approx(1.0, abs=0.05)


def test_schedule_and_determinism():
    seen = []

    def run():
        w = torch.nn.Parameter(torch.tensor([2.0]))
        c = train_per_image([w], lambda e: (w ** 2).sum(), epochs=5, lr=1.0,
                            lr_at=lambda e: seen.append(e) or 0.1 * (e + 1))
        return c, float(w.detach())

    a, b = run(), run()
    assert a == b
    assert seen[:5] == [0, 1, 2, 3, 4]
    # zero learning rate = no step at all
    w = torch.nn.Parameter(torch.tensor([2.0]))
    with pytest.raises(ValueError, match="lr_at"):
        train_per_image([w], lambda e: (w ** 2).sum(), epochs=2, lr=1.0, lr_at=lambda e: 0.0)


def test_bad_input_and_nan_loss():
    w = torch.nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError, match="epochs"):
        train_per_image([w], lambda e: w.sum(), epochs=0, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        train_per_image([w], lambda e: w.sum(), epochs=1, lr=-1.0)
    with pytest.raises(ValueError, match="parameters"):
        train_per_image([], lambda e: w.sum(), epochs=1, lr=0.1)
    with pytest.raises(ValueError, match="parameters"):
        train_per_image([torch.ones(2)], lambda e: w.sum(), epochs=1, lr=0.1)
    with pytest.raises(ValueError, match="loss_fn"):
        train_per_image([w], lambda e: w, epochs=1, lr=0.1)  # not a scalar
    with pytest.raises(ValueError, match="non-finite.*epoch 1"):
        train_per_image([w], lambda e: w.sum() * (float("nan") if e == 1 else 1.0), epochs=3, lr=0.1)


def test_progress_bar_runs(capsys):
    w = torch.nn.Parameter(torch.ones(1))
    curve = train_per_image([w], lambda e: (w ** 2).sum(), epochs=3, lr=0.1, progress=True, desc="toy")
    assert len(curve) == 3
