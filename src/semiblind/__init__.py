"""semiblind: learned semi-blind source separation of multi- and hyperspectral data.

Model: X (m channels × t pixels) = A (m × n spectra) · S (n × t source maps) + noise. Channels first everywhere;
cubes are ``(m, H, W)``; batches add a leading ``B``. NumPy in and out at the public API, torch inside.
"""

from ._version import __version__
from .api import load_model, methods, separate

__all__ = ["__version__", "load_model", "methods", "separate"]
