"""Shared fixtures: seeded generators and the path to ../shared/data (tests that need it skip when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_XRAY = Path(os.environ.get("SEMIBLIND_SHARED_XRAY", REPO.parent / "shared" / "data" / "xray"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def shared_xray() -> Path:
    """Folder with the papers' spectra; skips the test when it is absent."""
    if not (SHARED_XRAY / "chandra_casa_spectra_65ch.npz").is_file():
        pytest.skip(f"shared X-ray spectra not found in {SHARED_XRAY}")
    return SHARED_XRAY


# The suite's problems are small: one thread per process avoids oversubscription on the 2-core CI machine
# (the CLI subprocess tests start their own processes).
torch.set_num_threads(1)
try:  # the same for NumPy's BLAS (threadpoolctl comes with scikit-learn, an optional dependency)
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    pass
else:
    threadpool_limits(limits=1)
