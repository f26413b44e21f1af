"""Training checkpoints without pickles: tensors in safetensors, everything else in JSON, committed atomically.

A checkpoint folder holds ``state-<epoch>.safetensors`` (model weights ``model/…``, best weights ``best/…`` and the
Adam state tensors ``optim/<param index>/<key>``) and ``state.json`` (epoch, best score, counters, the optimiser's
hyper-parameter groups, the RNG scheme and the log position, and the name of the tensor file). The tensor file is
written first under a new name, then ``state.json`` is replaced atomically (the commit point), then older tensor
files are deleted; a run killed at any moment therefore leaves either the previous or the new checkpoint intact.
The Adam state is rebuilt from these tensors with ``optimizer.load_state_dict`` (no ``torch.load``).

``state.json`` also records the network's architecture (``model``) and a fingerprint of the training data
(``data``: the shapes of X, A, S and a SHA-256 of their bytes and dtype, hashed in blocks: a stored set read
lazily is never loaded whole). :func:`resume_checkpoint` refuses, with one
sentence each, a checkpoint written for another network (another ``--layers``, kind or ``--tied``), for other
training data, or damaged (``state.json`` not an object, fields missing, tensors missing or of the wrong shape).
"""

from __future__ import annotations

import hashlib
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
    """Split ``optimizer.state_dict()`` into tensors (``"<param index>/<key>"``) and JSON-able parameter groups."""
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


# fields of state.json that resuming reads, and the JSON types they must have
REQUIRED_FIELDS: dict[str, tuple[type, ...]] = {
    "epoch": (int,), "tensors": (str,), "optimizer_groups": (list,), "args": (dict,),
    "best_loss": (int, float, type(None)), "best_epoch": (int,), "bad_epochs": (int,), "stopped_early": (bool,),
    "log_bytes": (int,),
}


def data_fingerprint(X: Any, A: Any = None, S: Any = None, *, chunk_bytes: int = 32 * 2**20) -> dict[str, Any]:
    """Shapes of ``X``, ``A``, ``S`` and a SHA-256 of their bytes (dtype and C order): the identity of a
    training set, recorded in the checkpoint so that ``--resume`` with another training file is refused.

    Each array is hashed in blocks of leading-axis rows (about ``chunk_bytes`` each), so a lazily read stored set
    (:class:`~semiblind.training.stored.StoredArray`: indexing gives tensors at the training dtype) is never read
    whole; the digest does not depend on the block size, and a stored set and the same set in memory at the
    same dtype have the same fingerprint (a run started one way resumes the other).
    """
    import numpy as np

    def rows(a: Any) -> np.ndarray:
        a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
        return np.ascontiguousarray(a)  # hashed as stored (no float64 copy of a large training set)

    h = hashlib.sha256()
    shapes: dict[str, list[int]] = {}
    for name, arr in (("X", X), ("A", A), ("S", S)):
        if arr is None:
            continue
        shape = tuple(int(v) for v in arr.shape)
        shapes[name] = list(shape)
        if len(shape) == 0 or shape[0] == 0:
            a = rows(arr)
            h.update(name.encode() + repr(shape).encode() + a.dtype.str.encode())
            h.update(a.tobytes())
            continue
        per_row = max(1, int(np.prod(shape[1:], dtype=np.int64)) * 8)
        step = max(1, int(chunk_bytes) // per_row)
        for start in range(0, shape[0], step):
            block = rows(arr[start:start + step])
            if start == 0:
                h.update(name.encode() + repr(shape).encode() + block.dtype.str.encode())
            h.update(memoryview(block).cast("B"))
    return {"shapes": shapes, "sha256": h.hexdigest()}


def _describe(fp: dict[str, Any]) -> str:
    shapes = fp.get("shapes", {}) if isinstance(fp, dict) else {}
    parts = [f"{k} {tuple(v)}" for k, v in shapes.items()] if isinstance(shapes, dict) else []
    digest = str(fp.get("sha256", "?"))[:12] if isinstance(fp, dict) else "?"
    return f"{', '.join(parts) or 'unknown shapes'}, SHA-256 {digest}…"


def _read_state(d: Path) -> dict[str, Any]:
    path = d / STATE_JSON
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"no checkpoint to resume from in {str(d)!r} ({STATE_JSON} is "
                                f"missing).") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"checkpoint {str(path)!r} must be valid JSON; it is not "
                         f"({exc}).") from None
    if not isinstance(info, dict):
        raise ValueError(f"checkpoint {str(path)!r} must hold a JSON object (the run's state, as written by "
                         f"semiblind train); it holds {type(info).__name__ if info is not None else 'null'}.")
    missing = [k for k in REQUIRED_FIELDS if k not in info]
    if missing:
        raise ValueError(f"checkpoint {str(path)!r} lacks the field(s) {', '.join(missing)}; it was not written "
                         "by semiblind train or is damaged (start again with --overwrite).")
    wrong = [k for k, types in REQUIRED_FIELDS.items()
             if not isinstance(info[k], types) or (isinstance(info[k], bool) and bool not in types)]
    if wrong:
        k = wrong[0]
        raise ValueError(f"checkpoint {str(path)!r} has a field {k!r} of the wrong type (expected "
                         f"{' or '.join(t.__name__ for t in REQUIRED_FIELDS[k])}, got "
                         f"{type(info[k]).__name__}); it is damaged (start again with --overwrite).")
    if info["epoch"] < 0 or info["log_bytes"] < 0 or "/" in info["tensors"] or "\\" in info["tensors"]:
        raise ValueError(f"checkpoint {str(path)!r} has an impossible epoch, log position or tensor file name; "
                         "it is damaged (start again with --overwrite).")
    return info


def load_checkpoint(directory: str | os.PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor],
                                                            dict[str, torch.Tensor] | None, dict[str, Any]]:
    """Read a checkpoint: ``(info, model_state, best_state or None, optimizer_state_dict)``.

    A damaged ``state.json`` (not a JSON object, fields missing or of the wrong type) or an unreadable tensor
    file raises one ``ValueError`` sentence naming the file.
    """
    d = Path(directory)
    info = _read_state(d)
    tpath = d / info["tensors"]
    try:
        tensors = load_file(str(tpath))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"checkpoint tensors {str(tpath)!r} cannot be read ({exc}).") from None
    bad = [k for k in tensors if not k.startswith(("model/", "best/", "optim/"))
           or (k.startswith("optim/") and not k[len("optim/"):].split("/", 1)[0].isdigit())]
    if bad:
        raise ValueError(f"checkpoint tensors {str(tpath)!r} hold unexpected entries ({', '.join(bad[:3])}); "
                         "the file is damaged (start again with --overwrite).")
    model_state = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
    best = {k[len("best/"):]: v for k, v in tensors.items() if k.startswith("best/")} or None
    opt_t = {k[len("optim/"):]: v for k, v in tensors.items() if k.startswith("optim/")}
    opt_state = optimizer_state_from_tensors(opt_t, info.get("optimizer_groups", []))
    return info, model_state, best, opt_state


def model_signature(model: Any) -> dict[str, Any]:
    """What identifies a network's parameter layout: its ``architecture()`` (class, layers, sizes, options)."""
    arch = model.architecture() if hasattr(model, "architecture") else {"class": type(model).__name__}
    return json.loads(json_dumps(arch))


def _check_state(state: dict[str, torch.Tensor], model: torch.nn.Module, where: str) -> None:
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    if missing or extra:
        what = (f"missing {', '.join(missing[:4])}" if missing else "") + ("; " if missing and extra else "") + (
            f"unexpected {', '.join(extra[:4])}" if extra else "")
        raise ValueError(f"checkpoint {where} do not fit this network ({what}); it was written for another network "
                         "(another --layers, kind or --tied) or is damaged.")
    for k, shape in expected.items():
        if tuple(state[k].shape) != shape:
            raise ValueError(f"checkpoint {where} do not fit this network: {k!r} has shape "
                             f"{tuple(state[k].shape)}, the network needs {shape} (another --layers, kind, "
                             "--tied or data size, or a damaged file).")
        if not torch.isfinite(state[k]).all():
            raise ValueError(f"checkpoint {where} hold non-finite values in {k!r}; the file is damaged.")


def resume_checkpoint(directory: str | os.PathLike, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                      run_args: dict[str, Any], fingerprint: dict[str, Any] | None = None,
                      compare: tuple[str, ...] = ("lr", "batch_size", "seed", "loss", "layer_weights"),
                      ) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None]:
    """Load the checkpoint in ``directory`` into ``model`` and ``optimizer`` after checking that it belongs to
    this run; returns ``(info, best_state or None)``.

    Refused with one ``ValueError`` sentence each: other ``run_args`` (those in ``compare``), another network
    (the recorded architecture, or the tensors' names and shapes), other training data (the recorded
    :func:`data_fingerprint` against ``fingerprint``), and every form of damage :func:`load_checkpoint` finds.
    """
    d = Path(directory)
    info, m_state, b_state, o_state = load_checkpoint(d)
    recorded_args = info["args"]
    for key in compare:
        if recorded_args.get(key) != run_args.get(key):
            hint = (" (a scheduled learning rate is planned over the whole run, so a finished run cannot be "
                    "extended: start a new run, or train with --schedule paper, whose constant rate can be)"
                    if key == "epochs_requested" else "")
            raise ValueError(f"resume needs the same {key} as the interrupted run ({recorded_args.get(key)!r}); "
                             f"got {run_args.get(key)!r}{hint}.")
    arch = info.get("model")
    mine = model_signature(model)
    if isinstance(arch, dict) and arch != mine:
        diff = [k for k in sorted(set(arch) | set(mine)) if arch.get(k) != mine.get(k)]
        shown = "; ".join(f"{k} {arch.get(k)!r} in the checkpoint, {mine.get(k)!r} now" for k in diff[:3])
        raise ValueError(f"resume needs the same network as the interrupted run ({shown}); pass the same kind, "
                         "--layers and --tied, or --overwrite to start again.")
    recorded = info.get("data")
    if fingerprint is not None and isinstance(recorded, dict) and recorded.get("sha256") != fingerprint["sha256"]:
        raise ValueError(f"resume needs the training data of the interrupted run ({_describe(recorded)}); "
                         f"the training file given now holds other data ({_describe(fingerprint)}); pass the "
                         "same --train file, or --overwrite to start again on this one.")
    tfile = str(d / info["tensors"])
    _check_state(m_state, model, f"weights in {tfile!r}")
    if b_state is not None:
        _check_state(b_state, model, f"best weights in {tfile!r}")
    params = list(model.parameters())
    for idx, st in o_state["state"].items():
        if not 0 <= idx < len(params):
            raise ValueError(f"checkpoint optimiser state in {tfile!r} names parameter {idx}; this network has "
                             f"{len(params)} (another network, or a damaged file).")
        for key in ("exp_avg", "exp_avg_sq"):
            if key in st and tuple(st[key].shape) != tuple(params[idx].shape):
                raise ValueError(f"checkpoint optimiser state {idx}/{key} in {tfile!r} has shape "
                                 f"{tuple(st[key].shape)}; parameter {idx} has {tuple(params[idx].shape)} "
                                 "(another network, or a damaged file).")
    dev = next((p.device for p in params), torch.device("cpu"))
    dt = next((p.dtype for p in params), torch.float32)
    model.load_state_dict({k: v.to(dev, dt) for k, v in m_state.items()})
    try:
        optimizer.load_state_dict(o_state)
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ValueError(f"checkpoint optimiser state in {str(d / STATE_JSON)!r} does not fit this network "
                         f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}).") from None
    best = {k: v.to(dev, dt) for k, v in b_state.items()} if b_state else None
    return info, best


__all__ = ["data_fingerprint", "has_checkpoint", "load_checkpoint", "model_signature", "optimizer_state_from_tensors",
           "optimizer_tensors", "resume_checkpoint",
           "save_checkpoint"]
