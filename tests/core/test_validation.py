"""Input validation: every error is one sentence that names the argument, the expectation and what came."""

from __future__ import annotations

import numbers

import numpy as np
import pytest
import torch

from semiblind._validation import (
    BOOL,
    RANDOM_STATE,
    InstanceOf,
    Interval,
    InvalidParameterError,
    Options,
    Predicate,
    check_array,
    check_data,
    check_finite,
    check_n_sources,
    check_nonnegative_data,
    validate_params,
)


def _one_sentence(msg: str) -> None:
    assert msg.endswith("."), msg
    assert "\n" not in msg, msg


# -------------------------------------------------------------------------------------------------- arrays


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (None, "got None"),
        (np.array(["a", "b"]), "dtype <U1"),
        (np.array([1 + 2j]), "complex values"),
        ([[1.0, 2.0], [3.0]], "got list"),
        (torch.tensor([1 + 1j]), "tensor of dtype torch.complex64"),
    ],
)
def test_check_array_names_argument(value, fragment):
    with pytest.raises(TypeError) as exc:
        check_array(value, name="cube")
    msg = str(exc.value)
    assert msg.startswith("cube must "), msg
    assert fragment in msg
    _one_sentence(msg)


def test_check_array_rejects_tensor_when_asked():
    with pytest.raises(TypeError, match=r"^spectra must be a NumPy array; got a torch\.Tensor\.$"):
        check_array(torch.ones(2), name="spectra", allow_tensor=False)
    out = check_array([[1, 2], [3, 4]], name="X")
    assert isinstance(out, np.ndarray)


def test_check_finite_counts_bad_values():
    x = np.array([1.0, np.nan, np.nan, np.inf])
    with pytest.raises(ValueError, match=r"^A_init must contain only finite values; got 2 NaN value\(s\)\.$"):
        check_finite(x, name="A_init")
    with pytest.raises(ValueError, match=r"^S must contain only finite values; got 1 infinite value\(s\)\.$"):
        check_finite(torch.tensor([0.0, -np.inf]), name="S")
    check_finite(np.ones(3), name="X")


# ---------------------------------------------------------------------------------------------------- data


@pytest.mark.parametrize(
    ("X", "kwargs", "pattern"),
    [
        (np.ones(5), {}, r"^Y must be a 2-D array \(channels, pixels\) or a 3-D cube \(channels, height, "
                         r"width\); got an array of shape \(5,\)\.$"),
        (np.ones((2, 3, 4, 5)), {}, r"^Y must be a 2-D array .* got an array of shape \(2, 3, 4, 5\)\.$"),
        (np.ones((2, 3, 4)), {"allow_cube": False}, r"^Y must be a 2-D array \(channels, pixels\); got"),
        (np.ones((2, 3)), {"batched": True}, r"^Y must be a 3-D array \(B, channels, pixels\) or a 4-D cube"),
        (np.ones((3, 0)), {}, r"^Y must not be empty; got an array of shape \(3, 0\)\.$"),
        (np.ones((1, 5)), {}, r"^Y must have at least 2 channels along its first axis; got 1 channel\(s\)"),
        (np.ones((4, 1, 5)), {"batched": True}, r"^Y must have at least 2 channels along its first non-b"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), {}, r"^Y must contain only finite values; got 1 NaN"),
        (np.zeros((3, 4)), {}, r"^Y must not be all zeros"),
        (torch.zeros(3, 4), {}, r"^Y must not be all zeros"),
    ],
)
def test_check_data_errors(X, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern) as exc:
        check_data(X, name="Y", **kwargs)
    _one_sentence(str(exc.value))


def test_check_data_accepts_good_input():
    assert check_data(np.arange(12.0).reshape(3, 4)).shape == (3, 4)
    assert check_data(np.arange(60.0).reshape(3, 4, 5)).shape == (3, 4, 5)
    assert check_data(np.arange(24.0).reshape(2, 3, 4), batched=True, allow_cube=False).shape == (2, 3, 4)
    t = torch.arange(12.0).reshape(3, 4)
    assert check_data(t) is t
    assert check_data(np.arange(4.0).reshape(1, 4), min_channels=1).shape == (1, 4)
    # One constant (dead) channel is legitimate data; only data constant in every channel is refused.
    one_dead = np.arange(12.0).reshape(3, 4)
    one_dead[1] = 7.0
    assert check_data(one_dead).shape == (3, 4)
    assert check_data(np.ones((3, 4)), require_variation=False).shape == (3, 4)
    with pytest.raises(ValueError, match="every channel is constant"):
        check_data(np.ones((3, 4)))


# ------------------------------------------------------------------------------------------------ n_sources


@pytest.mark.parametrize(
    ("value", "n_channels", "exc", "pattern"),
    [
        (2.0, None, TypeError, r"^k must be an int; got the float 2\.0 \(write 2\)\.$"),
        (2.5, None, TypeError, r"^k must be an int; got float 2\.5\.$"),
        ("3", None, TypeError, r"^k must be an int; got str '3'\.$"),
        (True, None, TypeError, r"^k must be an int; got bool True\.$"),
        (None, None, TypeError, r"^k must be an int; got NoneType None\.$"),
        (0, None, ValueError, r"^k must be at least 1; got 0\.$"),
        (-3, 5, ValueError, r"^k must be at least 1; got -3\.$"),
        (6, 5, ValueError, r"^k must be at most the number of channels \(5\); got 6\.$"),
    ],
)
def test_check_n_sources_errors(value, n_channels, exc, pattern):
    with pytest.raises(exc, match=pattern):
        check_n_sources(value, n_channels, name="k")


def test_check_n_sources_accepts_ints():
    assert check_n_sources(3, 5) == 3
    assert check_n_sources(np.int64(5), 5) == 5
    assert isinstance(check_n_sources(np.int32(2)), int)


# ---------------------------------------------------------------------------------------------- nonnegative


def test_check_nonnegative_data_clips_noise_and_rejects_negative():
    X = torch.tensor([[1.0, -0.001], [0.5, 2.0]])
    with pytest.warns(UserWarning, match=r"^D has 1 slightly negative entries"):
        out = check_nonnegative_data(X, name="D", method="nmf")
    assert (out >= 0).all() and out[0, 1] == 0.0
    Xbad = torch.tensor([[1.0, -0.5], [0.5, 2.0]])
    pattern = r"^D must be nonnegative for method 'nmf'; got 1 entries below"
    with pytest.raises(ValueError, match=pattern) as e:
        check_nonnegative_data(Xbad, name="D", method="nmf")
    _one_sentence(str(e.value))
    same = torch.ones(2, 2)
    assert check_nonnegative_data(same) is same


# ------------------------------------------------------------------------------------------ hyper-parameters


def test_constraints_describe_themselves():
    assert str(Interval(float, 0, None, closed="left")) == "a float in the range [0, inf)"
    assert str(Interval(int, 1, 10)) == "an int in the range [1, 10]"
    assert str(Interval(numbers.Real, 0, 1, closed="neither")) == "a float in the range (0, 1)"
    assert str(Options(("a", "b"))) == "one of 'a', 'b'"
    iv = Interval(float, 0, 1, closed="right")
    assert not iv.is_satisfied_by(0.0) and iv.is_satisfied_by(1.0) and not iv.is_satisfied_by(float("nan"))
    assert not iv.is_satisfied_by(True)
    pos_int = Interval(int, 1, None)
    assert pos_int.is_satisfied_by(np.int64(3)) and not pos_int.is_satisfied_by(3.0)
    assert not Options(("a",)).is_satisfied_by([1])  # unhashable: no crash
    assert Predicate(lambda v: v > 0, "positive").is_satisfied_by(2)
    assert not Predicate(lambda v: v > 0, "positive").is_satisfied_by("x")  # the check's error means "no"
    assert RANDOM_STATE.is_satisfied_by(np.random.default_rng(0)) and not RANDOM_STATE.is_satisfied_by("0")
    assert BOOL.is_satisfied_by(np.bool_(True)) and not BOOL.is_satisfied_by(1)


def test_validate_params_messages():
    cons = {
        "lam": [Interval(float, 0, None, closed="left")],
        "init": [Options(("random", "svd")), InstanceOf((np.ndarray,), "an array")],
    }
    with pytest.raises(InvalidParameterError) as e:
        validate_params({"lam": -1}, cons, "PALM")
    expected = "The 'lam' parameter of PALM must be a float in the range [0, inf); got -1 instead."
    assert str(e.value) == expected
    assert isinstance(e.value, ValueError) and isinstance(e.value, TypeError)
    with pytest.raises(InvalidParameterError, match=r"^The 'init' parameter of PALM must be one of 'random', "
                                                    r"'svd' or an array; got 'nope' instead\.$"):
        validate_params({"init": "nope"}, cons, "PALM")
    with pytest.raises(ValueError, match=r"^PALM got unknown parameter\(s\) 'lamb'; valid parameters are: "
                                         r"init, lam\.$"):
        validate_params({"lamb": 1.0}, cons, "PALM")
    validate_params({"lam": 0.5, "init": np.ones(2)}, cons, "PALM")
