"""Training of interpolatory autoencoders (:class:`semiblind.priors.iae.IAE`) on spectra of one family.

The shared engine (:mod:`semiblind.training.engine`) trains networks on ``(X, A, S)`` triples; an IAE learns from
spectra alone, so this module has its own compact loop and reuses the engine's pieces: checkpoints and exact
resume (:mod:`semiblind.training.checkpoint`: weights, best weights and Adam state in safetensors, the rest in
JSON, committed atomically) and model folders in the format of :mod:`semiblind.training.model_files`
(``model.safetensors`` + ``config.json`` with the data contract; loaded by
:func:`semiblind.training.model_files.load_model`).

Loss (sGMCA paper eq. B.2): ``mean_t ‖x_t − ψ(Φ λ(φ(x_t)))‖²`` over unit-ℓ2 training spectra ``x_t``, Adam
(paper: lr 1e-4, batch 25). The mini-batch order of epoch ``e`` comes from a generator seeded by ``(seed, e)``,
so a run resumed from a checkpoint gives the same weights as an uninterrupted one.

Data contract written into ``config.json``: ``channels``, ``n_sources = 1``, ``family``, ``n_anchors``,
``energy_grid`` (or null), ``preprocessing = {"normalisation": "unit_l2", "wavelet": "none"}``, library version.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from .._backend import resolve_dtype
from .._files import atomic_path, atomic_write_text
from .._json import dumps as json_dumps
from .._version import __version__
from ..priors.iae import IAE, unit_rows
from .checkpoint import data_fingerprint, has_checkpoint, resume_checkpoint, save_checkpoint
from .model_files import CONFIG_NAME, FORMAT, FORMAT_VERSION, WEIGHTS_NAME, load_model, read_config, shipped_models

__all__ = ["IAETrainResult", "find_shipped_iae", "iae_config", "load_iae", "projection_sad_db", "save_iae",
           "train_iae"]


@dataclass
class IAETrainResult:
    """What :func:`train_iae` returns: the model (best validation weights when a validation set is given), the
    per-epoch training loss and validation SAD (dB, median over the validation spectra; every
    ``eval_every`` epochs), epochs run and seconds."""

    model: IAE
    train_loss: list[float] = field(default_factory=list)
    valid_sad_db: list[tuple[int, float]] = field(default_factory=list)
    epochs: int = 0
    seconds: float = 0.0


def _spectra(x: Any, name: str, m: int | None = None) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 2:
        raise ValueError(f"{name} must be a 2-D array of spectra (rows, channels); got shape {a.shape}.")
    if m is not None and a.shape[1] != m:
        raise ValueError(f"{name} must have {m} channels (as the training spectra); got {a.shape[1]}.")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite; it holds NaN or infinite values.")
    if np.any(np.linalg.norm(a, axis=1) == 0):
        raise ValueError(f"{name} must have no all-zero spectrum.")
    return a


def _int(name: str, v: Any, low: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        raise ValueError(f"{name} must be an int >= {low}; got {v!r}.")
    return int(v)


@torch.no_grad()
def projection_sad_db(model: IAE, spectra: Any, *, exact: bool = False) -> np.ndarray:
    """Per-spectrum SAD in dB (sGMCA paper eq. 15, ``−10·log10(angle)``) between spectra ``(N, m)`` and their
    fast (or ``exact``) projection onto ``model``'s manifold."""
    from ..priors.iae import exact_projection, fast_projection

    x = torch.as_tensor(np.asarray(spectra), dtype=model.dtype)
    proj = exact_projection(model, x)[0] if exact else fast_projection(model, x)[0]
    u, v = unit_rows(x.double()), unit_rows(proj.double())
    ang = 2 * torch.atan2(torch.linalg.vector_norm(u - v, dim=-1), torch.linalg.vector_norm(u + v, dim=-1))
    return (-10 * torch.log10(ang)).numpy()


def train_iae(
    train: Any,
    anchors: Any,
    *,
    valid: Any = None,
    family: str = "",
    layers: int = 4,
    latent: int | None = None,
    skip: float = 0.1,
    activation: str = "tanh",
    epochs: int = 1000,
    lr: float = 1e-4,
    lr_final: float | None = None,
    batch_size: int = 25,
    seed: int = 0,
    eval_every: int = 50,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 100,
    resume: bool = False,
    time_limit: float | None = None,
    energy_grid: Any = None,
    dtype: str = "float32",
    progress: bool = False,
) -> IAETrainResult:
    """Train an IAE on spectra ``train (N, m)`` with anchor spectra ``anchors (k, m)`` (eq. B.2).

    Rows are brought to unit ℓ2 norm. ``lr_final``: cosine decay of the learning rate from ``lr`` to ``lr_final``
    over the ``epochs`` (None: constant ``lr``, as the paper). ``valid (N_v, m)``: scored every ``eval_every``
    epochs by the median fast projection SAD (dB); the best weights are kept and returned. ``checkpoint_dir``:
    a checkpoint every ``checkpoint_every`` epochs and at the end; ``resume=True`` continues from it exactly.
    ``time_limit`` (seconds) stops early (the result says how many epochs ran). ``energy_grid`` (an ``EnergyGrid``, its
    ``to_dict()``, a grid name or None) goes into the data contract with ``family``.
    """
    from .._progress import tqdm  # bar on a terminal, one line per stage in a log

    xtr = _spectra(train, "train")
    m = xtr.shape[1]
    anc = _spectra(anchors, "anchors", m)
    xva = None if valid is None else _spectra(valid, "valid", m)
    epochs = _int("epochs", epochs, 1)
    batch_size = _int("batch_size", batch_size, 1)
    eval_every = _int("eval_every", eval_every, 1)
    checkpoint_every = _int("checkpoint_every", checkpoint_every, 1)
    seed = _int("seed", seed, 0)
    for nm, v in (("lr", lr), ("lr_final", lr if lr_final is None else lr_final)):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not (v > 0 and math.isfinite(v)):
            raise ValueError(f"{nm} must be a positive finite number; got {v!r}.")
    dt = resolve_dtype(dtype)
    torch.manual_seed(seed)
    model = IAE(m=m, n_anchors=anc.shape[0], layers=layers, latent=latent, skip=skip, activation=activation,
                dtype=dt)
    model.set_anchors(torch.as_tensor(anc, dtype=dt))
    X = unit_rows(torch.as_tensor(xtr, dtype=dt))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    res = IAETrainResult(model=model)
    start, best, best_state = 0, -math.inf, None
    run_args = {"lr": lr, "lr_final": lr_final, "batch_size": batch_size, "seed": seed, "epochs": epochs,
                "loss": "iae-eq-B.2", "layer_weights": None, "family": family}
    fingerprint = data_fingerprint(X, torch.as_tensor(anc))
    if resume:
        if checkpoint_dir is None or not has_checkpoint(checkpoint_dir):
            raise FileNotFoundError(f"resume=True needs a checkpoint in checkpoint_dir; found none in "
                                    f"{checkpoint_dir!r}.")
        info, best_state = resume_checkpoint(checkpoint_dir, model=model, optimizer=opt, run_args=run_args,
                                             fingerprint=fingerprint,
                                             compare=("lr", "lr_final", "batch_size", "seed", "loss")
                                             + (("epochs",) if lr_final is not None else ()))
        start = int(info["epoch"])
        best = float(info["best_sad_db"]) if info.get("best_sad_db") is not None else -math.inf
        res.train_loss = list(info.get("train_loss", []))
        res.valid_sad_db = [tuple(v) for v in info.get("valid_sad_db", [])]
    t0 = time.perf_counter()
    N = X.shape[0]
    bar = tqdm(total=epochs, initial=start, desc=f"IAE {family}".strip(), disable=not progress, leave=False)

    def checkpoint(ep: int) -> None:
        if checkpoint_dir is not None:
            best_epoch = max((e for e, v in res.valid_sad_db if v == best), default=-1)
            save_checkpoint(checkpoint_dir, epoch=ep, model_state=model.state_dict(), best_state=best_state,
                            optimizer=opt, info={
                                "args": run_args, "best_loss": -best if math.isfinite(best) else 0.0,
                                "best_epoch": int(best_epoch), "bad_epochs": 0, "stopped_early": False,
                                "log_bytes": 0, "model": model.architecture(), "data": fingerprint,
                                "best_sad_db": best if math.isfinite(best) else None,
                                "train_loss": res.train_loss,
                                "valid_sad_db": [list(v) for v in res.valid_sad_db]})

    ep = start
    for ep in range(start, epochs):
        if lr_final is not None:
            for grp in opt.param_groups:
                grp["lr"] = lr_final + 0.5 * (lr - lr_final) * (1 + math.cos(math.pi * ep / epochs))
        gen = torch.Generator().manual_seed(seed * 1_000_003 + ep)
        perm = torch.randperm(N, generator=gen)
        total = 0.0
        for i in range(0, N, batch_size):
            xb = X[perm[i:i + batch_size]]
            opt.zero_grad()
            loss = ((model(xb) - xb) ** 2).sum(-1).mean()
            if not bool(torch.isfinite(loss)):
                raise ValueError(f"the IAE training loss became non-finite at epoch {ep + 1}; lower lr "
                                 f"(got {lr}).")
            loss.backward()
            opt.step()
            total += float(loss.detach()) * xb.shape[0]
        res.train_loss.append(total / N)
        bar.update(1)
        if xva is not None and ((ep + 1) % eval_every == 0 or ep + 1 == epochs):
            score = float(np.median(projection_sad_db(model, xva)))
            res.valid_sad_db.append((ep + 1, score))
            if score > best:
                best = score
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if (ep + 1) % checkpoint_every == 0:
            checkpoint(ep + 1)
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            break
    bar.close()
    res.epochs = ep + 1
    checkpoint(res.epochs)
    res.seconds = time.perf_counter() - t0
    if best_state is not None:
        model.load_state_dict(best_state)
    model.family = family
    grid = energy_grid.to_dict() if hasattr(energy_grid, "to_dict") else energy_grid
    model.contract = {
        "energy_grid": grid,
        "family": family,
        "training": {"spectra": int(N), "anchors": int(anc.shape[0]), "epochs": res.epochs, "lr": lr,
                     "lr_final": lr_final,
                     "batch_size": batch_size, "seed": seed, "loss": "eq. B.2, mean squared error",
                     "seconds": round(res.seconds, 2)},
        "validation": ({"median_fast_projection_sad_db": best} if math.isfinite(best) else {}),
    }
    res.model = model.eval()
    return res


def iae_config(model: IAE) -> dict[str, Any]:
    """The ``config.json`` dictionary of an IAE model (same layout as the unrolled networks' model files)."""
    c = model.contract or {}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": model.architecture(),
        "data_contract": {
            "channels": model.m,
            "n_sources": 1,
            "family": c.get("family", model.family),
            "n_anchors": model.n_anchors,
            "energy_grid": c.get("energy_grid"),
            "preprocessing": {"normalisation": "unit_l2", "wavelet": "none"},
        },
        "training": c.get("training", {}),
        "validation": c.get("validation", {}),
        "library_version": __version__,
    }


def save_iae(model: IAE, directory: str | os.PathLike, *, overwrite: bool = True) -> Path:
    """Write ``model`` as ``directory/model.safetensors`` + ``directory/config.json`` (each atomically)."""
    if not isinstance(model, IAE):
        raise TypeError(f"model must be an IAE; got {type(model).__name__}.")
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise FileExistsError(f"directory {str(d)!r} exists and is not a folder.")
    if not overwrite and ((d / WEIGHTS_NAME).exists() or (d / CONFIG_NAME).exists()):
        raise FileExistsError(f"{str(d)!r} already holds a model; pass overwrite=True (--overwrite) to replace "
                              "it.")
    d.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with atomic_path(d / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT, "class": "IAE"})
    atomic_write_text(d / CONFIG_NAME, json_dumps(iae_config(model), indent=2) + "\n")
    return d


def load_iae(name_or_dir: str | os.PathLike, *, dtype: Any = None, m: int | None = None) -> IAE:
    """Load an IAE model folder or shipped model name; ``family`` and ``contract`` come from its config."""
    cfg = read_config(name_or_dir)
    if cfg["architecture"].get("class") != "IAE":
        raise ValueError(f"model {str(name_or_dir)!r} must be an IAE model; its config.json says "
                         f"{cfg['architecture'].get('class')!r}.")
    model = load_model(name_or_dir, dtype=dtype, m=m)
    model.family = str((cfg.get("data_contract") or {}).get("family", ""))
    model.contract["family"] = model.family
    return model


def find_shipped_iae(m: int, energies: Any = None) -> list[str]:
    """Names of the shipped IAE models for data with ``m`` channels (and, given the channel energies in keV,
    the same energy grid), sorted by name; empty when there are none."""
    from .model_files import check_energy_grid

    out = []
    for name, cfg in shipped_models().items():
        arch = cfg.get("architecture", {})
        if arch.get("class") != "IAE" or arch.get("m") != m:
            continue
        if energies is not None:
            try:
                check_energy_grid(cfg, energies, label=name)
            except ValueError:
                continue
        out.append(name)
    return sorted(out)
