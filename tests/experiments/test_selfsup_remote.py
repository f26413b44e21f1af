"""selfsup-remote in smoke mode: the direction of the talk (self-supervised LPALM below VCA + FCLS in spectral
angle), the files, and the Samson-like scene's make-up."""

from __future__ import annotations

import json

import numpy as np

from semiblind.experiments import targets
from semiblind.experiments.selfsup_remote import ROWS, TALK_SAMSON, run_selfsup_remote, samson_like_scene


def test_samson_like_scene_layout():
    sc = samson_like_scene(0, H=12, W=10)
    assert sc["X"].shape == (156, 12, 10) and sc["A"].shape == (156, 3) and sc["S"].shape == (3, 12, 10)
    np.testing.assert_allclose(sc["wavelengths"][[0, -1]], [0.401, 0.889])
    assert sc["X"].min() >= 0 and [e.split()[0] for e in sc["endmembers"]] == ["rock", "tree", "water"]
    np.testing.assert_allclose(sc["S"].sum(0), 1.0)


def test_smoke_selfsup_lpalm_beats_vca_fcls(tmp_path):
    assert "selfsup-remote" in targets()
    r = run_selfsup_remote(quick="smoke", out_dir=tmp_path, seed=0, progress=False)
    med = r["median_angle"]
    assert set(med) == set(ROWS)
    assert med["selfsup-lpalm"] < med["vca-fcls"]
    assert med["selfsup-lpalm (network only)"] < med["vca-fcls"]
    assert r["selfsup_beats_vca_fcls"] and all(r["per_scene_beats"])
    doc = json.loads((tmp_path / "selfsup-remote.json").read_text(), parse_constant=lambda c: 1 / 0)
    assert doc["checks"]["selfsup_beats_vca_fcls"] is True
    md = (tmp_path / "selfsup-remote.md").read_text()
    assert "PASS" in md and str(TALK_SAMSON["cnnaeu"]) in md and "another scene" in md
    assert (tmp_path / "selfsup_remote.png").is_file()
