"""The training loop shared by every unrolled network (LPALM, LISTA family; later unrolled MU and the IAE).

Paper settings (LPALM, Fahes et al. ICLR 2022, §4): loss eq. 9, Adam with β = (0.9, 0.999), learning rate 1e-4,
batch size 1, 100 epochs — all configurable. Every epoch: a pass over the shuffled training set, a validation pass
(loss and per-layer NMSE of S and A), the best weights kept, a JSON-lines log record, and a checkpoint.

Determinism. Shuffling uses a ``torch.Generator`` seeded for each epoch from ``SeedSequence([seed, epoch])``; no
global random state is read. A run stopped at any moment and resumed with ``resume=True`` (same arguments) ends
with bit-identical weights to an uninterrupted run: the checkpoint (see :mod:`semiblind.training.checkpoint`) holds
the model, the Adam state, the best weights, the counters and the log position, and the log is truncated back to
that position on resume.

Stored sets. A training or validation set given as a file path, or opened with
:func:`semiblind.training.stored.open_stored`, is read lazily (memory-mapped ``.npz`` members or HDF5 datasets):
every batch is gathered from the file (:meth:`~semiblind.training.stored.StoredSet.take`), validation and the
checkpoint's data fingerprint read it chunk by chunk, and the weights are bit-identical to training on the same
set held in memory. :func:`load_npz_dataset` (and ``semiblind train --in-memory``) reads a set into memory.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import _registry
from .._backend import as_tensor
from .._json import dumps as json_dumps
from .._ranges import check_dynamic_range
from .._registry import Kind
from .._validation import check_int
from .._version import __version__
from ..unrolled.base import UnrolledNet
from .checkpoint import data_fingerprint, has_checkpoint, model_signature, resume_checkpoint, save_checkpoint
from .distributed import DistContext, from_env
from .losses import LossFn, make_loss, nmse
from .model_files import network_classes, save_model
from .simulated import SimulatedSource
from .stored import HDF5_SUFFIXES, StoredSet, check_shapes, open_stored

LOG_NAME = "train_log.jsonl"
CHECKPOINT_DIR = "checkpoint"


@dataclass
class Dataset:
    """Training triplets as tensors: ``X (N, m, t)``, ``A (N, m, n)``, ``S (N, n, t)`` plus a description."""

    X: torch.Tensor
    A: torch.Tensor
    S: torch.Tensor
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def take(self, idx: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mixtures ``idx`` (a slice or 1-D indices) as ``(X, A, S)`` tensors (the interface a lazily read
        :class:`~semiblind.training.stored.StoredSet` shares)."""
        return self.X[idx], self.A[idx], self.S[idx]


@dataclass
class TrainResult:
    """What :func:`train` returns.

    model : the network with the best weights (lowest validation loss, or training loss without a validation set).
    history : one dict per epoch (the log records).
    best_epoch : 1-based epoch of the best weights; best_loss : its score.
    epochs_run : epochs completed (including those before a resume); stopped_early : early stopping fired.
    seconds : wall-clock time of this call; out_dir : where the model, log and checkpoint were written (or None).
    """

    model: UnrolledNet
    history: list[dict[str, Any]]
    best_epoch: int
    best_loss: float
    epochs_run: int
    stopped_early: bool
    seconds: float
    out_dir: Path | None = None


# ------------------------------------------------------------------------------------------------ data


def as_dataset(data: Any, *, name: str = "train_set", dtype: torch.dtype = torch.float32) -> Dataset | StoredSet:
    """Accept a ``MixtureSet`` (attributes ``X``, ``A``, ``S``, ``meta``), a mapping with those keys, a tuple
    ``(X, A, S)`` — returned as a :class:`Dataset` of tensors — or a stored set: a
    :class:`~semiblind.training.stored.StoredSet` or the path of an ``.npz`` / ``.h5`` file, returned as a
    :class:`~semiblind.training.stored.StoredSet` at ``dtype`` that reads its arrays lazily (checked chunk by
    chunk: every value finite). Both give X ``(N, m, t)``, A ``(N, m, n)``, S ``(N, n, t)`` (image pixels
    flattened, channels first) and :meth:`take` for a batch."""
    meta: dict[str, Any] = {}
    if isinstance(data, (str, os.PathLike)):
        data = open_stored(data, argument=name)
    if isinstance(data, StoredSet):
        ds = data.with_dtype(dtype)
        check_shapes(name, ds.X.shape, ds.A.shape, ds.S.shape)
        ds.check(name)
        return ds
    if isinstance(data, Dataset):
        X, A, S, meta = data.X, data.A, data.S, data.meta
    elif all(hasattr(data, k) for k in ("X", "A", "S")):
        X, A, S = data.X, data.A, data.S
        meta = dict(getattr(data, "meta", {}) or {})
    elif isinstance(data, dict) and all(k in data for k in ("X", "A", "S")):
        X, A, S = data["X"], data["A"], data["S"]
        meta = dict(data.get("meta", {}) or {})
    elif isinstance(data, (tuple, list)) and len(data) == 3:
        X, A, S = data
    else:
        raise TypeError(f"{name} must be a MixtureSet, a dict, a tuple (X, A, S) or a stored set (.npz / .h5 path "
                        f"or StoredSet); got {type(data).__name__}.")
    if A is None or S is None:
        raise ValueError(f"{name} must hold the true A and S of every mixture for training; got A or S "
                         f"missing.")
    X, A, S = (as_tensor(v, dtype=dtype).detach().cpu() for v in (X, A, S))
    if X.ndim == 4 and S.ndim == 4:  # image sets (N, m, H, W): pixels flattened, channels first
        X, S = X.reshape(*X.shape[:2], -1), S.reshape(*S.shape[:2], -1)
    check_shapes(name, X.shape, A.shape, S.shape)
    for k, v in (("X", X), ("A", A), ("S", S)):
        if not torch.isfinite(v).all():
            raise ValueError(f"{name}.{k} must contain only finite values; got NaN or infinite entries.")
    return Dataset(X, A, S, meta)


def load_dataset(path: str | os.PathLike, *, lazy: bool = True, name: str = "train_set") -> Dataset | StoredSet:
    """The training set in the file ``path`` (``.npz``, or ``.h5`` / ``.hdf5``): read lazily (a
    :class:`~semiblind.training.stored.StoredSet`, the default) or into memory (``lazy=False``: a
    :class:`Dataset`; an ``.npz`` through :func:`load_npz_dataset`)."""
    if lazy:
        return open_stored(path, argument=name)
    if Path(path).suffix.lower() in HDF5_SUFFIXES:
        with open_stored(path, argument=name) as st:
            d = st.with_dtype(torch.float64 if st.X.source.dtype.itemsize > 4 else torch.float32).read_all()
        return Dataset(d["X"], d["A"], d["S"], d["meta"])
    return load_npz_dataset(path)


def load_npz_dataset(path: str | os.PathLike) -> Dataset:
    """Read a dataset ``.npz`` in the :class:`~semiblind.data.mixtures.MixtureSet` layout (keys ``X``, ``A``,
    ``S``, optional ``meta`` JSON string; no pickles). Training needs the ground truth ``A`` and ``S``."""
    from ..data.mixtures import MixtureSet

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"dataset {str(p)!r} does not exist.")
    try:  # the keys first: without A the layout rules would read X as a cube and complain about S's shape
        import zipfile

        with zipfile.ZipFile(p) as zf:
            keys = {n[:-4] if n.endswith(".npy") else n for n in zf.namelist()}
    except (zipfile.BadZipFile, OSError):
        keys = None  # not an .npz archive: MixtureSet.load says so
    if keys is not None and "X" in keys and not {"A", "S"} <= keys:
        missing = [k for k in ("A", "S") if k not in keys]
        raise ValueError(f"dataset {str(p)!r} must hold arrays X, A and S; {', '.join(missing)} missing.")
    ms = MixtureSet.load(p)
    missing = [k for k, v in (("A", ms.A), ("S", ms.S)) if v is None]
    if missing:
        raise ValueError(f"dataset {str(p)!r} must hold arrays X, A and S; {', '.join(missing)} missing.")
    X, S = np.asarray(ms.X), np.asarray(ms.S)
    X = X.reshape(X.shape[0], X.shape[1], -1)
    S = S.reshape(S.shape[0], S.shape[1], -1)
    return Dataset(torch.as_tensor(X), torch.as_tensor(np.asarray(ms.A)), torch.as_tensor(S),
                   dict(getattr(ms, "meta", {}) or {}))


# ------------------------------------------------------------------------------------------------ models


def kinds() -> dict[str, Kind]:
    """Name → :class:`~semiblind._registry.Kind` of every trainable kind (``semiblind train <kind>``).

    A network class registered with ``@register_model`` that sets ``kind`` and defines ``for_training`` is a kind;
    any other model registers one with :func:`semiblind._registry.register_kind`. The modules of the network
    packages are imported first, so a new module needs no list.
    """
    network_classes()
    return _registry.kinds()


_TRAINERS: dict[str, Any] = {}


def register_trainer(kind: str, trainer: Any) -> None:
    """Give the kind ``kind`` its own training procedure for ``semiblind train`` (e.g. ALMU's two stages), used
    instead of :func:`build_model` + :func:`train`. ``trainer(train_set, valid_set, *, out_dir, resume, overwrite,
    progress, dtype, description, init_from, options, [layers, epochs, lr, batch_size, seed]) -> TrainResult``;
    the schedule arguments are passed only when given on the command line (the trainer's defaults apply
    otherwise)."""
    if not callable(trainer):
        raise TypeError(f"trainer must be callable; got {type(trainer).__name__}.")
    _TRAINERS[str(kind)] = trainer


def trainers() -> dict[str, Any]:
    """Kind → registered trainer (the modules of :mod:`semiblind.training` are imported first)."""
    _registry.discover("semiblind.training")
    return dict(sorted(_TRAINERS.items()))


def build_model(
    kind: str,
    train_set: Any,
    *,
    layers: int = 25,
    dtype: Any = None,
    **options: Any,
) -> UnrolledNet:
    """A freshly initialised network of ``kind`` (a key of :func:`kinds`: ``"lpalm"``, ``"lista"``,
    ``"lista-cp"``, ``"ista-llt"``, ...) sized for ``train_set``.

    The kind's builder chooses the initialisation: LPALM follows the paper's App. A (the first training pair
    ``(A_0, S_0)``), the LISTA family uses the **mean** of the training mixing matrices as its reference ``A_ref``
    (see :mod:`semiblind.unrolled.lista`). ``options`` go to the network's constructor (``tied``, ``threshold``,
    ``wavelet``, ``n_scales``, ``s_update``, ``mixing``, ``alpha``). The data contract's energy grid is taken from
    ``train_set.meta["energy_grid"]`` (or ``meta["grid"]``, as :func:`semiblind.data.mixtures.simulate_xray`
    writes it) when present.
    """
    table = kinds()
    if kind not in table:
        raise ValueError(f"kind must be one of {', '.join(map(repr, table))}; got {kind!r}.")
    ds = as_dataset(train_set, dtype=torch.float64)
    # a stored set: every A (m·n values per mixture) in memory, S read on demand (the builders read S[0])
    A = ds.A[:] if isinstance(ds, StoredSet) else ds.A
    model = table[kind].build(A, ds.S, layers=layers, dtype=dtype, **options)
    grid = (ds.meta.get("energy_grid") or ds.meta.get("grid")) if isinstance(ds.meta, dict) else None
    model.contract["energy_grid"] = grid
    return model


# ------------------------------------------------------------------------------------------------ loop helper


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    s = int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1, dtype=np.uint64)[0] >> 1)
    return torch.Generator().manual_seed(s)


def _forward(model: UnrolledNet, X: torch.Tensor, A_true: torch.Tensor) -> tuple[Any, list]:
    """Per-layer estimates; S-only networks in ``mixing="given"`` mode receive the true A."""
    if model.estimates_mixing:
        _, _, As, Ss = model(X, return_layers=True)
        return As, Ss
    A_in = A_true if getattr(model, "mixing", "fixed") == "given" else None
    _, _, _, Ss = model(X, A=A_in, return_layers=True)
    return None, Ss


@torch.no_grad()
def evaluate(
    model: UnrolledNet,
    data: Any,
    *,
    loss: str | LossFn = "nmse",
    layer_weights: Sequence[float] | None = None,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Loss and per-layer mean NMSE of S (and A for networks that estimate it) on a dataset.

    Returns ``{"loss", "nmse_S", "nmse_A", "nmse_S_layers", "nmse_A_layers"}`` (means over samples; the A entries
    are None for S-only networks).
    """
    ds = data if isinstance(data, (Dataset, StoredSet)) else as_dataset(data, name="data", dtype=model.dtype)
    loss_fn = make_loss(loss, layer_weights)
    was_training = model.training
    model.eval()
    dev, dt = model.device, model.dtype
    N = len(ds)
    tot = 0.0
    s_layers = torch.zeros(model.layers, dtype=torch.float64)
    a_layers = torch.zeros(model.layers, dtype=torch.float64)
    for i in range(0, N, batch_size):
        X, A, S = (v.to(dev, dt) for v in ds.take(slice(i, i + batch_size)))
        As, Ss = _forward(model, X, A)
        b = X.shape[0]
        tot += float(loss_fn(As, Ss, A, S)) * b
        s_layers += torch.stack([nmse(s, S).sum() for s in Ss]).double().cpu()
        if As is not None:
            a_layers += torch.stack([nmse(a, A).sum() for a in As]).double().cpu()
    model.train(was_training)
    s_l = (s_layers / N).tolist()
    a_l = (a_layers / N).tolist() if model.estimates_mixing else None
    return {"loss": tot / N, "nmse_S": s_l[-1], "nmse_A": a_l[-1] if a_l else None, "nmse_S_layers": s_l,
            "nmse_A_layers": a_l}


def _clone_state(model: UnrolledNet) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ------------------------------------------------------------------------------------------------ train


LR_SCHEDULES = ("constant", "cosine", "onecycle")
"""Learning-rate schedules of :func:`train`: ``"constant"`` (the LPALM paper's), ``"cosine"`` (linear warm-up
over the first ``warmup`` fraction of the steps, then cosine decay to 0) and ``"onecycle"`` (warm-up from
lr/25, then cosine decay to lr/10⁴, as in Smith & Topin 2019)."""

SCHEDULES: dict[str, dict[str, Any]] = {
    "paper": {"epochs": 100, "lr": 1e-4, "batch_size": 1, "lr_schedule": "constant", "warmup": 0.0,
              "clip_grad": None},
    "fast": {"epochs": 90, "lr": 3e-3, "batch_size": 16, "lr_schedule": "onecycle", "warmup": 0.1,
             "clip_grad": 1.0},
}
"""Named training schedules (``semiblind train --schedule NAME``): ``"paper"`` is the LPALM paper's (100 epochs,
batch 1, constant lr 1e-4, Adam); ``"fast"`` uses batches of 16, a one-cycle lr (peak 3e-3) with 10 % warm-up and
gradient clipping at norm 1, 90 epochs (best epoch on validation kept, as always). On the Table 1 protocol (750
mixtures of 65 × 500, 25 layers) ``"fast"`` reached median test NMSE(S) 0.00083 / 0.00084 (two seeds; paper 0.00085)
in 309 s / 192 s on one loaded thread, ``"paper"`` 0.00064 in 2,513 s (``docs/results_speed.md``). Values given
explicitly override the schedule's."""


DEFAULT_SCHEDULE = "fast"
"""The schedule of ``semiblind train`` when ``--schedule`` is not given (``--schedule paper`` for the paper's)."""


def lr_factor(schedule: str, step: int, total: int, warmup: float) -> float:
    """The multiplier of the base learning rate at optimiser step ``step`` (0-based) of ``total``."""
    if schedule == "constant" or total <= 1:
        return 1.0
    w = int(round(warmup * total))
    if step < w:
        start = 0.04 if schedule == "onecycle" else 0.0
        return start + (1.0 - start) * (step + 1) / w
    frac = (step - w) / max(1, total - w - 1)
    low = 1e-4 if schedule == "onecycle" else 0.0
    return low + (1.0 - low) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, frac)))


def resolve_schedule(name: str | None, **given: Any) -> dict[str, Any]:
    """The values of the named schedule (see :data:`SCHEDULES`) with every ``given`` value that is not None
    replacing the schedule's (``epochs``, ``lr``, ``batch_size``, ``lr_schedule``, ``warmup``, ``clip_grad``)."""
    name = DEFAULT_SCHEDULE if name is None else name
    if name not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(map(repr, SCHEDULES))}; got {name!r}.")
    return {**SCHEDULES[name], **{k: v for k, v in given.items() if v is not None}}


def train(
    model: UnrolledNet,
    train_set: Any,
    valid_set: Any = None,
    *,
    epochs: int = 100,
    lr: float = 1e-4,
    batch_size: int = 1,
    seed: int = 0,
    loss: str | LossFn = "nmse",
    layer_weights: Sequence[float] | None = None,
    early_stopping: int | None = None,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    device: Any = None,
    description: dict[str, Any] | None = None,
    lr_schedule: str = "constant",
    warmup: float = 0.0,
    clip_grad: float | None = None,
    max_seconds: float | None = None,
    distributed: DistContext | bool | None = None,
) -> TrainResult:
    """Train an unrolled network with Adam on ``(X, A, S)`` triplets (LPALM paper, Fahes et al. 2022, §4, eq. 9).

    Parameters
    ----------
    model : an :class:`~semiblind.unrolled.base.UnrolledNet` (e.g. from :func:`build_model`); trained in place.
    train_set, valid_set : ``MixtureSet``, dict, tuple ``(X, A, S)``, or a stored set read lazily: an ``.npz`` /
        ``.h5`` path or a :class:`~semiblind.training.stored.StoredSet` (see :func:`as_dataset`).
        ``train_set`` may also be a :class:`~semiblind.training.simulated.SimulatedSource`: every global batch
        is simulated on the fly (seeded by seed, epoch and batch), ``per_epoch`` mixtures per epoch.
    epochs, lr, batch_size : paper defaults 100, 1e-4, 1. Adam uses β = (0.9, 0.999).
    seed : shuffling seed (a per-epoch ``torch.Generator``; no global RNG is used).
    loss : ``"nmse"`` (eq. 9: NMSE(S) + NMSE(A) at the last layer, batch mean), ``"angle"`` (NMSE(S) + mean
        spectral angle of A; alias ``"sad"``), ``"cosine"``, ``"nmse_s"`` or a callable
        ``f(A_layers or None, S_layers, A_true, S_true) -> scalar``. No permutation matching is done: the
        training data keep the source families in a fixed order (see :mod:`semiblind.training.losses`).
    layer_weights : one weight per layer (default: last layer only).
    early_stopping : stop after this many epochs without improvement of the validation loss (None: never).
    out_dir : folder for ``train_log.jsonl`` (one JSON record per epoch, with per-layer validation NMSE),
        ``checkpoint/`` (written every epoch) and, at the end, the best model (``config.json`` +
        ``model.safetensors``). None: nothing is written and ``resume`` is unavailable.
    resume : continue from ``out_dir/checkpoint`` (same arguments; ``epochs`` may be raised).
    overwrite : allow starting afresh in an ``out_dir`` that already holds a checkpoint.
    progress : show a tqdm bar with the running loss.
    device : where to train (default: where the model is).
    description : extra facts about the training data written into ``config.json`` (``training`` entry).
    lr_schedule : ``"constant"`` (default, the paper's), ``"cosine"`` or ``"onecycle"`` (see
        :data:`LR_SCHEDULES`), over ``epochs × batches`` optimiser steps; ``warmup`` the fraction of steps
        of linear warm-up. Named combinations: :data:`SCHEDULES` and :func:`resolve_schedule`.
    clip_grad : clip the gradient's global norm to this value before each step (None: no clipping).
    max_seconds : return after the first epoch that ends past this many seconds of training (None: no limit)
        with the best epoch so far; the checkpoint is not marked as stopped, so ``resume`` continues the run.
    distributed : data-parallel training (see :mod:`semiblind.training.distributed`): None (default) joins the
        torchrun process group when ``WORLD_SIZE`` > 1 is set and trains alone otherwise; False always trains
        alone; a :class:`~semiblind.training.distributed.DistContext` is used as given. Each rank computes its
        shard of every global batch, gradients are averaged (weighted by shard size) before each step; only
        rank 0 writes files and shows progress.

    Returns
    -------
    TrainResult, with ``model`` holding the best weights and its ``contract`` filled (training, validation).
    """
    if not isinstance(model, UnrolledNet):
        raise TypeError(f"model must be an UnrolledNet (LPALM, LISTA, ...); got {type(model).__name__}.")
    epochs = check_int(epochs, "epochs", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    seed = check_int(seed, "seed", 0)
    if early_stopping is not None:
        early_stopping = check_int(early_stopping, "early_stopping", 1)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite float; got {lr!r}.")
    loss_fn = make_loss(loss, layer_weights)
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {', '.join(map(repr, LR_SCHEDULES))}; got {lr_schedule!r}.")
    if isinstance(warmup, bool) or not isinstance(warmup, (int, float)) or not 0 <= warmup < 1:
        raise ValueError(f"warmup must be a float in [0, 1); got {warmup!r}.")
    if clip_grad is not None and (isinstance(clip_grad, bool) or not isinstance(clip_grad, (int, float))
                                  or not (math.isfinite(clip_grad) and clip_grad > 0)):
        raise ValueError(f"clip_grad must be a positive finite float or None; got {clip_grad!r}.")
    if max_seconds is not None and (isinstance(max_seconds, bool) or not isinstance(max_seconds, (int, float))
                                    or not max_seconds > 0):
        raise ValueError(f"max_seconds must be a positive number or None; got {max_seconds!r}.")
    if device is not None:
        model.to(device)
    dt, dev = model.dtype, model.device
    dctx = from_env(dev) if distributed is None else (None if distributed is False else distributed)
    if dctx is not None and not isinstance(dctx, DistContext):
        raise TypeError(f"distributed must be None, False or a DistContext; got {type(distributed).__name__}.")
    main = dctx is None or dctx.is_main  # only rank 0 writes files and shows progress
    if dctx is not None:
        dctx.broadcast_model(model)
        progress = progress and main
    sim = train_set if isinstance(train_set, SimulatedSource) else None  # mixtures drawn batch by batch
    tr = as_dataset(sim.probe(dtype=dt) if sim is not None else train_set, name="train_set", dtype=dt)
    va = as_dataset(valid_set, name="valid_set", dtype=dt) if valid_set is not None else None
    for nm, ds in (("train_set", tr), ("valid_set", va)):
        if ds is not None:
            # e.g. |X| ~ 1e19 in float32: a sentence, not eigh failing (a stored set: from its chunked scan)
            hint = "dtype='float64' (--dtype float64)"
            if isinstance(ds, StoredSet):
                ds.check_range(dt, name=f"X of {nm}", float64_hint=hint)
            else:
                check_dynamic_range(ds.X, dt, name=f"X of {nm}", float64_hint=hint)
            model.check_data(int(ds.X.shape[1]), int(ds.A.shape[2]), what=nm)

    run_args = {"epochs_requested": epochs, "lr": float(lr), "batch_size": batch_size, "seed": seed,
                "loss": loss if isinstance(loss, str) else getattr(loss, "__name__", "callable"),
                "layer_weights": list(layer_weights) if layer_weights is not None else None,
                "early_stopping": early_stopping, "optimizer": "Adam(betas=(0.9, 0.999))"}
    if lr_schedule != "constant" or clip_grad is not None:  # recorded (and checked on resume) when used
        run_args.update({"lr_schedule": lr_schedule, "warmup": float(warmup), "clip_grad": clip_grad})
    out = Path(out_dir) if out_dir is not None else None
    ckpt = out / CHECKPOINT_DIR if out is not None else None
    log_path = out / LOG_NAME if out is not None else None
    if resume and out is None:
        raise ValueError("resume=True needs out_dir (the folder of the run to resume); got out_dir=None.")
    if out is not None:
        if out.exists() and not out.is_dir():
            raise FileExistsError(f"out_dir {str(out)!r} exists and is not a folder.")
        if not out.parent.is_dir():
            raise FileNotFoundError(f"out_dir must be inside an existing folder; {str(out.parent)!r} does "
                                    f"not exist.")
        if not resume and not overwrite and (has_checkpoint(ckpt) or (out / "config.json").exists()):
            raise FileExistsError(
                f"out_dir {str(out)!r} already holds a training run; pass resume=True (--resume) to "
                f"continue it or "
                "overwrite=True (--overwrite) to start again."
            )
        if resume and not has_checkpoint(ckpt):  # refused before the folder is created (no empty folder left)
            raise FileNotFoundError(f"resume=True but {str(ckpt)!r} holds no checkpoint to resume from.")
        out.mkdir(exist_ok=True)
    # the training data's identity, recorded in the checkpoint: --resume with another training file is refused
    fingerprint = None if out is None else (sim.fingerprint(int(tr.X.shape[1]), int(tr.A.shape[2]))
                                            if sim is not None else data_fingerprint(tr.X, tr.A, tr.S))

    opt = torch.optim.Adam(model.parameters(), lr=float(lr), betas=(0.9, 0.999))
    start_epoch, best_loss, best_epoch, bad, stopped = 0, math.inf, 0, 0, False
    best_state: dict[str, torch.Tensor] | None = None
    history: list[dict[str, Any]] = []
    if resume:
        if not has_checkpoint(ckpt):
            raise FileNotFoundError(f"resume=True but {str(ckpt)!r} holds no checkpoint to resume from.")
        # checks the run's arguments, the network (kind, layers, tied), the data fingerprint and every tensor
        compare = ("lr", "batch_size", "seed", "loss", "layer_weights", "lr_schedule", "warmup", "clip_grad")
        if lr_schedule != "constant":  # the schedule's horizon is epochs × batches: the same epochs are needed
            compare += ("epochs_requested",)
        info, best_state = resume_checkpoint(ckpt, model=model, optimizer=opt, run_args=run_args,
                                             fingerprint=fingerprint, compare=compare)
        start_epoch, best_loss = int(info["epoch"]), float(
            info["best_loss"] if info["best_loss"] is not None else math.inf)
        best_epoch, bad = int(info["best_epoch"]), int(info["bad_epochs"])
        stopped = bool(info["stopped_early"])
        if log_path.exists():
            kept = log_path.read_bytes()[:int(info["log_bytes"])]
            if main:
                with open(log_path, "r+b") as fh:
                    fh.truncate(int(info["log_bytes"]))
            history = [json.loads(line) for line in kept.decode("utf-8").splitlines() if line]
    elif main and log_path is not None and log_path.exists():
        log_path.unlink()

    from .._progress import tqdm  # bar on a terminal, one line per stage in a log

    t_start = time.perf_counter()
    N = sim.per_epoch if sim is not None else len(tr)
    n_batches = (N + batch_size - 1) // batch_size
    epoch = start_epoch
    for epoch in range(start_epoch, epochs):
        if stopped:
            break
        t_ep = time.perf_counter()
        model.train()
        perm = torch.randperm(N, generator=_epoch_generator(seed, epoch))
        running, seen = 0.0, 0
        bar = tqdm(range(n_batches), desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, leave=False)
        for b in bar:
            if lr_schedule != "constant":
                for group in opt.param_groups:
                    group["lr"] = float(lr) * lr_factor(lr_schedule, epoch * n_batches + b, epochs * n_batches,
                                                        float(warmup))
            idx = perm[b * batch_size:(b + 1) * batch_size]
            n_global, src = len(idx), tr
            if sim is not None:  # global batch b of this epoch, seeded by (seed, epoch, b): same on every rank
                src, idx = as_dataset(sim.batch(epoch, b, n_global, dt), dtype=dt), torch.arange(n_global)
            if dctx is not None:  # this rank's contiguous slice of the global batch
                idx = dctx.shard(idx)
            value = None
            if len(idx):
                X, A, S = (v.to(dev) for v in src.take(idx))  # a stored set: read from the file
                As, Ss = _forward(model, X, A)
                value = loss_fn(As, Ss, A, S)
            local = float(value.detach()) * len(idx) if value is not None else 0.0
            total = local if dctx is None else dctx.sum_scalar(local, dev)
            if not math.isfinite(total):
                raise ValueError(
                    f"training diverged at epoch {epoch + 1} (the loss is {total / n_global}); lower lr (got "
                    f"{lr:g})."
                )
            opt.zero_grad(set_to_none=True)
            if value is not None:
                value.backward()
            if dctx is not None:  # Σ_r (b_r / B) ∇_r: the gradient of the global batch's mean loss
                dctx.all_reduce_gradients(list(model.parameters()), len(idx), n_global)
            if clip_grad is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), float(clip_grad))
            opt.step()
            model.constrain_()
            running += total
            seen += n_global
            bar.set_postfix(loss=f"{running / seen:.4g}")
        bar.close()
        train_loss = running / N
        record: dict[str, Any] = {"epoch": epoch + 1, "train_loss": train_loss}
        if va is not None:
            ev = evaluate(model, va, loss=loss_fn, batch_size=max(batch_size, 64))
            record.update({
                "valid_loss": ev["loss"], "valid_nmse_S": ev["nmse_S"], "valid_nmse_A": ev["nmse_A"],
                "valid_nmse_S_layers": ev["nmse_S_layers"], "valid_nmse_A_layers": ev["nmse_A_layers"],
            })
            score = ev["loss"]
        else:
            score = train_loss
        improved = score < best_loss
        if improved:
            best_loss, best_epoch, bad = score, epoch + 1, 0
            best_state = _clone_state(model)
        else:
            bad += 1
        if early_stopping is not None and bad >= early_stopping:
            stopped = True
        # a time limit ends this call only (not recorded as an early stop: --resume continues the run)
        time_up = max_seconds is not None and time.perf_counter() - t_start >= max_seconds
        if dctx is not None and max_seconds is not None:  # every rank stops after the same epoch
            time_up = dctx.sum_scalar(float(time_up), dev) > 0
        record.update({"best": improved, "seconds": time.perf_counter() - t_ep})
        history.append(record)
        if progress:
            msg = f"epoch {epoch + 1}/{epochs}: train loss {train_loss:.4g}"
            if va is not None:
                msg += f", valid loss {record['valid_loss']:.4g} (NMSE S {record['valid_nmse_S']:.3g}"
                msg += f", A {record['valid_nmse_A']:.3g})" if record["valid_nmse_A"] is not None else ")"
            tqdm.write(msg)
        if out is not None and main:
            with open(log_path, "a", encoding="utf-8") as fh:
                fh.write(json_dumps(record) + "\n")
            info = {"args": run_args, "best_loss": best_loss, "best_epoch": best_epoch, "bad_epochs": bad,
                    "stopped_early": stopped, "log_bytes": log_path.stat().st_size,
                    "rng": {"scheme": "torch.Generator per epoch, seeded from SeedSequence([seed, epoch])",
                            "seed": seed, "next_epoch": epoch + 1},
                    "library_version": __version__, "model": model_signature(model), "data": fingerprint}
            save_checkpoint(ckpt, epoch=epoch + 1, model_state=model.state_dict(), best_state=best_state,
                            optimizer=opt, info=info)
        if stopped or time_up:
            break

    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    epochs_run = history[-1]["epoch"] if history else start_epoch
    best_rec = next((r for r in history if r["epoch"] == best_epoch), {})
    # t_train: the pixels the layers saw per training mixture (J·t in wavelet mode), for input_scale="pixel"
    t_layers = int(tr.X.shape[-1]) * (int(model.n_scales) if getattr(model, "wavelet", False) else 1)
    model.contract["preprocessing"] = {**(model.contract.get("preprocessing") or {}), "t_train": t_layers}
    model.contract["training"] = {
        **(model.contract.get("training") or {}),
        **(description or {}),
        **({"simulated": sim.describe()} if sim is not None else {}),
        "n_train": N,
        "n_valid": len(va) if va is not None else 0,
        "train_meta": {k: v for k, v in tr.meta.items() if isinstance(v, (str, int, float, bool))},
        **run_args,
        "epochs_run": epochs_run,
        "best_epoch": best_epoch,
        "stopped_early": stopped,
    }
    if best_rec:
        model.contract["validation"] = {
            k: best_rec.get(k) for k in ("valid_loss", "valid_nmse_S", "valid_nmse_A", "train_loss", "epoch")
            if best_rec.get(k) is not None
        }
    if out is not None and main:
        save_model(model, out, overwrite=True)
    if dctx is not None:  # every rank returns once rank 0's files are written
        dctx.barrier()
    return TrainResult(model=model, history=history, best_epoch=best_epoch, best_loss=best_loss,
                       epochs_run=epochs_run, stopped_early=stopped, seconds=time.perf_counter() - t_start,
                       out_dir=out)


__all__ = ["LR_SCHEDULES", "SCHEDULES", "Dataset", "StoredSet", "TrainResult", "as_dataset", "build_model", "evaluate",
           "kinds", "load_dataset", "load_npz_dataset", "lr_factor", "open_stored", "register_trainer",
           "resolve_schedule", "train", "trainers"]
