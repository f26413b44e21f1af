"""Loss names say what they are: ``"angle"`` is the mean spectral angle (0 = perfect), ``"sad"`` its old alias."""

from __future__ import annotations

import torch

from semiblind.metrics import sad as sad_metric
from semiblind.training.losses import SeparationLoss, mean_angle


def test_angle_loss_and_its_alias():
    A = torch.eye(3, dtype=torch.float64)[None]
    B = A.clone()
    B[0, :, 0] = torch.tensor([1.0, 1.0, 0.0])
    S = torch.ones(1, 3, 4, dtype=torch.float64)
    assert float(mean_angle(A, A)[0]) < 1e-3  # an angle: 0 is perfect
    assert float(sad_metric(A[0].numpy(), A[0].numpy())) == 1.0  # the metric is a cosine: 1 is perfect
    new, old = SeparationLoss("angle"), SeparationLoss("sad")
    assert old.kind == "angle"
    assert torch.equal(new.per_sample(B, S, A, S), old.per_sample(B, S, A, S))
    assert float(new.per_sample(B, S, A, S)[0]) > 0.2
