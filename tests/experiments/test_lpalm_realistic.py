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
    """`reproduce lpalm-table2 --quick` and `lpalm-appendix-d3 --quick` (about 7 + 3 min on two quiet cores; LPALM
    is trained once for both): the issue's done-when — LPALM has the lowest median NMSE(A) of all methods, the
    unrolled networks (the paper's claim) and GMCA and PALM, on the one-image and generalisation rows of Table 2 and
    in both columns of App. D.3. Measured at seed 0 (docs/results.md, "#13, fourth session"): Table 2 LPALM
    1.5e-5 / 2.1e-5 against GMCA 1.7e-4 / 4.5e-5; D.3 1.9e-5 / 2.6e-4 against GMCA 7.0e-5 / 3.5e-4 (the closest
    margin, 0.74×; 0.94× on seed 1 in benchmarks/lpalm_realistic_variants.py)."""
    d3 = lr.run_lpalm_appendix_d3(quick=True, out_dir=tmp_path / "d3", data_path=shared_xray, progress=False)
    assert d3["checks"]["lpalm_below_palm"], d3["ours"]
    assert d3["checks"]["lpalm_best_all"], d3["ours"]
    t2 = lr.run_lpalm_table2(quick=True, out_dir=tmp_path / "t2", data_path=shared_xray, progress=False)
    assert t2["checks"]["lpalm_best_unrolled"], t2["ours"]
    assert t2["checks"]["lpalm_below_palm"], t2["ours"]
    assert t2["checks"]["lpalm_best_all"], t2["ours"]


def test_two_threads_train_lpalm_and_lista_at_once_with_the_same_result(monkeypatch):
    # with --threads 2 the two networks of Table 2 train in two one-thread worker processes: the same models as
    # training them one after the other on one thread
    import torch

    class Log(list):
        enabled = False

        def __call__(self, msg):
            self.append(msg)

    s, seed = lr.settings_for("smoke"), 0
    log1, log2 = Log(), Log()
    monkeypatch.setattr(lr, "_CACHE", {})
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        data = lr._data(s, seed, None)
        one = lr._trained_pair(s, seed, data, None, log1)
        monkeypatch.setattr(lr, "_CACHE", {})
        torch.set_num_threads(2)
        two = lr._trained_pair(s, seed, data, None, log2)
    finally:
        torch.set_num_threads(before)
    assert not any("two processes" in m for m in log1) and any("two processes" in m for m in log2), (log1, log2)
    for (net1, _), (net2, _) in zip(one, two):
        assert net1.architecture() == net2.architecture()
        a, b = net1.state_dict(), net2.state_dict()
        assert a.keys() == b.keys()
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
        assert net2.contract["preprocessing"]["t_train"] == s.pixels
