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
