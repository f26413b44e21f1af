"""The LPALM paper's experiments, end to end in smoke mode (tiny sizes) on the shared Cas A spectra."""

from __future__ import annotations

import json

import numpy as np
import pytest

from semiblind.experiments import lpalm_paper as lp


def _load(out, name):
    return json.loads((out / f"{name}.json").read_text()), (out / f"{name}.md").read_text()


def test_table1_smoke_writes_ours_beside_paper_and_is_deterministic(shared_xray, tmp_path):
    r1 = lp.run_lpalm_table1(quick="smoke", out_dir=tmp_path / "a", data_path=shared_xray, progress=False)
    doc, md = _load(tmp_path / "a", "lpalm-table1")
    assert (tmp_path / "a" / "lpalm-table1_nmse.png").stat().st_size > 0
    # The paper's Table 1 figures sit in the table beside ours.
    for paper_value in ("0.00085", "0.0176", "2011"):
        assert paper_value in md
    assert doc["paper"]["palm_median_iterations"] == 2011
    ours = doc["ours"]
    assert 0 < ours["lpalm_median_nmse"] < np.inf and 0 < ours["palm_median_nmse"] < np.inf
    assert ours["lpalm_layers"] == lp.SMOKE.layers
    assert 1 <= ours["palm_median_iterations"] <= lp.SMOKE.palm_max_iter
    assert "Reduced from the paper's settings" in md and "epochs: 100 → 1" in md
    # Same seed, same numbers (timings aside).
    r2 = lp.run_lpalm_table1(quick="smoke", out_dir=tmp_path / "b", data_path=shared_xray, progress=False)
    for key in ("lpalm_median_nmse", "palm_median_nmse", "palm_median_iterations", "best_lambda"):
        assert r1["ours"][key] == r2["ours"][key]


@pytest.mark.parametrize("name, files", [
    ("lpalm-fig2", ("lpalm-fig2a.png", "lpalm-fig2b.png")),
    ("lpalm-init", ("lpalm-init.png",)),
    ("lpalm-appendix-d", ("lpalm-appendix-d.png",)),
])
def test_other_targets_smoke(shared_xray, tmp_path, name, files):
    res = lp.run(name, quick="smoke", out_dir=tmp_path, data_path=shared_xray, progress=False)
    doc, md = _load(tmp_path, name)
    for f in files:
        assert (tmp_path / f).stat().st_size > 0
    assert md == res["markdown"] and "ours" in md
    assert "Mode: smoke" in md
    if name == "lpalm-fig2":
        assert len(doc["nmse_S_layers_test"]) == lp.SMOKE.layers
        assert len(doc["lambdas"]) == lp.SMOKE.n_lambdas
    if name == "lpalm-init":
        o = doc["ours"]
        assert o["palm_best"] <= o["palm_median"] <= o["palm_worst"]
        assert len(o["palm_nmse"]) == lp.SMOKE.n_inits
    if name == "lpalm-appendix-d":
        assert set(doc["s_only"]) == {"true A", "10 dB-noisy A"}
        assert set(doc["s_only"]["true A"]) == {"ISTA", "ISTA-LLT", "LISTA", "LISTA-CP"}
        assert len(doc["lpalm_variants"]) == 4
        assert any("ISTA S-update" in k for k in doc["lpalm_variants"])
        # the LPALM-ISTA λ is the classical ISTA's choice with the true A, and the table says so
        assert doc["ista_lambda"]["true A"] > 0 and f"{doc['ista_lambda']['true A']:.4g}" in md


def test_settings_modes_and_reductions():
    assert lp.settings_for(False) is lp.FULL and lp.settings_for(True) is lp.QUICK
    assert lp.settings_for("smoke") is lp.SMOKE
    assert lp.FULL.reductions() == []
    # The paper's protocol: 30 λ on 45 samples, 25 layers, Adam 1e-4, batch 1, 100 epochs, t = 500.
    f = lp.FULL
    assert (f.n_lambdas, f.n_select, f.layers, f.lr, f.batch_size, f.epochs, f.pixels, f.n_inits) == \
        (30, 45, 25, 1e-4, 1, 100, 500, 15)
    red = " ".join(lp.QUICK.reductions())
    assert "epochs: 100 → 12" in red and "n_lambdas: 30 → 10" in red
    with pytest.raises(ValueError, match="quick"):
        lp.settings_for("fast")
    with pytest.raises(ValueError, match="name"):
        lp.run("lpalm-table9")


def test_table1_direction_lpalm_below_palm_at_a_fraction_of_the_iterations(shared_xray, tmp_path):
    """The paper's direction, in seconds: on the same test mixtures, LPALM after 5 trained layers has a lower
    median NMSE(S) than PALM (best λ of the grid) after 200 iterations. Measured over seeds 0–5 the ratio was
    0.04–0.44 (see ``lp.DIRECTION``); seed 0 gave 0.067."""
    res = lp.run_lpalm_table1(quick=lp.DIRECTION, out_dir=tmp_path, data_path=shared_xray, progress=False)
    o = res["ours"]
    assert o["lpalm_layers"] == 5 and o["palm_median_iterations"] <= 200
    assert o["lpalm_median_nmse"] < o["palm_median_nmse"]
    assert "Direction mode" in res["markdown"]


def test_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="chandra_casa_spectra_65ch"):
        lp.run_lpalm_table1(quick="smoke", out_dir=tmp_path / "o", data_path=tmp_path, progress=False)


@pytest.mark.slow
def test_table1_quick(shared_xray, tmp_path):
    res = lp.run_lpalm_table1(quick=True, out_dir=tmp_path, data_path=shared_xray, progress=False)
    # Even the reduced run must show LPALM ahead of PALM, as the paper does.
    assert res["ours"]["lpalm_median_nmse"] < res["ours"]["palm_median_nmse"]


def test_thresholds_smoke_same_data_and_seeds(shared_xray, tmp_path):
    res = lp.run("lpalm-thresholds", quick="smoke", out_dir=tmp_path, data_path=shared_xray, progress=False)
    doc, md = _load(tmp_path, "lpalm-thresholds")
    assert md == res["markdown"] and "Mode: smoke" in md
    assert (tmp_path / "lpalm-thresholds.png").stat().st_size > 0
    assert "lpalm-thresholds" in lp.TARGETS
    ours = doc["ours"]
    for mode, n_theta in (("scalar", 1), ("per-source", 4)):
        o = ours[mode]
        assert 0 < o["median_nmse_S"] < np.inf and 0 < o["median_nmse_A"] < np.inf
        assert len(o["median_nmse_S_per_seed"]) == lp.SMOKE.thr_seeds
        # the last layer's learned thresholds: one scalar, or one per source (n = 4)
        assert np.asarray(o["last_layer_theta"][0]).size == n_theta
        assert mode in md
    n_test = lp.SMOKE.n_test
    assert len(doc["per_mixture"]["scalar"]["nmse_S"][0]) == n_test
    assert 0.0 <= ours["per_source_better_fraction"] <= 1.0


@pytest.mark.slow
def test_fig2b_direction_nmse_falls_layer_by_layer(shared_xray, tmp_path):
    """Figure 2b's direction: the test NMSE(S) of the trained LPALM falls at every layer (measured over seeds
    0–2 in DIRECTION mode: 0.50 → 0.29 → 0.09 → 0.045 → 0.013 for seed 0; about 12 s a run)."""
    lp.run("lpalm-fig2", quick=lp.DIRECTION, out_dir=tmp_path, data_path=shared_xray, progress=False)
    doc, _ = _load(tmp_path, "lpalm-fig2")
    layers = np.asarray(doc["nmse_S_layers_test"])
    assert np.all(np.diff(layers) < 0)
