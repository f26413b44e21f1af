"""Training checkpoints without pickles: tensors in safetensors, everything else in JSON, committed
atomically.

A checkpoint folder holds ``state-<epoch>.safetensors`` (model weights ``model/…``, best weights ``best/…``
and the
Adam state tensors ``optim/<param index>/<key>``) and ``state.json`` (epoch, best score, counters, the
optimiser's
hyper-parameter groups, the RNG scheme and the log position, and the name of the tensor file). The tensor
file is
written first under a new name, then ``state.json`` is replaced atomically (the commit point), then older
tensor
files are deleted; a run killed at any moment therefore leaves either the previous or the new checkpoint
intact.
The Adam state is rebuilt from these tensors with ``optimizer.load_state_dict`` (no ``torch.load``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .._files import atomic_path, atomic_write_text
from .._json import dumps as json_dumps

STATE_JSON = "state.json"


def optimizer_tensors(
    optimizer: torch.optim.Optimizer,
) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """Split ``optimizer.state_dict()`` into tensors (``"<param index>/<key>"``) and JSON-able parameter
    groups."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for idx, st in sd["state"].items():
        for key, val in st.items():
            t = val if isinstance(val, torch.Tensor) else torch.tensor(val)
            tensors[f"{idx}/{key}"] = t.detach().to("cpu").contiguous()
    groups = []
    for g in sd["param_groups"]:
        gg = {}
        for k, v in g.items():
            if isinstance(v, tuple):
                v = list(v)
            if isinstance(v, torch.Tensor):
                v = v.item()
            gg[k] = v
        groups.append(gg)
    return tensors, groups


def optimizer_state_from_tensors(
    tensors: dict[str, torch.Tensor], groups: list[dict[str, Any]]
) -> dict[str, Any]:
    """Rebuild an ``optimizer.state_dict()`` from :func:`optimizer_tensors`' output."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, t in tensors.items():
        idx, key = name.split("/", 1)
        state.setdefault(int(idx), {})[key] = t
    fixed = []
    for g in groups:
        gg = dict(g)
        if "betas" in gg and isinstance(gg["betas"], list):
            gg["betas"] = tuple(gg["betas"])
        fixed.append(gg)
    return {"state": state, "param_groups": fixed}


def save_checkpoint(
    directory: str | os.PathLike,
    *,
    epoch: int,
    model_state: dict[str, torch.Tensor],
    best_state: dict[str, torch.Tensor] | None,
    optimizer: torch.optim.Optimizer,
    info: dict[str, Any],
) -> Path:
    """Write the checkpoint after ``epoch`` completed epochs (see the module docstring for the layout)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    opt_t, groups = optimizer_tensors(optimizer)
    tensors = {f"model/{k}": v.detach().to("cpu").contiguous() for k, v in model_state.items()}
    if best_state is not None:
        tensors.update({f"best/{k}": v.detach().to("cpu").contiguous() for k, v in best_state.items()})
    tensors.update({f"optim/{k}": v for k, v in opt_t.items()})
    fname = f"state-{epoch:06d}.safetensors"
    with atomic_path(d / fname) as tmp:
        save_file(tensors, str(tmp))
    payload = {"epoch": int(epoch), "tensors": fname, "optimizer_groups": groups, **info}
    atomic_write_text(d / STATE_JSON, json_dumps(payload, indent=1) + "\n")
    for old in d.glob("state-*.safetensors"):
        if old.name != fname:
            old.unlink(missing_ok=True)
    return d


def has_checkpoint(directory: str | os.PathLike) -> bool:
    return (Path(directory) / STATE_JSON).is_file()


def load_checkpoint(directory: str | os.PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor],
                                                            dict[str, torch.Tensor] | None, dict[str, Any]]:
    """Read a checkpoint: ``(info, model_state, best_state or None, optimizer_state_dict)``."""
    d = Path(directory)
    try:
        info = json.loads((d / STATE_JSON).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"no checkpoint to resume from in {str(d)!r} ({STATE_JSON} is "
                                f"missing).") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"checkpoint {str(d / STATE_JSON)!r} must be valid JSON; it is not "
                         f"({exc}).") from None
    tpath = d / str(info.get("tensors", ""))
    try:
        tensors = load_file(str(tpath))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"checkpoint tensors {str(tpath)!r} cannot be read ({exc}).") from None
    model_state = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
    best = {k[len("best/"):]: v for k, v in tensors.items() if k.startswith("best/")} or None
    opt_t = {k[len("optim/"):]: v for k, v in tensors.items() if k.startswith("optim/")}
    opt_state = optimizer_state_from_tensors(opt_t, info.get("optimizer_groups", []))
    return info, model_state, best, opt_state


__all__ = ["has_checkpoint", "load_checkpoint", "optimizer_state_from_tensors", "optimizer_tensors",
           "save_checkpoint"]
