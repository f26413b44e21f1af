"""The realistic-protocol experiments (LPALM paper Table 2, App. D.3) in smoke mode: they run end to end, write
strict JSON, Markdown and figures, and LPALM has the lowest NMSE(A) of the unrolled networks."""

import json

import pytest

from semiblind.experiments import lpalm_realistic as lr


@pytest.fixture(scope="module")
def table2(tmp_path_factory):
    return lr.run_lpalm_table2(quick="smoke", out_dir=tmp_path_factory.mktemp("t2"), seed=0, progress=False)


def test_table2_smoke(table2):
    out = table2["out_dir"]
    doc = json.loads((out / "lpalm-table2.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert set(doc["ours"]) == set(lr.PAPER_TABLE2)
    for name in ("lpalm-table2_spectra.png", "lpalm-table2_nmse_A.png", "lpalm-table2_maps.png"):
        assert (out / name).stat().st_size > 0
    md = table2["markdown"]
    assert "0.0002" in md and "wavelet" in md and "Image size" in md
    # per-layer NMSE(A) of the trained networks on the generalisation images: one value per layer, and the layers
    # improve on the start Ã(0) = 1/√m (all columns equal)
    for nm in ("LPALM", "LISTA"):
        layers = doc["layers_gen"][nm]
        assert len(layers) == lr.SMOKE.layers
        assert layers[-1] < layers[0], layers
    assert "lowest at layer" in md


def test_table2_smoke_direction_on_the_papers_matrices(table2, shared_xray):
    """The paper's direction among the unrolled networks, on the paper's 750/150 matrices (with the simulator's
    matrices, used when ../shared is absent, LISTA beat LPALM on the generalisation row in smoke mode: 0.0020 vs
    0.0042 — so this holds only for the paper's data and skips without it)."""
    assert table2["checks"]["lpalm_best_unrolled"], table2["ours"]


def test_appendix_d3_smoke(table2, tmp_path):
    res = lr.run_lpalm_appendix_d3(quick="smoke", out_dir=tmp_path, seed=0, progress=False)
    assert set(res["ours"]) == {"randomised", "not randomised"}
    for col in res["ours"].values():
        assert set(col) == {"LPALM", "GMCA", "PALM"}
        assert all(0 < v["nmse_A"] < 10 for v in col.values())
    json.loads((tmp_path / "lpalm-appendix-d3.json").read_text())


def test_targets_and_settings():
    assert set(lr.TARGETS) == {"lpalm-table2", "lpalm-appendix-d3"}
    with pytest.raises(ValueError, match="quick"):
        lr.settings_for("fast")
    with pytest.raises(ValueError, match="seed"):
        lr.run_lpalm_table2(quick="smoke", seed=-1, progress=False)


@pytest.mark.slow
def test_table2_and_d3_quick_directions(shared_xray, tmp_path):
    """`reproduce lpalm-table2 --quick` and `lpalm-appendix-d3 --quick` (about 7 + 3 min on two cores; LPALM is
    trained once for both): the paper's claim — LPALM has the lowest NMSE(A) of the unrolled networks on the
    one-image and generalisation rows — and LPALM below PALM in both tables. GMCA is reported, not asserted: it
    stays below LPALM on these maps (docs/results.md, #13)."""
    d3 = lr.run_lpalm_appendix_d3(quick=True, out_dir=tmp_path / "d3", data_path=shared_xray, progress=False)
    assert d3["checks"]["lpalm_below_palm"], d3["ours"]
    t2 = lr.run_lpalm_table2(quick=True, out_dir=tmp_path / "t2", data_path=shared_xray, progress=False)
    assert t2["checks"]["lpalm_best_unrolled"], t2["ours"]
    assert t2["checks"]["lpalm_below_palm"], t2["ours"]
