"""Bad input through the library (issue #6): the exact exception class, one sentence naming the argument and
what was expected, and nothing written. The table lives in ``tests/_bad_input_cases.py``."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import semiblind
from _bad_input_cases import (
    KINDS,
    Kind,
    constant_channels,
    one_constant_channel,
    params,
    partial_files,
    separate_quickly,
)
from semiblind.solvers.base import ConvergenceWarning


def test_the_table_covers_at_least_30_kinds():
    assert len(KINDS) >= 30
    assert len({k.id for k in KINDS}) == len(KINDS)
    assert sum(k.api is not None for k in KINDS) >= 30
    assert sum(k.cli is not None for k in KINDS) >= 30


@pytest.mark.parametrize("kind", params("api"))
def test_bad_input_raises_one_clear_sentence(kind: Kind, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. ConvergenceWarning must never be what a bad input produces
        with pytest.raises(BaseException) as info:
            kind.api(tmp_path)
    exc = info.value
    assert type(exc) is kind.error, f"{type(exc).__name__}: {exc}"
    msg = str(exc)
    assert re.search(kind.api_match, msg), msg
    assert "\n" not in msg and msg.endswith("."), f"not one sentence: {msg!r}"
    # nothing half-written: no temporary file, no output, earlier files untouched
    assert partial_files(tmp_path) == []
    for name in kind.outputs:
        assert not (tmp_path / name).exists(), name
    for name, content in kind.keeps:
        assert (tmp_path / name).read_bytes() == content


def test_bad_input_errors_are_caught_as_value_or_type_errors(tmp_path):
    """Parameter errors are both ValueError and TypeError (as in scikit-learn); data errors ValueError."""
    with pytest.raises(ValueError):
        separate_quickly(np.ones((8, 64)), lam=-1.0)
    with pytest.raises(TypeError):
        separate_quickly(np.ones((8, 64)), lam=-1.0)
    with pytest.raises(ValueError, match="must vary across pixels"):
        separate_quickly(constant_channels())


def test_one_constant_channel_is_legitimate_data():
    """A dead detector channel (constant across pixels) is data, not an error: the fit runs and is finite."""
    X = one_constant_channel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sep = separate_quickly(X, method="palm")
    assert sep.A.shape == (8, 2) and sep.S.shape == (2, 64)
    assert np.isfinite(sep.A).all() and np.isfinite(sep.S).all()


def test_constant_data_still_accepted_by_transform():
    """Estimating S with A known is not separation: a flat (constant) image is accepted there."""
    X = one_constant_channel()
    est = semiblind.api.get_method("palm")(n_sources=2, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X)
    flat = np.repeat(est.mixing_ @ np.array([[1.0], [2.0]]), 4, axis=1)  # every pixel the same spectrum
    S = est.transform(flat)
    # identical pixels give identical, finite estimates
    assert S.shape == (2, 4) and np.isfinite(S).all()
    np.testing.assert_allclose(S, np.repeat(S[:, :1], 4, axis=1), rtol=1e-6)
    with pytest.raises(ValueError, match="must vary across pixels"):
        est.fit(flat)
