"""Simulators and datasets: X-ray spectra, the papers' spectra, sources, remote-sensing scenes, mixture sets.

The main names are re-exported here; see the submodules for the physics and the protocols:
:mod:`~semiblind.data.xray` (Cas A–like spectra), :mod:`~semiblind.data.casa` (the papers' spectra),
:mod:`~semiblind.data.sources` (source maps), :mod:`~semiblind.data.remote` (hyperspectral scenes) and
:mod:`~semiblind.data.mixtures` (:class:`MixtureSet` and the simulators).
"""

from .casa import load_spectra, lpalm_split, paper_mixing_matrices
from .mixtures import SOURCE_KINDS, MixtureSet, simulate_paper_xray, simulate_remote, simulate_xray
from .remote import Scene, simulate_scene
from .sources import (
    GGDFit,
    casa_like_maps,
    fit_ggd_to_map,
    ggd_fit_sources,
    ggd_sources,
    natural_image_sources,
    randomize_pixels,
)
from .xray import FAMILIES, EnergyGrid, sample_mixing_matrices

__all__ = [
    "FAMILIES",
    "SOURCE_KINDS",
    "EnergyGrid",
    "GGDFit",
    "MixtureSet",
    "Scene",
    "casa_like_maps",
    "fit_ggd_to_map",
    "ggd_fit_sources",
    "ggd_sources",
    "load_spectra",
    "lpalm_split",
    "natural_image_sources",
    "paper_mixing_matrices",
    "randomize_pixels",
    "sample_mixing_matrices",
    "simulate_paper_xray",
    "simulate_remote",
    "simulate_scene",
    "simulate_xray",
]
