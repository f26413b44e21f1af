"""Training of the unrolled multiplicative updates (NALMU, ALMU) with the engine (:func:`semiblind.training.train`)
and the eq. 3 loss (:class:`semiblind.training.lmu_loss.LMUSADLoss`).

- :func:`train_nalmu` — one stage: all masks ``w_A`` with the paper's layer weights ``v^(l) = (l−1)/(L−1)``.
- :func:`train_almu` — the paper's two stages: a NALMU of ``nalmu_layers`` layers is trained first (or taken from
  ``init_from``, a NALMU model folder or module), copied into the ALMU and frozen; then the per-layer MLPs are
  trained with the weights ``v^(l)`` over the adaptive layers (zeros on the frozen ones). With ``out_dir`` the
  first stage is written to ``out_dir/nalmu-stage`` and the final model to ``out_dir``; both stages checkpoint
  every epoch and resume exactly (``resume=True``), as the engine does.

Both are registered as the trainers of the kinds ``nalmu`` and ``almu``
(:func:`semiblind.training.engine.register_trainer`), which ``semiblind train`` uses instead of the engine's
single-stage default.

Paper schedule (Kervazo, Chetoui & Cohen 2024): Adam, lr 1e-5, mini-batch 25, 2,000 epochs on 750 mixtures of
16,384 pixels — a GPU budget. The defaults here (lr 1e-2 for the masks' log-weights, 1e-3 for the MLPs, batch 25,
tens of epochs on a few hundred 32 × 32 mixtures) are what two CPU cores afford; the scripts and experiments say
which schedule they used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..unrolled.lmu import ALMU, NALMU
from .checkpoint import has_checkpoint
from .engine import CHECKPOINT_DIR, TrainResult, as_dataset, register_trainer, train
from .lmu_loss import LMUSADLoss, linear_layer_weights
from .model_files import load_model

__all__ = ["train_almu", "train_nalmu"]


def _grid(ds: Any) -> Any:
    meta = getattr(ds, "meta", None) or {}
    return meta.get("energy_grid") or meta.get("grid")


def train_nalmu(train_set: Any, valid_set: Any = None, *, layers: int = 50, epochs: int = 20, lr: float = 1e-2,
                batch_size: int = 25, seed: int = 0, out_dir: str | os.PathLike | None = None,
                resume: bool = False, overwrite: bool = False, progress: bool = True, dtype: Any = None,
                description: dict[str, Any] | None = None) -> TrainResult:
    """Train a NALMU of ``layers`` layers from MU (all masks 1) with the eq. 3 loss; see the module docstring."""
    tr = as_dataset(train_set, name="train_set")
    model = NALMU.for_training(tr.A, tr.S, layers=layers, dtype=dtype)
    model.contract["energy_grid"] = _grid(tr)
    model.contract["preprocessing"] = {"normalisation": "X / RMS pixel norm (inside the network)",
                                       "start": "NNDSVDa, unit-norm columns of A"}
    return train(model, tr, valid_set, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                 loss=LMUSADLoss(linear_layer_weights(layers)), out_dir=out_dir, resume=resume,
                 overwrite=overwrite, progress=progress, description=description)


def train_almu(train_set: Any, valid_set: Any = None, *, layers: int = 50, nalmu_layers: int | None = None,
               init_from: Any = None, epochs: int = 20, nalmu_epochs: int | None = None, lr: float = 1e-3,
               nalmu_lr: float = 1e-2, batch_size: int = 25, seed: int = 0,
               out_dir: str | os.PathLike | None = None, resume: bool = False, overwrite: bool = False,
               progress: bool = True, dtype: Any = None,
               description: dict[str, Any] | None = None) -> tuple[TrainResult, TrainResult | None]:
    """The two-stage ALMU training; returns ``(second_stage_result, first_stage_result or None)``.

    ``init_from``: a trained NALMU (model folder, shipped name or module) with ``nalmu_layers`` layers; without
    it the first stage trains one (``nalmu_epochs`` epochs, default ``epochs``, at ``nalmu_lr``).
    """
    tr = as_dataset(train_set, name="train_set")
    n_first = max(1, layers // 2) if nalmu_layers is None else nalmu_layers
    out = Path(out_dir) if out_dir is not None else None
    first: TrainResult | None = None
    if out is not None and out.parent.is_dir():
        out.mkdir(exist_ok=True)
    if init_from is None:
        first = train_nalmu(tr, valid_set, layers=n_first, epochs=nalmu_epochs or epochs, lr=nalmu_lr,
                            batch_size=batch_size, seed=seed, out_dir=None if out is None else out / "nalmu-stage",
                            resume=resume and out is not None and (out / "nalmu-stage").exists(),
                            overwrite=overwrite, progress=progress, dtype=dtype, description=description)
        nalmu = first.model
        source = "trained here (first stage)" if out is None else str(out / "nalmu-stage")
    else:
        nalmu = init_from if isinstance(init_from, NALMU) else load_model(init_from)
        if not isinstance(nalmu, NALMU):
            raise ValueError(f"init_from must be a NALMU model; got a {type(nalmu).__name__} model.")
        source = getattr(nalmu, "name", None) or "<NALMU module>"
        n_first = nalmu.layers
    model = ALMU.for_training(tr.A, tr.S, layers=layers, nalmu_layers=n_first, dtype=dtype)
    model.load_nalmu(nalmu.to(model.dtype))
    model.freeze_nalmu()
    model.contract["energy_grid"] = _grid(tr)
    model.contract["preprocessing"] = {"normalisation": "X / RMS pixel norm (inside the network)",
                                       "start": "NNDSVDa, unit-norm columns of A"}
    weights = [0.0] * n_first + linear_layer_weights(layers - n_first)
    desc = {**(description or {}), "first_stage": source, "first_stage_layers": n_first}
    resume_second = resume and out is not None and has_checkpoint(out / CHECKPOINT_DIR)
    second = train(model, tr, valid_set, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                   loss=LMUSADLoss(weights), out_dir=out, resume=resume_second, overwrite=overwrite,
                   progress=progress, description=desc)
    return second, first


# ------------------------------------------------------------------------------------------------ `semiblind train`

_SCHEDULE = ("layers", "epochs", "lr", "batch_size", "seed")


def _cli_nalmu(train_set: Any, valid_set: Any = None, *, init_from: Any = None, options: dict | None = None,
               **kwargs: Any) -> TrainResult:
    """``semiblind train nalmu``: :func:`train_nalmu` (defaults 50 layers, 20 epochs, lr 1e-2, batch 25)."""
    if init_from is not None:
        raise ValueError("--init-from is an option of kind 'almu' (a trained NALMU for its first stage); got it "
                         "for kind 'nalmu'.")
    if options:
        raise ValueError(f"kind 'nalmu' takes no --set options; got {', '.join(sorted(options))}.")
    return train_nalmu(train_set, valid_set, **kwargs)


def _cli_almu(train_set: Any, valid_set: Any = None, *, init_from: Any = None, options: dict | None = None,
              **kwargs: Any) -> TrainResult:
    """``semiblind train almu``: :func:`train_almu`, both stages, or the second from ``--init-from NALMU_DIR``
    (defaults 25 + 25 layers, 20 epochs, lr 1e-3 for the MLPs and 1e-2 for the first stage, batch 25).
    ``--set nalmu_layers=K`` sets the first stage's depth."""
    opts = dict(options or {})
    nalmu_layers = opts.pop("nalmu_layers", None)
    if opts:
        raise ValueError(f"kind 'almu' takes only --set nalmu_layers=K; got {', '.join(sorted(opts))}.")
    second, _ = train_almu(train_set, valid_set, init_from=init_from, nalmu_layers=nalmu_layers, **kwargs)
    return second


register_trainer("nalmu", _cli_nalmu)
register_trainer("almu", _cli_almu)
