"""Training of unrolled networks: the loop (:func:`train`), losses, checkpoints and model files.

- :func:`train` — Adam training with validation, best weights, early stopping, JSON-lines log, checkpoints and
  exact resume (LPALM paper, Fahes et al. ICLR 2022, §4 and eq. 9).
- :func:`build_model` — a freshly initialised network of a trainable kind (:func:`kinds`) sized for a training set.
- :func:`load_model` / :func:`save_model` — model folders (``model.safetensors`` + ``config.json``) and the
  models shipped in ``semiblind/models``.
"""

from .engine import Dataset, TrainResult, as_dataset, build_model, evaluate, kinds, load_npz_dataset, train
from .losses import SeparationLoss, make_loss, mean_angle, nmse
from .model_files import find_shipped_model, load_model, network_classes, save_model, shipped_models

__all__ = [
    "Dataset",
    "SeparationLoss",
    "TrainResult",
    "as_dataset",
    "build_model",
    "evaluate",
    "kinds",
    "find_shipped_model",
    "load_model",
    "load_npz_dataset",
    "make_loss",
    "mean_angle",
    "network_classes",
    "nmse",
    "save_model",
    "shipped_models",
    "train",
]
