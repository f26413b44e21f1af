"""Per-image training: Adam on a handful of parameters fitted to one data set (no training corpus).

Methods retrained on every image they separate — DNMF (Nasser, Eldar, Sharan 2022), CNNAEU, MNNBU, SNMF-net —
share this loop: each epoch computes ``loss = loss_fn(epoch)``, back-propagates, takes one Adam step and then
calls ``post_step()`` (typically a projection, e.g. clamping weights to be nonnegative, under ``torch.no_grad``).

The loop is deterministic given the parameters' initial values and a deterministic ``loss_fn``: it draws no random
numbers itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

__all__ = ["train_per_image"]


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value}.")
    return value


def _check_lr(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}.")
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number; got {value!r}.")
    return v


def train_per_image(
    parameters: Iterable[torch.Tensor],
    loss_fn: Callable[[int], torch.Tensor],
    *,
    epochs: int,
    lr: float,
    lr_at: Callable[[int], float] | None = None,
    post_step: Callable[[], None] | None = None,
    progress: bool = False,
    desc: str = "",
) -> list[float]:
    """Minimise ``loss_fn`` over ``parameters`` with Adam for ``epochs`` steps; return the loss curve.

    Parameters
    ----------
    parameters : iterable of tensors with ``requires_grad=True`` (e.g. ``module.parameters()``), at least one.
    loss_fn : ``loss_fn(epoch) -> scalar tensor``; ``epoch`` is 0-based. Called once per epoch.
    epochs : number of Adam steps (positive integer).
    lr : Adam learning rate (positive).
    lr_at : optional schedule ``lr_at(epoch) -> float`` setting the learning rate before each step (overrides
        ``lr`` from the first epoch on).
    post_step : optional callable run after every step (projections); called without arguments.
    progress : show a tqdm bar (with the current loss).
    desc : label of the progress bar.

    Returns
    -------
    list of float : the loss value of every epoch (before that epoch's step), length ``epochs``.

    Raises
    ------
    ValueError naming the argument on bad input; ValueError if the loss becomes NaN or infinite (the epoch is
    named), so no NaN ever reaches the caller's parameters silently.
    """
    params = [p for p in parameters]
    if not params:
        raise ValueError("parameters must hold at least one tensor; got none.")
    for i, p in enumerate(params):
        if not isinstance(p, torch.Tensor):
            raise ValueError(f"parameters must hold torch tensors; item {i} is {type(p).__name__}.")
        if not p.requires_grad:
            raise ValueError(f"parameters must require gradients; item {i} has requires_grad=False.")
    if not callable(loss_fn):
        raise ValueError(f"loss_fn must be callable (epoch -> scalar tensor); got {type(loss_fn).__name__}.")
    epochs = _check_positive_int("epochs", epochs)
    lr = _check_lr("lr", lr)
    if lr_at is not None and not callable(lr_at):
        raise ValueError(f"lr_at must be callable (epoch -> float) or None; got {type(lr_at).__name__}.")
    if post_step is not None and not callable(post_step):
        raise ValueError(f"post_step must be callable or None; got {type(post_step).__name__}.")

    opt = torch.optim.Adam(params, lr=lr)
    curve: list[float] = []
    bar = None
    if progress:
        from .._progress import tqdm  # bar on a terminal, one line per stage in a log

        bar = tqdm(total=epochs, desc=desc or "per-image training", leave=False)
    try:
        for epoch in range(epochs):
            if lr_at is not None:
                rate = _check_lr(f"lr_at({epoch})", lr_at(epoch))
                for g in opt.param_groups:
                    g["lr"] = rate
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(epoch)
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise ValueError(f"loss_fn must return a scalar tensor; got {type(loss).__name__}"
                                 + (f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else "")
                                 + ".")
            value = float(loss.detach())
            if not math.isfinite(value):
                raise ValueError(f"loss became non-finite ({value}) at epoch {epoch}; lower lr or check the data.")
            loss.backward()
            opt.step()
            if post_step is not None:
                with torch.no_grad():
                    post_step()
            curve.append(value)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{value:.4g}")
    finally:
        if bar is not None:
            bar.close()
    return curve
