"""Self-supervised LPALM pipeline (semiblind.selfsup): each stage, determinism, and that no ground truth reaches it."""

from __future__ import annotations

import numpy as np
import pytest

from semiblind.cli import main
from semiblind.selfsup import (
    DirichletMixture,
    SpectraLibrary,
    augment_spectra,
    estimate_noise_std,
    fit_dirichlet_mixture,
    reference_abundances,
    selfsup_unmix,
    spectra_library,
    spectral_angles,
)


def _smooth_spectra(m: int, n: int, rng: np.random.Generator) -> np.ndarray:
    lam = np.linspace(0, 1, m)
    centres = rng.uniform(0.1, 0.9, size=n)
    return 0.1 + np.exp(-0.5 * ((lam[:, None] - centres[None, :]) / 0.15) ** 2)


def _pure_pixel_data(m: int = 30, n: int = 3, t: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    A = _smooth_spectra(m, n, rng)
    S = rng.dirichlet(np.ones(n), size=t).T
    S[:, :n] = np.eye(n)  # pure pixels
    return A, A @ S


def test_spectra_library_recovers_pure_pixels_and_matches_families():
    A, X = _pure_pixel_data()
    lib = spectra_library(X, 3, n_runs=6, pixel_fraction=0.9, rng=1)
    assert lib.members.shape[1:] == (30, 3) and lib.members.shape[0] == int(lib.kept.sum())
    # noiseless with pure pixels: the reference run finds the true endmembers, in some order
    ang = spectral_angles(A, lib.reference)
    assert ang.min(axis=1).max() < 1e-6
    # every kept member is matched to its own family (angle to the family median below the gap between families)
    assert lib.angles.max() < 0.5 * np.sort(spectral_angles(lib.reference, lib.reference), axis=1)[:, 1].min()


def test_augmentation_is_bounded_multiplicative():
    A, _ = _pure_pixel_data()
    lib = SpectraLibrary(members=A[None], reference=A, angles=np.zeros((1, 3)), kept=np.ones(1, bool))
    out = augment_spectra(lib, 50, amplitude=0.2, n_knots=4, rng=0)
    ratio = out / A[None]
    assert out.shape == (50, 30, 3)
    assert ratio.min() >= 0.8 - 1e-12 and ratio.max() <= 1.2 + 1e-12
    assert ratio.std() > 0.03  # it does perturb
    np.testing.assert_array_equal(out, augment_spectra(lib, 50, amplitude=0.2, n_knots=4, rng=0))


def test_dirichlet_mixture_recovers_a_dirichlet():
    rng = np.random.default_rng(0)
    alpha = np.array([2.0, 5.0, 3.0])
    S = rng.dirichlet(alpha, size=6000).T
    mix = fit_dirichlet_mixture(S, 1, rng=0)
    np.testing.assert_allclose(mix.alphas[0], alpha, rtol=0.15)
    draws = mix.sample(1000, rng=1)
    np.testing.assert_allclose(draws.sum(0), 1.0, atol=1e-12)


def test_dirichlet_mixture_separates_two_clusters():
    rng = np.random.default_rng(1)
    S = np.concatenate([rng.dirichlet([30, 3, 3], size=3000), rng.dirichlet([3, 3, 30], size=1000)]).T
    mix = fit_dirichlet_mixture(S, 2, rng=0)
    order = np.argsort(mix.weights)
    np.testing.assert_allclose(mix.weights[order], [0.25, 0.75], atol=0.03)
    assert mix.alphas[order[1]].argmax() == 0 and mix.alphas[order[0]].argmax() == 2
    assert isinstance(mix, DirichletMixture) and len(mix.log_likelihood) >= 2


def test_noise_std_estimator_recovers_white_noise():
    A, X = _pure_pixel_data(m=40, t=3000)
    rng = np.random.default_rng(3)
    sigma = 0.01
    est = estimate_noise_std(X + sigma * rng.standard_normal(X.shape))
    assert est.shape == (40,)
    assert abs(np.median(est) / sigma - 1) < 0.05


def test_reference_abundances_nonnegative_and_sum_to_one():
    A, X = _pure_pixel_data()
    S = reference_abundances(X, A)
    assert S.min() >= 0 and np.abs(A @ S - X).max() < 1e-4
    S1 = reference_abundances(X, A, sum_to_one=True)
    np.testing.assert_allclose(S1.sum(0), 1.0, atol=1e-9)


TINY = {"n_runs": 4, "n_train": 6, "n_valid": 2, "n_pixels": 64, "epochs": 2, "layers": 3}


def test_selfsup_unmix_is_seeded_and_validates():
    A, X = _pure_pixel_data(m=20, t=300)
    X = X + 0.01 * np.random.default_rng(0).standard_normal(X.shape)
    r1 = selfsup_unmix(X, 3, seed=5, progress=False, **TINY)
    r2 = selfsup_unmix(X, 3, seed=5, progress=False, **TINY)
    assert r1.A.shape == (20, 3) and r1.S.shape == (3, 300)
    # Same seed, same numbers — to the last bits only up to the BLAS's rounding, which may depend on the memory
    # alignment of its buffers (seen in long test runs: differences of 1e-16 relative), hence a 1e-12 tolerance.
    np.testing.assert_allclose(r1.A, r2.A, rtol=1e-12, atol=0)
    np.testing.assert_allclose(r1.S, r2.S, rtol=1e-12, atol=1e-12 * float(np.abs(r1.S).max()))
    assert set(r1.timings) >= {"library", "augmentation", "abundances", "synthesis", "training", "application"}
    with pytest.raises(ValueError, match="abundances"):
        selfsup_unmix(X, 3, abundances="magic", progress=False, **TINY)
    with pytest.raises(ValueError, match="n_sources"):
        selfsup_unmix(X, 25, progress=False, **TINY)


def test_cli_never_passes_the_ground_truth(tmp_path):
    """The same scene with and without A, S in the file gives the same result (to BLAS rounding)."""
    rng = np.random.default_rng(2)
    A, X = _pure_pixel_data(m=20, t=256, seed=2)
    S = np.linalg.lstsq(A, X, rcond=None)[0]
    X = (X + 0.01 * rng.standard_normal(X.shape)).reshape(20, 16, 16)
    np.savez(tmp_path / "with.npz", X=X, A=A, S=S.reshape(3, 16, 16))
    np.savez(tmp_path / "without.npz", X=X)
    args = ["--n-sources", "3", "--epochs", "2", "--layers", "3", "--n-train", "6", "--n-pixels", "64", "--quiet"]
    assert main(["selfsup", str(tmp_path / "with.npz"), "--out", str(tmp_path / "a"), *args]) == 0
    assert main(["selfsup", str(tmp_path / "without.npz"), "--out", str(tmp_path / "b"), *args]) == 0
    ra, rb = np.load(tmp_path / "a" / "result.npz"), np.load(tmp_path / "b" / "result.npz")
    # identical up to BLAS rounding (see test_selfsup_unmix_is_seeded_and_validates); the truth would move them far
    np.testing.assert_allclose(ra["A"], rb["A"], rtol=1e-12, atol=0)
    np.testing.assert_allclose(ra["S"], rb["S"], rtol=1e-12, atol=1e-12 * float(np.abs(ra["S"]).max()))
    for f in ("report.html", "report.md", "summary.json", "fig_library.png", "fig_dirichlet.png",
              "fig_training.png", "fig_spectra.png", "fig_maps.png", "model/config.json"):
        assert (tmp_path / "a" / f).is_file(), f
    # an existing result is not overwritten silently
    assert main(["selfsup", str(tmp_path / "without.npz"), "--out", str(tmp_path / "b"), *args]) == 2
