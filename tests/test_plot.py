"""Figures of semiblind.plot: they draw what they are given and write PNG files atomically."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from semiblind import plot
from semiblind.data.xray import EnergyGrid

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _visible_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def test_spectra_family_of_mixing_matrices_has_one_panel_per_family(tmp_path, rng):
    As = rng.random((12, 30, 4))
    out = tmp_path / "families.png"
    fig = plot.plot_spectra_family(As, EnergyGrid.linear(0.5, 7.5, 30), max_curves=5,
                                   family_names=["a", "b", "c", "d"], path=out)
    assert isinstance(fig, Figure)
    axes = _visible_axes(fig)
    assert len(axes) == 4
    assert len(axes[0].lines) == 5 + 1  # five samples and the median
    np.testing.assert_allclose(axes[2].lines[-1].get_ydata(), np.median(As[:, :, 2], axis=0))
    np.testing.assert_allclose(axes[0].lines[0].get_xdata(), EnergyGrid.linear(0.5, 7.5, 30).centers)
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert not list(tmp_path.glob(".*part*"))  # no temporary file left behind


def test_single_family_and_log_scale(rng):
    fig = plot.plot_spectra_family(rng.random((7, 20)) + 0.1, log=True, max_curves=None)
    (ax,) = _visible_axes(fig)
    assert ax.get_yscale() == "log" and len(ax.lines) == 7 + 1
    assert ax.get_xlabel() == "channel"


def test_plot_spectra_draws_estimate_and_truth(tmp_path, rng):
    A_true = rng.random((25, 3))
    A_est = A_true + 0.01 * rng.standard_normal((25, 3))
    fig = plot.plot_spectra(A_est, A_true, np.linspace(1, 5, 25), titles=["x", "y", "z"],
                            path=tmp_path / "a.png")
    axes = _visible_axes(fig)
    assert [ax.get_title() for ax in axes] == ["x", "y", "z"]
    np.testing.assert_allclose(axes[1].lines[0].get_ydata(), A_true[:, 1])
    np.testing.assert_allclose(axes[1].lines[1].get_ydata(), A_est[:, 1])
    assert (tmp_path / "a.png").read_bytes()[:8] == PNG_MAGIC
    fig = plot.plot_spectra(A_est, log=True)
    assert all(ax.get_yscale() == "log" for ax in _visible_axes(fig))


def test_plot_maps_grid_and_flat_sources(tmp_path, rng):
    S = rng.random((5, 16, 12))
    fig = plot.plot_maps(S, titles=list("abcde"), path=tmp_path / "maps.png")
    axes = _visible_axes(fig)
    assert len(axes) == 5
    np.testing.assert_array_equal(axes[3].images[0].get_array(), S[3])
    assert (tmp_path / "maps.png").read_bytes()[:8] == PNG_MAGIC
    fig = plot.plot_maps(S.reshape(5, -1), log=True, shape=(16, 12), colorbar=False)
    assert len(_visible_axes(fig)) == 5


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: plot.plot_spectra_family(np.ones(5)), "spectra"),
        (lambda: plot.plot_spectra_family(np.ones((3, 5)), np.ones(4)), "energies"),
        (lambda: plot.plot_spectra_family(np.ones((3, 5, 2)), family_names=["a"]), "titles"),
        (lambda: plot.plot_spectra(np.ones((5, 2)), np.ones((5, 3))), "A_true"),
        (lambda: plot.plot_maps(np.ones((2, 12)), shape=(5, 5)), "shape"),
        (lambda: plot.plot_maps(np.full((1, 4, 4), np.nan)), "finite"),
        (lambda: plot.plot_maps(-np.ones((1, 4, 4)), log=True), "positive"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_save_into_a_missing_folder_fails_cleanly(tmp_path, rng):
    with pytest.raises(FileNotFoundError):
        plot.plot_maps(rng.random((1, 4, 4)), path=tmp_path / "nope" / "m.png")


def test_plot_spectra_overlays_several_estimates(rng):
    A_true = rng.random((20, 2))
    ests = {"m1": A_true * 1.1, "m2": A_true * 0.9, "m3": A_true}
    fig = plot.plot_spectra(ests, A_true, log=True)
    ax = _visible_axes(fig)[1]
    assert [ln.get_label() for ln in ax.lines] == ["truth", "m1", "m2", "m3"]
    np.testing.assert_allclose(ax.lines[2].get_ydata(), 0.9 * A_true[:, 1])
    with pytest.raises(ValueError, match="A_est"):
        plot.plot_spectra({"a": A_true, "b": A_true[:, :1]}, A_true)


def test_metric_bars_one_panel_per_metric_and_marks_non_finite(tmp_path):
    table = {"a": {"nmse_A": 0.1, "sdr": np.inf, "sad_db_A": 3.0},
             "b": {"nmse_A": 0.01, "sdr": 12.0, "sad_db_A": -1.0},
             "c": {"nmse_A": 0.5, "sad_db_A": 2.0}}
    fig = plot.plot_metric_bars(table, metrics=("nmse_A", "sdr", "sad_db_A"), path=tmp_path / "b.png")
    axes = _visible_axes(fig)
    assert len(axes) == 3
    heights = [p.get_height() for p in axes[0].patches]
    np.testing.assert_allclose(heights, [0.1, 0.01, 0.5])
    assert axes[0].get_yscale() == "log" and axes[2].get_yscale() == "linear"  # NMSE log, dB linear
    assert "lower is better" in axes[0].get_title() and "higher is better" in axes[1].get_title()
    # SDR: only b gets a bar; a (inf) and c (missing) get text marks
    assert [p.get_height() for p in axes[1].patches] == [12.0]
    marks = {t.get_text() for t in axes[1].texts}
    assert {"inf", "n/a"} <= marks
    assert (tmp_path / "b.png").read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="metrics"):
        plot.plot_metric_bars(table, metrics=("nope",))
    with pytest.raises(ValueError, match="table"):
        plot.plot_metric_bars({})


def test_layer_curves_draw_one_line_per_label():
    fig = plot.plot_layer_curves({"lpalm": [1.0, 0.1, 0.01], "palm": np.logspace(0, -1, 10)}, "NMSE(S)")
    (ax,) = _visible_axes(fig)
    assert [ln.get_label() for ln in ax.lines] == ["lpalm", "palm"]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "NMSE(S)"
    with pytest.raises(ValueError, match="positive"):
        plot.plot_layer_curves({"x": [0.0, -1.0]}, "y")


def test_residual_maps_are_exact_for_an_exact_fit_and_measure_a_known_misfit(rng):
    A = rng.random((6, 2))
    S = rng.random((2, 5, 4))
    X = np.einsum("mn,nhw->mhw", A, S)
    r = plot.residual_maps(X, A, S)
    assert np.allclose(r["norm"], 0) and float(r["total"]) < 1e-12
    np.testing.assert_allclose(r["data"], np.linalg.norm(X, axis=0))
    # drop the second source: the residual is exactly A[:, 1] s_1 in every pixel
    A2 = A.copy()
    A2[:, 1] = 0
    r = plot.residual_maps(X, A2, S)
    np.testing.assert_allclose(r["norm"], np.linalg.norm(A[:, 1]) * S[1])
    np.testing.assert_allclose(r["sum"], A[:, 1].sum() * S[1])
    np.testing.assert_allclose(r["relative"], r["norm"] / r["data"])
    with pytest.raises(ValueError, match="shape"):
        plot.residual_maps(X.reshape(6, -1), A, S.reshape(2, -1))


def test_plot_residual_and_residuals_panels(tmp_path, rng):
    A = rng.random((8, 2))
    S = rng.random((2, 6, 7))
    X = np.einsum("mn,nhw->mhw", A, S) + 0.01 * rng.standard_normal((8, 6, 7))
    fig = plot.plot_residual(X, A, S, np.linspace(1, 5, 8), path=tmp_path / "r.png")
    assert len(_visible_axes(fig)) == 3
    assert (tmp_path / "r.png").read_bytes()[:8] == PNG_MAGIC
    fig = plot.plot_residuals(X, {"a": (A, S), "b": (A * 0.5, S)}, kind="sum")
    axes = _visible_axes(fig)
    assert len(axes) == 4  # data, two residual maps, per-channel curves
    lo, hi = axes[1].images[0].get_clim()
    assert axes[2].images[0].get_clim() == (lo, hi) and lo == -hi  # shared, symmetric scale
    with pytest.raises(ValueError, match="kind"):
        plot.plot_residual(X, A, S, kind="bad")
