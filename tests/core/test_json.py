"""One JSON policy (semiblind._json): non-finite → null, NumPy handled, strict output; and every JSON writer of the
package produces text a strict parser accepts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from semiblind import _json
from semiblind.data import MixtureSet

NASTY = {"nan": float("nan"), "inf": np.float32(np.inf), "ninf": -math.inf, "arr": np.array([1.0, np.nan]),
         "i": np.int64(3), "b": np.bool_(True), "t": (1, 2.5), "p": Path("a/b")}


def strict(text: str):
    def refuse(token):
        raise AssertionError(f"non-standard JSON constant {token}")

    return json.loads(text, parse_constant=refuse)


def test_policy():
    out = strict(_json.dumps(NASTY))
    assert out == {"nan": None, "inf": None, "ninf": None, "arr": [1.0, None], "i": 3, "b": True, "t": [1, 2.5],
                   "p": "a/b"}
    with pytest.raises(TypeError, match="object"):
        _json.dumps({"x": object()})
    with pytest.raises(ValueError, match="NaN"):
        _json.loads_strict('{"a": NaN}')


def test_experiment_results_file_is_strict(tmp_path):
    from semiblind.experiments._common import write_results

    write_results(tmp_path, "t", title="T", header=["a", "b"], rows=[["x", float("nan")]], payload=dict(NASTY))
    doc = strict((tmp_path / "t.json").read_text())
    assert doc["nan"] is None and doc["table"]["rows"] == [["x", None]]


@pytest.mark.parametrize("suffix", [".npz", ".fits"])
def test_result_info_is_strict(tmp_path, suffix):
    from semiblind import io

    p = io.save_result(tmp_path / f"r{suffix}", np.ones((3, 2)), np.ones((2, 4)), info={"score": float("nan"),
                       "n": np.int32(2)})
    info = io.load_result(p).info
    assert info["score"] is None and info["n"] == 2
    if suffix == ".npz":
        with np.load(p) as z:
            strict(str(z["info"]))


def test_mixture_meta_is_strict(tmp_path):
    ms = MixtureSet(np.ones((2, 3, 4)), meta={"snr": float("inf")})
    ms.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as z:
        assert strict(str(z["meta"]))["snr"] is None


def test_no_module_writes_json_around_the_policy():
    """Every ``json.dump``/``json.dumps`` in the package that writes a file goes through semiblind._json."""
    import semiblind

    root = Path(semiblind.__file__).parent
    offenders = []
    for f in root.rglob("*.py"):
        if f.name == "_json.py":
            continue
        for i, line in enumerate(f.read_text().splitlines(), 1):
            if "json.dump(" in line or ("json.dumps(" in line and ("write" in line or "atomic" in line)):
                offenders.append(f"{f.relative_to(root)}:{i}")
    assert offenders == []


def test_evaluate_json_is_strict_even_for_a_perfect_result(tmp_path):
    """A perfect estimate has infinite SNRs: written as null, never as the invalid token Infinity."""
    from semiblind import io
    from semiblind.cli import main

    g = np.random.default_rng(0)
    A, S = g.random((6, 2)), g.random((2, 30))
    np.savez(tmp_path / "truth.npz", X=A @ S, A=A, S=S)
    io.save_result(tmp_path / "res.npz", A, S, info={"method": "oracle"})
    assert main(["evaluate", str(tmp_path / "res.npz"), "--truth", str(tmp_path / "truth.npz"), "--json",
                 str(tmp_path / "m.json")]) == 0
    text = (tmp_path / "m.json").read_text()
    strict(text)
    assert "Infinity" not in text and "NaN" not in text and '"inf"' not in text
