"""GMCA's thresholds by one selection pass: the same numbers as sorting, on the NumPy and the torch paths."""

from __future__ import annotations

import numpy as np
import torch

from semiblind.solvers.gmca import gmca_thresholds
from semiblind.stats import kth_smallest, kth_smallest_np


def test_kth_smallest_equals_sort():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 301))
    x[2, :40] = x[2, 0]  # ties
    index = rng.integers(0, 301, size=7)
    expected = np.sort(x, axis=-1)[np.arange(7), index]
    got = kth_smallest(torch.as_tensor(x), torch.as_tensor(index))
    np.testing.assert_array_equal(got.numpy(), expected)
    np.testing.assert_array_equal(kth_smallest_np(x, index), expected)
    same = kth_smallest(torch.as_tensor(x), torch.full((7,), 5))
    np.testing.assert_array_equal(same.numpy(), np.sort(x, axis=-1)[:, 5])


def test_gmca_thresholds_numpy_and_torch_paths_agree():
    rng = np.random.default_rng(1)
    C = torch.as_tensor(rng.standard_normal((2, 3, 2, 500)) ** 3)
    # CPU, no gradient: the NumPy selection
    thr_np, sig_np = gmca_thresholds(C, k=3.0, support_fraction=0.5, min_coefficients=5)
    Cg = C.clone().requires_grad_(True)  # gradients recorded: the torch path
    thr_t, sig_t = gmca_thresholds(Cg, k=3.0, support_fraction=0.5, min_coefficients=5)
    np.testing.assert_array_equal(thr_t.detach().numpy(), thr_np.numpy())
    np.testing.assert_allclose(sig_t.detach().numpy(), sig_np.numpy(), rtol=1e-12)
    # by hand: the (n_keep + 1)-th largest |c| of one row
    row = C[0, 0, 0].abs().numpy()
    n_keep = min(500, max(int(np.floor(0.5 * np.count_nonzero(row > 3.0 * float(sig_np[0, 0, 0, 0])))), 5))
    assert float(thr_np[0, 0, 0, 0]) == np.sort(row)[::-1][n_keep]
