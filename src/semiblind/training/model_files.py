"""Model files: a folder with ``model.safetensors`` (the weights) and ``config.json`` (architecture + data
contract), and the models shipped inside the package (``semiblind/models/<name>/``).

``config.json``::

    {
      "format": "semiblind-model", "format_version": 1,
      "architecture": {"class": "LPALM", "layers": 25, "n_channels": 65, "n_sources": 4, "tied": false,
                       "threshold": "scalar",
                       "s_update": "lista-cp", "wavelet": false, "n_scales": 3},
      "data_contract": {"channels": 65, "n_sources": 4, "energy_grid": {...} or "name" or null,
                        "preprocessing": {"normalisation": "none", "wavelet": "none"}},
      "training": {... what data, how many samples, epochs, lr, batch size, seed ...},
      "validation": {"nmse_S": ..., "nmse_A": ...},
      "library_version": "0.1.0"
    }

``architecture.class`` names a network class registered with ``@register_model`` (see
:func:`network_classes`). Weights are only ever read with :mod:`safetensors` (no pickle is ever loaded:
``.pt``/``.pth``/``.pkl`` files are refused with an explanation). Files are written atomically.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .. import _registry
from .._backend import resolve_device, resolve_dtype
from .._files import atomic_path, atomic_write_text
from .._json import dumps as json_dumps
from .._version import __version__
from ..grid import EnergyGrid
from ..unrolled.base import UnrolledNet, modern_architecture

FORMAT = "semiblind-model"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")


# Packages whose modules define network classes (imported, every module, by :func:`network_classes`).
NETWORK_PACKAGES = ("semiblind.priors", "semiblind.unrolled")


def network_classes() -> dict[str, type]:
    """``architecture.class`` → network class of every registered network (the modules of
    :data:`NETWORK_PACKAGES` are imported first)."""
    _registry.discover(*NETWORK_PACKAGES)
    return _registry.networks()


# ------------------------------------------------------------------------------------------------ config


def model_config(model: UnrolledNet) -> dict[str, Any]:
    """The ``config.json`` dictionary of ``model`` (architecture, data contract, training, validation, version)."""
    arch = model.architecture()
    contract = dict(getattr(model, "contract", {}) or {})
    pre = {"normalisation": "none", "wavelet": "starlet" if arch.get("wavelet") else "none"}
    if arch.get("wavelet"):
        pre["n_scales"] = arch.get("n_scales")
    pre.update(contract.get("preprocessing", {}) or {})
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": arch,
        "data_contract": {
            "channels": model.m,
            "n_sources": model.n,
            "energy_grid": contract.get("energy_grid"),
            "preprocessing": pre,
        },
        "training": contract.get("training", {}),
        "validation": contract.get("validation", {}),
        "library_version": __version__,
    }


def save_model(model: UnrolledNet, directory: str | os.PathLike, *, overwrite: bool = True) -> Path:
    """Write ``model`` as ``directory/model.safetensors`` + ``directory/config.json`` (each written atomically).

    The folder is created if needed (its parent must exist). With ``overwrite=False`` an existing model in the
    folder raises ``FileExistsError``.
    """
    if not isinstance(model, UnrolledNet):
        raise TypeError(f"model must be an UnrolledNet (LPALM, LISTA, ...); got {type(model).__name__}.")
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise FileExistsError(f"directory {str(d)!r} exists and is not a folder.")
    if not d.parent.is_dir():
        raise FileNotFoundError(f"directory must be inside an existing folder; {str(d.parent)!r} does not "
                                f"exist.")
    if not overwrite and ((d / WEIGHTS_NAME).exists() or (d / CONFIG_NAME).exists()):
        raise FileExistsError(f"{str(d)!r} already holds a model; pass overwrite=True (--overwrite) to "
                              f"replace it.")
    d.mkdir(exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with atomic_path(d / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT, "class": type(model).__name__})
    atomic_write_text(d / CONFIG_NAME, json_dumps(model_config(model), indent=2) + "\n")
    return d


# ------------------------------------------------------------------------------------------------ shipped mod


def shipped_models_dir() -> Path:
    """The folder holding the shipped models (``semiblind/models``)."""
    return Path(str(resources.files("semiblind") / "models"))


def shipped_models() -> dict[str, dict[str, Any]]:
    """Name → ``config.json`` of every model shipped with the package."""
    out: dict[str, dict[str, Any]] = {}
    root = shipped_models_dir()
    if not root.is_dir():
        return out
    for sub in sorted(root.iterdir()):
        cfg = sub / CONFIG_NAME
        if sub.is_dir() and cfg.is_file() and (sub / WEIGHTS_NAME).is_file():
            try:
                out[sub.name] = json.loads(cfg.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                continue
    return out


def contract_energy_grid(cfg: dict[str, Any]) -> EnergyGrid | None:
    """The energy grid of a model's data contract (``None`` when the model states none)."""
    g = (cfg.get("data_contract") or {}).get("energy_grid")
    if g is None:
        return None
    return EnergyGrid.named(g) if isinstance(g, str) else EnergyGrid.from_dict(g)


def check_energy_grid(cfg: dict[str, Any], energies: Any, *, label: str) -> None:
    """Raise ``ValueError`` when the data's channel energies (keV, ``(m,)``) do not match the energy grid of the
    model's data contract: channel centres must agree to 5 % of the narrowest channel. Nothing is checked when
    either side has no energy axis (then only the channel count is matched)."""
    if energies is None:
        return
    try:
        grid = contract_energy_grid(cfg)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"data_contract.energy_grid of model {label} must be a known grid name or "
                         f"{{\"edges\": [increasing keV values]}}; it is not ({exc}).") from None
    if grid is None:
        return
    e = np.asarray(energies, dtype=float).reshape(-1)
    if e.size != grid.m:
        raise ValueError(f"energies must hold the {grid.m} channel energies of model {label}'s grid; got "
                         f"{e.size} values.")
    tol = 0.05 * float(np.min(grid.widths))
    diff = float(np.max(np.abs(e - grid.centers)))
    if not diff <= tol:
        raise ValueError(
            f"energies must match the energy grid of model {label} ({grid.m} channels, centres "
            f"{grid.centers[0]:.4g}–{grid.centers[-1]:.4g} keV, to within {tol:.3g} keV); the data's channels are "
            f"centred on {e[0]:.4g}–{e[-1]:.4g} keV (largest difference {diff:.3g} keV). Rebin the data to the "
            "model's grid or train a model on this grid (`semiblind train`)."
        )


def find_shipped_model(m: int, n: int | None = None, *, classes: tuple[str, ...] = ("LPALM",),
                       energies: Any = None, data_kind: str | None = None) -> str:
    """Name of the shipped model of one of ``classes`` for ``m`` channels (and ``n`` sources if given).

    ``data_kind`` (``"pixels"`` or ``"image"``, None: any) keeps only the models whose data contract expects that
    input (``preprocessing.input``; a contract that does not say expects pixels ``(m, t)``).

    With ``energies`` (the data's channel centres in keV) a model must also match on the energy grid of its data
    contract (:func:`check_energy_grid`); without, the match is on the channel count. Raises ``ValueError``
    naming the shipped models and their sizes when none fits (or the grid mismatch when only that fails).
    """
    table = shipped_models()
    fits = []
    for name, cfg in table.items():
        arch = modern_architecture(cfg.get("architecture", {}))
        kind = ((cfg.get("data_contract") or {}).get("preprocessing") or {}).get("input", "pixels")
        if arch.get("class") in classes and arch.get("n_channels") == m and (n is None or arch.get("n_sources") == n) \
                and (data_kind is None or kind == data_kind):
            fits.append(name)
    if fits and energies is not None:
        for name in fits:
            try:
                check_energy_grid(table[name], energies, label=name)
            except ValueError:
                continue
            return name
        check_energy_grid(table[fits[0]], energies, label=fits[0])  # raises: says how the grids differ
    if fits:
        return fits[0]
    desc = ", ".join(
        f"{k} ({modern_architecture(c.get('architecture', {})).get('n_channels')} channels, "
        f"{modern_architecture(c.get('architecture', {})).get('n_sources')} sources)"
        for k, c in table.items()
    ) or "none"
    want = f"{m} channels" + (f" and {n} sources" if n is not None else "")
    raise ValueError(
        f"no shipped {'/'.join(classes)} model fits data with {want} (shipped: {desc}); train one with "
        "`semiblind train` and pass its folder as model."
    )


# ------------------------------------------------------------------------------------------------ loading


def _resolve_dir(name_or_dir: str | os.PathLike) -> Path:
    if not isinstance(name_or_dir, (str, os.PathLike)):
        raise TypeError(
            f"model must be a model folder or a shipped model name (str or path); got "
            f"{type(name_or_dir).__name__}."
        )
    p = Path(name_or_dir)
    if p.suffix.lower() in PICKLE_SUFFIXES and (p.is_file() or not p.exists()):
        raise ValueError(
            f"model {str(p)!r} is a pickle-based file ({p.suffix}); semiblind never loads pickles because "
            "they can run arbitrary code: pass a folder with model.safetensors and config.json."
        )
    if p.is_dir():
        return p
    if p.exists():
        raise ValueError(f"model must be a folder holding {CONFIG_NAME} and {WEIGHTS_NAME}; got the file "
                         f"{str(p)!r}.")
    shipped = shipped_models_dir() / str(name_or_dir)
    if isinstance(name_or_dir, str) and os.sep not in name_or_dir and shipped.is_dir():
        return shipped
    names = ", ".join(shipped_models()) or "none"
    raise FileNotFoundError(
        f"model must be an existing model folder or a shipped model name ({names}); got "
        f"{str(name_or_dir)!r}, "
        "which is neither."
    )


def read_config(directory: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``config.json`` of a model folder; ``ValueError`` says what is missing or invalid."""
    d = _resolve_dir(directory)
    cfg_path = d / CONFIG_NAME
    if not cfg_path.is_file():
        pickles = sorted(q.name for q in d.iterdir() if q.suffix.lower() in PICKLE_SUFFIXES)
        if pickles:
            raise ValueError(
                f"model folder {str(d)!r} holds pickle-based weights ({', '.join(pickles)}) and no "
                f"{CONFIG_NAME}; semiblind never loads pickles: save the model with semiblind.training.save_model() "
                "or `semiblind train`."
            )
        raise FileNotFoundError(f"model folder {str(d)!r} has no {CONFIG_NAME}.")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{str(cfg_path)!r} must be valid JSON; it is not ({exc}).") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("architecture"), dict):
        raise ValueError(f"{str(cfg_path)!r} must hold an object with an 'architecture' entry; it does not.")
    arch = cfg["architecture"]
    classes = network_classes()
    if arch.get("class") not in classes:
        raise ValueError(
            f"architecture.class in {str(cfg_path)!r} must be one of {', '.join(classes)}; got "
            f"{arch.get('class')!r}."
        )
    if issubclass(classes[arch["class"]], UnrolledNet):  # files written before the rename say m, n
        arch = modern_architecture(arch)  # validated under the new names; the dict itself is left as written
        keys: tuple[str, ...] = ("layers", "n_channels", "n_sources")
    else:
        keys = ("layers", "m", "n")
    for key in keys:
        if not isinstance(arch.get(key), int) or isinstance(arch.get(key), bool) or arch[key] < 1:
            raise ValueError(
                f"architecture.{key} in {str(cfg_path)!r} must be a positive int; got {arch.get(key)!r}."
            )
    grid = (cfg.get("data_contract") or {}).get("energy_grid") if isinstance(cfg.get("data_contract"), dict) else None
    try:  # a grid given as edges is read here, so that a malformed one names its file and field
        if isinstance(grid, dict):
            contract_energy_grid(cfg)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"data_contract.energy_grid in {str(cfg_path)!r} must be a known grid name or "
                         f"{{\"edges\": [increasing keV values]}}; it is not ({exc}).") from None
    return cfg


def model_from_config(cfg: dict[str, Any], *, dtype: Any = None) -> UnrolledNet:
    """Build an (uninitialised) network from a ``config.json`` dictionary."""
    arch = dict(cfg["architecture"])
    cls = network_classes()[arch.pop("class")]
    if issubclass(cls, UnrolledNet):
        arch = modern_architecture(arch)  # legacy "m", "n" → "n_channels", "n_sources"
    try:
        model = cls(**arch, dtype=dtype)
    except TypeError as exc:
        raise ValueError(f"the architecture in config.json does not fit {cls.__name__}: {exc}.") from None
    contract = cfg.get("data_contract", {}) or {}
    model.contract = {
        "energy_grid": contract.get("energy_grid"),
        "preprocessing": contract.get("preprocessing", {}),
        "training": cfg.get("training", {}),
        "validation": cfg.get("validation", {}),
    }
    return model


def load_model(
    name_or_dir: str | os.PathLike,
    *,
    dtype: Any = None,
    device: Any = None,
    m: int | None = None,
    n: int | None = None,
) -> UnrolledNet:
    """Load a model folder (``config.json`` + ``model.safetensors``) or a shipped model by name
    (e.g. ``"lpalm-xray65"``).

    ``dtype``: ``"float32"``/``"float64"`` (default: as stored). ``m``/``n``: the channel and source counts of the
    data it will be applied to; a mismatch raises ``ValueError`` stating both numbers. The model is returned in
    ``eval()`` mode with ``model.name`` set to the shipped name or the folder path.
    """
    dev = resolve_device(device, argument="device") if device is not None else None
    d = _resolve_dir(name_or_dir)
    cfg = read_config(d)
    wpath = d / WEIGHTS_NAME
    if not wpath.is_file():
        raise FileNotFoundError(f"model folder {str(d)!r} has no {WEIGHTS_NAME}.")
    try:
        tensors = load_file(str(wpath))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{str(wpath)!r} is not a readable safetensors file (corrupted or truncated: "
                         f"{exc}).") \
            from None
    stored = next(iter(tensors.values())).dtype if tensors else torch.float32
    dt = resolve_dtype(dtype) if dtype is not None else (stored if stored in (torch.float32, torch.float64)
                                                          else torch.float32)
    # the config is checked against the tensors' names and shapes on the meta device (no memory), so that a
    # config declaring 10⁹ layers or channels is refused before anything is allocated. Shipped models (files of
    # the installed package, checked by its tests) skip this: the meta device's first use imports torch's
    # compiler stack (torch._dynamo, sympy), about 2 s of a 3 s `separate` on a 128² cube.
    expected = None
    if d.resolve().parent != shipped_models_dir().resolve():
        try:
            with torch.device("meta"):
                expected = model_from_config(cfg, dtype=dt).state_dict()
        except ValueError:
            raise
        except Exception:  # a network whose construction needs real tensors: checked after building it
            expected = None
    if expected is not None:
        _match_tensors(tensors, expected, cfg, wpath)
    model = model_from_config(cfg, dtype=dt)
    expected = model.state_dict()
    _match_tensors(tensors, expected, cfg, wpath)
    model.load_state_dict({k: v.to(dt) for k, v in tensors.items()})
    if dev is not None:
        model = model.to(dev)
    return _finish(model, d, m, n)


def _match_tensors(tensors: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], cfg: dict[str, Any],
                   wpath: Path) -> None:
    """The stored tensors must be exactly those of the network the config describes, with its shapes."""
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ValueError(
            f"{str(wpath)!r} does not match its config.json ({cfg['architecture']['class']}): "
            f"missing tensors {missing or 'none'}, unexpected tensors {extra or 'none'}."
        )
    for k, v in tensors.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise ValueError(
                f"{str(wpath)!r} does not match its config.json: tensor {k!r} has shape {tuple(v.shape)}, "
                f"expected {tuple(expected[k].shape)}."
            )
        if not torch.isfinite(v).all():
            raise ValueError(f"{str(wpath)!r} is corrupted: tensor {k!r} holds NaN or infinite values.")


def _finish(model: UnrolledNet, d: Path, m: int | None, n: int | None) -> UnrolledNet:
    shipped = shipped_models_dir()
    try:
        is_shipped = d.resolve().parent == shipped.resolve()
    except OSError:
        is_shipped = False
    model.name = d.name if is_shipped else str(d)
    if m is not None or n is not None:
        model.check_data(m if m is not None else model.m, n)
    return model.eval()


__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "find_shipped_model",
    "load_model",
    "model_config",
    "model_from_config",
    "network_classes",
    "read_config",
    "save_model",
    "shipped_models",
    "shipped_models_dir",
]
