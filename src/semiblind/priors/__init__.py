"""Learned priors of spectra (the IAE manifold model comes with the sGMCA work)."""
